// Less traffic for the same screen (issue 6), main side: a list's sync states in one request and
// one query (same answers as one by one), a workstation not reacting twice to its own draft
// snapshot (while another workstation of the same user still hears of it), 'unfinished-changed'
// at most once per the hub's site-policy floor (the user's own draft taken over goes at once), and
// that floor read from the hub (the default before login, without a hub, and after log out).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dispatch, type AppEvent } from '../../../common/contract.ts';
import { UNFINISHED_REFETCH_MIN_MS, type HubEvent } from '../../../common/hub.ts';
import { WorkstationHub, type WorkstationHubOptions } from '../../../main/hub/WorkstationHub.ts';
import { createServices } from '../../../main/services.ts';
import { HubClient } from '../../../main/sync/HubClient.ts';
import { OutboxSender } from '../../../main/sync/OutboxSender.ts';
import { SqliteOutboxStore } from '../../../main/sync/OutboxStore.ts';
import { SqlitePhoneLog } from '../../../main/sync/PhoneLog.ts';
import { buildHub, type Hub } from '../../../server/app.ts';
import type { HubDb } from '../../../server/db/adapter.ts';
import { migrate } from '../../../server/db/migrations.ts';
import { addTrialUser, openTrialDb, TRIAL_PASSWORD } from '../../support/realHub.ts';
import { contentWithAlert, RADIOLOGIST, uniqueStudy, workstation, type Workstation } from '../../support/syncWorkstation.ts';
import { sleep, until } from '../../support/until.ts';

const GRACE = { username: 'grace', name: 'Dr Grace Hopper', role: 'radiologist' as const, registration: 'GMC 7654321' };
const FLOOR_MS = 1000;
const DEAD_HUB = 'http://127.0.0.1:9';


let db: HubDb;
let drop: () => Promise<void>;
let hub: Hub;
let hubUrl: string;
const stops: (() => Promise<void>)[] = [];

async function startHub(floorMs: number, port = 0): Promise<string> {
  hub = await buildHub({ db, migrate: false, ownsDb: false, policy: { unfinishedRefetchMinMs: floorMs } });
  return hub.listen(port, '127.0.0.1');
}

beforeAll(async () => {
  ({ db, drop } = await openTrialDb('pglite'));
  await migrate(db);
  await addTrialUser(db, { ...RADIOLOGIST, username: 'ada' });
  await addTrialUser(db, GRACE);
  hubUrl = await startHub(FLOOR_MS);
});
afterAll(async () => {
  for (const s of stops.reverse()) await s();
  await hub?.close();
  await drop?.();
});

function station(ws: Workstation, baseUrl: string, extra: Partial<WorkstationHubOptions> = {}): { h: WorkstationHub; events: { at: number; e: AppEvent }[]; unfinished(): number[] } {
  const events: { at: number; e: AppEvent }[] = [];
  const h = new WorkstationHub({ baseUrl, embedded: false, db: ws.db, reports: ws.store, timeoutMs: 2000, draftThrottleMs: 50, ...extra });
  h.events.on('event', (e) => events.push({ at: Date.now(), e }));
  stops.push(() => h.stop());
  return { h, events, unfinished: () => events.filter((x) => x.e.type === 'unfinished-changed').map((x) => x.at) };
}

async function colleague(username: string): Promise<{ client: HubClient; saw: HubEvent[] }> {
  const client = new HubClient({ baseUrl: hubUrl, timeoutMs: 2000 });
  await client.login(username, TRIAL_PASSWORD);
  const saw: HubEvent[] = [];
  const sub = client.subscribe({ onEvent: (e) => saw.push(e) });
  stops.push(async () => sub.close());
  await until(() => sub.connected);
  return { client, saw };
}

function draftOn(ws: Workstation, tag: string): { id: string; study: ReturnType<typeof uniqueStudy> } {
  const study = uniqueStudy(tag);
  const r = ws.store.open(study, { actor: ws.profile.name, modality: 'CT', description: 'CT HEAD' });
  return { id: r.id, study };
}

