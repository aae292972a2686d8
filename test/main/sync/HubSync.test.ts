// The workstation side of the hub, end to end against the real hub (PGlite): login, a signed
// report confirmed by the hub, the offline banner and the critical-finding warning, a draft
// published to the department's Unfinished list, a colleague's take-over reaching the author
// (the editor turns read-only, naming the new owner) and live updates over SSE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppEvent } from '../../../common/contract.ts';
import type { HubEvent } from '../../../common/hub.ts';
import { HubClient, HubError } from '../../../main/sync/HubClient.ts';
import { HubSync } from '../../../main/sync/HubSync.ts';
import type { HubDb } from '../../../server/db/adapter.ts';
import { addTrialUser, openTrialDb, startRealTrialHub, TRIAL_PASSWORD, type RealTrialHub } from '../../support/realHub.ts';
import { contentWithAlert, RADIOLOGIST, uniqueStudy, workstation } from '../../support/syncWorkstation.ts';

const GRACE = { username: 'grace', name: 'Dr Grace Hopper', role: 'radiologist' as const, registration: 'GMC 7654321' };

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let db: HubDb;
let drop: () => Promise<void>;
let hub: RealTrialHub;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  ({ db, drop } = await openTrialDb('pglite'));
  hub = await startRealTrialHub(db, { ...RADIOLOGIST, username: 'ada' });
  await addTrialUser(db, GRACE);
});
afterAll(async () => {
  for (const s of stops) await s();
  await hub?.close();
  await drop?.();
});

function sync(ws: ReturnType<typeof workstation>, hubUrl: string, extra: Partial<ConstructorParameters<typeof HubSync>[0]> = {}) {
  const events: AppEvent[] = [];
  const s = new HubSync({ db: ws.db, hubUrl, emit: (e) => events.push(e), actor: () => ws.profile.name, timeoutMs: 2000, ...extra });
  stops.push(() => s.stop());
  return { s, events };
}

describe('HubSync against the real hub', () => {
  it('a report signed before login waits with "login required", then reaches the hub once after login', async () => {
    const ws = workstation();
    const id = ws.sign({ alert: 'urgent' });
    const { s, events } = sync(ws, hub.url);
    s.start();
    await until(() => s.status(id).reason?.startsWith('login required') === true);
    expect(s.overview().loginRequired).toMatch(/login required/);
    expect(events.some((e) => e.type === 'notice' && e.level === 'warning' && /Sign in to the hub/.test(e.message))).toBe(true);
    const wrong = await s.login('ada', 'not the password').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(HubError);
    expect(wrong).toMatchObject({ status: 401 });
    await s.login('ada', TRIAL_PASSWORD);
    await until(() => s.status(id).state === 'synced');
    expect(s.overview()).toMatchObject({ online: true, loginRequired: null, critical: [] });
    expect(events).toContainEqual({ type: 'sync-changed', reportId: id });
    const counts = await hub.counts([id]);
    expect(counts.get(id)).toMatchObject({ reports: 1, events: 1 });
    const stored = await s.client.signedReport(id);
    expect(stored.signature.contentHash).toBe(ws.store.get(id, 'test').signature!.contentHash);
  });

  it('a report the hub refuses (signer is not the logged-in user) is failed with the hub reason, not retried', async () => {
    const other = workstation({ profile: { name: 'Dr Someone Else', role: 'radiologist', registration: 'GMC 0000001' } });
    const id = other.sign();
    const { s } = sync(other, hub.url);
    await s.login('ada', TRIAL_PASSWORD);
    s.start();
    await until(() => s.status(id).state === 'failed');
    expect(s.status(id).reason).toMatch(/^The hub refused this report \(422 signer-mismatch\)/);
    expect((await hub.counts([id])).get(id)!.reports).toBe(0);
  });

  it('offline: the banner flag goes false and a critical report not delivered in time raises a critical notice until the call is recorded', async () => {
    const ws = workstation();
    const id = ws.sign({ alert: 'critical' });
    const { s, events } = sync(ws, 'http://127.0.0.1:9', { criticalDeadlineMs: 300, timeoutMs: 300 });
    s.start();
    await until(() => s.overview().online === false);
    expect(events).toContainEqual({ type: 'sync-changed' });
    await until(() => events.some((e) => e.type === 'notice' && e.level === 'critical'));
    const notice = events.find((e) => e.type === 'notice' && e.level === 'critical') as Extract<AppEvent, { type: 'notice' }>;
    expect(notice.reportId).toBe(id);
    expect(notice.message).toMatch(/critical report has not reached the hub .* Phone the finding to a responsible clinician now/);
    expect(s.overview().critical.map((c) => c.reportId)).toEqual([id]);
    s.recordPhoneCommunication(id, { clinician: 'Dr Rose Tyler', role: 'ED consultant', time: new Date().toISOString() });
    expect(s.overview().critical).toEqual([]);
    expect(s.status(id).state).toBe('pending');
  });

  it('publishes a draft to the Unfinished list; a colleague sees it live, takes it over, and the author is told and made read-only', async () => {
    const ws = workstation();
    const { s: ada, events: adaEvents } = sync(ws, hub.url, { draftThrottleMs: 50 });
    await ada.login('ada', TRIAL_PASSWORD);
    ada.start();
    await until(() => ada.overview().live);

    const grace = new HubClient({ baseUrl: hub.url, timeoutMs: 2000 });
    await grace.login('grace', TRIAL_PASSWORD);
    const graceSaw: HubEvent[] = [];
    const sub = grace.subscribe({ onEvent: (e) => graceSaw.push(e) });
    stops.push(async () => sub.close());
    await until(() => sub.connected);

    const study = uniqueStudy('unfinished');
    const r = ws.store.open(study, { actor: ws.profile.name, modality: 'CT', description: 'CT HEAD' });
    const content = contentWithAlert('none');
    ada.drafts.update(r.id, { study, content, revision: 1, lastActivity: new Date().toISOString(), author: ws.profile.name });
    await ada.drafts.close(r.id, { study, content, revision: 2, lastActivity: new Date().toISOString(), author: ws.profile.name });

    await until(() => graceSaw.some((e) => e.type === 'unfinished-changed' && e.reportId === r.id));
    const list = await grace.unfinished();
    const item = list.items.find((i) => i.reportId === r.id);
    expect(item).toMatchObject({ owner: { username: 'ada', name: RADIOLOGIST.name }, study, closed: true, revision: 2 });
    expect(item!.ageMs).toBeGreaterThanOrEqual(0);

    const taken = await grace.takeOver(r.id, { expectedOwner: 'ada', reason: 'author off shift' });
    expect(taken.previousOwner.username).toBe('ada');
    expect(taken.revisions.length).toBeGreaterThanOrEqual(1);
    // The author's live stream hears of it.
    await until(() => adaEvents.filter((e) => e.type === 'unfinished-changed').length >= 2);

    // The author's next snapshot is refused: the editor turns read-only, naming the new owner.
    ada.drafts.update(r.id, { study, content, revision: 3, lastActivity: new Date().toISOString(), author: ws.profile.name });
    await until(() => ada.drafts.takenOver(r.id) !== null);
    expect(ada.drafts.takenOver(r.id)).toMatchObject({ reportId: r.id, newOwnerName: 'Dr Grace Hopper', message: 'Dr Grace Hopper has taken over this report; your copy is read-only.' });
    expect(adaEvents).toContainEqual({ type: 'notice', level: 'warning', message: 'Dr Grace Hopper has taken over this report; your copy is read-only.', reportId: r.id });
    const after = await grace.draft(r.id);
    expect(after.draft.owner.username).toBe('grace');
  });
});
