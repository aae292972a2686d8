// The hub client's classification of answers, its timeouts, and the live-update
// subscription's reconnect with catch-up (against the fake hub; the real hub is exercised by the
// exactly-once trials). The event-stream parser is common/sse.ts's (test/common/sse.test.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { HubEvent } from '../../../common/hub.ts';
import { HubClient, HubError } from '../../../main/sync/HubClient.ts';
import { startFakeHub, type FakeHub } from '../../support/fakeHub.ts';
import { until } from '../../support/until.ts';


let hub: FakeHub;
const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
  await hub?.close();
});

async function loggedIn(): Promise<HubClient> {
  hub = await startFakeHub();
  const client = new HubClient({ baseUrl: hub.url, timeoutMs: 2000 });
  await client.login('ada', 'pw');
  return client;
}

const body = (id: string): string => JSON.stringify({ kind: 'report', report: { id } });

describe('HubClient.postSigned', () => {
  it('classifies answers: stored, replayed, key reused (final), key in flight (retry), 5xx (retry), 401', async () => {
    const client = await loggedIn();
    const first = await client.postSigned('key-00000001', body('r1'));
    expect(first).toMatchObject({ kind: 'accepted', status: 201, replayed: false });
    const replay = await client.postSigned('key-00000001', body('r1'));
    expect(replay).toEqual({ ...first, replayed: true });
    expect(await client.postSigned('key-00000001', body('r2'))).toEqual({
      kind: 'rejected',
      status: 422,
      code: 'idempotency-key-reused',
      message: 'This Idempotency-Key was used with a different body.',
    });
    hub.script.push({ status: 409, code: 'idempotency-key-in-flight', message: 'busy' });
    expect(await client.postSigned('key-00000002', body('r3'))).toMatchObject({ kind: 'unavailable', status: 409 });
    hub.script.push({ status: 409, code: 'report-conflict', message: 'a different report' });
    expect(await client.postSigned('key-00000003', body('r3'))).toMatchObject({ kind: 'rejected', status: 409, code: 'report-conflict' });
    hub.script.push({ status: 503, code: 'internal', message: 'db down' });
    expect(await client.postSigned('key-00000004', body('r4'))).toMatchObject({ kind: 'unavailable', status: 503 });
    hub.expireSessions();
    expect(await client.postSigned('key-00000005', body('r5'))).toEqual({ kind: 'unauthorized', message: 'Log in first.' });
  });

  it('reports an unreachable hub and a silent hub as unavailable, within the timeout', async () => {
    hub = await startFakeHub();
    const url = hub.url;
    await hub.close();
    const gone = new HubClient({ baseUrl: url, timeoutMs: 500 });
    expect(await gone.postSigned('key-00000001', '{}')).toMatchObject({ kind: 'unavailable', status: null });
    expect(await gone.ping()).toBe(false);

    const silent = http.createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => {
      silent.closeAllConnections();
      silent.close(() => r());
    }));
    const c = new HubClient({ baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 150 });
    const t0 = Date.now();
    const out = await c.postSigned('key-00000001', '{}');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(out).toEqual({ kind: 'unavailable', status: null, message: 'no answer within 150 ms' });
    await expect(c.unfinished()).rejects.toMatchObject({ name: 'HubError', status: null, code: 'timeout' });
  });

  it('gives typed errors with the hub code; wrong password is 401 unauthenticated', async () => {
    hub = await startFakeHub();
    const client = new HubClient({ baseUrl: hub.url });
    const err = await client.login('ada', 'wrong').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err).toMatchObject({ status: 401, code: 'unauthenticated', message: 'Wrong username or password.', retryable: false });
    await expect(client.health()).resolves.toMatchObject({ ok: true });
  });

  it('refuses an answer that does not match the contract', async () => {
    const odd = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":"yes"}');
    });
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => odd.close(() => r())));
    hub = await startFakeHub();
    const c = new HubClient({ baseUrl: `http://127.0.0.1:${(odd.address() as AddressInfo).port}` });
    await expect(c.health()).rejects.toMatchObject({ code: 'invalid-response' });
  });
});

describe('HubClient.subscribe', () => {
  it('delivers live events, reconnects after the stream drops and catches up without gaps or repeats', async () => {
    const client = await loggedIn();
    const got: HubEvent[] = [];
    const connections: boolean[] = [];
    const sub = client.subscribe(
      { onEvent: (e) => got.push(e), onConnection: (c) => connections.push(c) },
      { baseDelayMs: 10, capDelayMs: 50 },
    );
    closers.push(() => sub.close());
    await until(() => sub.connected);
    const ev = (reportId: string): Omit<HubEvent, 'seq' | 'at'> => ({ type: 'unfinished-changed', reportId, reason: 'snapshot' }) as Omit<HubEvent, 'seq' | 'at'>;
    hub.emit(ev('a'));
    hub.emit(ev('b'));
    await until(() => got.length === 2);
    hub.dropStreams();
    // Events while disconnected are caught up on reconnect.
    hub.emit(ev('c'));
    hub.emit(ev('d'));
    await until(() => got.length === 4);
    hub.emit(ev('e'));
    await until(() => got.length === 5);
    expect(got.map((e) => e.reportId)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(sub.lastSeq).toBe(5);
    expect(connections.slice(0, 3)).toEqual([true, false, true]);
  });

  it('stops and reports when the session is not valid', async () => {
    hub = await startFakeHub();
    const client = new HubClient({ baseUrl: hub.url });
    const unauthorized: string[] = [];
    const sub = client.subscribe({ onEvent: () => undefined, onUnauthorized: (m) => unauthorized.push(m) });
    closers.push(() => sub.close());
    await until(() => unauthorized.length === 1);
    expect(unauthorized).toEqual(['Log in first.']);
    expect(sub.connected).toBe(false);
  });
});
