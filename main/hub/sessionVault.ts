// Where the workstation keeps its hub session (token, user) between starts: never in the
// database and never on a command line or in a log, but in a file of its own beside the
// database, owner only (0600, written whole and renamed into place), and in the desktop app
// encrypted with the OS keychain through Electron's safeStorage (main/electron/ passes the codec;
// this module knows nothing of Electron). Another account on the PC cannot read the file, and a
// copied database carries no session (issue 8 finding 4).
import fs from 'node:fs';
import path from 'node:path';

/** Encrypts the session for storage (Electron safeStorage: the OS keychain). */
export interface SecretCodec {
  /** How it is kept, for messages ("safeStorage (gnome-libsecret)"). */
  readonly kind: string;
  encrypt(text: string): Buffer;
  decrypt(data: Buffer): string;
}

export interface SessionVault {
  /** The stored session text, or null (none, or unreadable: then it is removed). */
  read(): string | null;
  /** Stores the session text, or removes it (null). */
  write(text: string | null): void;
}

/** The vault file beside a database file (a database in memory keeps its session in memory). */
export function vaultBeside(databaseFile: string, codec?: SecretCodec): SessionVault {
  if (databaseFile === ':memory:' || databaseFile === '') return memoryVault();
  return fileVault(path.join(path.dirname(databaseFile), 'hub-session'), codec);
}

export function memoryVault(): SessionVault {
  let kept: string | null = null;
  return { read: () => kept, write: (t) => void (kept = t) };
}

export function fileVault(file: string, codec?: SecretCodec): SessionVault {
  return {
    read(): string | null {
      let data: Buffer;
      try {
        data = fs.readFileSync(file);
      } catch {
        return null;
      }
      try {
        return codec ? codec.decrypt(data) : data.toString('utf8');
      } catch {
        // Written under another key (another OS user, a reinstalled keychain): log in again.
        fs.rmSync(file, { force: true });
        return null;
      }
    },
    write(text: string | null): void {
      if (text === null) {
        fs.rmSync(file, { force: true });
        return;
      }
      const tmp = `${file}.${process.pid}.tmp`;
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, codec ? codec.encrypt(text) : Buffer.from(text, 'utf8'));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      // The mode of a file created under a wider umask, or left by an older version, is fixed too.
      fs.chmodSync(tmp, 0o600);
      fs.renameSync(tmp, file);
    },
  };
}
