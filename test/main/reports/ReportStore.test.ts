// The report store against a real on-disk SQLite file: drafts and revisions, the sign-off gate
// (study binding, revision, sign-off rules, role), signature hashes the hub can recompute,
// addenda, the audit trail and the outbox written in the signing transaction. The life cycle
// (provisional, verification) is in lifecycle.test.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContractError } from '../../../common/contract.ts';
import { addendumSignedPayload, AddendumPayload, OutboxPayload, SignedReportPayload } from '../../../common/hubPayload.ts';
import { SqliteOutboxStore } from '../../../main/sync/OutboxStore.ts';
import { signedPayload, type ReportContent } from '../../../common/report.ts';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, expectCode, fixtureExam, RADIOLOGIST, signableContent, STUDY_A, STUDY_B, tempDb, TRAINEE, TRAINER } from './fixtures.ts';

const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

let db: Db;
let file: string;
let dir: string;
let store: ReportStore;
let clock: number;

function makeStore(d: Db): ReportStore {
  return new ReportStore(d, {
    now: () => new Date((clock += 1000)),
    examFor: fixtureExam,
    studyInfo: (uid) => (uid === STUDY_A.studyUid ? { patientName: 'DOE^JANE', description: 'CT HEAD' } : null),
  });
}

beforeEach(() => {
  ({ db, file, dir } = tempDb());
  clock = Date.parse('2025-03-01T09:00:00.000Z');
  store = makeStore(db);
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const count = (table: string): number => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
const openA = () => store.open(STUDY_A, { actor: 'Dr Ada Lovelace', ...CT_HEAD });

/** A draft of study A saved with signable content at revision 1. */
function signableDraft(): string {
  const r = openA();
  store.save(r.id, STUDY_A, signableContent(), 0, 'Dr Ada Lovelace');
  return r.id;
}

describe('profile', () => {
  it('is null until set, then persists and can be replaced', () => {
    expect(store.getProfile()).toBeNull();
    expect(store.setProfile({ ...RADIOLOGIST, name: '  Dr Ada Lovelace  ' })).toEqual(RADIOLOGIST);
    db.close();
    db = openDatabase(file);
    store = makeStore(db);
    expect(store.getProfile()).toEqual(RADIOLOGIST);
    store.setProfile(TRAINER);
    expect(store.getProfile()).toEqual(TRAINER);
    expect(count('profile')).toBe(1);
  });

  it('rejects an incomplete profile and keeps the old one', () => {
    store.setProfile(RADIOLOGIST);
    expectCode(() => store.setProfile({ ...RADIOLOGIST, registration: '   ' }), 'invalid-input');
    expectCode(() => store.setProfile({ ...RADIOLOGIST, role: 'wizard' as never }), 'invalid-input');
    expect(store.getProfile()).toEqual(RADIOLOGIST);
  });
});

describe('drafts', () => {
  it('open creates one draft per study from the chosen template, then returns it', () => {
    const r = openA();
    expect(r.state).toBe('draft');
    expect(r.study).toEqual(STUDY_A);
    expect(r.exam).toEqual(fixtureExam(STUDY_A.studyUid));
    expect(r.content.templateId).toBe('ct-head');
    expect(r.content.fields['technique']).toBe('Non-contrast axial CT of the head.');
    expect(r.revision).toBe(0);
    expect(r.author).toBe('Dr Ada Lovelace');
    expect(r.signatures).toEqual([]);
    expect(r.addenda).toEqual([]);
    const again = store.open(STUDY_A, { actor: 'someone else', ...CT_HEAD });
    expect(again.id).toBe(r.id);
    expect(count('reports')).toBe(1);
    expect(store.audit(r.id).map((a) => a.action)).toEqual(['create']);
    expect(store.revisions(r.id).map((x) => x.revision)).toEqual([0]);
  });

  it('a study with no matching template gets the generic one', () => {
    const r = store.open(STUDY_B, { actor: 'x', modality: 'XA', description: 'Angiogram' });
    expect(r.content.templateId).toBe('generic');
  });

  it('save keeps every revision and audits each edit with its revision', () => {
    const r = openA();
    let base = r.revision;
    const contents: ReportContent[] = [];
    for (const text of ['N', 'No', 'No a', 'No acute']) {
      const c = { ...signableContent(), fields: { ...signableContent().fields, conclusion: text } };
      contents.push(c);
      const res = store.save(r.id, STUDY_A, c, base, 'Dr Ada Lovelace');
      expect(res.revision).toBe(base + 1);
      base = res.revision;
    }
    const revs = store.revisions(r.id);
    expect(revs.map((x) => x.revision)).toEqual([0, 1, 2, 3, 4]);
    expect(revs.slice(1).map((x) => x.content)).toEqual(contents);
    expect(revs[0]!.content).toEqual(r.content);
    const got = store.get(r.id, 'x');
    expect(got.revision).toBe(4);
    expect(got.content).toEqual(contents[3]);
    const edits = store.audit(r.id).filter((a) => a.action === 'edit');
    expect(edits.map((a) => a.detail)).toEqual(['revision 1', 'revision 2', 'revision 3', 'revision 4']);
    expect(edits.every((a) => a.actor === 'Dr Ada Lovelace')).toBe(true);
  });

  it('survives closing and reopening the database file', () => {
    const id = signableDraft();
    db.close();
    db = openDatabase(file);
    store = makeStore(db);
    const r = store.get(id, 'x');
    expect(r.revision).toBe(1);
    expect(r.content).toEqual(signableContent());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('a stale base revision is a conflict and changes nothing', () => {
    const r = openA();
    store.save(r.id, STUDY_A, signableContent(), 0, 'a');
    const stale = { ...signableContent(), fields: { conclusion: 'overwritten' } };
    expectCode(() => store.save(r.id, STUDY_A, stale, 0, 'b'), 'conflict', /revision 1.*based on 0/);
    expectCode(() => store.save(r.id, STUDY_A, stale, 5, 'b'), 'conflict');
    expect(store.get(r.id, 'x').content).toEqual(signableContent());
    expect(store.revisions(r.id)).toHaveLength(2);
  });

  it('saving with another study is wrong-study and changes nothing', () => {
    const r = openA();
    expectCode(() => store.save(r.id, STUDY_B, signableContent(), 0, 'a'), 'wrong-study');
    expectCode(() => store.save(r.id, { ...STUDY_A, patientId: 'PAT-9999' }, signableContent(), 0, 'a'), 'wrong-study');
    expect(store.get(r.id, 'x').revision).toBe(0);
  });

  it('invalid content or an unknown report is rejected with a clear error', () => {
    const r = openA();
    expectCode(() => store.save(r.id, STUDY_A, { ...signableContent(), alertCode: 'maybe' } as never, 0, 'a'), 'invalid-input', /alertCode/);
    expectCode(() => store.save(r.id, STUDY_A, { ...signableContent(), templateId: 'no-such-template' }, 0, 'a'), 'invalid-input', /no-such-template/);
    expectCode(() => store.save(r.id, STUDY_A, signableContent(), -1, 'a'), 'invalid-input');
    expectCode(() => store.save('nope', STUDY_A, signableContent(), 0, 'a'), 'not-found');
    expectCode(() => store.get('nope', 'a'), 'not-found');
    expectCode(() => store.revisions('nope'), 'not-found');
    expectCode(() => store.audit('nope'), 'not-found');
    expect(store.get(r.id, 'x').revision).toBe(0);
  });

  it('open with another patient for a known study is wrong-study', () => {
    openA();
    expectCode(() => store.open({ ...STUDY_A, patientId: 'PAT-9999' }, { actor: 'a', ...CT_HEAD }), 'wrong-study');
    expect(count('reports')).toBe(1);
  });

  it('open with a different templateId switches the draft template, keeping what was written', () => {
    const r = openA();
    const written = { ...r.content, fields: { ...r.content.fields, conclusion: 'Normal.', brainParenchyma: 'Normal.' } };
    store.save(r.id, STUDY_A, written, 0, 'a');
    const switched = store.open(STUDY_A, { actor: 'a', ...CT_HEAD, templateId: 'generic' });
    expect(switched.id).toBe(r.id);
    expect(switched.content.templateId).toBe('generic');
    expect(switched.revision).toBe(2);
    expect(switched.content.fields['conclusion']).toBe('Normal.');
    // Generic has no "Brain parenchyma": its text is carried, shown and signed, never hidden (issue 7 line 2).
    expect(switched.content.fields['brainParenchyma']).toBeUndefined();
    expect(switched.content.carriedOver).toEqual([{ fieldId: 'brainParenchyma', label: 'Brain parenchyma', templateId: 'ct-head', templateTitle: 'CT head', text: 'Normal.' }]);
    expect(switched.content.fields['technique']).toBe('Non-contrast axial CT of the head.');
    const tc = store.audit(r.id).filter((a) => a.action === 'template-change');
    expect(tc).toHaveLength(1);
    expect(tc[0]!.detail).toBe('ct-head → generic; moved to "Other text from the previous template": Brain parenchyma (brainParenchyma, CT head)');
    // Same template again: no change, no audit.
    store.open(STUDY_A, { actor: 'a', ...CT_HEAD, templateId: 'generic' });
    expect(store.audit(r.id).filter((a) => a.action === 'template-change')).toHaveLength(1);
    expectCode(() => store.open(STUDY_A, { actor: 'a', ...CT_HEAD, templateId: 'no-such' }), 'invalid-input');
  });

  it('a new draft can start from a given template; a template change by save is audited', () => {
    const r = store.open(STUDY_B, { actor: 'a', ...CT_HEAD, templateId: 'generic' });
    expect(r.content.templateId).toBe('generic');
    store.save(r.id, STUDY_B, { ...r.content, templateId: 'ct-head' }, 0, 'a');
    expect(store.audit(r.id).map((a) => a.action)).toEqual(['create', 'edit', 'template-change']);
  });

  it('list shows drafts and signed reports, newest activity first, with study info', () => {
    const a = signableDraft();
    const b = store.open(STUDY_B, { actor: 'Dr B', ...CT_HEAD });
    const list = store.list();
    expect(list.map((x) => x.id)).toEqual([b.id, a]);
    expect(list[1]).toEqual({
      id: a,
      study: STUDY_A,
      state: 'draft',
      author: 'Dr Ada Lovelace',
      updatedAt: store.get(a, 'x').updatedAt,
      patientName: 'DOE^JANE',
      studyDescription: 'CT HEAD',
    });
    expect(list[0]!.patientName).toBe('');
    store.sign(a, STUDY_A, 1, RADIOLOGIST);
    expect(store.list({ states: ['draft'] }).map((x) => x.id)).toEqual([b.id]);
    expect(store.list({ states: ['final', 'appended'] }).map((x) => x.id)).toEqual([a]);
    expect(store.list()[0]).toMatchObject({ id: a, state: 'final' });
  });
});

describe('sign', () => {
  it('records signer, time and a SHA-256 the hub recomputes from the outbox payload alone', () => {
    const id = signableDraft();
    const signed = store.sign(id, STUDY_A, 1, RADIOLOGIST);
    expect(signed.state).toBe('final');
    expect(signed.signatures).toHaveLength(1);
    const { id: _sid, reportId: _rid, addendumId, ...sig } = signed.signatures[0]!;
    expect(addendumId).toBeNull();
    expect(sig).toMatchObject({ name: RADIOLOGIST.name, role: 'radiologist', registration: RADIOLOGIST.registration, meaning: 'final-report' });
    expect(Number.isNaN(Date.parse(sig.signedAt))).toBe(false);
    const exam = fixtureExam(STUDY_A.studyUid);
    expect(signed.exam).toEqual(exam);
    const expected = sha256(
      signedPayload(signableContent(), STUDY_A, { name: RADIOLOGIST.name, role: RADIOLOGIST.role, registration: RADIOLOGIST.registration }, sig.signedAt, 'final-report', exam),
    );
    expect(sig.contentHash).toBe(expected);

    const rows = db.prepare('SELECT * FROM outbox').all() as { kind: string; report_id: string; idempotency_key: string; payload: string; state: string; attempts: number }[];
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ kind: 'report', report_id: id, state: 'pending', attempts: 0 });
    expect(row.idempotency_key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const payload = SignedReportPayload.parse(JSON.parse(row.payload));
    expect(payload.report).toEqual({ id, study: STUDY_A, exam, content: signableContent(), signature: sig, author: 'Dr Ada Lovelace', createdAt: signed.createdAt });
    // What the hub does: recompute from the payload.
    const p = payload.report;
    const signer = { name: p.signature.name, role: p.signature.role, registration: p.signature.registration };
    expect(sha256(signedPayload(p.content, p.study, signer, p.signature.signedAt, 'final-report', p.exam))).toBe(p.signature.contentHash);
    // Tampered content does not verify; nor does the signature without the exam it was bound to.
    const tampered = { ...p.content, alertCode: 'urgent' as const };
    expect(sha256(signedPayload(tampered, p.study, signer, p.signature.signedAt, 'final-report', p.exam))).not.toBe(p.signature.contentHash);
    expect(sha256(signedPayload(p.content, p.study, signer, p.signature.signedAt, 'final-report'))).not.toBe(p.signature.contentHash);

    const sign = store.audit(id).filter((a) => a.action === 'sign');
    expect(sign).toHaveLength(1);
    expect(sign[0]!.actor).toBe(RADIOLOGIST.name);
    expect(sign[0]!.detail).toContain(expected);
  });

  it('a signed report is immutable: save is a conflict, signing again is a conflict', () => {
    const id = signableDraft();
    const signed = store.sign(id, STUDY_A, 1, RADIOLOGIST);
    expectCode(
      () => store.save(id, STUDY_A, { ...signableContent(), alertCode: 'urgent' }, 1, 'a'),
      'conflict',
      'signed reports are immutable; add an addendum',
    );
    expectCode(() => store.sign(id, STUDY_A, 1, TRAINER), 'conflict');
    // open with a templateId does not touch a signed report
    store.open(STUDY_A, { actor: 'a', ...CT_HEAD, templateId: 'generic' });
    const now = store.get(id, 'x');
    expect(now.content).toEqual(signed.content);
    expect(now.signatures).toEqual(signed.signatures);
    expect(now.revision).toBe(1);
    expect(count('outbox')).toBe(1);
  });

  it('cannot be signed against another study', () => {
    const id = signableDraft();
    expectCode(() => store.sign(id, STUDY_B, 1, RADIOLOGIST), 'wrong-study', new RegExp(STUDY_B.studyUid.replace(/\./g, '\\.')));
    expectCode(() => store.sign(id, { patientId: 'PAT-9999', studyUid: STUDY_A.studyUid }, 1, RADIOLOGIST), 'wrong-study');
    const r = store.get(id, 'x');
    expect(r.state).toBe('draft');
    expect(r.signatures).toEqual([]);
    expect(count('outbox')).toBe(0);
    expect(store.audit(id).some((a) => a.action === 'sign')).toBe(false);
  });

  it('signing a revision that is not the latest is a conflict', () => {
    const id = signableDraft();
    store.save(id, STUDY_A, { ...signableContent(), fields: { ...signableContent().fields, conclusion: 'Changed.' } }, 1, 'other tab');
    expectCode(() => store.sign(id, STUDY_A, 1, RADIOLOGIST), 'conflict', /latest saved revision is 2/);
    expect(store.get(id, 'x').state).toBe('draft');
    expect(count('outbox')).toBe(0);
    expect(store.sign(id, STUDY_A, 2, RADIOLOGIST).content.fields['conclusion']).toBe('Changed.');
  });

  it('blocking sign-off problems stop signing and are listed', () => {
    const r = openA();
    const c = { ...signableContent(), unexpected: { kind: 'unset' as const }, alertCode: null, fields: { ...signableContent().fields, conclusion: ' ' } };
    store.save(r.id, STUDY_A, c, 0, 'a');
    const e = expectCode(() => store.sign(r.id, STUDY_A, 1, RADIOLOGIST), 'unsigned-problems');
    expect(e.message).toContain('no clinically significant unexpected findings');
    expect(e.message).toContain('Choose the alert code explicitly');
    expect(e.message).toContain('Write the conclusion.');
    expect(store.get(r.id, 'x').state).toBe('draft');
    expect(count('outbox')).toBe(0);
  });

  it('warnings do not stop signing', () => {
    const r = openA();
    const c = signableContent();
    delete c.fields['ventricles']; // a "warn" field
    store.save(r.id, STUDY_A, c, 0, 'a');
    expect(store.sign(r.id, STUDY_A, 1, RADIOLOGIST).state).toBe('final');
  });

  it('a referrer or a safety lead cannot sign at all, with a clear refusal; a trainer signs final', () => {
    const id = signableDraft();
    expectCode(() => store.sign(id, STUDY_A, 1, { ...RADIOLOGIST, role: 'referrer' }), 'forbidden', /referrer may not sign reports/i);
    expectCode(() => store.sign(id, STUDY_A, 1, { ...RADIOLOGIST, role: 'safety-lead' }), 'forbidden', /safety lead may not sign reports/i);
    expectCode(() => store.sign(id, STUDY_A, 1, { ...RADIOLOGIST, name: '' }), 'invalid-input');
    expect(store.get(id, 'x').state).toBe('draft');
    expect(count('outbox')).toBe(0);
    expect(count('signatures')).toBe(0);
    const signed = store.sign(id, STUDY_A, 1, TRAINER);
    expect(signed.state).toBe('final');
    expect(signed.signatures.map((s) => [s.role, s.meaning])).toEqual([['trainer', 'final-report']]);
  });

  it('is refused when the image index does not know the study: no exam, no signature', () => {
    const blind = new ReportStore(db, { examFor: () => null });
    const id = signableDraft();
    expectCode(() => blind.sign(id, STUDY_A, 1, RADIOLOGIST), 'not-found', /not in this workstation's image index/);
    expect(store.get(id, 'x').state).toBe('draft');
    expect(count('signatures')).toBe(0);
    expect(count('outbox')).toBe(0);
  });

  it('a draft still opens when the index cannot read the exam; signing then refuses with the index\'s reason', () => {
    const failing = new ReportStore(db, {
      examFor: () => {
        throw new ContractError('unavailable', 'No file of study 1.2.3 could be read: /images/a.dcm: gone.');
      },
    });
    const r = failing.open(STUDY_A, { actor: 'a', ...CT_HEAD });
    expect(r.exam).toBeNull();
    failing.save(r.id, STUDY_A, signableContent(), 0, 'a');
    expectCode(() => failing.sign(r.id, STUDY_A, 1, RADIOLOGIST), 'unavailable', /a\.dcm: gone/);
    expect(failing.get(r.id, 'x').state).toBe('draft');
    expect(count('signatures')).toBe(0);
    expect(count('outbox')).toBe(0);
  });

  it('a study with no requester still signs; the exam carries the blanks for the hub to flag', () => {
    const noRequester = { ...fixtureExam(STUDY_A.studyUid), referringPhysician: '', requestingService: '' };
    const s2 = new ReportStore(db, { examFor: () => noRequester });
    const id = signableDraft();
    const signed = s2.sign(id, STUDY_A, 1, RADIOLOGIST);
    expect(signed.state).toBe('final');
    expect(signed.exam).toEqual(noRequester);
    const payload = SignedReportPayload.parse(JSON.parse((db.prepare('SELECT payload FROM outbox').get() as { payload: string }).payload));
    expect(payload.report.exam).toEqual(noRequester);
  });

  it('the outbox row commits with the signature: if either write fails, neither happens', () => {
    const id = signableDraft();
    db.exec(`CREATE TEMP TRIGGER fail_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END`);
    expect(() => store.sign(id, STUDY_A, 1, RADIOLOGIST)).toThrow(/disk full/);
    expect(store.get(id, 'x').state).toBe('draft');
    expect(count('signatures')).toBe(0);
    expect(store.audit(id).some((a) => a.action === 'sign')).toBe(false);
    db.exec('DROP TRIGGER temp.fail_outbox');

    db.exec(`CREATE TEMP TRIGGER fail_audit BEFORE INSERT ON audit WHEN NEW.action = 'sign' BEGIN SELECT RAISE(ABORT, 'audit failed (simulated)'); END`);
    expect(() => store.sign(id, STUDY_A, 1, RADIOLOGIST)).toThrow(/audit failed/);
    expect(store.get(id, 'x').state).toBe('draft');
    expect(count('outbox')).toBe(0);
    db.exec('DROP TRIGGER temp.fail_audit');

    store.sign(id, STUDY_A, 1, RADIOLOGIST);
    expect(count('outbox')).toBe(1);
  });
});

describe('addenda', () => {
  it('are signed, newest first, and never alter the original', () => {
    const id = signableDraft();
    const signed = store.sign(id, STUDY_A, 1, RADIOLOGIST);
    const before = db.prepare('SELECT * FROM reports WHERE id = ?').get(id) as Record<string, unknown>;
    const a1 = store.addendum(id, '  Small left frontal scalp haematoma, no fracture.  ', RADIOLOGIST);
    const a2 = store.addendum(id, 'Discussed with the ED registrar.', TRAINER);
    expect(a1.text).toBe('Small left frontal scalp haematoma, no fracture.');
    const r = store.get(id, 'x');
    expect(r.addenda.map((a) => a.id)).toEqual([a2.id, a1.id]);
    expect(r.addenda[0]).toEqual(a2);
    expect(r.content).toEqual(signed.content);
    expect(r.signatures.slice(0, 1)).toEqual(signed.signatures);
    expect(r.signatures.map((x) => [x.meaning, x.addendumId])).toEqual([['final-report', null], ['addendum', a1.id], ['addendum', a2.id]]);
    // The row changes only its state: final → appended.
    expect(before['state']).toBe('final');
    expect(db.prepare('SELECT * FROM reports WHERE id = ?').get(id)).toEqual({ ...before, state: 'appended' });
    expect(r.state).toBe('appended');
    const originalHash = signed.signatures[0]!.contentHash;

    for (const [a, who] of [[a1, RADIOLOGIST], [a2, TRAINER]] as const) {
      expect(a.signature).toMatchObject({ name: who.name, role: who.role, registration: who.registration, meaning: 'addendum' });
      const recomputed = sha256(addendumSignedPayload({ reportId: id, originalHash, text: a.text, signer: who, signedAt: a.signature.signedAt }));
      expect(a.signature.contentHash).toBe(recomputed);
      expect(recomputed).toBe(
        sha256(JSON.stringify({
          meaning: 'addendum',
          originalHash,
          reportId: id,
          signedAt: a.signature.signedAt,
          signer: { name: who.name, registration: who.registration, role: who.role },
          text: a.text,
        })),
      );
    }

    const rows = db.prepare(`SELECT kind, payload FROM outbox ORDER BY id`).all() as { kind: string; payload: string }[];
    expect(rows.map((x) => x.kind)).toEqual(['report', 'addendum', 'addendum']);
    const p = AddendumPayload.parse(JSON.parse(rows[1]!.payload));
    expect(p).toEqual({ kind: 'addendum', reportId: id, originalHash, addendum: a1 });
    expect(OutboxPayload.parse(JSON.parse(rows[2]!.payload)).kind).toBe('addendum');
    expect(store.audit(id).filter((x) => x.action === 'addendum').map((x) => x.actor)).toEqual([RADIOLOGIST.name, TRAINER.name]);
  });

  it('are refused on drafts, from trainees, and without text; nothing is written', () => {
    const id = signableDraft();
    expectCode(() => store.addendum(id, 'too early', RADIOLOGIST), 'conflict', /draft/i);
    store.sign(id, STUDY_A, 1, RADIOLOGIST);
    expectCode(() => store.addendum(id, 'by a trainee', TRAINEE), 'forbidden');
    expectCode(() => store.addendum(id, '   ', RADIOLOGIST), 'invalid-input');
    expectCode(() => store.addendum(id, 'x'.repeat(100_001), RADIOLOGIST), 'invalid-input');
    expectCode(() => store.addendum('nope', 'text', RADIOLOGIST), 'not-found');
    expect(count('addenda')).toBe(0);
    expect(count('outbox')).toBe(1);
  });

  it('the outbox row commits with the addendum', () => {
    const id = signableDraft();
    store.sign(id, STUDY_A, 1, RADIOLOGIST);
    db.exec(`CREATE TEMP TRIGGER fail_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'simulated'); END`);
    expect(() => store.addendum(id, 'text', RADIOLOGIST)).toThrow(/simulated/);
    db.exec('DROP TRIGGER temp.fail_outbox');
    expect(count('addenda')).toBe(0);
    expect(store.audit(id).some((a) => a.action === 'addendum')).toBe(false);
  });
});

describe('audit', () => {
  it('records create, edit, sign, addendum and every view of a signed report, in order', () => {
    const id = signableDraft();
    store.get(id, 'viewer'); // draft: not a signed view
    store.sign(id, STUDY_A, 1, RADIOLOGIST);
    store.get(id, 'Dr Viewer');
    store.open(STUDY_A, { actor: 'Dr Opener', ...CT_HEAD });
    store.addendum(id, 'More.', RADIOLOGIST);
    store.get(id, 'Dr Viewer');
    const trail = store.audit(id);
    expect(trail.map((a) => a.action)).toEqual(['create', 'edit', 'sign', 'view-signed', 'view-signed', 'addendum', 'view-signed']);
    expect(trail.map((a) => a.actor)).toEqual(['Dr Ada Lovelace', 'Dr Ada Lovelace', RADIOLOGIST.name, 'Dr Viewer', 'Dr Opener', RADIOLOGIST.name, 'Dr Viewer']);
    const seqs = trail.map((a) => a.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(trail.every((a) => a.reportId === id && !Number.isNaN(Date.parse(a.at)))).toBe(true);
  });
});

describe('outbox for the sync sender', () => {
  it('sign and addendum leave rows the sync store delivers in order, report before addendum', () => {
    const id = signableDraft();
    store.sign(id, STUDY_A, 1, RADIOLOGIST);
    store.addendum(id, 'One.', RADIOLOGIST);
    const outbox = new SqliteOutboxStore(db);
    const rows = outbox.forReport(id);
    expect(rows.map((r) => r.kind)).toEqual(['report', 'addendum']);
    for (const r of rows) expect(() => OutboxPayload.parse(JSON.parse(r.payloadJson))).not.toThrow();
    // The addendum waits for its report: only the report is due first.
    expect(outbox.due('2999-01-01T00:00:00.000Z', 10).map((r) => r.kind)).toEqual(['report']);
  });

});
