// The report life cycle on the workstation store (issue 6, lines 1-3): a trainee's signature makes
// a provisional report, a trainer's verification makes it final with both signature records,
// addenda only on final reports; every signature record verifies on its own, and stops verifying
// when what it covers (content, exam, the provisional it verifies) is changed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutboxPayload, SignedReportPayload, VerificationPayload } from '../../../common/hubPayload.ts';
import { signedPayload, type Profile, type Report } from '../../../common/report.ts';
import type { Db } from '../../../main/db/database.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { verifySignature } from '../../../main/reports/signatures.ts';
import { CT_HEAD, expectCode, fixtureExam, RADIOLOGIST, signableContent, STUDY_A, tempDb, TRAINEE, TRAINER } from './fixtures.ts';

const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');
const LOCUM: Profile = { name: 'Dr Mary Somerville', role: 'locum', registration: 'GMC 2222222' };
const SECOND_TRAINER: Profile = { name: 'Dr Katherine Johnson', role: 'trainer', registration: 'GMC 3333333' };

let db: Db;
let dir: string;
let store: ReportStore;
let clock: number;

beforeEach(() => {
  ({ db, dir } = tempDb('lifecycle'));
  clock = Date.parse('2025-03-01T09:00:00.000Z');
  store = new ReportStore(db, { now: () => new Date((clock += 1000)), examFor: fixtureExam });
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const count = (table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const outbox = (): OutboxPayload[] => (db.prepare('SELECT payload FROM outbox ORDER BY id').all() as { payload: string }[]).map((r) => OutboxPayload.parse(JSON.parse(r.payload)));

function provisional(study = STUDY_A): Report {
  const r = store.open(study, { actor: TRAINEE.name, ...CT_HEAD });
  store.save(r.id, study, signableContent(), 0, TRAINEE.name);
  return store.sign(r.id, study, 1, TRAINEE);
}

function expectAllVerify(report: Report): void {
  expect(report.signatures.length).toBeGreaterThan(0);
  for (const s of report.signatures) expect(verifySignature(s, report)).toEqual({ ok: true });
}

describe('a trainee signs', () => {
  it('a provisional report: state provisional, one provisional signature bound to the exam, outbox kind report', () => {
    const p = provisional();
    expect(p.state).toBe('provisional');
    expect(p.exam).toEqual(fixtureExam(STUDY_A.studyUid));
    expect(p.signatures).toHaveLength(1);
    const sig = p.signatures[0]!;
    expect(sig).toMatchObject({ reportId: p.id, addendumId: null, name: TRAINEE.name, role: 'trainee', registration: TRAINEE.registration, meaning: 'provisional' });
    expect(sig.contentHash).toBe(sha256(signedPayload(signableContent(), STUDY_A, TRAINEE, sig.signedAt, 'provisional', fixtureExam(STUDY_A.studyUid))));
    expectAllVerify(p);
    const [payload] = outbox();
    const parsed = SignedReportPayload.parse(payload);
    expect(parsed.report.signature.meaning).toBe('provisional');
    expect(parsed.report.signature.contentHash).toBe(sig.contentHash);
    expect(parsed.report.exam).toEqual(fixtureExam(STUDY_A.studyUid));
    expect(store.audit(p.id).at(-1)).toMatchObject({ action: 'sign', actor: TRAINEE.name });
    expect(store.audit(p.id).at(-1)!.detail).toContain('provisional');
  });

  it('a provisional report is immutable: no save, no second signature (provisional or final), no addendum', () => {
    const p = provisional();
    expectCode(() => store.save(p.id, STUDY_A, signableContent(), 1, TRAINEE.name), 'conflict', /immutable/);
    expectCode(() => store.sign(p.id, STUDY_A, 1, TRAINEE), 'conflict', /provisional/);
    expectCode(() => store.sign(p.id, STUDY_A, 1, RADIOLOGIST), 'conflict', /provisional/);
    expectCode(() => store.addendum(p.id, 'Too early.', RADIOLOGIST), 'conflict', /cannot be given an addendum/);
    expectCode(() => store.addendum(p.id, 'Too early.', TRAINER), 'conflict');
    expect(count('addenda')).toBe(0);
    expect(count('signatures')).toBe(1);
    expect(count('outbox')).toBe(1);
    expect(store.get(p.id, 'x').state).toBe('provisional');
  });
});

describe('a trainer verifies', () => {
  it('makes it final with both signature records; the verification names the provisional hash; outbox kind verification', () => {
    const p = provisional();
    const v = store.verify(p.id, STUDY_A, TRAINER);
    expect(v.state).toBe('final');
    expect(v.content).toEqual(p.content);
    expect(v.signatures.map((s) => [s.meaning, s.name, s.role])).toEqual([
      ['provisional', TRAINEE.name, 'trainee'],
      ['verification', TRAINER.name, 'trainer'],
    ]);
    const [prov, ver] = v.signatures as [Report['signatures'][0], Report['signatures'][0]];
    expect(prov).toEqual(p.signatures[0]);
    const expected = sha256(signedPayload(signableContent(), STUDY_A, TRAINER, ver.signedAt, 'verification', fixtureExam(STUDY_A.studyUid), { provisionalHash: prov.contentHash }));
    expect(ver.contentHash).toBe(expected);
    expectAllVerify(v);

    const payloads = outbox();
    expect(payloads.map((x) => x.kind)).toEqual(['report', 'verification']);
    const vp = VerificationPayload.parse(payloads[1]);
    expect(vp).toEqual({ kind: 'verification', reportId: p.id, provisionalHash: prov.contentHash, signature: { name: TRAINER.name, role: 'trainer', registration: TRAINER.registration, signedAt: ver.signedAt, meaning: 'verification', contentHash: expected } });
    const trail = store.audit(p.id).filter((a) => a.action === 'sign');
    expect(trail.map((a) => a.actor)).toEqual([TRAINEE.name, TRAINER.name]);
    expect(trail[1]!.detail).toContain(`verification of the provisional report by ${TRAINEE.name}`);
    expect(store.list()[0]).toMatchObject({ id: p.id, state: 'final' });
  });

  it('only a trainer: a trainee, a radiologist, a locum, a referrer and a safety lead are refused and nothing is written', () => {
    const p = provisional();
    for (const who of [TRAINEE, { ...TRAINEE, name: 'Dr Other Trainee', registration: 'GMC 9' }, RADIOLOGIST, LOCUM, { ...RADIOLOGIST, role: 'referrer' as const }, { ...RADIOLOGIST, role: 'safety-lead' as const }]) {
      expectCode(() => store.verify(p.id, STUDY_A, who), 'forbidden', /may not do this: a report is verified by a trainer/);
    }
    expect(count('signatures')).toBe(1);
    expect(count('outbox')).toBe(1);
    expect(store.get(p.id, 'x').state).toBe('provisional');
  });

  it('verifying twice is refused, by the same or another trainer; verifying a draft or a final report is refused', () => {
    const p = provisional();
    store.verify(p.id, STUDY_A, TRAINER);
    expectCode(() => store.verify(p.id, STUDY_A, TRAINER), 'conflict', /state "final".*cannot be verified/);
    expectCode(() => store.verify(p.id, STUDY_A, SECOND_TRAINER), 'conflict');
    expect(count('signatures')).toBe(2);

    const d = store.open({ patientId: 'PAT-9', studyUid: '1.2.9' }, { actor: 'x', ...CT_HEAD });
    expectCode(() => store.verify(d.id, d.study, TRAINER), 'conflict', /state "draft"/);
    store.save(d.id, d.study, signableContent(), 0, 'x');
    store.sign(d.id, d.study, 1, RADIOLOGIST);
    expectCode(() => store.verify(d.id, d.study, TRAINER), 'conflict', /cannot be verified/);
    expect(count('signatures')).toBe(3);
  });

  it('nobody verifies their own provisional report; against another study it is wrong-study', () => {
    const p = provisional();
    expectCode(() => store.verify(p.id, STUDY_A, { ...TRAINER, registration: TRAINEE.registration }), 'forbidden', /someone other/);
    expectCode(() => store.verify(p.id, { ...STUDY_A, studyUid: '9.9.9' }, TRAINER), 'wrong-study');
    expectCode(() => store.verify('nope', STUDY_A, TRAINER), 'not-found');
    expect(count('signatures')).toBe(1);
  });

  it('the verification, its audit row and its outbox row commit together or not at all', () => {
    const p = provisional();
    db.exec(`CREATE TEMP TRIGGER fail_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`);
    expect(() => store.verify(p.id, STUDY_A, TRAINER)).toThrow(/disk full/);
    db.exec('DROP TRIGGER temp.fail_outbox');
    expect(store.get(p.id, 'x').state).toBe('provisional');
    expect(count('signatures')).toBe(1);
    expect(store.audit(p.id).filter((a) => a.action === 'sign')).toHaveLength(1);
    expect(store.verify(p.id, STUDY_A, TRAINER).state).toBe('final');
  });

  it('then addenda may follow (appended), each verifying; the addendum names the verification hash as the original', () => {
    const p = provisional();
    const v = store.verify(p.id, STUDY_A, TRAINER);
    expectCode(() => store.addendum(p.id, 'By the trainee.', TRAINEE), 'forbidden');
    const a = store.addendum(p.id, 'Discussed with the referrer.', TRAINER);
    const r = store.get(p.id, 'x');
    expect(r.state).toBe('appended');
    expect(r.signatures.map((s) => s.meaning)).toEqual(['provisional', 'verification', 'addendum']);
    expect(r.signatures[2]!.addendumId).toBe(a.id);
    expectAllVerify(r);
    const payload = outbox()[2]!;
    expect(payload).toMatchObject({ kind: 'addendum', originalHash: v.signatures[1]!.contentHash });
  });
});

describe('each signature verifies on its own, and only for what it signed', () => {
  function appended(): Report {
    const r = store.open(STUDY_A, { actor: RADIOLOGIST.name, ...CT_HEAD });
    store.save(r.id, STUDY_A, signableContent(), 0, RADIOLOGIST.name);
    store.sign(r.id, STUDY_A, 1, RADIOLOGIST);
    store.addendum(r.id, 'First.', RADIOLOGIST);
    store.addendum(r.id, 'Second.', TRAINER);
    return store.get(r.id, 'x');
  }

  it('a final report with addenda: every record verifies', () => {
    expectAllVerify(appended());
  });

  it('the exam is bound: another patient name, accession, requester or no exam at all and the signature fails', () => {
    const r = appended();
    const final = r.signatures[0]!;
    for (const exam of [
      { ...r.exam!, patientName: 'ROE^RICHARD' },
      { ...r.exam!, accession: 'ACC-OTHER' },
      { ...r.exam!, referringPhysician: 'OTHER^DOCTOR' },
      { ...r.exam!, studyDate: '20250302' },
    ]) {
      const check = verifySignature(final, { ...r, exam });
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.reason).toMatch(/does not match the report/);
    }
    expect(verifySignature(final, { ...r, exam: null }).ok).toBe(false);
  });

  it('changed content, study, signer, time or meaning fails; an addendum with other text fails; a verification of another provisional fails', () => {
    const r = appended();
    const final = r.signatures[0]!;
    expect(verifySignature(final, { ...r, content: { ...r.content, alertCode: 'urgent' } }).ok).toBe(false);
    expect(verifySignature(final, { ...r, study: { ...r.study, patientId: 'PAT-X' } }).ok).toBe(false);
    expect(verifySignature({ ...final, name: 'Dr Forger' }, r).ok).toBe(false);
    expect(verifySignature({ ...final, signedAt: '2025-01-01T00:00:00.000Z' }, r).ok).toBe(false);
    expect(verifySignature({ ...final, meaning: 'provisional' }, r).ok).toBe(false);
    expect(verifySignature({ ...final, reportId: 'other' }, r)).toMatchObject({ ok: false, reason: expect.stringMatching(/belongs to report other/) });
    const add = r.signatures[1]!;
    const changed = { ...r, addenda: r.addenda.map((a) => (a.id === add.addendumId ? { ...a, text: 'Rewritten.' } : a)) };
    expect(verifySignature(add, changed).ok).toBe(false);
    expect(verifySignature(add, { ...r, addenda: [] })).toMatchObject({ ok: false, reason: expect.stringMatching(/is not on the report/) });

    const p = provisional({ patientId: 'P2', studyUid: '2.2' });
    const v = store.verify(p.id, p.study, TRAINER);
    const verification = v.signatures[1]!;
    const otherProvisional = { ...v.signatures[0]!, contentHash: 'b'.repeat(64) };
    expect(verifySignature(verification, { ...v, signatures: [otherProvisional, verification] }).ok).toBe(false);
    expect(verifySignature(verification, { ...v, signatures: [verification] })).toMatchObject({ ok: false, reason: expect.stringMatching(/needs the provisional/) });
  });

  it('a signature row altered by raw SQL is refused by the database, and a stored state that its signatures do not make is refused on load', () => {
    const r = appended();
    expect(() => db.prepare(`UPDATE signatures SET content_hash = ? WHERE report_id = ?`).run('c'.repeat(64), r.id)).toThrow(/immutable/);
    expect(() => db.prepare(`DELETE FROM signatures WHERE report_id = ?`).run(r.id)).toThrow(/cannot be deleted/);
    expect(store.get(r.id, 'x').signatures).toEqual(r.signatures);
    // Someone with the triggers dropped forges the state: the store will not show it as final.
    const p = provisional({ patientId: 'P3', studyUid: '3.3' });
    db.exec('DROP TRIGGER reports_state_by_transition');
    db.prepare(`UPDATE reports SET state = 'final' WHERE id = ?`).run(p.id);
    expectCode(() => store.get(p.id, 'x'), 'internal', /stored as final but its signatures \(provisional\) do not make it so/);
  });
});
