// A corrected report for a signed report the hub refused for good (issue 7, acceptance 9): a new
// draft of the same study pre-filled with the refused content, recorded (audit, and `replaces`
// inside the signed payload) as replacing it; once signed, the refused copy says by which report
// and when. Only a refusal that resending cannot lift is corrected; one the hub side can lift is
// retried instead. Then end to end against the fake hub: the correction is delivered.
import { describe, expect, it } from 'vitest';
import { OutboxPayload } from '../../../common/hubPayload.ts';
import { refusalReason, REFUSAL_MEANINGS } from '../../../common/refusal.ts';
import { signedPayload, type ReportContent } from '../../../common/report.ts';
import { verifySignature } from '../../../main/reports/signatures.ts';
import { SqliteOutboxStore } from '../../../main/sync/OutboxStore.ts';
import { workstation, type Workstation } from '../../support/syncWorkstation.ts';
import { RADIOLOGIST } from './fixtures.ts';

function refuse(ws: Workstation, reportId: string, code: string): void {
  const outbox = new SqliteOutboxStore(ws.db);
  const row = outbox.forReport(reportId)[0]!;
  outbox.markAttempt(row.id, refusalReason(row.kind, code === 'forbidden' ? 403 : 422, code, `scripted ${code}`), new Date().toISOString(), true);
}

const payloadOf = (ws: Workstation, reportId: string) => OutboxPayload.parse(JSON.parse(new SqliteOutboxStore(ws.db).forReport(reportId)[0]!.payloadJson));

describe('a corrected report', () => {
  it('is offered only for a signed report refused for good (not a draft, not one in delivery, not one the hub side can lift)', () => {
    const ws = workstation();
    const id = ws.sign();
    expect(() => ws.store.correct(id, RADIOLOGIST.name)).toThrow(/not been refused by the hub/);
    refuse(ws, id, 'unknown-template');
    expect(() => ws.store.correct(id, RADIOLOGIST.name)).toThrow(/retry it instead/);
    const study = ws.store.get(id, 'test').study;
    const other = ws.store.open({ ...study, studyUid: `${study.studyUid}.9` }, { actor: RADIOLOGIST.name, modality: 'CT', description: 'CT HEAD' });
    expect(() => ws.store.correct(other.id, RADIOLOGIST.name)).toThrow(/Only a signed report/);
  });

  it('is refused when a corrected report of the study would be refused too (the hub holds a final report for it: add an addendum there)', () => {
    const ws = workstation();
    const id = ws.sign();
    refuse(ws, id, 'study-already-reported');
    expect(() => ws.store.correct(id, RADIOLOGIST.name)).toThrow(/A corrected report of this study would be refused too: the hub already holds a final report/);
  });

  const correctable = Object.entries(REFUSAL_MEANINGS).filter(([, m]) => !m.resendCanHelp && m.correctionCanHelp !== false).map(([c]) => c);
  for (const code of correctable) {
    it(`after ${code}: a draft of the same study with the refused content, audited on both, named in the signed payload; the refused copy says it was replaced`, () => {
      const ws = workstation();
      const refusedId = ws.sign();
      const refused = ws.store.get(refusedId, 'test');
      refuse(ws, refusedId, code);

      const draft = ws.store.correct(refusedId, RADIOLOGIST.name);
      expect(draft).toMatchObject({ state: 'draft', study: refused.study, replaces: refusedId, content: refused.content, revision: 0 });
      expect(draft.id).not.toBe(refusedId);
      // Asking again gives the same correction; opening the study opens it.
      expect(ws.store.correct(refusedId, RADIOLOGIST.name).id).toBe(draft.id);
      expect(ws.store.open(refused.study, { actor: RADIOLOGIST.name, modality: 'CT', description: 'CT HEAD' }).id).toBe(draft.id);
      expect(ws.store.audit(draft.id)[0]).toMatchObject({ action: 'create', detail: expect.stringContaining(`corrected report replacing ${refusedId}, refused by the hub: Not delivered:`) });
      expect(ws.store.audit(refusedId).at(-1)).toMatchObject({ detail: `corrected report ${draft.id} created to replace it` });

      // The reporter corrects and signs.
      const content: ReportContent = { ...draft.content, fields: { ...draft.content.fields, conclusion: 'Corrected: no acute intracranial abnormality.' } };
      const saved = ws.store.save(draft.id, draft.study, content, draft.revision, RADIOLOGIST.name);
      const signed = ws.store.sign(draft.id, draft.study, saved.revision, RADIOLOGIST);
      expect(signed.state).toBe('final');
      expect(signed.replaces).toBe(refusedId);
      expect(verifySignature(signed.signatures[0]!, signed)).toEqual({ ok: true });
      // `replaces` is inside what was signed: the same signature without it does not verify.
      expect(verifySignature(signed.signatures[0]!, { ...signed, replaces: null }).ok).toBe(false);
      const p = payloadOf(ws, draft.id);
      expect(p.kind === 'report' && p.report.replaces).toBe(refusedId);

      const after = ws.store.get(refusedId, 'test');
      expect(after.state).toBe(refused.state);
      expect(after.replacedBy).toEqual({ reportId: draft.id, signedAt: signed.signatures[0]!.signedAt });
      // The refused report itself is unchanged: its own signature still verifies.
      expect(verifySignature(after.signatures[0]!, after)).toEqual({ ok: true });
    });
  }

  it('an ordinary report signs exactly as before (no `replaces` in its hash or payload)', () => {
    const ws = workstation();
    const id = ws.sign();
    const r = ws.store.get(id, 'test');
    const s = r.signatures[0]!;
    const p = payloadOf(ws, id);
    expect(p.kind === 'report' && 'replaces' in p.report).toBe(false);
    expect(r.replaces).toBeNull();
    expect(r.replacedBy).toBeNull();
    expect(signedPayload(r.content, r.study, s, s.signedAt, 'final-report', r.exam ?? undefined)).not.toContain('replaces');
  });
});
