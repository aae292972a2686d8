// The workstation's audit chain (issue 9 line 8; migration 0090, main/db/auditChain.ts): the
// store's audit rows are hash-chained as they are written; with the append-only triggers dropped
// (as anyone with the sqlite3 shell could), a row edited, deleted in the middle or at the end,
// two rows swapped, a row rewritten with its hash recomputed, or a row forged at the end is each
// caught and the first broken row named. A release database is chained by the migration, and
// `npm start -- --verify-audit` answers 0 on an intact trail and 1, in words, on a tampered one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditRowHash, GENESIS_HASH, verifyAuditCommand, verifyWorkstationAudit } from '../../../main/db/auditChain.ts';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { MIGRATIONS } from '../../../main/db/migrations/index.ts';
import { parseLaunchArgs } from '../../../main/launch/options.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, fixtureExam, RADIOLOGIST, signableContent, STUDY_A, STUDY_B, tempDb, tempDir, TRAINER } from '../reports/fixtures.ts';

const FIXTURE = path.join(import.meta.dirname, '../../fixtures/release-865b120/reports.sqlite');

let db: Db;
let dir: string;
let file: string;
let store: ReportStore;

/** A day's work through the store: drafts typed, signed, an addendum, a signed report viewed. */
function work(s: ReportStore, [first, second] = [STUDY_A, STUDY_B]): void {
  const a = s.open(first, { actor: RADIOLOGIST.name, ...CT_HEAD });
  for (let rev = 0; rev < 4; rev++) s.save(a.id, first, signableContent(), rev, RADIOLOGIST.name);
  s.sign(a.id, first, 4, RADIOLOGIST);
  s.addendum(a.id, 'Comparison with the outside CT: unchanged.', TRAINER);
  s.get(a.id, TRAINER.name);
  const b = s.open(second, { actor: TRAINER.name, ...CT_HEAD });
  s.save(b.id, second, signableContent(), 0, TRAINER.name);
}

const seqs = (): number[] => (db.prepare('SELECT seq FROM audit ORDER BY seq').all() as { seq: number }[]).map((r) => r.seq);

/** Runs `sql` past the triggers inside a savepoint, verifies, then rolls back: each case starts from the same intact chain. */
function verifyAfter(...sql: string[]): ReturnType<typeof verifyWorkstationAudit> {
  db.exec('SAVEPOINT tamper');
  try {
    db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TRIGGER audit_no_replace; DROP TRIGGER audit_chain_follows; DROP TRIGGER audit_chain_head_is_last; DROP TRIGGER audit_chain_head_no_delete');
    for (const s of sql) db.exec(s);
    return verifyWorkstationAudit(db);
  } finally {
    db.exec('ROLLBACK TO tamper; RELEASE tamper');
  }
}

beforeEach(() => {
  ({ db, dir, file } = tempDb('audit-chain'));
  store = new ReportStore(db, { examFor: fixtureExam });
  work(store);
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the store writes a hash-chained audit trail', () => {
  it('every row names its predecessor\'s hash from the genesis hash on; the head names the last row', () => {
    const rows = db.prepare('SELECT seq, prev_hash, hash FROM audit ORDER BY seq').all() as { seq: number; prev_hash: string; hash: string }[];
    expect(rows.length).toBeGreaterThanOrEqual(9);
    expect(rows[0]!.prev_hash).toBe(GENESIS_HASH);
    rows.slice(1).forEach((r, i) => expect(r.prev_hash).toBe(rows[i]!.hash));
    expect(verifyWorkstationAudit(db)).toEqual({ ok: true, rows: rows.length, head: { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash } });
  });

  it('hashes a fixed canonical text (pinned: every stored hash depends on it)', () => {
    expect(auditRowHash({ prevHash: GENESIS_HASH, at: '2026-11-28T10:00:00.000Z', actor: 'Dr Ada Lovelace', action: 'sign', reportId: 'r-1', revision: 3, detail: 'final-report of revision 3; "quoted" ✓' }))
      .toBe('bf42cad143109538c3893a1108fb913f753ce5c4ef82716e8cc1b84895f122f3');
  });

  it('refuses a row written past the chain (no hash, or not following the head), and a head moved or removed by hand', () => {
    const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
    const insert = 'INSERT INTO audit (at, actor, action, report_id, revision, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
    expect(() => db.prepare('INSERT INTO audit (at, actor, action, report_id) VALUES (?, ?, ?, ?)').run('2026-01-01', 'x', 'edit', 'r')).toThrow(/append-only and hash-chained/);
    expect(() => db.prepare(insert).run('2026-01-01', 'x', 'edit', 'r', null, '', GENESIS_HASH, 'f'.repeat(64))).toThrow(/append-only and hash-chained/);
    expect(() => db.prepare('UPDATE audit_chain_head SET seq = seq - 1, hash = ?').run(GENESIS_HASH)).toThrow(/only ever names the newest audit row/);
    expect(() => db.prepare('DELETE FROM audit_chain_head').run()).toThrow(/never deleted/);
    expect(db.prepare('SELECT seq, hash FROM audit_chain_head').get()).toEqual(last);
    expect(verifyWorkstationAudit(db).ok).toBe(true);
  });
});

