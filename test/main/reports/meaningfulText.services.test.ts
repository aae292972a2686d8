// Issue 7 findings 3, 4 and 8 on the workstation, through the contract's dispatch (what the IPC
// handler and the browser bridge both run) on the bundled sample CT, indexed for real (its current
// study has a prior of the same patient in the library):
// - text no store can keep (NUL, a lone surrogate) is refused at input with a clear message and
//   nothing is saved (before issue 7 it was saved, signed, and then refused by the hub for ever);
// - a report whose text shows nothing, or whose verbal time is "banana", is not signed;
// - "No prior imaging available" needs a reason while a prior is in the library; the reason is signed;
// - an addendum of zero-width spaces is not added.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch, type Result } from '../../../common/contract.ts';
import type { Addendum, Report, ReportContent, StudyRef } from '../../../common/report.ts';
import type { Services } from '../../../main/services.ts';
import { verifySignature } from '../../../main/reports/signatures.ts';
import { RADIOLOGIST, signableContent } from './fixtures.ts';
import { testServices, SAMPLE_DIR } from '../../support/callHandler.ts';

let services: Services;
let dataDir: string;
let study: StudyRef;

const call = <T,>(channel: string, input: unknown): Promise<Result<T>> => dispatch(services.handlers, channel, input) as Promise<Result<T>>;
async function value<T>(channel: string, input: unknown): Promise<T> {
  const r = await call<T>(channel, input);
  if (!r.ok) throw new Error(`${channel}: ${r.error.code}: ${r.error.message}`);
  return r.value;
}
async function refusal(channel: string, input: unknown): Promise<{ code: string; message: string }> {
  const r = await call(channel, input);
  expect(r.ok, `${channel} was accepted`).toBe(false);
  return (r as Extract<Result<unknown>, { ok: false }>).error;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-meaningful-'));
  services = await testServices(dataDir, { sampleDir: SAMPLE_DIR });
  const info = await value<{ sampleStudyUid: string }>('app:info', {});
  const patients = await value<{ patientId: string; studies: { studyUid: string }[] }[]>('library:list', {});
  const p = patients.find((x) => x.studies.some((s) => s.studyUid === info.sampleStudyUid))!;
  study = { patientId: p.patientId, studyUid: info.sampleStudyUid };
  await value('profile:set', RADIOLOGIST);
}, 60_000);

afterAll(async () => {
  await services.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

let report: Report;
let revision = 0;
const save = (content: ReportContent) => call<{ revision: number }>('reports:save', { reportId: report.id, study, content, baseRevision: revision });
async function saved(content: ReportContent): Promise<void> {
  const r = await save(content);
  if (!r.ok) throw new Error(r.error.message);
  revision = r.value.revision;
}
const latest = () => value<Report>('reports:get', { reportId: report.id });

describe('on the workstation (issue 7 findings 3, 4, 8)', () => {
  it('the sample study has a prior of the same patient in the library (the premise of the no-prior rule)', async () => {
    expect((await value<unknown[]>('study:priors', study)).length).toBeGreaterThan(0);
    report = await value<Report>('reports:open', { study });
    revision = report.revision;
    await saved(signableContent());
  });

  it.each([
    ['a NUL in the conclusion', (c: ReportContent) => (c.fields['conclusion'] = 'Normal.\u0000'), /content\.fields\.conclusion: This text contains a NUL character/],
    ['a lone surrogate in a finding', (c: ReportContent) => (c.fields['brainParenchyma'] = 'Normal \uD83D'), /content\.fields\.brainParenchyma: .*unpaired surrogate \(U\+D83D/],
    ['a lone surrogate in an unexpected finding', (c: ReportContent) => (c.unexpected = { kind: 'findings', items: [{ id: 'u1', text: '\uDC00', category: 'significant' }] }), /content\.unexpected\.items\[0\]\.text: .*unpaired surrogate/],
  ])('refuses %s at input with a clear message, saving nothing (was saved before issue 7)', async (_name, change, message) => {
    const before = await latest();
    const c = signableContent();
    change(c);
    const r = await save(c);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('invalid-input');
    expect(r.error.message).toMatch(message);
    expect(r.error.message).toMatch(/remove that character/);
    const after = await latest();
    expect(after.revision).toBe(before.revision);
    expect(after.content).toEqual(before.content);
  });

  it('does not sign a report whose conclusion and findings are zero-width spaces (was signed before issue 7)', async () => {
    await saved({ ...signableContent(), fields: { ...signableContent().fields, conclusion: '\u200B\u200B', brainParenchyma: '\uFEFF.' } });
    const e = await refusal('reports:sign', { reportId: report.id, study, revision });
    expect(e.code).toBe('unsigned-problems');
    expect(e.message).toMatch(/Write the conclusion \(spaces, punctuation, symbols or invisible characters alone do not count as text\)/);
    expect(e.message).toMatch(/Brain parenchyma is empty/);
    expect((await latest()).state).toBe('draft');
  });

  it('does not sign a critical report whose verbal time is "banana" (was signed before issue 7), nor 2099', async () => {
    for (const time of ['banana', '2099-01-01T09:00:00.000Z']) {
      await saved({ ...signableContent(), alertCode: 'critical', verbal: { clinician: 'Dr Sam Patel', role: 'Neurosurgical registrar', time } });
      const e = await refusal('reports:sign', { reportId: report.id, study, revision });
      expect(e.code).toBe('unsigned-problems');
      expect(e.message).toMatch(time === 'banana' ? /not a date and time/ : /after the report is signed/);
    }
    expect((await latest()).state).toBe('draft');
  });

  it('"No prior imaging available" with a prior in the library is refused without a reason (was signed before issue 7)', async () => {
    await saved(signableContent());
    const e = await refusal('reports:sign', { reportId: report.id, study, revision });
    expect(e.code).toBe('unsigned-problems');
    expect(e.message).toMatch(/earlier stud(y|ies) of this patient (is|are) in the library/);
    await saved({ ...signableContent(), comparison: { kind: 'none-available', text: '', noPriorReason: '\u200B' } });
    expect((await refusal('reports:sign', { reportId: report.id, study, revision })).code).toBe('unsigned-problems');
  });

  it('with a reason it signs, and the reason is part of what was signed', async () => {
    const reason = 'Prior is an MR of the cervical spine, not comparable.';
    await saved({ ...signableContent(), comparison: { kind: 'none-available', text: '', noPriorReason: reason } });
    const signed = await value<Report>('reports:sign', { reportId: report.id, study, revision });
    expect(signed.state).toBe('final');
    expect(signed.content.comparison.noPriorReason).toBe(reason);
    expect(verifySignature(signed.signatures[0]!, signed).ok).toBe(true);
    report = signed;
  });

  it('an addendum of zero-width spaces, or "." alone, is not added (was added before issue 7); NUL is refused at input', async () => {
    for (const text of ['\u200B', '\u200B.\u200B']) {
      const e = await refusal('reports:addendum', { reportId: report.id, text });
      expect(e.code).toBe('invalid-input');
      expect(e.message).toMatch(/invisible characters alone do not count/);
    }
    const nul = await refusal('reports:addendum', { reportId: report.id, text: 'Correction\u0000' });
    expect(nul.code).toBe('invalid-input');
    expect(nul.message).toMatch(/text: This text contains a NUL character/);
    expect((await latest()).addenda).toEqual([]);
    const ok = await value<Addendum>('reports:addendum', { reportId: report.id, text: '\u200BCorrection: left, not right.' });
    expect(ok.text).toBe('\u200BCorrection: left, not right.');
  });
});
