// Take-over on the local store (issue 3, domain.md §6): the workstation that loses a draft keeps
// a read-only copy naming the new owner; the one that takes it over gets it with its history.
// Also migration 0030 (the audit table rebuild must keep every existing row) and settings.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignedReportPayload } from '../../../common/hubPayload.ts';
import { signedPayload, type ReportContent } from '../../../common/report.ts';
import { migrate, openDatabase, type Db } from '../../../main/db/database.ts';
import { MIGRATIONS } from '../../../main/db/migrations/index.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, expectCode, fixtureExam, RADIOLOGIST, signableContent, STUDY_A, STUDY_B, tempDb, tempDir, TRAINER, typedContent } from './fixtures.ts';

const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

let db: Db;
let file: string;
let dir: string;
let store: ReportStore;
let clock: number;

const makeStore = (d: Db): ReportStore => new ReportStore(d, { now: () => new Date((clock += 1000)), examFor: fixtureExam });

beforeEach(() => {
  ({ db, file, dir } = tempDb('takeover'));
  clock = Date.parse('2025-03-01T09:00:00.000Z');
  store = makeStore(db);
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const count = (table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const ADA = RADIOLOGIST.name;
const GRACE = TRAINER.name;

/** A local draft of study A by Ada, saved twice (revision 2). */
function localDraft(): string {
  const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
  store.save(r.id, STUDY_A, typedContent(40), 0, ADA);
  store.save(r.id, STUDY_A, signableContent(), 1, ADA);
  return r.id;
}

function withConclusion(text: string): ReportContent {
  const c = signableContent();
  return { ...c, fields: { ...c.fields, conclusion: text } };
}

/** What the hub hands over: sparse revisions, oldest first. */
const HUB_HISTORY = [
  { revision: 0, savedAt: '2025-02-28T20:00:00.000Z', content: typedContent(10) },
  { revision: 3, savedAt: '2025-02-28T20:05:00.000Z', content: typedContent(120) },
  { revision: 7, savedAt: '2025-02-28T20:30:00.000Z', content: withConclusion('Small left subdural haematoma.') },
];

describe('markTakenOver (the workstation that loses the draft)', () => {
  it('makes the local draft read-only: save and sign are refused with a message naming the new owner; nothing changes', () => {
    const id = localDraft();
    const at = '2025-03-01T10:15:00.000Z';
    const marked = store.markTakenOver(id, GRACE, at);
    expect(marked.takenOverBy).toBe(GRACE);
    expect(marked.state).toBe('taken-over');
    expect(marked.revision).toBe(2);

    const expected = `This draft was taken over by ${GRACE} at ${at}; your changes were not saved. Copy anything you need and tell them.`;
    const revsBefore = count('report_revisions');
    const auditBefore = count('audit');
    expectCode(() => store.save(id, STUDY_A, withConclusion('late edit'), 2, ADA), 'conflict', expected);
    expectCode(() => store.sign(id, STUDY_A, 2, RADIOLOGIST), 'conflict', expected);
    expect(count('report_revisions')).toBe(revsBefore);
    expect(count('audit')).toBe(auditBefore);
    expect(count('outbox')).toBe(0);
    // The read-only copy still has everything Ada wrote, so she can copy it.
    const copy = store.get(id, ADA);
    expect(copy.content).toEqual(signableContent());
    expect(copy.takenOverBy).toBe(GRACE);
  });

  it('is audited as taken-over naming the new owner, and is idempotent', () => {
    const id = localDraft();
    store.markTakenOver(id, GRACE, '2025-03-01T10:15:00.000Z');
    store.markTakenOver(id, GRACE, '2025-03-01T10:16:00.000Z');
    const taken = store.audit(id).filter((a) => a.action === 'taken-over');
    expect(taken).toHaveLength(1);
    expect(taken[0]!.actor).toBe(GRACE);
    expect(taken[0]!.detail).toContain(GRACE);
    expect(taken[0]!.detail).toContain('2025-03-01T10:15:00.000Z');
    // The first time stands.
    expectCode(() => store.save(id, STUDY_A, signableContent(), 2, ADA), 'conflict', /at 2025-03-01T10:15:00\.000Z/);
  });

  it('uses the store clock when no time is given', () => {
    const id = localDraft();
    const r = store.markTakenOver(id, GRACE);
    const e = expectCode(() => store.save(id, STUDY_A, signableContent(), r.revision, ADA), 'conflict');
    expect(e.message).toMatch(/taken over by Dr Grace Hopper at 2025-03-01T09:00:\d\d\.000Z/);
  });

  it('open() returns the read-only copy and does not switch its template', () => {
    const id = localDraft();
    store.markTakenOver(id, GRACE, '2025-03-01T10:15:00.000Z');
    const opened = store.open(STUDY_A, { actor: ADA, ...CT_HEAD, templateId: 'generic' });
    expect(opened.id).toBe(id);
    expect(opened.takenOverBy).toBe(GRACE);
    expect(opened.content.templateId).toBe('ct-head');
    expect(opened.revision).toBe(2);
  });

  it('refuses a signed report, an unknown report and an empty owner', () => {
    const id = localDraft();
    store.sign(id, STUDY_A, 2, RADIOLOGIST);
    expectCode(() => store.markTakenOver(id, GRACE), 'conflict', /signed/);
    expect(store.get(id, ADA).takenOverBy).toBeNull();
    expect(store.audit(id).some((a) => a.action === 'taken-over')).toBe(false);
    expectCode(() => store.markTakenOver('no-such-report', GRACE), 'not-found');
    const other = store.open(STUDY_B, { actor: ADA, ...CT_HEAD });
    expectCode(() => store.markTakenOver(other.id, '  '), 'invalid-input');
    expectCode(() => store.markTakenOver(other.id, GRACE, 'yesterday'), 'invalid-input');
    expect(store.get(other.id, ADA).takenOverBy).toBeNull();
  });

  it('reports not taken over expose takenOverBy: null and keep working', () => {
    const id = localDraft();
    expect(store.get(id, ADA).takenOverBy).toBeNull();
    expect(store.save(id, STUDY_A, signableContent(), 2, ADA).revision).toBe(3);
  });
});

describe('adoptTakenOver (the workstation that takes the draft over)', () => {
  const adopt = (over: Partial<Parameters<ReportStore['adoptTakenOver']>[0]> = {}) =>
    store.adoptTakenOver({ reportId: 'hub-r1', study: STUDY_A, author: GRACE, revisions: HUB_HISTORY, previousOwner: ADA, actor: GRACE, ...over });

  it('creates a local draft with the hub history; saves continue from the highest revision; the new owner signs and the hash verifies', () => {
    const r = adopt();
    expect(r).toMatchObject({ id: 'hub-r1', study: STUDY_A, state: 'draft', revision: 7, author: GRACE, takenOverBy: null });
    expect(r.content).toEqual(HUB_HISTORY[2]!.content);
    expect(r.createdAt).toBe(HUB_HISTORY[0]!.savedAt);

    const revs = store.revisions('hub-r1');
    expect(revs).toEqual(HUB_HISTORY.map((h) => ({ revision: h.revision, savedAt: h.savedAt, content: h.content })));
    const actors = db.prepare('SELECT revision, actor FROM report_revisions WHERE report_id = ? ORDER BY revision').all('hub-r1');
    expect(actors).toEqual([0, 3, 7].map((revision) => ({ revision, actor: ADA })));

    const audit = store.audit('hub-r1');
    expect(audit.map((a) => a.action)).toEqual(['take-over']);
    expect(audit[0]!.actor).toBe(GRACE);
    expect(audit[0]!.detail).toContain(`taken over from ${ADA}`);

    // A save based on an older hub revision is refused; one based on the highest continues.
    expectCode(() => store.save('hub-r1', STUDY_A, signableContent(), 3, GRACE), 'conflict', /revision 7/);
    expect(store.save('hub-r1', STUDY_A, signableContent(), 7, GRACE).revision).toBe(8);
    expect(store.revisions('hub-r1').map((x) => x.revision)).toEqual([0, 3, 7, 8]);

    const signed = store.sign('hub-r1', STUDY_A, 8, TRAINER);
    const sig = signed.signatures[0]!;
    const signer = { name: TRAINER.name, role: TRAINER.role, registration: TRAINER.registration };
    const exam = fixtureExam(STUDY_A.studyUid);
    expect(sig.contentHash).toBe(sha256(signedPayload(signableContent(), STUDY_A, signer, sig.signedAt, 'final-report', exam)));
    const row = db.prepare('SELECT payload FROM outbox WHERE report_id = ?').get('hub-r1') as { payload: string };
    const payload = SignedReportPayload.parse(JSON.parse(row.payload));
    expect(payload.report.author).toBe(GRACE);
    const p = payload.report;
    expect(sha256(signedPayload(p.content, p.study, signer, p.signature.signedAt, 'final-report', p.exam))).toBe(p.signature.contentHash);
    expect(store.audit('hub-r1').map((a) => a.action)).toEqual(['take-over', 'edit', 'sign']);
  });

  it('accepts the history in any order and records per-revision authors when given', () => {
    const shuffled = [HUB_HISTORY[2]!, { ...HUB_HISTORY[0]!, author: 'Dr Locum' }, HUB_HISTORY[1]!];
    const r = adopt({ revisions: shuffled });
    expect(r.revision).toBe(7);
    expect(store.revisions('hub-r1').map((x) => x.revision)).toEqual([0, 3, 7]);
    const actors = db.prepare('SELECT actor FROM report_revisions WHERE report_id = ? ORDER BY revision').all('hub-r1') as { actor: string }[];
    expect(actors.map((a) => a.actor)).toEqual(['Dr Locum', ADA, ADA]);
  });

  it('taking back a draft this workstation lost: clears the read-only mark, replaces the local state, keeps replaced local revisions in the audit', () => {
    const id = localDraft(); // revisions 0, 1, 2 by Ada
    const localRev2 = store.revisions(id)[2]!;
    store.markTakenOver(id, GRACE, '2025-03-01T10:00:00.000Z');
    // Grace published revisions 0..2 (identical to Ada's) and edited on; Ada takes it back.
    const history = [...store.revisions(id).slice(0, 2), { revision: 5, savedAt: '2025-03-01T10:30:00.000Z', content: withConclusion('Grace was here.') }];
    const back = store.adoptTakenOver({ reportId: id, study: STUDY_A, author: ADA, revisions: history, previousOwner: GRACE, actor: ADA });
    expect(back.takenOverBy).toBeNull();
    expect(back.author).toBe(ADA);
    expect(back.revision).toBe(5);
    expect(back.content.fields.conclusion).toBe('Grace was here.');
    expect(store.revisions(id).map((x) => x.revision)).toEqual([0, 1, 5]);

    const takeOver = store.audit(id).filter((a) => a.action === 'take-over');
    expect(takeOver).toHaveLength(1);
    expect(takeOver[0]!.detail).toContain(`taken over from ${GRACE}`);
    // Local revision 2 is not in the hub history: it is kept, in full, in the audit.
    const kept = takeOver[0]!.detail.split('kept here in full): ')[1]!;
    const superseded = JSON.parse(kept) as { revision: number; content: unknown }[];
    expect(superseded.map((s) => s.revision)).toEqual([2]);
    expect(superseded[0]!.content).toEqual(localRev2.content);
    // The earlier audit rows are all still there.
    expect(store.audit(id).map((a) => a.action)).toEqual(['create', 'edit', 'edit', 'taken-over', 'take-over']);

    expect(store.save(id, STUDY_A, signableContent(), 5, ADA).revision).toBe(6);
  });

  it('keeps a different local draft of the same study, but open() returns the adopted one', () => {
    const mine = localDraft();
    const mineBefore = store.get(mine, ADA);
    const adopted = adopt();
    expect(adopted.id).not.toBe(mine);
    const opened = store.open(STUDY_A, { actor: GRACE, ...CT_HEAD });
    expect(opened.id).toBe('hub-r1');
    expect(store.get(mine, ADA)).toEqual(mineBefore);
    expect(store.revisions(mine).map((x) => x.revision)).toEqual([0, 1, 2]);
    expect(store.list().map((x) => x.id).sort()).toEqual([mine, 'hub-r1'].sort());
  });

  it('a live draft wins over a read-only copy of the same study in open()', () => {
    const adopted = adopt();
    const mine = store.adoptTakenOver({ reportId: 'hub-r2', study: STUDY_A, author: GRACE, revisions: [HUB_HISTORY[0]!], previousOwner: ADA, actor: GRACE }).id;
    // hub-r2 is the newest activity; once it is taken away, open() falls back to the live hub-r1.
    expect(store.open(STUDY_A, { actor: GRACE, ...CT_HEAD }).id).toBe(mine);
    store.markTakenOver(mine, ADA, '2025-03-01T11:00:00.000Z');
    expect(store.open(STUDY_A, { actor: GRACE, ...CT_HEAD }).id).toBe(adopted.id);
  });

  it('refuses adopting onto a locally signed report, and changes nothing', () => {
    const id = localDraft();
    store.sign(id, STUDY_A, 2, RADIOLOGIST);
    const before = store.get(id, ADA);
    const auditBefore = count('audit');
    expectCode(
      () => store.adoptTakenOver({ reportId: id, study: STUDY_A, author: GRACE, revisions: HUB_HISTORY, previousOwner: ADA, actor: GRACE }),
      'conflict',
      /signed/,
    );
    expect(store.get(id, ADA)).toEqual(before);
    expect(store.revisions(id).map((x) => x.revision)).toEqual([0, 1, 2]);
    expect(count('audit')).toBe(auditBefore + 1); // the get() above audits view-signed, nothing else
  });

  it('refuses bad input with a clear error and writes nothing', () => {
    const tables = ['reports', 'report_revisions', 'audit'] as const;
    const before = tables.map(count);
    expectCode(() => adopt({ revisions: [] }), 'invalid-input', /at least one revision/);
    expectCode(() => adopt({ revisions: [HUB_HISTORY[0]!, HUB_HISTORY[0]!] }), 'invalid-input', /appears twice/);
    expectCode(() => adopt({ revisions: [{ ...HUB_HISTORY[0]!, revision: -1 }] }), 'invalid-input', /non-negative/);
    expectCode(() => adopt({ revisions: [{ ...HUB_HISTORY[0]!, savedAt: 'soon' }] }), 'invalid-input', /savedAt/);
    expectCode(() => adopt({ revisions: [{ ...HUB_HISTORY[0]!, content: { ...signableContent(), templateId: 'nope' } }] }), 'invalid-input', /template/);
    expectCode(() => adopt({ previousOwner: '' }), 'invalid-input');
    expectCode(() => adopt({ study: { patientId: 'PAT-0001', studyUid: '' } }), 'invalid-input');
    // The study is bound to another patient here.
    localDraft();
    const mid = tables.map(count);
    expectCode(() => adopt({ study: { ...STUDY_A, patientId: 'SOMEONE-ELSE' } }), 'wrong-study');
    // A report id already bound to another study.
    expectCode(() => adopt({ reportId: store.list()[0]!.id, study: STUDY_B }), 'wrong-study');
    expect(tables.map(count)).toEqual(mid);
    expect(before).toEqual([0, 0, 0]);
  });
});

describe('settings', () => {
  it('round-trips, overwrites, removes with null and survives reopening', () => {
    expect(store.getSetting('hub.session')).toBeNull();
    store.setSetting('hub.session', '{"token":"t1"}');
    expect(store.getSetting('hub.session')).toBe('{"token":"t1"}');
    store.setSetting('hub.session', '{"token":"t2"}');
    store.setSetting('hub.seq', '42');
    expect(store.getSetting('hub.session')).toBe('{"token":"t2"}');
    db.close();
    db = openDatabase(file);
    store = makeStore(db);
    expect(store.getSetting('hub.session')).toBe('{"token":"t2"}');
    expect(store.getSetting('hub.seq')).toBe('42');
    store.setSetting('hub.session', null);
    expect(store.getSetting('hub.session')).toBeNull();
    expect(store.getSetting('hub.seq')).toBe('42');
    store.setSetting('hub.session', ''); // an empty string is a value, not a removal
    expect(store.getSetting('hub.session')).toBe('');
    expectCode(() => store.setSetting('', 'x'), 'invalid-input');
    expectCode(() => store.setSetting('k', 5 as unknown as string), 'invalid-input');
  });
});

describe('migration 0030', () => {
  const upTo20 = MIGRATIONS.filter((m) => m.version <= 20);
  const auditTriggersSql = (d: Database.Database): string[] =>
    (d.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit' ORDER BY name`).all() as { sql: string }[]).map((r) => r.sql);

  it('keeps every existing audit row (seq included), the sequence and the append-only triggers; extends the CHECK', () => {
    const d = tempDir('mig30');
    const f = path.join(d, 'v20.sqlite');
    try {
      const old = openDatabase(f, { migrations: upTo20 });
      expect(old.pragma('user_version', { simple: true })).toBe(20);
      const ins = old.prepare('INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES (?, ?, ?, ?, ?, ?)');
      const actions = ['create', 'edit', 'edit', 'template-change', 'sign', 'view-signed', 'addendum'];
      actions.forEach((a, i) => ins.run(`2025-01-0${i + 1}T08:00:00.000Z`, i % 2 ? 'Dr B' : 'Dr A', a, i < 5 ? 'r1' : 'r2', a === 'edit' ? i : null, `detail ${i} ✓ "quoted"`));
      expect(() => ins.run('2025-01-09T00:00:00.000Z', 'x', 'take-over', 'r1', null, '')).toThrow(/CHECK/);
      const rowsBefore = old.prepare('SELECT * FROM audit ORDER BY seq').all();
      const triggersBefore = auditTriggersSql(old);
      expect(triggersBefore).toHaveLength(2);
      const seqBefore = (old.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'audit'`).get() as { seq: number }).seq;
      old.close();

      // Up to the audit chain (0090), which adds columns and triggers of its own to this table and
      // chains raw inserts: test/main/db/auditChain.test.ts.
      const beforeChain = MIGRATIONS.filter((m) => m.version < 90);
      const mig = openDatabase(f, { migrations: beforeChain });
      expect(mig.pragma('user_version', { simple: true })).toBe(Math.max(...beforeChain.map((m) => m.version)));
      expect(mig.prepare('SELECT * FROM audit ORDER BY seq').all()).toEqual(rowsBefore);
      // 0030's triggers exactly as they were, plus 0050's guard against INSERT OR REPLACE.
      expect(auditTriggersSql(mig)).toEqual(expect.arrayContaining(triggersBefore));
      expect(auditTriggersSql(mig)).toHaveLength(triggersBefore.length + 1);
      expect((mig.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'audit'`).get() as { seq: number }).seq).toBe(seqBefore);
      expect(mig.prepare(`SELECT count(*) AS n FROM sqlite_sequence WHERE name = 'audit_new'`).get()).toEqual({ n: 0 });
      expect(mig.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit'`).all()).toEqual([{ name: 'audit_by_report' }]);
      // Still append-only.
      expect(() => mig.prepare(`UPDATE audit SET actor = 'nobody'`).run()).toThrow(/append-only/);
      expect(() => mig.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
      // The new actions are allowed, unknown ones still are not; new rows continue the sequence.
      const add = mig.prepare('INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES (?, ?, ?, ?, ?, ?)');
      expect(add.run('2025-02-01T00:00:00.000Z', 'Dr A', 'taken-over', 'r1', null, 'by Dr B').lastInsertRowid).toBe(seqBefore + 1);
      add.run('2025-02-01T00:00:00.000Z', 'Dr B', 'take-over', 'r1', null, 'from Dr A');
      expect(() => add.run('2025-02-01T00:00:00.000Z', 'x', 'delete', 'r1', null, '')).toThrow(/CHECK/);
      // The new columns and tables exist.
      const cols = (mig.pragma('table_info(reports)') as { name: string }[]).map((c) => c.name);
      expect(cols).toEqual(expect.arrayContaining(['taken_over_by', 'taken_over_at']));
      const tables = (mig.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['settings', 'sync_phone_communications', 'audit']));
      expect(mig.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(mig.pragma('foreign_key_check')).toEqual([]);
      mig.close();
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('migrates a version-20 database with real reports, which ReportStore then reads and uses', () => {
    const d = tempDir('mig30b');
    const f = path.join(d, 'v20.sqlite');
    try {
      // Rows as the version-20 ReportStore wrote them (it has no taken_over_by column yet).
      const old = openDatabase(f, { migrations: upTo20 });
      const json = JSON.stringify(signableContent());
      old.prepare(`INSERT INTO reports (id, patient_id, study_uid, status, template_id, content, revision, author, created_at, updated_at)
                   VALUES ('r1', ?, ?, 'draft', 'ct-head', ?, 0, ?, '2025-01-01T08:00:00.000Z', '2025-01-01T08:00:00.000Z')`).run(STUDY_A.patientId, STUDY_A.studyUid, json, ADA);
      old.prepare(`INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES ('r1', 0, '2025-01-01T08:00:00.000Z', ?, ?)`).run(ADA, json);
      old.prepare(`INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES ('2025-01-01T08:00:00.000Z', ?, 'create', 'r1', 0, 'template ct-head')`).run(ADA);
      old.close();

      db.close();
      db = openDatabase(f);
      store = makeStore(db);
      const r = store.get('r1', ADA);
      expect(r.takenOverBy).toBeNull();
      expect(store.save('r1', STUDY_A, signableContent(), 0, ADA).revision).toBe(1);
      store.markTakenOver('r1', GRACE, '2025-03-01T10:00:00.000Z');
      expect(store.audit('r1').map((a) => [a.seq, a.action])).toEqual([[1, 'create'], [2, 'edit'], [3, 'taken-over']]);
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('runs all-or-nothing: a failure after the rebuild leaves the version-20 database as it was', () => {
    const d = tempDir('mig30c');
    const f = path.join(d, 'v20.sqlite');
    try {
      const old = openDatabase(f, { migrations: upTo20 });
      old.prepare(`INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES ('2025-01-01T08:00:00.000Z', 'Dr A', 'create', 'r1', 0, '')`).run();
      const before = old.prepare('SELECT * FROM audit').all();
      const boom = { version: Math.max(...MIGRATIONS.map((m) => m.version)) + 10, name: 'boom', up: () => { throw new Error('boom'); } };
      expect(() => migrate(old, [...MIGRATIONS, boom])).toThrow('boom');
      expect(old.pragma('user_version', { simple: true })).toBe(20);
      expect(old.prepare('SELECT * FROM audit').all()).toEqual(before);
      expect((old.pragma('table_info(reports)') as { name: string }[]).some((c) => c.name === 'taken_over_by')).toBe(false);
      old.close();
    } finally {
      fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
