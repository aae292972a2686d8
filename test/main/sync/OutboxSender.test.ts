// The background sender against scripted hub answers and the fake hub: delivery, backoff with
// full jitter, permanent rejections shown (never retried silently), login pause, ordering of
// addenda, the offline flag, the critical/urgent 60 s deadline and the phone record, shutdown.
import { afterEach, describe, expect, it } from 'vitest';
import { fullJitterDelay, realClock, type SyncClock } from '../../../main/sync/clock.ts';
import { HubClient, type SendOutcome, type SignedReportSink } from '../../../main/sync/HubClient.ts';
import { OutboxSender, type CriticalWarning, type SyncStatus } from '../../../main/sync/OutboxSender.ts';
import { SqliteOutboxStore } from '../../../main/sync/OutboxStore.ts';
import { SqlitePhoneLog } from '../../../main/sync/PhoneLog.ts';
import { startFakeHub, type FakeHub } from '../../support/fakeHub.ts';
import { workstation, type Workstation } from '../../support/syncWorkstation.ts';
import { until } from '../../support/until.ts';

/** Real timers; time can be moved forward (`advance`), or the wall clock alone set either way (`jump`); jitter fixed. */
function testClock(random = 1 - 1e-9): SyncClock & { advance(ms: number): void; jump(ms: number): void } {
  let offset = 0;
  let wallOnly = 0;
  return {
    now: () => Date.now() + offset + wallOnly,
    monotonic: () => performance.now() + offset,
    setTimeout: realClock.setTimeout,
    clearTimeout: realClock.clearTimeout,
    random: () => random,
    advance(ms: number) {
      offset += ms;
    },
    jump(ms: number) {
      wallOnly += ms;
    },
  };
}

/** A sink that answers from a script, then accepts. */
function scriptedSink(script: SendOutcome[]): SignedReportSink & { calls: { key: string; body: string }[]; up: boolean } {
  const calls: { key: string; body: string }[] = [];
  return {
    calls,
    up: true,
    async postSigned(key, body) {
      calls.push({ key, body });
      const next = script.shift();
      return next ?? { kind: 'accepted', status: 201, receipt: JSON.stringify({ ok: key }), replayed: false };
    },
    async ping() {
      return this.up;
    },
  };
}


const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function makeSender(ws: Workstation, hub: SignedReportSink, clock: SyncClock = testClock(), extra: Partial<ConstructorParameters<typeof OutboxSender>[0]> = {}): OutboxSender {
  const sender = new OutboxSender({
    store: new SqliteOutboxStore(ws.db),
    hub,
    phoneLog: new SqlitePhoneLog(ws.db),
    clock,
    baseDelayMs: 5,
    capDelayMs: 40,
    pollMs: 50,
    probeMs: 20,
    criticalCheckMs: 20,
    actor: () => ws.profile.name,
    ...extra,
  });
  cleanups.push(() => sender.stop());
  return sender;
}

