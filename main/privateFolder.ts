// A folder only its owner may read (issue 8 finding 4): the workstation's data folder holds patient
// data and signed reports, the embedded hub's folder the department's. Files created from here on
// are private by the process's umask (077: 0600 files, 0700 folders); files already there (an
// older version's 0644 database, the embedded hub's 0666 files) are repaired at every start.
// Links are neither followed nor changed. Windows has no such modes: there this does nothing.
import fs from 'node:fs';
import path from 'node:path';

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Whether modes mean anything here. */
const POSIX = process.platform !== 'win32';

/** New files and folders of this process: owner only. */
export function privateUmask(): void {
  if (POSIX) process.umask(0o077);
}

/**
 * Creates `dir` if needed and makes it and everything in it owner-only. Returns the paths whose
 * mode was repaired (for the log: a folder left open by an older version, or changed by hand).
 */
export function makePrivate(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (!POSIX) return [];
  const repaired: string[] = [];
  const fix = (p: string, st: fs.Stats): void => {
    const want = st.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
    // Group and others lose every right; the owner keeps what it had (at least read and write).
    if ((st.mode & 0o077) !== 0 || (st.mode & 0o600) !== 0o600) {
      fs.chmodSync(p, (st.mode & 0o700 & ~0o077) | want);
      repaired.push(p);
    }
  };
  const walk = (p: string): void => {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (err) {
      // Gone meanwhile (the embedded hub removes files as it runs): nothing to repair.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    if (st.isSymbolicLink()) return;
    fix(p, st);
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = fs.readdirSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) walk(path.join(p, name));
  };
  walk(dir);
  return repaired;
}
