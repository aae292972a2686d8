// The report life cycle through the contract handlers of main/services.ts (what the renderer
// calls), on the bundled sample CT indexed for real: a trainee's reports:sign makes a provisional
// report bound to the exam the DICOM index reads from the files, a trainer's reports:verify makes
// it final, and a referrer or a safety lead is refused with a clear message. No hub: the signer is
// the local profile.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError, type Handlers } from '../../../common/contract.ts';
import type { Profile, Report, StudyRef } from '../../../common/report.ts';
import type { Services } from '../../../main/services.ts';
import { verifySignature } from '../../../main/reports/signatures.ts';
import { RADIOLOGIST, signableContent, TRAINEE, TRAINER } from './fixtures.ts';
import { callHandler, testServices, SAMPLE_DIR, refusedBy, type HandlerOutput } from '../../support/callHandler.ts';

let services: Services;
let dataDir: string;

/** Calls a handler as the bridge does (test/support/callHandler.ts). */
const call = <C extends keyof Handlers>(channel: C, input: unknown): Promise<HandlerOutput<C>> => callHandler(services, channel, input);

const refused = (channel: keyof Handlers, input: unknown): Promise<ContractError> => refusedBy(services, channel, input);

let current: StudyRef;
let prior: StudyRef;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-services-lifecycle-'));
  services = await testServices(dataDir, { sampleDir: SAMPLE_DIR });
  const patients = await call('library:list', {});
  const studies = patients.flatMap((p) => p.studies.map((s) => ({ patientId: p.patientId, studyUid: s.studyUid })));
  expect(studies.length).toBeGreaterThanOrEqual(2);
  const info = await call('app:info', {});
  current = studies.find((s) => s.studyUid === info.sampleStudyUid)!;
  prior = studies.find((s) => s.studyUid !== info.sampleStudyUid)!;
}, 60_000);

afterAll(async () => {
  await services.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function draftOf(study: StudyRef, as: Profile): Promise<{ report: Report; revision: number }> {
  await call('profile:set', as);
  const report = await call('reports:open', { study });
  // The sample's current study has a prior in the library: saying none is available needs a reason.
  const content = { ...signableContent(), comparison: { kind: 'none-available' as const, text: '', noPriorReason: 'Prior CT degraded by motion artefact; not comparable.' } };
  const saved = await call('reports:save', { reportId: report.id, study, content, baseRevision: report.revision });
  return { report, revision: saved.revision };
}

describe('reports:sign and reports:verify through the contract', () => {
  it('a trainee signs provisionally with the exam from the files; a trainer verifies; both signatures verify alone', async () => {
    const { report, revision } = await draftOf(current, TRAINEE);
    const known = services.index.exam(current.studyUid)!;
    expect(known.patientName).not.toBe('');
    expect(report.exam).toEqual(known);

    const p = await call('reports:sign', { reportId: report.id, study: current, revision });
    expect(p.state).toBe('provisional');
    expect(p.exam).toEqual(known);
    expect(p.signatures.map((s) => [s.meaning, s.role])).toEqual([['provisional', 'trainee']]);
    expect((await call('reports:list', {})).find((r) => r.id === report.id)?.state).toBe('provisional');

    // The trainee cannot verify their own report; a trainer can.
    expect((await refused('reports:verify', { reportId: report.id, study: current })).code).toBe('forbidden');
    await call('profile:set', TRAINER);
    const v = await call('reports:verify', { reportId: report.id, study: current });
    expect(v.state).toBe('final');
    expect(v.signatures.map((s) => [s.meaning, s.name])).toEqual([['provisional', TRAINEE.name], ['verification', TRAINER.name]]);
    for (const s of v.signatures) expect(verifySignature(s, v)).toEqual({ ok: true });
    expect((await refused('reports:verify', { reportId: report.id, study: current })).code).toBe('conflict');

    const a = await call('reports:addendum', { reportId: report.id, text: 'Reviewed with the trainee.' });
    const after = await call('reports:get', { reportId: report.id });
    expect(after.state).toBe('appended');
    expect(after.signatures.at(-1)).toMatchObject({ meaning: 'addendum', addendumId: a.id });
  });

  it('a referrer and a safety lead are told they may not sign; nothing is signed', async () => {
    const referrer: Profile = { name: 'Dr Joseph Lister', role: 'referrer', registration: 'GMC 5555555' };
    // A referrer opens no draft (below): this one is a radiologist's.
    const { report, revision } = await draftOf(prior, RADIOLOGIST);
    await call('profile:set', referrer);
    const e = await refused('reports:sign', { reportId: report.id, study: prior, revision });
    expect(e.code).toBe('forbidden');
    expect(e.message).toMatch(/referrer may not sign reports/i);
    await call('profile:set', { ...referrer, role: 'safety-lead' });
    expect((await refused('reports:sign', { reportId: report.id, study: prior, revision })).message).toMatch(/safety lead may not sign reports/i);
    expect((await call('reports:get', { reportId: report.id })).state).toBe('draft');
  });
});

describe('roles that never draft, through the contract (issue 7, acceptance 10)', () => {
  const referrer: Profile = { name: 'Dr Joseph Lister', role: 'referrer', registration: 'GMC 5555555' };
  const safetyLead: Profile = { name: 'Ms Florence Nightingale', role: 'safety-lead', registration: 'NMC 1234' };

  it('opening a study with no signed report creates nothing and says there is nothing to read yet', async () => {
    for (const who of [referrer, safetyLead]) {
      await call('profile:set', who);
      const before = await call('reports:list', {});
      const e = await refused('reports:open', { study: prior });
      expect(e.code).toBe('not-found');
      expect(e.message).toMatch(/^Nothing to read yet: this study has no signed report\./);
      expect(await call('reports:list', {})).toEqual(before);
      expect(before.filter((r) => r.author === who.name)).toEqual([]);
    }
  });

  it('opening a signed study gives the signed report to read (nothing new, the reading audited)', async () => {
    await call('profile:set', referrer);
    const before = await call('reports:list', {});
    const r = await call('reports:open', { study: current });
    expect(['final', 'appended']).toContain(r.state);
    expect(await call('reports:list', {})).toEqual(before);
    expect((await call('reports:audit', { reportId: r.id })).at(-1)).toMatchObject({ action: 'view-signed', actor: referrer.name });
  });

  it('a corrected report is refused to a referrer, and to a reporter for a report the hub has not refused', async () => {
    await call('profile:set', referrer);
    const signed = await call('reports:open', { study: current });
    expect((await refused('reports:correct', { reportId: signed.id })).message).toMatch(/corrected reports are written by reporters/);
    await call('profile:set', RADIOLOGIST);
    // No hub here: nothing was refused, so there is nothing to correct (an addendum corrects a delivered report).
    const e = await refused('reports:correct', { reportId: signed.id });
    expect(e.code).toBe('conflict');
    expect(e.message).toMatch(/not been refused by the hub/);
  });

  it("saving into a reporter's draft is refused with the reason; the draft is unchanged", async () => {
    await call('profile:set', RADIOLOGIST);
    const draft = await call('reports:open', { study: prior });
    expect(draft.state).toBe('draft');
    for (const who of [referrer, safetyLead]) {
      await call('profile:set', who);
      const e = await refused('reports:save', { reportId: draft.id, study: prior, content: signableContent(), baseRevision: draft.revision });
      expect(e.code).toBe('forbidden');
      expect(e.message).toMatch(/you read signed reports; drafts are written by reporters/);
    }
    expect((await call('reports:get', { reportId: draft.id })).revision).toBe(draft.revision);
  });
});