describe('each tamper, made with the triggers dropped, is caught and the first broken row named', () => {
  it('a row\'s detail edited, or its time', () => {
    const s = seqs();
    const v = verifyAfter(`UPDATE audit SET detail = detail || ' (amended)' WHERE seq = ${s[4]}`);
    expect(v).toMatchObject({ ok: false, rows: 4, firstBroken: { seq: s[4], reason: 'hash' } });
    expect(v.firstBroken!.message).toBe(`Audit row seq ${s[4]} does not match its hash: its content was changed after it was written.`);
    expect(verifyAfter(`UPDATE audit SET at = '2020-01-01T00:00:00.000Z' WHERE seq = ${s[1]}`).firstBroken).toMatchObject({ seq: s[1], reason: 'hash' });
  });

  it('a row deleted in the middle, and the first row deleted', () => {
    const s = seqs();
    const v = verifyAfter(`DELETE FROM audit WHERE seq = ${s[3]}`);
    expect(v.firstBroken).toMatchObject({ seq: s[4], reason: 'prev-hash' });
    expect(v.firstBroken!.message).toContain(`Audit row seq ${s[4]} does not follow the row before it (seq ${s[3]} missing)`);
    expect(verifyAfter(`DELETE FROM audit WHERE seq = ${s[0]}`).firstBroken).toMatchObject({ seq: s[1], reason: 'prev-hash' });
  });

  it('the last row deleted: the chain stops short of its head', () => {
    const s = seqs();
    const v = verifyAfter(`DELETE FROM audit WHERE seq = ${s.at(-1)}`);
    expect(v.firstBroken).toMatchObject({ seq: null, reason: 'head' });
    expect(v.firstBroken!.message).toBe(`The audit chain ends at seq ${s.at(-2)} but its head is seq ${s.at(-1)}: the last row(s) were deleted.`);
  });

  it('two rows swapped, by content or by seq (reordered)', () => {
    const s = seqs();
    const [p, q] = [s[2]!, s[6]!];
    const byContent = verifyAfter(`UPDATE audit SET (at, actor, action, report_id, revision, detail) =
      (SELECT b.at, b.actor, b.action, b.report_id, b.revision, b.detail FROM audit b WHERE b.seq = CASE audit.seq WHEN ${p} THEN ${q} ELSE ${p} END)
      WHERE seq IN (${p}, ${q})`);
    expect(byContent.firstBroken).toMatchObject({ seq: p, reason: 'hash' });
    const bySeq = verifyAfter(`UPDATE audit SET seq = -seq WHERE seq IN (${p}, ${q})`, `UPDATE audit SET seq = CASE seq WHEN -${p} THEN ${q} ELSE ${p} END WHERE seq < 0`);
    expect(bySeq.firstBroken).toMatchObject({ seq: p, reason: 'prev-hash' });
  });

  it('a row rewritten with its hash recomputed: caught by the next row\'s link', () => {
    const s = seqs();
    const r = db.prepare(`SELECT * FROM audit WHERE seq = ${s[4]}`).get() as { at: string; actor: string; action: string; report_id: string; revision: number | null; prev_hash: string };
    const forged = auditRowHash({ prevHash: r.prev_hash, at: r.at, actor: 'Someone Else', action: r.action, reportId: r.report_id, revision: r.revision, detail: 'nothing' });
    const v = verifyAfter(`UPDATE audit SET actor = 'Someone Else', detail = 'nothing', hash = '${forged}' WHERE seq = ${s[4]}`);
    expect(v).toMatchObject({ rows: 5, firstBroken: { seq: s[5], reason: 'prev-hash' } });
    expect(v.firstBroken!.message).toContain(`its predecessor's hash is not that of seq ${s[4]}`);
  });

  it('a row forged at the end, linked and hashed correctly: the chain runs past its head', () => {
    const last = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string };
    const hash = auditRowHash({ prevHash: last.hash, at: '2026-11-28T10:00:00.000Z', actor: 'x', action: 'edit', reportId: 'r', revision: null, detail: '' });
    const v = verifyAfter('DROP TRIGGER audit_chain_head_moves',
      `INSERT INTO audit (at, actor, action, report_id, revision, detail, prev_hash, hash) VALUES ('2026-11-28T10:00:00.000Z', 'x', 'edit', 'r', NULL, '', '${last.hash}', '${hash}')`);
    expect(v.firstBroken).toMatchObject({ seq: last.seq + 1, reason: 'head' });
  });

  it('after every rollback the chain is intact again', () => {
    verifyAfter(`DELETE FROM audit WHERE seq = ${seqs()[2]}`);
    expect(verifyWorkstationAudit(db).ok).toBe(true);
  });
});