describe('full-jitter backoff', () => {
  it('grows exponentially up to the cap and never exceeds it', () => {
    expect([0, 1, 2, 3].map((a) => fullJitterDelay(a, 1000, 60_000, () => 0.999999999))).toEqual([1000, 2000, 4000, 8000]);
    expect(fullJitterDelay(20, 1000, 60_000, () => 0.999999999)).toBe(60_000);
    expect(fullJitterDelay(5, 1000, 60_000, () => 0)).toBe(0);
    for (let i = 0; i < 1000; i++) {
      const d = fullJitterDelay(i % 40, 1000, 60_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(60_000);
    }
  });
});

describe('OutboxSender', () => {
  it('delivers a signed report with its idempotency key and the body written at signing, and marks it synced with the receipt', async () => {
    const ws = workstation();
    const id = ws.sign();
    const sink = scriptedSink([]);
    const sender = makeSender(ws, sink);
    const statuses: SyncStatus[] = [];
    sender.events.on('status', (s) => statuses.push(s));
    expect(sender.status(id).state).toBe('pending');
    sender.start();
    await until(() => sender.status(id).state === 'synced');
    const row = new SqliteOutboxStore(ws.db).forReport(id)[0]!;
    expect(sink.calls).toEqual([{ key: row.idempotencyKey, body: row.payloadJson }]);
    expect(row.hubReceipt).toBe(JSON.stringify({ ok: row.idempotencyKey }));
    expect(statuses.at(-1)).toMatchObject({ reportId: id, state: 'synced', reason: null });
    expect(sender.online).toBe(true);
    expect(sender.status('no-such-report').state).toBe('local');
  });

  it('retries 5xx and network failures with exponential backoff and the same key, then syncs', async () => {
    const ws = workstation();
    const id = ws.sign();
    const sink = scriptedSink([
      { kind: 'unavailable', status: 503, message: 'busy' },
      { kind: 'unavailable', status: null, message: 'ECONNREFUSED' },
      { kind: 'unavailable', status: 500, message: 'boom' },
    ]);
    const sender = makeSender(ws, sink);
    const seen: { attempts: number; next: string | null; err: string | null }[] = [];
    sender.events.on('status', () => {
      const r = new SqliteOutboxStore(ws.db).forReport(id)[0]!;
      seen.push({ attempts: r.attempts, next: r.nextAttemptAt, err: r.lastError });
    });
    sender.start();
    await until(() => sender.status(id).state === 'synced');
    expect(sink.calls).toHaveLength(4);
    expect(new Set(sink.calls.map((c) => c.key)).size).toBe(1);
    expect(new Set(sink.calls.map((c) => c.body)).size).toBe(1);
    expect(seen.slice(0, 3).map((s) => s.attempts)).toEqual([1, 2, 3]);
    expect(seen[0]!.err).toMatch(/503/);
    expect(seen[1]!.err).toMatch(/unreachable.*ECONNREFUSED/);
    expect(sender.status(id)).toMatchObject({ state: 'synced', attempts: 3 });
  });

  it('schedules each retry at now + full-jitter delay (base · 2^attempts, capped)', async () => {
    const ws = workstation();
    const id = ws.sign();
    const clock = testClock(1 - 1e-9);
    const sink = scriptedSink(Array.from({ length: 3 }, () => ({ kind: 'unavailable' as const, status: 502, message: 'bad gateway' })));
    const sender = makeSender(ws, sink, clock, { baseDelayMs: 1000, capDelayMs: 3000 });
    sender.start();
    await until(() => sink.calls.length === 1 && sender.status(id).attempts === 1);
    const r1 = new SqliteOutboxStore(ws.db).forReport(id)[0]!;
    const d1 = Date.parse(r1.nextAttemptAt!) - clock.now();
    expect(d1).toBeGreaterThan(900);
    expect(d1).toBeLessThanOrEqual(1000);
    // Nothing is sent before the row is due.
    await new Promise((r) => setTimeout(r, 80));
    expect(sink.calls).toHaveLength(1);
    clock.advance(1000);
    sender.wake();
    await until(() => sink.calls.length === 2 && sender.status(id).attempts === 2);
    const r2 = new SqliteOutboxStore(ws.db).forReport(id)[0]!;
    expect(Date.parse(r2.nextAttemptAt!) - clock.now()).toBeGreaterThan(1900);
    clock.advance(2000);
    sender.wake();
    await until(() => sender.status(id).attempts === 3);
    const r3 = new SqliteOutboxStore(ws.db).forReport(id)[0]!;
    // 1000 · 2^2 = 4000, capped at 3000.
    expect(Date.parse(r3.nextAttemptAt!) - clock.now()).toBeLessThanOrEqual(3000);
    expect(Date.parse(r3.nextAttemptAt!) - clock.now()).toBeGreaterThan(2900);
  });

  it('marks a permanent 4xx failed with the hub reason and never retries it silently; retry() sends it again (a refusal the hub side can lift: test/main/sync/refused.test.ts has them all)', async () => {
    const ws = workstation();
    const id = ws.sign();
    const sink = scriptedSink([{ kind: 'rejected', status: 422, code: 'unknown-template', message: 'Unknown template.' }]);
    const sender = makeSender(ws, sink);
    sender.start();
    await until(() => sender.status(id).state === 'failed');
    expect(sender.status(id).reason).toBe(
      "Not delivered: the hub does not know this report's template (the hub may need an upgrade). The hub refused this report (422 unknown-template): Unknown template.",
    );
    await new Promise((r) => setTimeout(r, 150));
    expect(sink.calls).toHaveLength(1);
    expect(sender.retry(id)).toBe(1);
    await until(() => sender.status(id).state === 'synced');
    expect(sink.calls).toHaveLength(2);
    expect(sink.calls[0]!.key).toBe(sink.calls[1]!.key);
  });

  it('on 401 keeps the report pending with "login required", pauses, and resumes after login', async () => {
    const ws = workstation();
    const id = ws.sign();
    const sink = scriptedSink([{ kind: 'unauthorized', message: 'Your session has expired.' }]);
    const sender = makeSender(ws, sink);
    const login: string[] = [];
    sender.events.on('login-required', (m) => login.push(m));
    sender.start();
    await until(() => login.length === 1);
    expect(sender.status(id)).toMatchObject({ state: 'pending', reason: 'login required: Your session has expired.' });
    expect(sender.loginRequired).toMatch(/login required/);
    await new Promise((r) => setTimeout(r, 120));
    expect(sink.calls).toHaveLength(1);
    sender.resume();
    await until(() => sender.status(id).state === 'synced');
    expect(sender.loginRequired).toBeNull();
  });

  it('sends a report before its addendum, and holds the addendum while the report is not synced', async () => {
    const ws = workstation();
    const id = ws.sign();
    ws.addendum(id);
    const other = ws.sign();
    const sink = scriptedSink([{ kind: 'rejected', status: 422, code: 'unknown-template', message: 'unknown template' }]);
    const sender = makeSender(ws, sink);
    sender.start();
    await until(() => sender.status(other).state === 'synced');
    await new Promise((r) => setTimeout(r, 80));
    // The report failed for good, so its addendum was never sent.
    const kinds = sink.calls.map((c) => (JSON.parse(c.body) as { kind: string }).kind);
    expect(kinds).toEqual(['report', 'report']);
    expect(sender.status(id)).toMatchObject({ state: 'failed', items: 2 });
    sender.retry(id);
    await until(() => sender.status(id).state === 'synced');
    expect(sink.calls.map((c) => (JSON.parse(c.body) as { kind: string }).kind).slice(2)).toEqual(['report', 'addendum']);
  });

  it('shows offline while the hub is unreachable and online again when it answers', async () => {
    const ws = workstation();
    const id = ws.sign();
    const sink = scriptedSink([{ kind: 'unavailable', status: null, message: 'ECONNREFUSED' }]);
    sink.up = false;
    const sender = makeSender(ws, sink);
    const online: boolean[] = [];
    sender.events.on('online', (o) => online.push(o));
    sender.start();
    await until(() => online.includes(false));
    expect(sender.online).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    // Offline: the sender probes the health route, it does not hammer the ingest route.
    expect(sink.calls).toHaveLength(1);
    sink.up = true;
    await until(() => sender.status(id).state === 'synced');
    expect(sender.online).toBe(true);
    expect(online).toEqual([false, true]);
  });


  it('with nothing to send, keeps probing an unreachable hub (also after wake or resume) and shows online when it answers', async () => {
    const ws = workstation();
    const sink = scriptedSink([]);
    sink.up = false;
    const sender = makeSender(ws, sink);
    const online: boolean[] = [];
    sender.events.on('online', (o) => online.push(o));
    sender.start();
    await until(() => sender.online === false);
    // A log in (resume) or a signature elsewhere (wake) resets the backoff while still offline.
    sender.resume();
    sender.wake();
    await new Promise((r) => setTimeout(r, 60));
    expect(sender.online).toBe(false);
    sink.up = true;
    await until(() => sender.online === true);
    expect(online).toEqual([false, true]);
    expect(sink.calls).toHaveLength(0);
  });
  it('raises critical-undelivered for a critical or urgent report not on the hub 60 s after signing, until the phone call is recorded', async () => {
    const clock = testClock();
    const ws = workstation({ now: () => new Date(clock.now()) });
    const critical = ws.sign({ alert: 'critical' });
    const urgent = ws.sign({ alert: 'urgent' });
    const routine = ws.sign({ alert: 'none' });
    const cancer = ws.sign({ alert: 'cancer' });
    const sink = scriptedSink([]);
    sink.postSigned = async () => ({ kind: 'unavailable', status: null, message: 'ECONNREFUSED' });
    sink.up = false;
    const sender = makeSender(ws, sink, clock);
    const warnings: CriticalWarning[] = [];
    const resolved: { reportId: string; how: string }[] = [];
    sender.events.on('critical-undelivered', (w) => warnings.push(w));
    sender.events.on('critical-resolved', (r) => resolved.push(r));
    sender.start();
    await new Promise((r) => setTimeout(r, 60));
    expect(warnings).toEqual([]);
    clock.advance(59_000);
    expect(sender.checkCritical()).toEqual([]);
    clock.advance(1_500);
    await until(() => warnings.length === 2);
    expect(warnings.map((w) => [w.reportId, w.alertCode]).sort()).toEqual([[critical, 'critical'], [urgent, 'urgent']].sort());
    expect(warnings[0]!.message).toMatch(/Phone the finding/);
    expect(sender.criticalUndelivered().map((w) => w.reportId)).not.toContain(routine);
    expect(sender.criticalUndelivered().map((w) => w.reportId)).not.toContain(cancer);
    // Emitted once per report, not on every check.
    await new Promise((r) => setTimeout(r, 80));
    expect(warnings).toHaveLength(2);

    // Bad input is refused with a clear message; nothing is recorded.
    expect(() => sender.recordPhoneCommunication(critical, { clinician: ' ', role: 'ED registrar', time: new Date().toISOString() })).toThrow(/clinician: Who was phoned/);
    expect(() => sender.recordPhoneCommunication(critical, { clinician: 'Dr X', role: 'ED registrar', time: 'yesterday-ish' })).toThrow(/time must be an ISO date-time/);
    expect(() => sender.recordPhoneCommunication('no-such-report', { clinician: 'Dr X', role: 'r', time: new Date().toISOString() })).toThrow(/No signed report/);
    expect(new SqlitePhoneLog(ws.db).forReport(critical)).toEqual([]);

    const rec = sender.recordPhoneCommunication(critical, { clinician: 'Dr Rose Tyler', role: 'ED consultant', time: new Date(clock.now()).toISOString(), note: 'read back' });
    expect(rec).toMatchObject({ reportId: critical, clinician: 'Dr Rose Tyler', recordedBy: ws.profile.name });
    expect(resolved).toContainEqual({ reportId: critical, how: 'phoned' });
    expect(sender.criticalUndelivered().map((w) => w.reportId)).toEqual([urgent]);
    // The record is append-only.
    expect(() => ws.db.prepare('DELETE FROM sync_phone_communications').run()).toThrow(/append-only/);

    // Delivery also resolves the warning.
    sink.postSigned = async (key) => ({ kind: 'accepted', status: 201, receipt: key, replayed: false });
    sink.up = true;
    sender.wake();
    await until(() => resolved.some((r) => r.reportId === urgent));
    expect(resolved).toContainEqual({ reportId: urgent, how: 'delivered' });
    expect(sender.criticalUndelivered()).toEqual([]);
  });

  it('also warns for a critical report whose delivery failed for good', async () => {
    const clock = testClock();
    const ws = workstation({ now: () => new Date(clock.now()) });
    const id = ws.sign({ alert: 'critical' });
    const sink = scriptedSink([{ kind: 'rejected', status: 422, code: 'signer-mismatch', message: 'not your signature' }]);
    const sender = makeSender(ws, sink, clock);
    sender.start();
    await until(() => sender.status(id).state === 'failed');
    clock.advance(61_000);
    const [w] = sender.checkCritical();
    expect(w).toMatchObject({ reportId: id, alertCode: 'critical' });
    expect(w!.message).toMatch(/delivery failed: Not delivered: .*The hub refused this report \(422 signer-mismatch\)/);
  });

  describe('the wall clock set back or forward by an hour after signing (issue 8 finding 6)', () => {
    const unreachable = (): ReturnType<typeof scriptedSink> => {
      const sink = scriptedSink([]);
      sink.postSigned = async () => ({ kind: 'unavailable', status: null, message: 'ECONNREFUSED' });
      sink.up = false;
      return sink;
    };

    it('set back: the warning still comes 60 s after signing, not an hour late', async () => {
      const clock = testClock();
      const ws = workstation({ now: () => new Date(clock.now()) });
      const id = ws.sign({ alert: 'critical' });
      const sender = makeSender(ws, unreachable(), clock);
      const warnings: CriticalWarning[] = [];
      sender.events.on('critical-undelivered', (w) => warnings.push(w));
      sender.start();
      await new Promise((r) => setTimeout(r, 60));
      clock.jump(-3_600_000);
      clock.advance(59_000);
      expect(sender.checkCritical()).toEqual([]);
      clock.advance(1_500);
      await until(() => warnings.length === 1);
      expect(warnings[0]).toMatchObject({ reportId: id, alertCode: 'critical' });
      expect(warnings[0]!.undeliveredForMs).toBeGreaterThanOrEqual(60_000);
      expect(warnings[0]!.undeliveredForMs).toBeLessThan(120_000);
    });

    it('set forward: no warning before 60 s have passed, then the warning', async () => {
      const clock = testClock();
      const ws = workstation({ now: () => new Date(clock.now()) });
      const id = ws.sign({ alert: 'urgent' });
      const sender = makeSender(ws, unreachable(), clock);
      sender.start();
      await new Promise((r) => setTimeout(r, 60));
      clock.jump(3_600_000);
      await new Promise((r) => setTimeout(r, 60));
      expect(sender.checkCritical()).toEqual([]);
      clock.advance(61_000);
      expect(sender.checkCritical().map((w) => w.reportId)).toEqual([id]);
    });

    it('set back: a report waiting for its retry goes when the hub is back, not an hour later', async () => {
      const clock = testClock();
      const ws = workstation({ now: () => new Date(clock.now()) });
      const id = ws.sign();
      const sink = scriptedSink([{ kind: 'unavailable', status: 503, message: 'restarting' }]);
      // Without the clamp the row's next attempt (a few ms ahead before the jump) is an hour ahead after it.
      const sender = makeSender(ws, sink, clock, { capDelayMs: 40, baseDelayMs: 40 });
      sender.start();
      await until(() => sink.calls.length === 1);
      clock.jump(-3_600_000);
      await until(() => sender.status(id).state === 'synced', 5_000);
      expect(sink.calls.length).toBe(2);
    });
  });

  it('stop() lets the request in flight finish and records its outcome', async () => {
    const ws = workstation();
    const id = ws.sign();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink = scriptedSink([]);
    const inner = sink.postSigned.bind(sink);
    sink.postSigned = async (key, body) => {
      await gate;
      return inner(key, body);
    };
    const sender = makeSender(ws, sink);
    sender.start();
    await until(() => sink.calls.length === 0 && (sender as unknown as { inFlight: unknown }).inFlight !== null);
    const stopped = sender.stop();
    release();
    await stopped;
    expect(sender.status(id).state).toBe('synced');
  });

  it('a row that becomes synced is never downgraded by a late failure from another sender', () => {
    const ws = workstation();
    const id = ws.sign();
    const store = new SqliteOutboxStore(ws.db);
    const row = store.forReport(id)[0]!;
    store.markSynced(row.id, 'r1', new Date().toISOString());
    store.markAttempt(row.id, 'late timeout', new Date().toISOString(), true);
    store.markSynced(row.id, 'r2', new Date().toISOString());
    expect(store.forReport(id)[0]).toMatchObject({ state: 'synced', hubReceipt: 'r1', lastError: null });
  });
});

describe('OutboxSender with HubClient against the fake hub', () => {
  let hub: FakeHub;
  afterEach(async () => {
    await hub.close();
  });

  it('logs in, delivers, and a replay of the same key is recorded as synced', async () => {
    hub = await startFakeHub();
    const ws = workstation();
    const id = ws.sign();
    const client = new HubClient({ baseUrl: hub.url, timeoutMs: 2000 });
    const sender = makeSender(ws, client);
    sender.start();
    await until(() => sender.loginRequired !== null);
    expect(sender.status(id).reason).toMatch(/login required: Log in first/);
    await client.login('ada', 'pw');
    sender.resume();
    await until(() => sender.status(id).state === 'synced');
    const row = new SqliteOutboxStore(ws.db).forReport(id)[0]!;
    // A second delivery of the same row (e.g. after a crash before markSynced) is a replay.
    const again = await client.postSigned(row.idempotencyKey, row.payloadJson);
    expect(again).toMatchObject({ kind: 'accepted', replayed: true, receipt: row.hubReceipt });
    expect(hub.stored.get(id)).toHaveLength(1);
  });
});
