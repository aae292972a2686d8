// The workstation's connection to its hub (main/hub/WorkstationHub.ts, what main/services.ts
// wires in), end to end against the real hub (PGlite): login, a signed report confirmed by the
// hub, the offline flag (from the sender and from the live event stream) and the critical-finding
// warning, a draft published to the department's Unfinished list and closed, a colleague's
// take-over reaching the author (read-only, named, with a readable time), and log out never
// leaking one user's queued draft snapshots to the next.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError, type AppEvent } from '../../../common/contract.ts';
import type { HubEvent } from '../../../common/hub.ts';
import { formatDateTime } from '../../../common/format.ts';
import { WorkstationHub, type WorkstationHubOptions } from '../../../main/hub/WorkstationHub.ts';
import { HubClient } from '../../../main/sync/HubClient.ts';
import { buildHub, type Hub } from '../../../server/app.ts';
import type { HubDb } from '../../../server/db/adapter.ts';
import { addTrialUser, openTrialDb, startRealTrialHub, TRIAL_PASSWORD, type RealTrialHub } from '../../support/realHub.ts';
import { contentWithAlert, RADIOLOGIST, uniqueStudy, workstation, type Workstation } from '../../support/syncWorkstation.ts';
import { sleep, until } from '../../support/until.ts';

const GRACE = { username: 'grace', name: 'Dr Grace Hopper', role: 'radiologist' as const, registration: 'GMC 7654321' };


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
  for (const s of stops.reverse()) await s();
  await hub?.close();
  await drop?.();
});

function station(ws: Workstation, baseUrl: string, extra: Partial<WorkstationHubOptions> = {}): { h: WorkstationHub; events: AppEvent[] } {
  const events: AppEvent[] = [];
  const h = new WorkstationHub({ baseUrl, embedded: false, db: ws.db, reports: ws.store, timeoutMs: 2000, ...extra });
  h.events.on('event', (e) => events.push(e));
  stops.push(() => h.stop());
  return { h, events };
}

/** A fetch that records every draft PUT with the token it carried. */
function recordingFetch(delayDraftsMs = 0): { fetch: typeof fetch; drafts: { url: string; token: string | null }[] } {
  const drafts: { url: string; token: string | null }[] = [];
  return {
    drafts,
    fetch: async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (init?.method === 'PUT' && url.includes('/api/drafts/')) {
        const auth = (init.headers as Record<string, string> | undefined)?.['authorization'] ?? null;
        drafts.push({ url, token: auth?.replace(/^Bearer /, '') ?? null });
        if (delayDraftsMs > 0) await sleep(delayDraftsMs);
      }
      return fetch(input, init);
    },
  };
}