describe('migration 0090 on a release database', () => {
  it('chains the existing trail in seq order without changing it; the store carries on the chain', () => {
    db.close();
    fs.copyFileSync(FIXTURE, file);
    for (const ext of ['-wal', '-shm']) fs.rmSync(`${file}${ext}`, { force: true });
    const old = openDatabase(file, { migrations: MIGRATIONS.filter((m) => m.version < 90) });
    const columns = 'seq, at, actor, action, report_id, revision, detail';
    const before = old.prepare(`SELECT ${columns} FROM audit ORDER BY seq`).all();
    old.close();
    expect(before.length).toBeGreaterThan(10);
    db = openDatabase(file);
    expect(db.prepare(`SELECT ${columns} FROM audit ORDER BY seq`).all()).toEqual(before);
    expect(verifyWorkstationAudit(db)).toMatchObject({ ok: true, rows: before.length });
    expect(() => db.prepare(`UPDATE audit SET detail = 'x'`).run()).toThrow(/append-only/);
    work(new ReportStore(db, { examFor: fixtureExam }), [{ patientId: 'PAT-0201', studyUid: '1.2.201' }, { patientId: 'PAT-0202', studyUid: '1.2.202' }]);
    expect(verifyWorkstationAudit(db)).toMatchObject({ ok: true, rows: seqs().length });
  });

  it('an empty trail starts the chain at the genesis hash', () => {
    const { db: fresh, dir: freshDir } = tempDb('audit-chain-empty');
    try {
      expect(fresh.prepare('SELECT seq, hash FROM audit_chain_head').get()).toEqual({ seq: 0, hash: GENESIS_HASH });
      expect(verifyWorkstationAudit(fresh)).toEqual({ ok: true, rows: 0, head: { seq: 0, hash: GENESIS_HASH } });
    } finally {
      fresh.close();
      fs.rmSync(freshDir, { recursive: true, force: true });
    }
  });
});

describe('npm start -- --verify-audit', () => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const outDir = path.join(repoRoot, 'node_modules', '.cache', `verify-audit-${process.pid}`);
  beforeAll(async () => {
    // The launcher as `npm start` builds it (code splitting), in node_modules so its packages resolve.
    await build({
      entryPoints: { start: path.join(repoRoot, 'main', 'start.ts') }, outdir: outDir, bundle: true, splitting: true, platform: 'node', target: 'node20', format: 'esm',
      outExtension: { '.js': '.mjs' }, absWorkingDir: repoRoot, logLevel: 'error', external: ['better-sqlite3', 'electron', 'pg', 'pg-native', '@electric-sql/pglite', 'fastify', 'zod', 'ws'],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
  }, 60_000);
  afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));
  const run = (dataDir: string): { code: number | null; out: string; err: string } => {
    const r = spawnSync(process.execPath, [path.join(outDir, 'start.mjs'), '--verify-audit', '--data-dir', dataDir], { env: { PATH: process.env['PATH'] ?? '' }, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('is a launcher flag', () => {
    expect(parseLaunchArgs(['--verify-audit', '--data-dir', dir], {})).toMatchObject({ verifyAudit: true, dataDir: dir });
    expect(parseLaunchArgs([], {})).not.toHaveProperty('verifyAudit');
  });

  it('answers 0 with the head on an intact trail, 1 naming the first broken row on a tampered one, 2 when there is nothing to check', () => {
    const head = db.prepare('SELECT seq, hash FROM audit_chain_head').get() as { seq: number; hash: string };
    const n = seqs().length;
    db.close();
    const ok = run(dir);
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out.trim()).toBe(`Failsafe: the audit trail in ${file} is intact: ${n} rows chained; chain head at seq ${head.seq}, hash ${head.hash}.`);

    db = openDatabase(file);
    const target = seqs()[3]!;
    db.exec(`DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'nothing happened' WHERE seq = ${target};`);
    db.close();
    const bad = run(dir);
    expect(bad.code).toBe(1);
    expect(bad.err.trim()).toBe(`Failsafe: the audit trail in ${file} has been altered. Audit row seq ${target} does not match its hash: its content was changed after it was written. (3 rows before it hold; chain head at seq ${head.seq}, hash ${head.hash}.)`);

    const empty = tempDir('verify-audit-none');
    try {
      expect(verifyAuditCommand(path.join(empty, 'failsafe.sqlite'))).toMatchObject({ code: 2, line: expect.stringContaining('there is no workstation database') });
      const missing = run(empty);
      expect(missing.code).toBe(2);
      expect(fs.existsSync(path.join(empty, 'failsafe.sqlite'))).toBe(false);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
