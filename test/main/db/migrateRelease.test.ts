// A database written by the current release (commit 865b120, through its own ReportStore: see
// test/fixtures/release-865b120/generate.ts) opened with today's code: migration 0050 must lose
// nothing. Every report, its content, revisions, addenda, audit rows, outbox rows and phone
// records are read with raw SQL before and compared after; every signature moved into the
// signatures table with its hash unchanged and verifies on its own; the trail stays append-only.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { MIGRATIONS } from '../../../main/db/migrations/index.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { verifySignature } from '../../../main/reports/signatures.ts';
import { CT_HEAD, expectCode, fixtureExam, RADIOLOGIST, signableContent, tempDir, TRAINEE, TRAINER } from '../reports/fixtures.ts';

const FIXTURE = path.join(import.meta.dirname, '../../fixtures/release-865b120/reports.sqlite');

interface OldReport {
  rowid: number;
  id: string;
  patient_id: string;
  study_uid: string;
  status: 'draft' | 'signed';
  template_id: string;
  content: string;
  revision: number;
  author: string;
  created_at: string;
  updated_at: string;
  signer_name: string | null;
  signer_role: string | null;
  signer_registration: string | null;
  signed_at: string | null;
  signature_meaning: string | null;
  content_hash: string | null;
  taken_over_by: string | null;
  taken_over_at: string | null;
}

interface OldAddendum {
  seq: number;
  id: string;
  report_id: string;
  original_hash: string;
  text: string;
  signer_name: string;
  signer_role: string;
  signer_registration: string;
  signed_at: string;
  content_hash: string;
}

let dir: string;
let file: string;
let before: {
  reports: OldReport[];
  addenda: OldAddendum[];
  revisions: unknown[];
  audit: unknown[];
  outbox: Record<string, unknown>[];
  phone: unknown[];
  settings: unknown[];
  profile: unknown[];
  auditSeq: number;
  outboxSeq: number;
};
let db: Db;

