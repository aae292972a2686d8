// Issue 7 finding 5 through the contract handlers of main/services.ts with a real hub (PGlite):
// with a hub configured, the signer is the person logged in to it, never the local profile. A
// trainee who sets her local profile to a radiologist's name still signs as herself, provisional;
// nobody signs without a session (refused at once, nothing held in the outbox), nor after a log
// out; the password is asked again at the first signature of a session and after the site's idle
// minutes, checked by the hub (a wrong one says so and signs nothing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError, type Handlers } from '../../../common/contract.ts';
import type { Report, StudyRef } from '../../../common/report.ts';
import { buildHub, type Hub } from '../../../server/app.ts';
import type { HubDb } from '../../../server/db/adapter.ts';
import { migrate } from '../../../server/db/migrations.ts';
import type { Services } from '../../../main/services.ts';
import { addTrialUser, openTrialDb, TRIAL_PASSWORD } from '../../support/realHub.ts';
import { sleep, until } from '../../support/until.ts';
import { RADIOLOGIST, signableContent, TRAINEE } from '../reports/fixtures.ts';
import { callHandler, testServices, SAMPLE_DIR, refusedBy, type HandlerOutput } from '../../support/callHandler.ts';

/** The site's idle limit in this test: 3 s (0.05 min), so "after N idle minutes" is seen without waiting 15. */
const IDLE_MINUTES = 0.05;

let db: HubDb;
let drop: () => Promise<void>;
let hub: Hub;
let hubClosed = false;
let services: Services;
let dataDir: string;
let current: StudyRef;
let prior: StudyRef;

/** Calls a handler as the bridge does (test/support/callHandler.ts). */
const call = <C extends keyof Handlers>(channel: C, input: unknown): Promise<HandlerOutput<C>> => callHandler(services, channel, input);

const refused = (channel: keyof Handlers, input: unknown): Promise<ContractError> => refusedBy(services, channel, input);

beforeAll(async () => {
  ({ db, drop } = await openTrialDb('pglite'));
  await migrate(db);
  await addTrialUser(db, { ...TRAINEE, username: 'alan' });
  await addTrialUser(db, { ...RADIOLOGIST, username: 'ada' });
  hub = await buildHub({ db, migrate: false, ownsDb: false, policy: { signConfirmIdleMinutes: IDLE_MINUTES } });
  const baseUrl = await hub.listen(0, '127.0.0.1');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-signer-session-'));
  services = await testServices(dataDir, { sampleDir: SAMPLE_DIR, hub: { baseUrl, embedded: false } });
  const patients = await call('library:list', {});
  const studies = patients.flatMap((p) => p.studies.map((s) => ({ patientId: p.patientId, studyUid: s.studyUid })));
  const info = await call('app:info', {});
  current = studies.find((s) => s.studyUid === info.sampleStudyUid)!;
  prior = studies.find((s) => s.studyUid !== info.sampleStudyUid)!;
}, 180_000);

