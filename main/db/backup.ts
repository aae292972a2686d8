// Daily online backups of the workstation's database, each checked for integrity, and the restore
// that `npm start -- --restore-backup` runs (issue 8 line 3).
// - A backup is SQLite's online backup API (better-sqlite3 `db.backup`, in steps between which the
//   app keeps working), written to `<data>/backups/failsafe-<UTC time>.sqlite`, owner only.
// - Its `PRAGMA integrity_check` runs on the copy, in a worker thread: the live database is read
//   once (by the backup) and the app never waits for the check. Page damage in the live database
//   is copied as it is, so a damaged copy means a damaged database: the backup is kept aside as
//   `.damaged`, the user is told (onDamage) and the good backups are kept.
// - The newest KEEP good backups are kept; older ones go.
// - Restore puts the chosen (default: newest good) backup in place of the database after moving
//   the current database, with its -wal and -shm, aside; nothing is deleted.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './database.ts';

declare const require: NodeJS.Require | undefined;

/** better-sqlite3's entry, for the check's worker thread (the bundles define `require`; the sources under test do not). */
const sqliteEntry = (): string => (typeof require === 'function' ? require : createRequire(import.meta.url)).resolve('better-sqlite3');

export const BACKUP_DIR = 'backups';
export const BACKUP_EVERY_MS = 24 * 3600_000;
export const KEEP = 7;

const NAME = /^failsafe-(\d{8}T\d{6}(?:\d{3})?Z)\.sqlite$/;

export interface BackupFile {
  file: string;
  /** When it was taken (from its name, UTC). */
  takenAt: string;
}

export type BackupOutcome = { ok: true; file: string } | { ok: false; file: string; problem: string };

const stamp = (t: number): string => new Date(t).toISOString().replace(/[-:.]/g, '');

/** Good backups in `dir`, newest first. */
export function listBackups(dir: string): BackupFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((n) => ({ n, m: NAME.exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .map(({ n, m }) => {
      const s = m[1]!;
      return { file: path.join(dir, n), takenAt: `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18) || '000'}Z` };
    })
    .sort((a, b) => (a.takenAt < b.takenAt ? 1 : a.takenAt > b.takenAt ? -1 : 0));
}

/** `PRAGMA integrity_check` of a database file in a worker thread: null when ok, else the problems in words. */
export function integrityCheck(file: string): Promise<string | null> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.sqlite);
    let out;
    try {
      const db = new Database(workerData.file, { readonly: true, fileMustExist: true });
      try {
        const rows = db.pragma('integrity_check');
        const problems = rows.map((r) => r.integrity_check).filter((t) => t !== 'ok');
        out = problems.length === 0 ? null : problems.slice(0, 5).join('; ');
      } finally {
        db.close();
      }
    } catch (err) {
      out = err && err.message ? err.message : String(err);
    }
    parentPort.postMessage(out);
  `;
  return new Promise((resolve) => {
    const w = new Worker(code, { eval: true, workerData: { file, sqlite: sqliteEntry() } });
    w.once('message', (m: string | null) => resolve(m));
    w.once('error', (err) => resolve(err.message));
  });
}

/** Takes one backup now and checks it; keeps the newest KEEP good ones. */
export async function backupNow(db: Db, dataDir: string, now = Date.now()): Promise<BackupOutcome> {
  const dir = path.join(dataDir, BACKUP_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `failsafe-${stamp(now)}.sqlite`);
  const partial = `${file}.partial`;
  await db.backup(partial);
  fs.chmodSync(partial, 0o600);
  const problem = await integrityCheck(partial);
  if (problem !== null) {
    fs.renameSync(partial, `${file}.damaged`);
    return { ok: false, file: `${file}.damaged`, problem };
  }
  fs.renameSync(partial, file);
  for (const old of listBackups(dir).slice(KEEP)) fs.rmSync(old.file, { force: true });
  return { ok: true, file };
}

/**
 * Backs up when the newest good backup is older than BACKUP_EVERY_MS (or there is none), at start
 * and then hourly (a PC left on for days still gets its daily backup). `onDamage` hears of a
 * failed integrity check; `onError` of a backup that could not be written.
 */
export class BackupService {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly dataDir: string,
    private readonly on: { damage(problem: string, file: string): void; error(err: unknown): void; done?(outcome: BackupOutcome): void },
    private readonly clock: () => number = Date.now,
  ) {}

  start(firstDelayMs = 30_000): void {
    const tick = (): void => {
      void this.runIfDue();
      this.timer = setTimeout(tick, 3600_000);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, firstDelayMs);
    this.timer.unref();
  }

  /** Runs a backup if one is due; resolves when it (and its check) is done. */
  runIfDue(): Promise<void> {
    if (this.running) return this.running;
    const newest = listBackups(path.join(this.dataDir, BACKUP_DIR))[0];
    if (newest && this.clock() - Date.parse(newest.takenAt) < BACKUP_EVERY_MS) return Promise.resolve();
    this.running = backupNow(this.db, this.dataDir, this.clock())
      .then((outcome) => {
        if (!outcome.ok) this.on.damage(outcome.problem, outcome.file);
        this.on.done?.(outcome);
      }, (err: unknown) => this.on.error(err))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  /** Stops the timer and waits for a backup in progress (the database must not close under it). */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}

export class RestoreError extends Error {
  override name = 'RestoreError';
}

/**
 * Puts a backup in place of the database at `dbFile` (default: the newest good backup in
 * `<data>/backups`): the backup is checked first, the current database and its -wal/-shm are
 * moved aside (`<name>.before-restore-<time>`), never deleted. Returns what was done, in words.
 * Run before the database is opened.
 */
export async function restoreBackup(dbFile: string, from?: string, now = Date.now()): Promise<string> {
  const dir = path.join(path.dirname(dbFile), BACKUP_DIR);
  const source = from ? path.resolve(from) : listBackups(dir)[0]?.file;
  if (!source) throw new RestoreError(`There is no backup in ${dir} to restore. Nothing was changed.`);
  if (!fs.existsSync(source)) throw new RestoreError(`The backup ${source} does not exist. Nothing was changed.`);
  const problem = await integrityCheck(source);
  if (problem !== null) throw new RestoreError(`The backup ${source} fails its integrity check (${problem}). Nothing was changed; choose another with --restore-backup FILE.`);
  const aside = `${dbFile}.before-restore-${stamp(now)}`;
  const moved: string[] = [];
  for (const suffix of ['', '-wal', '-shm']) {
    if (fs.existsSync(dbFile + suffix)) {
      fs.renameSync(dbFile + suffix, aside + suffix);
      moved.push(aside + suffix);
    }
  }
  fs.copyFileSync(source, dbFile);
  fs.chmodSync(dbFile, 0o600);
  return `Restored the database from ${source}.${moved.length > 0 ? ` The database it replaced was moved aside to ${aside} (not deleted).` : ''}`;
}