beforeEach(() => {
  dir = tempDir('release');
  file = path.join(dir, 'failsafe.sqlite');
  fs.copyFileSync(FIXTURE, file);
  const old = new Database(file, { readonly: true });
  const all = <T>(sql: string): T[] => old.prepare(sql).all() as T[];
  const seq = (name: string): number => (old.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(name) as { seq: number }).seq;
  before = {
    reports: all<OldReport>('SELECT rowid, * FROM reports ORDER BY rowid'),
    addenda: all<OldAddendum>('SELECT * FROM addenda ORDER BY seq'),
    revisions: all('SELECT * FROM report_revisions ORDER BY report_id, revision'),
    audit: all('SELECT seq, at, actor, action, report_id, revision, detail FROM audit ORDER BY seq'),
    outbox: all<Record<string, unknown>>('SELECT * FROM outbox ORDER BY id'),
    phone: all('SELECT * FROM sync_phone_communications ORDER BY seq'),
    settings: all('SELECT * FROM settings ORDER BY key'),
    profile: all('SELECT * FROM profile'),
    auditSeq: seq('audit'),
    outboxSeq: seq('outbox'),
  };
  expect(old.pragma('user_version', { simple: true })).toBe(30);
  old.close();
  db = openDatabase(file);
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const all = (sql: string, ...params: unknown[]): unknown[] => db.prepare(sql).all(...params);

describe('the release 865b120 database, opened with today\'s code', () => {
  it('is a real release database: several signed reports (4 signer roles), addenda, a taken-over and an adopted draft, a plain draft, every audit action', () => {
    const signed = before.reports.filter((r) => r.status === 'signed');
    expect(signed.length).toBeGreaterThanOrEqual(4);
    expect(new Set(signed.map((r) => r.signer_role))).toEqual(new Set(['radiologist', 'locum', 'radiographer', 'trainer']));
    expect(before.addenda.length).toBeGreaterThanOrEqual(3);
    expect(before.reports.some((r) => r.status === 'draft' && r.taken_over_by !== null)).toBe(true);
    expect(before.reports.filter((r) => r.status === 'draft' && r.taken_over_by === null).length).toBeGreaterThanOrEqual(2);
    const actions = new Set(before.audit.map((a) => (a as { action: string }).action));
    expect(actions).toEqual(new Set(['create', 'edit', 'sign', 'addendum', 'view-signed', 'template-change', 'take-over', 'taken-over']));
    const contents = signed.map((r) => JSON.parse(r.content) as { alertCode: string; comparison: { kind: string }; unexpected: { kind: string }; verbal?: unknown });
    expect(contents.some((c) => c.alertCode === 'critical' && c.verbal)).toBe(true);
    expect(contents.some((c) => c.comparison.kind === 'compared')).toBe(true);
    expect(contents.some((c) => c.unexpected.kind === 'findings')).toBe(true);
  });

  it('migrates to the latest version and the database is consistent', () => {
    expect(db.pragma('user_version', { simple: true })).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('keeps every report row: id, rowid, binding, content, revision, author, times, take-over; state from what it was', () => {
    const after = all('SELECT rowid, * FROM reports ORDER BY rowid') as Record<string, unknown>[];
    expect(after).toHaveLength(before.reports.length);
    before.reports.forEach((o, i) => {
      const n = after[i]!;
      const { status, signer_name: _n, signer_role: _r, signer_registration: _g, signed_at: _s, signature_meaning: _m, content_hash: _h, ...kept } = o;
      expect(n).toEqual({
        ...kept,
        exam: null,
        // No report of that release corrects another (migration 0070).
        replaces: null,
        state: status === 'signed' ? (before.addenda.some((a) => a.report_id === o.id) ? 'appended' : 'final') : o.taken_over_by ? 'taken-over' : 'draft',
      });
    });
  });

  it('moves every signature into the signatures table with the hash, signer, time and meaning unchanged, oldest first', () => {
    const sigs = all('SELECT * FROM signatures ORDER BY seq') as Record<string, unknown>[];
    const expected = [
      ...before.reports
        .filter((r) => r.status === 'signed')
        .map((r) => ({ report_id: r.id, meaning: r.signature_meaning, signer_name: r.signer_name, signer_role: r.signer_role, signer_registration: r.signer_registration, signed_at: r.signed_at, content_hash: r.content_hash, addendum_id: null })),
      ...before.addenda.map((a) => ({ report_id: a.report_id, meaning: 'addendum', signer_name: a.signer_name, signer_role: a.signer_role, signer_registration: a.signer_registration, signed_at: a.signed_at, content_hash: a.content_hash, addendum_id: a.id })),
    ];
    expect(sigs.map(({ seq: _q, id: _i, ...rest }) => rest)).toEqual(expected);
    expect(new Set(sigs.map((s) => s['id'])).size).toBe(sigs.length);
  });

  it('keeps every addendum, revision, audit row (seq included), outbox row, phone record, setting and the profile', () => {
    expect(all('SELECT * FROM addenda ORDER BY seq')).toEqual(before.addenda);
    // Revisions: every one of a signed report, and every one kept of a draft, exactly as it was
    // (stored in full); migration 0080 compacts old draft history (test/main/db/migrateRevisions.test.ts).
    const revisionsAfter = all('SELECT report_id, revision, saved_at, actor, content, base FROM report_revisions ORDER BY report_id, revision') as Record<string, unknown>[];
    const signedIds = new Set(before.reports.filter((r) => r.status === 'signed').map((r) => r.id));
    const key = (r: unknown): string => JSON.stringify(r);
    const beforeKeys = new Set(before.revisions.map((r) => key({ ...(r as object), base: null })));
    for (const r of revisionsAfter) expect(beforeKeys.has(key(r))).toBe(true);
    const afterKeys = new Set(revisionsAfter.map(key));
    for (const r of before.revisions as { report_id: string; revision: number }[]) {
      const current = before.reports.find((o) => o.id === r.report_id)!.revision;
      if (signedIds.has(r.report_id) || r.revision === current || r.revision === 0) expect(afterKeys.has(key({ ...r, base: null }))).toBe(true);
    }
    // The columns as written (0090 adds the audit chain's beside them).
    expect(all('SELECT seq, at, actor, action, report_id, revision, detail FROM audit ORDER BY seq')).toEqual(before.audit);
    expect(all('SELECT * FROM outbox ORDER BY id')).toEqual(before.outbox);
    expect(all('SELECT * FROM sync_phone_communications ORDER BY seq')).toEqual(before.phone);
    expect(all('SELECT * FROM settings ORDER BY key')).toEqual(before.settings);
    expect(all('SELECT * FROM profile')).toEqual(before.profile);
    const seq = (name: string): number => (db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(name) as { seq: number }).seq;
    expect(seq('audit')).toBe(before.auditSeq);
    expect(seq('outbox')).toBe(before.outboxSeq);
    expect(all(`SELECT name FROM sqlite_sequence WHERE name LIKE '%_new'`)).toEqual([]);
  });

  it('every migrated signature verifies on its own against the report as today\'s store reads it', () => {
    const store = new ReportStore(db, { examFor: fixtureExam });
    let checked = 0;
    for (const o of before.reports.filter((r) => r.status === 'signed')) {
      const r = store.get(o.id, 'migration test');
      expect(r.exam).toBeNull();
      expect(r.content).toEqual(JSON.parse(o.content));
      expect(r.signatures[0]).toMatchObject({ meaning: 'final-report', name: o.signer_name, contentHash: o.content_hash });
      expect(r.addenda.map((a) => a.id).sort()).toEqual(before.addenda.filter((a) => a.report_id === o.id).map((a) => a.id).sort());
      for (const s of r.signatures) {
        expect(verifySignature(s, r)).toEqual({ ok: true });
        checked++;
      }
      // The addenda's recorded original is the migrated final signature's hash.
      for (const a of before.addenda.filter((x) => x.report_id === o.id)) expect(a.original_hash).toBe(o.content_hash);
    }
    expect(checked).toBe(before.reports.filter((r) => r.status === 'signed').length + before.addenda.length);
  });

  it('the audit trail, signatures and signed reports stay append-only after the migration; drafts carry on', () => {
    const snapshot = (): unknown[] => ['audit', 'signatures', 'addenda', 'reports'].map((t) => all(`SELECT * FROM ${t} ORDER BY 1`));
    const was = snapshot();
    expect(() => db.prepare(`UPDATE audit SET actor = 'nobody'`).run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    const first = db.prepare('SELECT * FROM audit ORDER BY seq LIMIT 1').get() as Record<string, unknown>;
    expect(() => db.prepare(`INSERT OR REPLACE INTO audit (seq, at, actor, action, report_id, revision, detail) VALUES (?, ?, ?, ?, ?, ?, 'rewritten')`).run(first['seq'], first['at'], first['actor'], first['action'], first['report_id'], first['revision'])).toThrow(/append-only/);
    expect(() => db.prepare(`UPDATE signatures SET content_hash = ?`).run('f'.repeat(64))).toThrow(/immutable/);
    const signedId = before.reports.find((r) => r.status === 'signed')!.id;
    expect(() => db.prepare(`UPDATE reports SET content = '{}' WHERE id = ?`).run(signedId)).toThrow(/immutable/);
    expect(snapshot()).toEqual(was);

    // Today's store carries on where the release left off: the plain draft is saved and signed
    // (now with the exam bound), the taken-over copy stays read-only, addenda continue.
    const store = new ReportStore(db, { examFor: fixtureExam });
    const draft = before.reports.find((r) => r.status === 'draft' && r.taken_over_by === null && !r.id.endsWith('a006'))!;
    const study = { patientId: draft.patient_id, studyUid: draft.study_uid };
    store.save(draft.id, study, signableContent(), draft.revision, RADIOLOGIST.name);
    const signed = store.sign(draft.id, study, draft.revision + 1, RADIOLOGIST);
    expect(signed.state).toBe('final');
    expect(signed.exam).toEqual(fixtureExam(study.studyUid));
    expect(verifySignature(signed.signatures[0]!, signed)).toEqual({ ok: true });
    const taken = before.reports.find((r) => r.taken_over_by !== null)!;
    expectCode(() => store.save(taken.id, { patientId: taken.patient_id, studyUid: taken.study_uid }, signableContent(), taken.revision, 'x'), 'conflict', /taken over by/);
    store.addendum(signedId, 'After the upgrade.', TRAINER);
    const r = store.get(signedId, 'x');
    for (const s of r.signatures) expect(verifySignature(s, r)).toEqual({ ok: true });
    // New audit rows continue the sequence.
    const seqs = (all('SELECT seq FROM audit ORDER BY seq') as { seq: number }[]).map((x) => x.seq);
    expect(seqs[before.audit.length]).toBe(before.auditSeq + 1);
    // A trainee on an upgraded database makes a provisional report like anywhere else.
    const p = store.open({ patientId: 'PAT-0100', studyUid: '1.2.100' }, { actor: TRAINEE.name, ...CT_HEAD });
    store.save(p.id, p.study, signableContent(), 0, TRAINEE.name);
    expect(store.sign(p.id, p.study, 1, TRAINEE).state).toBe('provisional');
  });

  it('a failure during the migration leaves the release database exactly as it was', () => {
    db.close();
    fs.copyFileSync(FIXTURE, file);
    fs.rmSync(`${file}-wal`, { force: true });
    fs.rmSync(`${file}-shm`, { force: true });
    const boom = { version: 55, name: 'boom', up: () => { throw new Error('boom'); } };
    expect(() => openDatabase(file, { migrations: [...MIGRATIONS, boom] })).toThrow('boom');
    const old = new Database(file, { readonly: true });
    expect(old.pragma('user_version', { simple: true })).toBe(30);
    expect(old.prepare('SELECT rowid, * FROM reports ORDER BY rowid').all()).toEqual(before.reports);
    expect(old.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE name = 'signatures'`).get()).toEqual({ n: 0 });
    old.close();
  });
});