afterAll(async () => {
  await services?.close();
  if (!hubClosed) await hub?.close();
  await drop?.();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function draftOn(study: StudyRef): Promise<{ report: Report; revision: number }> {
  const report = await call('reports:open', { study });
  const content = { ...signableContent(), comparison: { kind: 'none-available' as const, text: '', noPriorReason: 'Prior CT degraded by motion artefact; not comparable.' } };
  const saved = await call('reports:save', { reportId: report.id, study, content, baseRevision: report.revision });
  return { report, revision: saved.revision };
}

const outboxRows = (reportId: string): number =>
  (services.db.prepare('SELECT count(*) AS n FROM outbox WHERE report_id = ?').get(reportId) as { n: number }).n;

describe('with a hub, the signer is the person logged in', () => {
  it('nobody signs without a hub session: refused at once ("Log in to sign"), nothing signed, nothing held for later', async () => {
    const { report, revision } = await draftOn(current);
    const e = await refused('reports:sign', { reportId: report.id, study: current, revision });
    expect(e.code).toBe('forbidden');
    expect(e.message).toMatch(/Log in to sign/);
    expect((await call('reports:get', { reportId: report.id })).state).toBe('draft');
    expect(outboxRows(report.id)).toBe(0);
  });

  it('a trainee who sets her profile to a radiologist\'s name still signs as herself: provisional, never a radiologist\'s final', async () => {
    await call('hub:login', { username: 'alan', password: TRIAL_PASSWORD });
    const forged = await refused('profile:set', RADIOLOGIST);
    expect(forged.code).toBe('forbidden');
    expect(await call('profile:get', {})).toEqual(TRAINEE);

    const { report, revision } = await draftOn(current);
    // First signature of the session: the password first.
    const ask = await refused('reports:sign', { reportId: report.id, study: current, revision });
    expect(ask.code).toBe('confirm-password');
    expect((await call('reports:get', { reportId: report.id })).state).toBe('draft');
    const wrong = await refused('hub:confirmSigner', { password: 'not my password' });
    expect(wrong.message).toMatch(/Wrong password/);
    expect((await refused('reports:sign', { reportId: report.id, study: current, revision })).code).toBe('confirm-password');

    await call('hub:confirmSigner', { password: TRIAL_PASSWORD });
    const signed = await call('reports:sign', { reportId: report.id, study: current, revision });
    expect(signed.state).toBe('provisional');
    expect(signed.signatures.map((s) => [s.name, s.role, s.registration, s.meaning])).toEqual([[TRAINEE.name, 'trainee', TRAINEE.registration, 'provisional']]);

    // At the hub: the trainee's provisional report, authored by her.
    await until(async () => (await db.query('SELECT 1 FROM signed_reports WHERE id = $1', [report.id])).rows.length === 1, 20_000);
    const row = (await db.query<{ signer_name: string; state: string; author: string }>('SELECT signer_name, state, author FROM signed_reports WHERE id = $1', [report.id])).rows[0]!;
    expect(row).toEqual({ signer_name: TRAINEE.name, state: 'provisional', author: TRAINEE.name });
  }, 60_000);

  it('after log out nobody at the open tab can sign; the next session asks for the password at its first signature and after the idle minutes', async () => {
    await call('hub:logout', {});
    const { report, revision } = await draftOn(prior);
    const e = await refused('reports:sign', { reportId: report.id, study: prior, revision });
    expect(e.message).toMatch(/Log in to sign/);
    expect(outboxRows(report.id)).toBe(0);
    expect((await refused('hub:confirmSigner', { password: TRIAL_PASSWORD })).code).toBe('forbidden');

    await call('hub:login', { username: 'ada', password: TRIAL_PASSWORD });
    expect((await refused('reports:sign', { reportId: report.id, study: prior, revision })).code).toBe('confirm-password');
    const confirmed = await call('hub:confirmSigner', { password: TRIAL_PASSWORD });
    expect(confirmed.idleMinutes).toBe(IDLE_MINUTES);
    await sleep(IDLE_MINUTES * 60_000 + 500);
    const idle = await refused('reports:sign', { reportId: report.id, study: prior, revision });
    expect(idle.code).toBe('confirm-password');
    expect(idle.message).toMatch(/since your last signature/);
    await call('hub:confirmSigner', { password: TRIAL_PASSWORD });
    const signed = await call('reports:sign', { reportId: report.id, study: prior, revision });
    expect(signed.state).toBe('final');
    expect(signed.signatures[0]!.name).toBe(RADIOLOGIST.name);
  }, 60_000);

  it('with the hub unreachable, the password is checked against the session\'s in-memory verifier: a wrong one signs nothing, the right one signs (held in the outbox)', async () => {
    const reports = await call('reports:list', {});
    const final = reports.find((r) => r.state === 'final')!;
    await sleep(IDLE_MINUTES * 60_000 + 500);
    await hub.close();
    hubClosed = true;
    const text = 'Addendum: signed while the hub was down.';
    expect((await refused('reports:addendum', { reportId: final.id, text })).code).toBe('confirm-password');
    expect((await refused('hub:confirmSigner', { password: 'not my password' })).message).toMatch(/Wrong password/);
    expect((await refused('reports:addendum', { reportId: final.id, text })).code).toBe('confirm-password');
    await call('hub:confirmSigner', { password: TRIAL_PASSWORD });
    const addendum = await call('reports:addendum', { reportId: final.id, text });
    expect(addendum.signature.name).toBe(RADIOLOGIST.name);
    expect(outboxRows(final.id)).toBe(2);
  }, 60_000);
});