describe('WorkstationHub against the real hub', () => {
  it('an embedded hub (announced ready by its child) is online before the first probe; a department hub only after one; a dead one goes offline at its first probe', async () => {
    const embedded = station(workstation(), hub.url, { embedded: true }).h;
    expect(embedded.status().online).toBe(true);
    const department = station(workstation(), hub.url).h;
    expect(department.status().online).toBe(false);
    department.start();
    await until(() => department.status().online);
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const gone = station(workstation(), `http://127.0.0.1:${port}`, { embedded: true }).h;
    gone.start();
    await until(() => gone.sender.online === false);
    expect(gone.status().online).toBe(false);
  });

  it('a report signed before login waits with "login required", then reaches the hub once after login', async () => {
    const ws = workstation();
    const id = ws.sign({ alert: 'urgent' });
    const { h, events } = station(ws, hub.url);
    h.start();
    await until(() => h.syncStatus(id).reason?.startsWith('login required') === true);
    expect(h.sender.loginRequired).toMatch(/login required/);
    expect(h.status()).toMatchObject({ user: null, pending: 1, failed: 0 });
    expect(events.some((e) => e.type === 'hub-changed')).toBe(true);
    // Hub calls before login are refused with a clear error.
    await expect(h.unfinished()).rejects.toMatchObject({ code: 'forbidden', message: 'Log in to the hub first.' });
    const wrong = await h.login('ada', 'not the password').catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ContractError);
    expect(wrong).toMatchObject({ code: 'forbidden' });
    expect(h.status().user).toBeNull();
    const after = await h.login('ada', TRIAL_PASSWORD);
    expect(after.user).toMatchObject({ username: 'ada', name: RADIOLOGIST.name });
    await until(() => h.syncStatus(id).state === 'synced');
    expect(h.status()).toMatchObject({ online: true, pending: 0, failed: 0, user: { username: 'ada' } });
    expect(h.sender.loginRequired).toBeNull();
    expect(h.syncStatus(id)).toMatchObject({ state: 'synced', criticalUndelivered: false, phoned: false });
    expect(events).toContainEqual({ type: 'sync-changed', reportId: id });
    const counts = await hub.counts([id]);
    expect(counts.get(id)).toMatchObject({ reports: 1, events: 1 });
    const stored = await h.client.signedReport(id);
    expect(stored.signature.contentHash).toBe(ws.store.get(id, 'test').signatures[0]!.contentHash);
    // The session survives a restart of the workstation.
    await h.stop();
    const again = new WorkstationHub({ baseUrl: hub.url, embedded: false, db: ws.db, reports: ws.store, timeoutMs: 2000 });
    stops.push(() => again.stop());
    expect(again.status().user).toMatchObject({ username: 'ada' });
  });

  it('a report signed by someone else waits, pending, for its signer: never sent under another session, delivered once when they log in', async () => {
    const other = workstation({ profile: { name: GRACE.name, role: GRACE.role, registration: GRACE.registration } });
    const id = other.sign();
    const { h } = station(other, hub.url, { baseDelayMs: 20 });
    await h.login('ada', TRIAL_PASSWORD);
    h.start();
    await until(() => h.syncStatus(id).reason?.includes(`waiting for ${GRACE.name}`) === true);
    expect(h.syncStatus(id).state).toBe('pending');
    expect(h.status()).toMatchObject({ pending: 1, failed: 0 });
    await sleep(300);
    expect((await hub.counts([id])).get(id)!.reports).toBe(0);
    await h.logout();
    await h.login('grace', TRIAL_PASSWORD);
    h.sender.wake();
    await until(() => h.syncStatus(id).state === 'synced', 15_000);
    expect((await hub.counts([id])).get(id)!.reports).toBe(1);
  });

  it('offline: the online flag goes false and a critical report not delivered in time raises critical-undelivered until the call is recorded', async () => {
    const ws = workstation();
    const id = ws.sign({ alert: 'critical' });
    const { h, events } = station(ws, 'http://127.0.0.1:9', { criticalDeadlineMs: 300, timeoutMs: 300 });
    h.start();
    await until(() => h.sender.online === false);
    expect(h.status().online).toBe(false);
    expect(events).toContainEqual({ type: 'hub-changed', online: false });
    await until(() => events.some((e) => e.type === 'critical-undelivered'));
    const warning = events.find((e) => e.type === 'critical-undelivered') as Extract<AppEvent, { type: 'critical-undelivered' }>;
    expect(warning).toMatchObject({ reportId: id, alertCode: 'critical' });
    expect(warning.message).toMatch(/critical report has not reached the hub .* Phone the finding to a responsible clinician now/);
    expect(h.syncStatus(id)).toMatchObject({ state: 'pending', criticalUndelivered: true, phoned: false });
    // A call record without a clinician is refused, and the warning stays.
    expect(() => h.recordPhone(id, { clinician: ' ', role: 'ED consultant', time: new Date().toISOString() })).toThrow(ContractError);
    expect(h.syncStatus(id).criticalUndelivered).toBe(true);
    const after = h.recordPhone(id, { clinician: 'Dr Rose Tyler', role: 'ED consultant', time: new Date().toISOString() });
    expect(after).toMatchObject({ state: 'pending', criticalUndelivered: false, phoned: true });
    expect(events).toContainEqual({ type: 'critical-resolved', reportId: id, how: 'phoned' });
    expect(h.sender.criticalUndelivered()).toEqual([]);
  });

  it('the online flag goes false within seconds when the hub stops (live stream lost) and true again when it returns, with hub-changed each time', async () => {
    let own: Hub = await buildHub({ db, migrate: false, ownsDb: false });
    const url = await own.listen(0, '127.0.0.1');
    const port = Number(new URL(url).port);
    stops.push(() => own.close());
    const ws = workstation();
    const { h, events } = station(ws, url, { streamBaseDelayMs: 100, streamCapDelayMs: 1000 });
    await h.login('ada', TRIAL_PASSWORD);
    h.start();
    await until(() => h.live && h.status().online);
    const before = events.length;

    await own.close();
    const stoppedAt = Date.now();
    await until(() => !h.status().online, 5000);
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    // The sender, idle with nothing to send, has not noticed: the stream alone told us.
    expect(h.sender.online).toBe(true);
    expect(events.slice(before)).toContainEqual({ type: 'hub-changed', online: false });
    await sleep(300);
    expect(h.status().online).toBe(false);

    own = await buildHub({ db, migrate: false, ownsDb: false });
    await own.listen(port, '127.0.0.1');
    await until(() => h.status().online && h.live, 10_000);
    const changes = events.slice(before).filter((e) => e.type === 'hub-changed');
    expect(changes).toEqual([{ type: 'hub-changed', online: false }, { type: 'hub-changed', online: true }]);

    // While offline a signed report waits; back online it goes, and the flag follows.
    await own.close();
    await until(() => !h.status().online, 5000);
    const id = ws.sign();
    h.signed(id);
    await until(() => h.syncStatus(id).reason?.startsWith('hub unreachable') === true);
    expect(h.status()).toMatchObject({ online: false, pending: 1 });
    own = await buildHub({ db, migrate: false, ownsDb: false });
    await own.listen(port, '127.0.0.1');
    await until(() => h.syncStatus(id).state === 'synced', 15_000);
    await until(() => h.status().online, 5000);
    expect(h.status()).toMatchObject({ online: true, pending: 0 });
  });

  it('publishes a draft to the Unfinished list and marks it closed on close; a colleague takes it over and the author is told (readable time) and made read-only', async () => {
    const ws = workstation();
    const { h: ada, events: adaEvents } = station(ws, hub.url, { draftThrottleMs: 50 });
    await ada.login('ada', TRIAL_PASSWORD);
    ada.start();
    await until(() => ada.live);

    const grace = new HubClient({ baseUrl: hub.url, timeoutMs: 2000 });
    await grace.login('grace', TRIAL_PASSWORD);
    const graceSaw: HubEvent[] = [];
    const sub = grace.subscribe({ onEvent: (e) => graceSaw.push(e) });
    stops.push(async () => sub.close());
    await until(() => sub.connected);

    const study = uniqueStudy('unfinished');
    const r = ws.store.open(study, { actor: ws.profile.name, modality: 'CT', description: 'CT HEAD' });
    const content = contentWithAlert('none');
    const saved = ws.store.save(r.id, study, content, r.revision, ws.profile.name);
    ada.draftSaved(r.id, study, content, saved.revision);
    await until(() => graceSaw.some((e) => e.type === 'unfinished-changed' && e.reportId === r.id));
    expect((await grace.unfinished()).items.find((i) => i.reportId === r.id)).toMatchObject({ revision: saved.revision, closed: false });

    // The editor closes the draft: the close carries the revision of the last save.
    const local = ws.store.get(r.id, ws.profile.name);
    expect(local.revision).toBe(saved.revision);
    expect(await ada.draftClosed(local)).toBe(true);
    const list = await grace.unfinished();
    const item = list.items.find((i) => i.reportId === r.id);
    expect(item).toMatchObject({ owner: { username: 'ada', name: RADIOLOGIST.name }, study, closed: true, revision: saved.revision });
    expect(item!.ageMs).toBeGreaterThanOrEqual(0);
    expect((await ada.unfinished()).items.find((i) => i.reportId === r.id)).toMatchObject({ closed: true });

    const taken = await grace.takeOver(r.id, { expectedOwner: 'ada', reason: 'author off shift' });
    expect(taken.previousOwner.username).toBe('ada');
    expect(taken.revisions.length).toBeGreaterThanOrEqual(1);
    // The author's live stream hears of it: the local draft turns read-only, naming the new owner and when.
    await until(() => adaEvents.some((e) => e.type === 'draft-taken-over'));
    const told = adaEvents.find((e) => e.type === 'draft-taken-over') as Extract<AppEvent, { type: 'draft-taken-over' }>;
    expect(told).toEqual({
      type: 'draft-taken-over',
      reportId: r.id,
      newOwner: 'Dr Grace Hopper',
      message: `Dr Grace Hopper took over this draft at ${formatDateTime(taken.takenOverAt, 'utc')}. Your copy is read-only.`,
    });
    expect(told.message).toMatch(/ at \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2} UTC\. /);
    expect(told.message).not.toContain(taken.takenOverAt);
    expect(ws.store.get(r.id, ws.profile.name).takenOverBy).toBe('Dr Grace Hopper');
    expect(adaEvents).toContainEqual({ type: 'unfinished-changed' });

    // A snapshot from the old owner (e.g. sent before the news arrived) is refused: the hub
    // keeps its text for the new owner, and the author is told again by name.
    ada.draftSaved(r.id, study, contentWithAlert('none'), saved.revision + 1);
    await until(() => adaEvents.filter((e) => e.type === 'draft-taken-over').length === 2);
    expect(adaEvents.filter((e) => e.type === 'draft-taken-over')[1]).toEqual({
      type: 'draft-taken-over', reportId: r.id, newOwner: 'Dr Grace Hopper', message: 'Dr Grace Hopper has taken over this report; your copy is read-only.',
    });
    expect(ws.store.get(r.id, ws.profile.name).takenOverBy).toBe('Dr Grace Hopper');
    const after = await grace.draft(r.id);
    expect(after.draft.owner.username).toBe('grace');
    expect(after.lateSnapshots?.map((l) => l.revision)).toEqual([saved.revision + 1]);
    // A closed draft that was taken over is not published again.
    expect(await ada.draftClosed(ws.store.get(r.id, ws.profile.name))).toBe(false);
  });

  it('log out sends the queued draft snapshot under the old session; the next user never sends it and their login marks nothing taken over', async () => {
    const ws = workstation();
    const rec = recordingFetch();
    const { h, events } = station(ws, hub.url, { draftThrottleMs: 400, fetch: rec.fetch });
    h.start();
    await h.login('ada', TRIAL_PASSWORD);
    const adaToken = h.client.token;
    const study = uniqueStudy('logout');
    const r = ws.store.open(study, { actor: ws.profile.name, modality: 'CT', description: 'CT HEAD' });
    h.draftSaved(r.id, study, contentWithAlert('none'), 1);
    h.draftSaved(r.id, study, contentWithAlert('none'), 2); // queued by the throttle
    await until(() => rec.drafts.length === 1);
    await h.logout();
    expect(rec.drafts).toHaveLength(2);
    const onHub = await (await loggedIn('grace')).draft(r.id);
    expect(onHub.draft).toMatchObject({ revision: 2, owner: { username: 'ada' } });

    await h.login('grace', TRIAL_PASSWORD);
    const graceToken = h.client.token;
    expect(graceToken).not.toBe(adaToken);
    await sleep(900); // more than two throttle windows
    expect(rec.drafts.map((d) => d.token)).toEqual([adaToken, adaToken]);
    expect(events.some((e) => e.type === 'draft-taken-over')).toBe(false);
    expect(ws.store.get(r.id, ws.profile.name).takenOverBy).toBeNull();
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM late_snapshots WHERE report_id = $1', [r.id])).rows[0]!.n).toBe(0);
  });

  it('log out waits at most logoutFlushMs for a slow hub, then drops the queued snapshot: nothing goes out under the next user\'s token', async () => {
    const ws = workstation();
    const rec = recordingFetch(1000);
    const { h, events } = station(ws, hub.url, { draftThrottleMs: 300, logoutFlushMs: 200, fetch: rec.fetch });
    h.start();
    await h.login('ada', TRIAL_PASSWORD);
    const adaToken = h.client.token;
    const study = uniqueStudy('slow-logout');
    const r = ws.store.open(study, { actor: ws.profile.name, modality: 'CT', description: 'CT HEAD' });
    h.draftSaved(r.id, study, contentWithAlert('none'), 1); // in flight for 1 s
    h.draftSaved(r.id, study, contentWithAlert('none'), 2); // queued behind it
    await until(() => rec.drafts.length === 1);
    const started = Date.now();
    await h.logout();
    expect(Date.now() - started).toBeLessThan(900);
    await h.login('grace', TRIAL_PASSWORD);
    const graceToken = h.client.token;
    await sleep(1800);
    expect(rec.drafts.every((d) => d.token === adaToken)).toBe(true);
    expect(rec.drafts.some((d) => d.token === graceToken)).toBe(false);
    expect(events.some((e) => e.type === 'draft-taken-over')).toBe(false);
    expect(ws.store.get(r.id, ws.profile.name).takenOverBy).toBeNull();
    // Grace's own drafts still publish under her session.
    const mine = uniqueStudy('grace-own');
    const g = ws.store.open(mine, { actor: GRACE.name, modality: 'CT', description: 'CT HEAD' });
    h.draftSaved(g.id, mine, contentWithAlert('none'), 1);
    await until(() => rec.drafts.some((d) => d.url.endsWith(g.id)));
    expect(rec.drafts.find((d) => d.url.endsWith(g.id))!.token).toBe(graceToken);
  });
});

async function loggedIn(username: string): Promise<HubClient> {
  const c = new HubClient({ baseUrl: hub.url, timeoutMs: 2000 });
  await c.login(username, TRIAL_PASSWORD);
  return c;
}
