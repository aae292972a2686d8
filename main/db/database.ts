// Opens the workstation's SQLite database (better-sqlite3, WAL) and brings its schema up to
// date. Migrations are numbered files (`migrations/NNNN-name.ts`); versions only go up, the
// version lives in `PRAGMA user_version`, pending migrations run in one transaction, and a
// database written by a newer app is refused rather than guessed at.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations/index.ts';

export type Db = Database.Database;

export class DatabaseTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(`This database has schema version ${found}, newer than this app supports (${supported}). Update Failsafe; the database was not changed.`);
    this.name = 'DatabaseTooNewError';
  }
}

/**
 * The database file is damaged: opening it is refused in words, with its path and the next step,
 * and nothing on disk is changed (issue 8 finding 3: a 0-byte file was silently replaced by an
 * empty database, losing every report and every signed report not yet delivered).
 */
export class DatabaseDamagedError extends Error {
  constructor(
    readonly file: string,
    readonly why: string,
  ) {
    super(
      `The workstation's database ${file} ${why}. Nothing was changed. Next step: restore this file from a backup, ` +
        'or ask IT to examine it; moving it aside starts an empty database, without the reports it held (and any signed report not yet delivered to the hub).',
    );
    this.name = 'DatabaseDamagedError';
  }
}

export function latestVersion(migrations: readonly Migration[] = MIGRATIONS): number {
  return migrations.reduce((max, m) => Math.max(max, m.version), 0);
}

export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((m, i) => {
    if (i > 0 && sorted[i - 1]!.version === m.version) throw new Error(`duplicate migration version ${m.version}`);
  });
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = latestVersion(sorted);
  if (current > latest) throw new DatabaseTooNewError(current, latest);
  const pending = sorted.filter((m) => m.version > current);
  if (pending.length === 0) return current;
  // Foreign keys off while migrating (SQLite's documented way to rebuild a table: a DROP would
  // otherwise cascade into its children), every key checked before the transaction commits.
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) === 1;
  if (foreignKeys) db.pragma('foreign_keys = OFF');
  try {
    db.transaction(() => {
      for (const m of pending) {
        m.up(db);
        db.pragma(`user_version = ${m.version}`);
      }
      const broken = db.pragma('foreign_key_check') as { table: string; rowid: number | null; parent: string }[];
      if (broken.length > 0) {
        const first = broken.slice(0, 5).map((b) => `${b.table}${b.rowid === null ? '' : ` row ${b.rowid}`} → ${b.parent}`).join('; ');
        throw new Error(`Migration stopped: ${broken.length} row(s) would point at nothing (${first}). The database was not changed.`);
      }
    })();
  } finally {
    if (foreignKeys) db.pragma('foreign_keys = ON');
  }
  return latest;
}

export interface OpenOptions {
  readonly?: boolean;
  migrations?: readonly Migration[];
}

/**
 * Opens (creating if needed) the database at `file` (or ':memory:'), WAL mode, migrated. An
 * existing file is first checked without writing to it: not empty, readable as a database,
 * SQLite's quick_check passing, not from a newer app; else it is refused and left as it was
 * (switching to WAL writes the file's header, so it comes after the checks).
 */
export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  const existing = file !== ':memory:' && fs.existsSync(file);
  if (existing && fs.statSync(file).size === 0) {
    throw new DatabaseDamagedError(file, 'is empty (0 bytes): the reports it should hold are not in it');
  }
  const db = new Database(file, { readonly: opts.readonly ?? false });
  try {
    if (existing) {
      let found: number;
      let check: string;
      try {
        found = db.pragma('user_version', { simple: true }) as number;
        check = String(db.pragma('quick_check', { simple: true }));
      } catch (err) {
        throw new DatabaseDamagedError(file, `cannot be read as a database (${err instanceof Error ? err.message : String(err)})`);
      }
      const latest = latestVersion(opts.migrations);
      if (found > latest) throw new DatabaseTooNewError(found, latest);
      if (check !== 'ok') throw new DatabaseDamagedError(file, `fails SQLite's integrity check (${check.slice(0, 200)})`);
    }
    db.pragma('journal_mode = WAL');
    // FULL: a save acknowledged to the renderer is on disk even if the OS crashes after.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    if (!opts.readonly) migrate(db, opts.migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}
