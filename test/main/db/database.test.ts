// openDatabase: WAL + synchronous FULL, migrations up to date and transactional, and a database
// from a newer app refused with DatabaseTooNewError without a byte of it changing.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseDamagedError, DatabaseTooNewError, latestVersion, migrate, openDatabase } from '../../../main/db/database.ts';
import { MIGRATIONS } from '../../../main/db/migrations/index.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, signableContent, STUDY_A, tempDir } from '../reports/fixtures.ts';

let dir: string;
let file: string;

beforeEach(() => {
  dir = tempDir('db');
  file = path.join(dir, 'failsafe.sqlite');
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const tables = (db: Database.Database): string[] =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[]).map((r) => r.name);

describe('openDatabase', () => {
  it('opens in WAL mode with synchronous FULL and foreign keys, migrated to the latest version', () => {
    const db = openDatabase(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('user_version', { simple: true })).toBe(latestVersion());
    expect(tables(db)).toEqual(expect.arrayContaining(['profile', 'reports', 'report_revisions', 'addenda', 'audit', 'outbox']));
    const triggers = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'trigger'`).all() as { name: string }[]).map((r) => r.name);
    expect(triggers).toEqual(expect.arrayContaining(['reports_signed_no_update', 'reports_signed_no_delete', 'addenda_no_update', 'addenda_no_delete', 'audit_no_update', 'audit_no_delete', 'revisions_no_update']));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('the outbox table has exactly the agreed columns', () => {
    const db = openDatabase(file);
    const cols = (db.pragma('table_info(outbox)') as { name: string; notnull: number; dflt_value: string | null }[]).map((c) => c.name);
    expect(cols).toEqual(['id', 'kind', 'report_id', 'idempotency_key', 'payload', 'created_at', 'state', 'attempts', 'next_attempt_at', 'last_error', 'synced_at', 'hub_receipt']);
    db.close();
  });

  it('reopening keeps the data and runs no migration twice', () => {
    let db = openDatabase(file);
    const store = new ReportStore(db);
    const r = store.open(STUDY_A, { actor: 'a', ...CT_HEAD });
    store.save(r.id, STUDY_A, signableContent(), 0, 'a');
    db.close();
    db = openDatabase(file);
    expect(db.pragma('user_version', { simple: true })).toBe(latestVersion());
    expect(new ReportStore(db).get(r.id, 'a').content).toEqual(signableContent());
    db.close();
  });

  it('refuses a database newer than the app with DatabaseTooNewError, leaving the file unchanged', () => {
    const db = openDatabase(file);
    const store = new ReportStore(db);
    const r = store.open(STUDY_A, { actor: 'a', ...CT_HEAD });
    store.save(r.id, STUDY_A, signableContent(), 0, 'a');
    const future = latestVersion() + 7;
    db.pragma(`user_version = ${future}`);
    db.close(); // checkpoints the WAL into the main file and removes it
    expect(fs.existsSync(`${file}-wal`)).toBe(false);
    const before = fs.readFileSync(file);

    let caught: unknown;
    try {
      openDatabase(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DatabaseTooNewError);
    const e = caught as DatabaseTooNewError;
    expect(e.name).toBe('DatabaseTooNewError');
    expect(e.found).toBe(future);
    expect(e.supported).toBe(latestVersion());
    expect(e.message).toMatch(/newer than this app supports/);

    expect(fs.readFileSync(file).equals(before)).toBe(true);
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(future);
    expect((raw.prepare('SELECT count(*) AS n FROM report_revisions').get() as { n: number }).n).toBe(2);
    raw.close();
  });

  describe('a damaged database is refused in words and left exactly as it was (issue 8 finding 3)', () => {
    /** Every file of the database (main, -wal, -shm) with its bytes, to compare before and after. */
    const snapshot = (): Record<string, string> =>
      Object.fromEntries(['', '-wal', '-shm', '-journal'].filter((x) => fs.existsSync(file + x)).map((x) => [x || 'main', fs.readFileSync(file + x).toString('base64')]));
    const refusal = (): unknown => {
      try {
        openDatabase(file).close();
        return null;
      } catch (err) {
        return err;
      }
    };
    /** A database with a signed-size amount of content, closed (its WAL checkpointed). */
    const written = (journal: 'WAL' | 'DELETE' = 'WAL'): void => {
      const db = openDatabase(file);
      const store = new ReportStore(db);
      for (let i = 0; i < 20; i++) {
        const r = store.open({ ...STUDY_A, studyUid: `${STUDY_A.studyUid}.${i}` }, { actor: 'a', ...CT_HEAD });
        store.save(r.id, { ...STUDY_A, studyUid: `${STUDY_A.studyUid}.${i}` }, signableContent(` Report ${i}.`), 0, 'a');
      }
      if (journal === 'DELETE') db.pragma('journal_mode = DELETE');
      db.close();
    };

    it('an empty (0-byte) file: refused, not replaced by an empty database', () => {
      fs.writeFileSync(file, '');
      const before = snapshot();
      const err = refusal();
      expect(err).toBeInstanceOf(DatabaseDamagedError);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(/empty \(0 bytes\).*Nothing was changed.*restore this file from a backup/);
      expect(snapshot()).toEqual(before);
    });

    it('a file cut mid-page: refused (integrity check), bytes unchanged', () => {
      written();
      const whole = fs.readFileSync(file);
      fs.writeFileSync(file, whole.subarray(0, whole.length - 1500));
      const before = snapshot();
      const err = refusal();
      expect(err).toBeInstanceOf(DatabaseDamagedError);
      expect((err as Error).message).toContain(file);
      expect(snapshot()).toEqual(before);
    });

    it('a file that is not a database at all: refused in words', () => {
      fs.writeFileSync(file, Buffer.alloc(8192, 0x41));
      const before = snapshot();
      const err = refusal();
      expect(err).toBeInstanceOf(DatabaseDamagedError);
      expect((err as Error).message).toMatch(/cannot be read as a database/);
      expect(snapshot()).toEqual(before);
    });

    it('a newer app\'s database in rollback-journal mode: refused before anything switches it to WAL', () => {
      written('DELETE');
      const raw = new Database(file);
      raw.pragma(`user_version = ${latestVersion() + 3}`);
      raw.close();
      const before = snapshot();
      expect(refusal()).toBeInstanceOf(DatabaseTooNewError);
      expect(snapshot()).toEqual(before);
      // Header bytes 18 and 19: 1 = rollback journal (2 would be WAL).
      expect([...fs.readFileSync(file).subarray(18, 20)]).toEqual([1, 1]);
    });
  });

  it('a failing migration rolls back entirely: no tables, version unchanged', () => {
    const db = new Database(file);
    const broken = [
      ...MIGRATIONS,
      { version: 9990, name: 'broken', up: (d: Database.Database) => d.exec('CREATE TABLE half (x); SELECT no_such_function();') },
    ];
    expect(() => migrate(db, broken)).toThrow(/no_such_function/);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(tables(db)).toEqual([]);
    db.close();
  });

  it('migrations run with foreign keys off, but one that leaves a row pointing at nothing is refused and rolled back; keys are on again after', () => {
    const db = openDatabase(file);
    const store = new ReportStore(db);
    const r = store.open(STUDY_A, { actor: 'a', ...CT_HEAD });
    const version = latestVersion();
    const before = db.prepare('SELECT * FROM report_revisions').all();
    // A careless migration deletes the draft (foreign keys are off, so nothing stops it there): its revisions dangle.
    const careless = { version: version + 10, name: 'careless', up: (d: Database.Database) => d.exec('DELETE FROM reports') };
    expect(() => migrate(db, [...MIGRATIONS, careless])).toThrow('Migration stopped: 1 row(s) would point at nothing (report_revisions → reports). The database was not changed.');
    expect(db.pragma('user_version', { simple: true })).toBe(version);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.get(r.id, 'a').id).toBe(r.id);
    expect(db.prepare('SELECT * FROM report_revisions').all()).toEqual(before);
    // A migration that keeps every key intact goes through, and keys stay enforced.
    migrate(db, [...MIGRATIONS, { version: version + 10, name: 'fine', up: (d: Database.Database) => d.exec('CREATE TABLE fine (x)') }]);
    expect(db.pragma('user_version', { simple: true })).toBe(version + 10);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(() => db.prepare(`INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES ('nope', 0, 't', 'a', '{}')`).run()).toThrow(/FOREIGN KEY/);
    db.close();
  });

  it('rejects duplicate migration versions', () => {
    const db = new Database(':memory:');
    expect(() => migrate(db, [...MIGRATIONS, { version: 10, name: 'dup', up: () => {} }])).toThrow(/duplicate migration version 10/);
    db.close();
  });
});
