// Issue 9 line 6, the workstation side, through the contract handlers of main/services.ts (what
// the renderer calls) against a real hub (PGlite) on the bundled sample CT:
// - a signed critical report's alert: state, who is responsible, deadline, routing and timeline
//   (the hub's), read-only for its radiologist (no "opened" for her), and live: the hub's
//   alert-changed reaches the workstation as an app event when it is acknowledged on the hub;
// - "My outstanding alerts": the open alerts of reports she signed, gone once acknowledged;
// - phone calls recorded while the hub is down: the hub unreachable is a state said in words, the
//   calls show here meanwhile; once the hub is back they reach the alert's timeline exactly once
//   (a repeated sync sends nothing; a call sent again after a lost confirmation is ignored by the
//   hub); a malformed record is refused in words, never sent, never lost.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppEvent } from '../../../common/contract.ts';
import type { StudyRef } from '../../../common/report.ts';
import type { Services } from '../../../main/services.ts';
import { buildHub, type Hub } from '../../../server/app.ts';
import type { HubDb } from '../../../server/db/adapter.ts';
import { migrate } from '../../../server/db/migrations.ts';
import { setDuty } from '../../../server/directory.ts';
import { HubClient } from '../../../main/sync/HubClient.ts';
import { addTrialUser, openTrialDb, TRIAL_PASSWORD } from '../../support/realHub.ts';
import { contentWithAlert } from '../../support/syncWorkstation.ts';
import { until } from '../../support/until.ts';
import { callHandler, refusedBy, testServices, SAMPLE_DIR, type HandlerOutput } from '../../support/callHandler.ts';