describe('sync:statuses: a whole list in one request', () => {
  it('answers each id as sync:status does (synced, pending, failed, critical overdue, phoned, draft, unknown), in order, from one query of each table', async () => {
    const ws = workstation();
    const outbox = new SqliteOutboxStore(ws.db);
    const synced = ws.sign();
    outbox.markSynced(outbox.forReport(synced)[0]!.id, '{"receipt":1}', new Date().toISOString());
    const pending = ws.sign();
    const failed = ws.sign();
    ws.addendum(failed);
    const addendumRow = outbox.forReport(failed)[1]!;
    outbox.markAttempt(addendumRow.id, 'The hub refused this addendum (422): bad', new Date().toISOString(), true);
    const critical = ws.sign({ alert: 'critical' });
    const phoned = ws.sign({ alert: 'urgent' });
    const draft = draftOn(ws, 'statuses').id;
    const unknown = crypto.randomUUID();
    const { h } = station(ws, DEAD_HUB, { criticalDeadlineMs: 1 });
    await sleep(5);
    h.recordPhone(phoned, { clinician: 'Dr Rose Tyler', role: 'ED consultant', time: new Date().toISOString() });

    const ids = [unknown, synced, pending, synced, failed, critical, phoned, draft];
    const oneByOne = ids.map((id) => h.syncStatus(id));
    const spies = [
      vi.spyOn(SqliteOutboxStore.prototype, 'forReports'),
      vi.spyOn(SqliteOutboxStore.prototype, 'forReport'),
      vi.spyOn(SqlitePhoneLog.prototype, 'withCalls'),
      vi.spyOn(SqlitePhoneLog.prototype, 'has'),
      vi.spyOn(OutboxSender.prototype, 'criticalUndelivered'),
    ];
    const batch = h.syncStatuses(ids);
    const calls = (): number[] => spies.map((s) => s.mock.calls.length);
    // One query of the outbox, one of the phone log, one pass over the overdue critical rows.
    expect(calls()).toEqual([1, 0, 1, calls()[3], 1]);
    const perList = calls();
    for (const s of spies) s.mockClear();
    // No N+1: a list fifty times as long costs the same queries.
    const long = [...ids, ...Array.from({ length: 392 }, () => crypto.randomUUID())];
    expect(h.syncStatuses(long)).toHaveLength(400);
    expect(calls()).toEqual(perList);
    for (const s of spies) s.mockRestore();

    expect(batch).toEqual(oneByOne);
    expect(batch.map((s) => s.reportId)).toEqual(ids);
    expect(batch.map((s) => s.state)).toEqual(['local', 'synced', 'pending', 'synced', 'failed', 'pending', 'pending', 'local']);
    expect(batch[4]).toMatchObject({ items: 2, reason: 'The hub refused this addendum (422): bad' });
    expect(batch[5]).toMatchObject({ criticalUndelivered: true, phoned: false });
    expect(batch[6]).toMatchObject({ criticalUndelivered: false, phoned: true });
    expect(batch[0]).toEqual({ reportId: unknown, state: 'local', reason: null, attempts: 0, syncedAt: null, items: 0, criticalUndelivered: false, phoned: false });
    expect(h.syncStatuses([])).toEqual([]);
    // hub:status counts reports, not rows: the failed report has a synced original and a refused addendum.
    expect(h.status()).toMatchObject({ pending: 3, failed: 1 });
  });

  it('through the contract: registered, input checked (at most 5000 ids of at most 64 characters), and refused clearly without a hub', async () => {
    const withHub = await createServices({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-statuses-')), mode: 'browser', version: 't', fileAccess: () => ({ fileBaseUrl: '', fileAuthHeader: null }), hub: { baseUrl: DEAD_HUB, embedded: false } });
    stops.push(() => withHub.close());
    const id = crypto.randomUUID();
    expect(await dispatch(withHub.handlers, 'sync:statuses', { reportIds: [id] })).toMatchObject({ ok: true, value: [{ reportId: id, state: 'local' }] });
    expect(await dispatch(withHub.handlers, 'sync:statuses', { reportIds: Array.from({ length: 5001 }, () => id) })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await dispatch(withHub.handlers, 'sync:statuses', { reportIds: ['x'.repeat(65)] })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await dispatch(withHub.handlers, 'sync:statuses', {})).toMatchObject({ ok: false, error: { code: 'invalid-input' } });

    const alone = await createServices({ dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-statuses-')), mode: 'browser', version: 't', fileAccess: () => ({ fileBaseUrl: '', fileAuthHeader: null }) });
    stops.push(() => alone.close());
    expect(await dispatch(alone.handlers, 'sync:statuses', { reportIds: [id] })).toMatchObject({ ok: false, error: { code: 'unavailable', message: expect.stringMatching(/without a hub/) } });
    // Without a hub the Unfinished panel's floor is the default.
    expect(await dispatch(alone.handlers, 'hub:status', {})).toMatchObject({ ok: true, value: { configured: false, unfinishedRefetchMinMs: UNFINISHED_REFETCH_MIN_MS } });
  });
});

describe('the Unfinished list: own echoes skipped, signals coalesced to the site policy floor', () => {
  it('the refetch floor comes from the hub\'s site policy after login; the default before login and after log out; the last one kept across a restart', async () => {
    const ws = workstation();
    const { h } = station(ws, hubUrl);
    expect(h.status().unfinishedRefetchMinMs).toBe(UNFINISHED_REFETCH_MIN_MS);
    expect((await h.login('ada', TRIAL_PASSWORD)).unfinishedRefetchMinMs).toBe(FLOOR_MS);
    await h.stop();
    const again = station(ws, hubUrl).h;
    expect(again.status().unfinishedRefetchMinMs).toBe(FLOOR_MS); // the saved session's floor, before the hub answers
    expect((await again.logout()).unfinishedRefetchMinMs).toBe(UNFINISHED_REFETCH_MIN_MS);
    const third = station(ws, hubUrl).h;
    expect(third.status().unfinishedRefetchMinMs).toBe(UNFINISHED_REFETCH_MIN_MS);
  });

  it('publishing a draft makes this workstation react once (not again at the hub\'s echo); the same user on another workstation and a colleague each hear of it once', async () => {
    const here = workstation();
    const { h: ada, unfinished: adaSignals } = station(here, hubUrl);
    await ada.login('ada', TRIAL_PASSWORD);
    ada.start();
    const { h: adaElsewhere, unfinished: elsewhereSignals } = station(workstation(), hubUrl);
    await adaElsewhere.login('ada', TRIAL_PASSWORD);
    adaElsewhere.start();
    await until(() => ada.live && adaElsewhere.live);
    const grace = await colleague('grace');
    await sleep(FLOOR_MS + 100); // past the window of the connections' own signals
    const adaBefore = adaSignals().length;
    const elsewhereBefore = elsewhereSignals().length;

    const d = draftOn(here, 'echo');
    ada.draftSaved(d.id, d.study, contentWithAlert('none'), 1);
    await until(() => grace.saw.some((e) => e.type === 'unfinished-changed' && e.reportId === d.id));
    await until(() => elsewhereSignals().length > elsewhereBefore);
    await sleep(FLOOR_MS + 300); // a reaction to the echo would come at the end of the window
    expect(adaSignals().length - adaBefore).toBe(1);
    expect(elsewhereSignals().length - elsewhereBefore).toBe(1);

    // The next snapshot, after the floor: one more, again not two.
    ada.draftSaved(d.id, d.study, contentWithAlert('none'), 2);
    await until(() => grace.saw.filter((e) => e.type === 'unfinished-changed' && e.reportId === d.id).length === 2);
    await sleep(FLOOR_MS + 300);
    expect(adaSignals().length - adaBefore).toBe(2);
    expect(elsewhereSignals().length - elsewhereBefore).toBe(2);

    // A snapshot the hub ignores (not newer) changes nothing: no signal at all.
    ada.draftSaved(d.id, d.study, contentWithAlert('none'), 2);
    await sleep(FLOOR_MS + 300);
    expect(adaSignals().length - adaBefore).toBe(2);

    // A colleague's snapshot of their own draft is news here.
    const theirs = draftOn(workstation({ profile: { name: GRACE.name, role: GRACE.role, registration: GRACE.registration } }), 'theirs');
    await grace.client.putDraft(theirs.id, { study: theirs.study, content: contentWithAlert('none'), revision: 1, lastActivity: new Date().toISOString(), author: GRACE.name });
    await until(() => adaSignals().length - adaBefore === 3);
  });

  it('a burst of colleagues\' snapshots becomes at most one signal per floor; the user\'s own draft taken over is signalled at once', async () => {
    const here = workstation();
    const { h: ada, unfinished: adaSignals, events } = station(here, hubUrl);
    await ada.login('ada', TRIAL_PASSWORD);
    ada.start();
    await until(() => ada.live);
    const grace = await colleague('grace');
    const mine = draftOn(here, 'mine');
    ada.draftSaved(mine.id, mine.study, contentWithAlert('none'), 1);
    await until(() => grace.saw.some((e) => e.reportId === mine.id));
    await sleep(FLOOR_MS + 200);
    const before = adaSignals().length;

    const started = Date.now();
    const n = 12;
    for (let i = 0; i < n; i++) {
      const s = uniqueStudy('burst');
      await grace.client.putDraft(crypto.randomUUID(), { study: s, content: contentWithAlert('none'), revision: 1, lastActivity: new Date().toISOString(), author: GRACE.name });
    }
    const burstMs = Date.now() - started;
    await until(() => grace.saw.filter((e) => e.type === 'unfinished-changed' && e.owner === 'grace').length >= n);
    await sleep(FLOOR_MS + 300);
    const burst = adaSignals().slice(before);
    expect(burst.length).toBeGreaterThanOrEqual(1);
    expect(burst.length).toBeLessThanOrEqual(Math.ceil(burstMs / FLOOR_MS) + 2);
    expect(burst.length).toBeLessThan(n);
    for (let i = 1; i < burst.length; i++) expect(burst[i]! - burst[i - 1]!).toBeGreaterThanOrEqual(FLOOR_MS - 20);

    // Inside a fresh window (one signal just went), the user's own draft is taken over: told at once.
    const other = uniqueStudy('window');
    await grace.client.putDraft(crypto.randomUUID(), { study: other, content: contentWithAlert('none'), revision: 1, lastActivity: new Date().toISOString(), author: GRACE.name });
    await until(() => adaSignals().length > before + burst.length);
    const windowOpened = Date.now();
    await grace.client.takeOver(mine.id, { expectedOwner: 'ada', reason: 'author off shift' });
    await until(() => events.some((x) => x.e.type === 'draft-taken-over'));
    await until(() => adaSignals().length > before + burst.length + 1, FLOOR_MS / 2);
    expect(Date.now() - windowOpened).toBeLessThan(FLOOR_MS);
  });

  it('a changed policy is read again when the live stream reconnects, and announced with hub-changed', async () => {
    const port = Number(new URL(hubUrl).port);
    const ws = workstation();
    const { h, events } = station(ws, hubUrl, { streamBaseDelayMs: 100, streamCapDelayMs: 500, policyMaxAgeMs: 0 });
    await h.login('ada', TRIAL_PASSWORD);
    h.start();
    await until(() => h.live);
    expect(h.status().unfinishedRefetchMinMs).toBe(FLOOR_MS);
    await hub.close();
    await until(() => !h.live, 5000);
    const before = events.length;
    hubUrl = await startHub(3000, port);
    await until(() => h.status().unfinishedRefetchMinMs === 3000, 10_000);
    expect(events.slice(before).some((x) => x.e.type === 'hub-changed')).toBe(true);
    // Put the shared hub back as the other tests expect it.
    await hub.close();
    hubUrl = await startHub(FLOOR_MS, port);
  });
});