const ADA = { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist' as const, registration: 'GMC 1234567' };
const DUTY = { username: 'duty', name: 'Dr Eve Duty', role: 'radiologist' as const, registration: 'GMC 7000001' };

interface TestHub { db: HubDb; url: string; hub: Hub; port: number; drop(): Promise<void> }
const hubs: TestHub[] = [];
const closers: (() => Promise<void>)[] = [];

/** A real hub on its own PGlite: Ada, and a duty radiologist who holds the unrouted alerts (the sample names no requester). */
async function openHub(): Promise<TestHub> {
  const { db, drop } = await openTrialDb('pglite');
  await migrate(db);
  await addTrialUser(db, ADA);
  await addTrialUser(db, DUTY);
  await setDuty(db, 'duty-radiologist', DUTY.username);
  const hub = await buildHub({ db, migrate: false, ownsDb: false });
  const url = await hub.listen(0, '127.0.0.1');
  const h = { db, url, hub, port: Number(new URL(url).port), drop };
  hubs.push(h);
  return h;
}

interface Station { s: Services; events: AppEvent[]; call<C extends keyof Services['handlers']>(channel: C, input: unknown): Promise<HandlerOutput<C>> }

async function station(hubUrl: string): Promise<Station> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-alerts-'));
  const s = await testServices(dataDir, { sampleDir: SAMPLE_DIR, hub: { baseUrl: hubUrl, embedded: false } });
  closers.push(async () => {
    await s.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const events: AppEvent[] = [];
  s.events.on('event', (e) => events.push(e));
  return { s, events, call: (channel, input) => callHandler(s, channel, input) };
}

/** Opens a study of the sample, writes a critical report and signs it (password confirmed first). */
async function signCritical(st: Station, pick: 'sample' | 'prior'): Promise<{ reportId: string; study: StudyRef }> {
  const patients = await st.call('library:list', {});
  const all = patients.flatMap((p) => p.studies.map((x) => ({ patientId: p.patientId, studyUid: x.studyUid })));
  const { sampleStudyUid } = await st.call('app:info', {});
  const study = all.find((x) => (pick === 'sample' ? x.studyUid === sampleStudyUid : x.studyUid !== sampleStudyUid))!;
  const r = await st.call('reports:open', { study });
  const content = { ...contentWithAlert('critical'), comparison: { kind: 'none-available' as const, text: '', noPriorReason: 'Prior not comparable (different protocol).' } };
  const saved = await st.call('reports:save', { reportId: r.id, study, content, baseRevision: r.revision });
  await st.call('hub:confirmSigner', { password: TRIAL_PASSWORD });
  await st.call('reports:sign', { reportId: r.id, study, revision: saved.revision });
  return { reportId: r.id, study };
}

async function acknowledgeOnHub(h: TestHub, reportId: string): Promise<void> {
  const duty = new HubClient({ baseUrl: h.url });
  await duty.login(DUTY.username, TRIAL_PASSWORD);
  const res = await fetch(`${h.url}/api/alerts/${reportId}/acknowledge`, {
    method: 'POST',
    headers: { authorization: `Bearer ${duty.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ actionPlan: 'Neurosurgery called; patient transferred for evacuation.' }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  for (const h of hubs) {
    await h.hub.close().catch(() => undefined);
    await h.drop().catch(() => undefined);
  }
});

describe("a signed report's alert on the workstation", () => {
  it('shows the timeline, routing, responsibility and deadline; lists it in My outstanding alerts; updates live when acknowledged on the hub', async () => {
    const h = await openHub();
    const a = await station(h.url);
    await a.call('hub:login', { username: ADA.username, password: TRIAL_PASSWORD });
    const { reportId } = await signCritical(a, 'sample');
    await until(async () => (await a.call('sync:status', { reportId })).state === 'synced', 20_000);

    const view = await a.call('alerts:forReport', { reportId });
    expect(view.unavailable).toBeNull();
    expect(view.pending).toBe(false);
    const alert = view.alert!;
    expect(alert).toMatchObject({ reportId, category: 'critical', state: 'open', rung: 0, signedBy: { name: ADA.name } });
    // The sample names no requester: the duty radiologist's queue, with the reason.
    expect(alert.team).toBeNull();
    expect(alert.routingReason).toMatch(/^Requester unknown/);
    expect(alert.responsible.label).toContain('duty radiologist');
    expect(Date.parse(alert.dueBy!)).toBeGreaterThan(Date.now());
    expect(alert.timeline.map((e) => e.type).slice(0, 2)).toEqual(['created', 'unrouted']);
    // Reading it here is not an opening: she is not responsible for it.
    const again = await a.call('alerts:forReport', { reportId });
    expect(again.alert!.timeline.some((e) => e.type === 'opened')).toBe(false);

    const mine = await a.call('alerts:mine', {});
    expect(mine.alerts.map((x) => x.reportId)).toEqual([reportId]);

    a.events.length = 0;
    await acknowledgeOnHub(h, reportId);
    // Live: the hub's alert-changed reaches the app as an event (the renderer refetches on it).
    await until(() => a.events.some((e) => e.type === 'alert-changed' && e.reportId === reportId && e.change === 'acknowledged'), 5_000);
    const acked = (await a.call('alerts:forReport', { reportId })).alert!;
    expect(acked.state).toBe('acknowledged');
    const ack = acked.timeline.find((e) => e.type === 'acknowledged')!;
    expect(ack.actor?.name).toBe(DUTY.name);
    expect(ack.text).toContain('Neurosurgery called');
    expect((await a.call('alerts:mine', {})).alerts).toEqual([]);
    // Logged out (a refetch racing the logout, seen as a 403 in the browser): nobody's alerts, not a refusal.
    await a.call('hub:logout', {});
    expect((await a.call('alerts:mine', {})).alerts).toEqual([]);
  }, 120_000);

  it('phone calls recorded while the hub is down reach the timeline once when it is back; a repeat sends nothing; a malformed record is refused in words and kept', async () => {
    const h = await openHub();
    const a = await station(h.url);
    await a.call('hub:login', { username: ADA.username, password: TRIAL_PASSWORD });
    await a.call('hub:confirmSigner', { password: TRIAL_PASSWORD });
    // The hub goes down before the report is signed.
    await h.hub.close();
    const { reportId } = await signCritical(a, 'prior');
    a.events.length = 0;
    await a.call('sync:recordPhone', { reportId, clinician: 'Dr Rose Tyler', role: 'ED consultant', time: new Date().toISOString(), note: 'read back' });
    // The alert panel is told at once (it shows the call, waiting to be sent).
    expect(a.events).toContainEqual({ type: 'alert-changed', reportId, change: 'phone-calls' });
    // A record this version would never write (a time without its zone): from an older version, or edited outside the app.
    a.s.db.prepare('INSERT INTO sync_phone_communications (report_id, clinician, role, time, note, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(reportId, 'Dr Martha Jones', 'Medical registrar', '28/11/2026 10:15', '', ADA.name, new Date().toISOString());

    // Unreachable: a state in words, not a failure; the calls recorded here show all the same.
    await until(async () => (await a.call('alerts:forReport', { reportId })).unavailable !== null, 20_000);
    const offline = await a.call('alerts:forReport', { reportId });
    expect(offline.alert).toBeNull();
    expect(offline.pending).toBe(true);
    expect(offline.unavailable).toMatch(/hub is unreachable/);
    expect(offline.phoneCalls.map((c) => [c.clinician, c.syncedAt])).toEqual([['Dr Rose Tyler', null], ['Dr Martha Jones', null]]);
    expect((await refusedBy(a.s, 'alerts:mine', {})).code).toBe('unavailable');

    // Back, on the same port and database.
    h.hub = await buildHub({ db: h.db, migrate: false, ownsDb: false });
    await h.hub.listen(h.port, '127.0.0.1');
    await until(async () => (await a.call('alerts:forReport', { reportId })).phoneCalls[0]!.syncedAt !== null, 60_000, 100);
    const back = await a.call('alerts:forReport', { reportId });
    const timeline = back.alert!.timeline;
    const calls = timeline.filter((e) => e.type === 'phone-call');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.text).toContain('Dr Rose Tyler (ED consultant)');
    expect(calls[0]!.text).toContain(`recorded by ${ADA.name}`);
    // The malformed one: refused in words, never sent, still in the log and on screen.
    const bad = back.phoneCalls[1]!;
    expect(bad).toMatchObject({ clinician: 'Dr Martha Jones', syncedAt: null, refused: true });
    expect(bad.problem).toMatch(/^Not sent to the hub: this phone call record is not valid \(time: time must be an ISO date-time with its time zone/);
    expect(a.s.db.prepare('SELECT count(*) AS n FROM sync_phone_communications WHERE report_id = ?').get(reportId)).toEqual({ n: 2 });

    const stored = async (): Promise<number> => Number((await h.db.query<{ n: string }>('SELECT count(*) AS n FROM alert_phone_calls WHERE report_id = $1', [reportId])).rows[0]!.n);
    expect(await stored()).toBe(1);
    // A repeated sync sends nothing new.
    expect(await a.s.hub!.phoneCalls.pass()).toEqual({ sent: 0, added: 0, waiting: 0, refused: 0 });
    // The hub's confirmation lost (a crash before it was written here): sent again with the same id, ignored by the hub.
    a.s.db.prepare('UPDATE sync_phone_uploads SET synced_at = NULL').run();
    expect(await a.s.hub!.phoneCalls.pass()).toEqual({ sent: 1, added: 0, waiting: 0, refused: 0 });
    expect(await stored()).toBe(1);
    expect((await a.call('alerts:forReport', { reportId })).alert!.timeline.filter((e) => e.type === 'phone-call')).toHaveLength(1);
    // The id a call is sent under never changes.
    expect(() => a.s.db.prepare("UPDATE sync_phone_uploads SET call_id = 'other'").run()).toThrow(/keeps the id/);
  }, 120_000);
});
