// A signed report the hub refuses for good (issue 7, acceptance 9): shown as "Not delivered: <the
// hub's reason in words>", blocks nothing else, and is resent only when a change on the hub's side
// can lift the refusal (otherwise Retry says why it would be refused again). Table-driven over every
// permanent refusal of the contract, against the fake hub through the workstation's hub service.
// Also the delivery bugs found in wave 1: a 401 to a request sent before the latest login, a row
// waiting for another signer holding up the others, and an idle sender never noticing a dead hub.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../../common/contract.ts';
import { HUB_ERROR_CODES, isRetryableHubError } from '../../../common/hub.ts';
import { REFUSAL_MEANINGS } from '../../../common/refusal.ts';
import { WorkstationHub } from '../../../main/hub/WorkstationHub.ts';
import { realClock } from '../../../main/sync/clock.ts';
import type { SendOutcome, SignedReportSink } from '../../../main/sync/HubClient.ts';
import { OutboxSender } from '../../../main/sync/OutboxSender.ts';
import { SqliteOutboxStore } from '../../../main/sync/OutboxStore.ts';
import { SqlitePhoneLog } from '../../../main/sync/PhoneLog.ts';
import { TRAINER } from '../reports/fixtures.ts';
import { startFakeHub, type FakeHub } from '../../support/fakeHub.ts';
import { uniqueStudy, workstation, type Workstation } from '../../support/syncWorkstation.ts';
import { sleep, until } from '../../support/until.ts';

/** The HTTP status the hub gives each permanent refusal (server/: 4xx, never 401, never retried). */
const STATUS: Record<string, number> = {
  'report-conflict': 409,
  'addendum-conflict': 409,
  'invalid-transition': 409,
  'study-already-reported': 409,
  forbidden: 403,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'not-found': 404,
  'method-not-allowed': 405,
  'invalid-json': 400,
  'invalid-input': 400,
  'idempotency-key-missing': 400,
  'idempotency-key-invalid': 400,
};

/** Contract codes that are no permanent refusal of a signed delivery (login, retried, or drafts only). */
const NOT_A_DELIVERY_REFUSAL = new Set(['unauthenticated', 'session-expired', 'locked-out', 'idempotency-key-in-flight', 'original-not-synced', 'already-signed', 'draft-taken-over', 'already-owner', 'first-user-exists', 'internal']);

let hub: FakeHub;
beforeAll(async () => {
  hub = await startFakeHub();
});
afterAll(async () => {
  await hub.close();
});
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

function station(ws: Workstation): WorkstationHub {
  const h = new WorkstationHub({ baseUrl: hub.url, embedded: false, db: ws.db, reports: ws.store, timeoutMs: 2000, baseDelayMs: 20 });
  stops.push(() => h.stop());
  return h;
}

describe('every permanent refusal the hub can give', () => {
  it('is classified: each contract code is either a permanent refusal with words or named as not one', () => {
    for (const code of HUB_ERROR_CODES) {
      const classified = Object.hasOwn(REFUSAL_MEANINGS, code) || NOT_A_DELIVERY_REFUSAL.has(code);
      expect(classified, `${code} is not classified in common/refusal.ts`).toBe(true);
      if (Object.hasOwn(REFUSAL_MEANINGS, code)) expect(isRetryableHubError(STATUS[code] ?? 422, code)).toBe(false);
    }
  });

  for (const [code, meaning] of Object.entries(REFUSAL_MEANINGS)) {
    it(`${code}: "Not delivered: ${meaning.words}", the next report still goes, and Retry ${meaning.resendCanHelp ? 'resends' : 'says why it would fail again'}`, async () => {
      const ws = workstation();
      const refused = ws.sign();
      const next = ws.sign();
      const h = station(ws);
      await h.login('ada', 'pw');
      hub.script.push({ status: STATUS[code] ?? 422, code, message: `scripted ${code}` });
      h.start();
      await until(() => h.syncStatus(next).state === 'synced' && h.syncStatus(refused).state === 'failed');
      const status = h.syncStatus(refused);
      expect(status.reason).toContain(`Not delivered: ${meaning.words}.`);
      expect(status.reason).toContain(`(${STATUS[code] ?? 422} ${code}): scripted ${code}`);
      expect(h.status()).toMatchObject({ online: true, failed: 1, pending: 0 });
      const sent = hub.requests.length;
      if (meaning.resendCanHelp) {
        expect(status.reason).not.toMatch(/refused again/);
        h.retry(refused);
        await until(() => h.syncStatus(refused).state === 'synced');
        expect(hub.requests.length).toBe(sent + 1);
      } else {
        expect(status.reason).toMatch(meaning.correctionCanHelp === false ? /Resending it would be refused again\.$/ : /Resending it would be refused again: issue a corrected report\.$/);
        let err: unknown = null;
        try {
          h.retry(refused);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ContractError);
        expect(err).toMatchObject({ code: 'conflict', message: expect.stringContaining(`would be refused again: ${meaning.words}`) });
        await sleep(100);
        expect(hub.requests.length).toBe(sent);
        expect(h.syncStatus(refused).state).toBe('failed');
      }
    });
  }
});

describe('recovering from a refusal for good', () => {
  it('the corrected report is delivered with `replaces`; the refused one then reads as replaced', async () => {
    const ws = workstation();
    const refusedId = ws.sign();
    const h = station(ws);
    await h.login('ada', 'pw');
    hub.script.push({ status: 422, code: 'signoff-problems', message: 'The report fails the sign-off rules.' });
    h.start();
    await until(() => h.syncStatus(refusedId).state === 'failed');
    const draft = ws.store.correct(refusedId, ws.profile.name);
    const saved = ws.store.save(draft.id, draft.study, draft.content, draft.revision, ws.profile.name);
    ws.store.sign(draft.id, draft.study, saved.revision, ws.profile);
    h.signed(draft.id);
    await until(() => h.syncStatus(draft.id).state === 'synced');
    const body = JSON.parse(hub.stored.get(draft.id)![0]!.body) as { report: { replaces?: string } };
    expect(body.report.replaces).toBe(refusedId);
    expect(ws.store.get(refusedId, 'test').replacedBy?.reportId).toBe(draft.id);
    // The refused report stays refused (never resent), and says so.
    expect(h.syncStatus(refusedId).state).toBe('failed');
    expect(hub.stored.get(refusedId)).toBeUndefined();
  });

  it('an addendum refused for good holds up no later addendum of the same report', async () => {
    const ws = workstation();
    const id = ws.sign();
    const h = station(ws);
    await h.login('ada', 'pw');
    h.start();
    await until(() => h.syncStatus(id).state === 'synced');
    hub.script.push({ status: 422, code: 'original-hash-mismatch', message: 'scripted' });
    ws.addendum(id, 'First addendum.');
    h.signed(id);
    await until(() => h.syncStatus(id).state === 'failed');
    ws.addendum(id, 'Second addendum, written after the first was refused.');
    h.signed(id);
    await until(() => (hub.stored.get(id) ?? []).length === 2, 5000);
    expect((hub.stored.get(id) ?? []).map((r) => r.kind)).toEqual(['report', 'addendum']);
    expect(h.syncStatus(id)).toMatchObject({ state: 'failed', reason: expect.stringContaining('Not delivered: the addendum does not match') });
  });
});

describe('delivery while sessions change', () => {
  it('a row waiting for its signer to log in holds up nobody else and does not say the hub is offline', async () => {
    const ws = workstation({ profile: TRAINER });
    const grace = ws.sign();
    // Ada signs on the same workstation afterwards.
    ws.store.setProfile({ name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' });
    const study = uniqueStudy();
    const r = ws.store.open(study, { actor: 'Dr Ada Lovelace', modality: 'CT', description: 'CT HEAD' });
    const saved = ws.store.save(r.id, study, ws.store.get(grace, 'test').content, r.revision, 'Dr Ada Lovelace');
    ws.store.sign(r.id, study, saved.revision, { name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' });
    const h = station(ws);
    await h.login('ada', 'pw');
    const online: boolean[] = [];
    h.sender.events.on('online', (o) => online.push(o));
    h.start();
    await until(() => h.syncStatus(r.id).state === 'synced', 5000);
    // Never announced offline on the way (a waiting row is no unreachable hub).
    expect(online).not.toContain(false);
    expect(h.syncStatus(grace)).toMatchObject({ state: 'pending', reason: expect.stringContaining(`waiting for ${TRAINER.name}`) });
    expect(h.status().online).toBe(true);
    expect(h.sender.online).not.toBe(false);
  });
});

/** A sink whose first post waits for `release` and then answers the given outcome. */
function gatedSink(first: SendOutcome): SignedReportSink & { calls: number; up: boolean; release(): void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const startedP = new Promise<void>((r) => (started = r));
  const sink = {
    calls: 0,
    release: () => release(),
    started: startedP,
    up: true,
    async postSigned(key: string): Promise<SendOutcome> {
      sink.calls += 1;
      if (sink.calls === 1) {
        started();
        await gate;
        return first;
      }
      return { kind: 'accepted', status: 201, receipt: JSON.stringify({ ok: key }), replayed: false };
    },
    async ping() {
      return sink.up;
    },
  };
  return sink;
}

function sender(ws: Workstation, hubSink: SignedReportSink, pollMs = 50): OutboxSender {
  const s = new OutboxSender({
    store: new SqliteOutboxStore(ws.db),
    hub: hubSink,
    phoneLog: new SqlitePhoneLog(ws.db),
    clock: realClock,
    baseDelayMs: 5,
    capDelayMs: 40,
    pollMs,
    probeMs: 20,
    criticalCheckMs: 20,
  });
  stops.push(() => s.stop());
  return s;
}

describe('OutboxSender and logins', () => {
  it('a 401 to a request sent before the latest login pauses nothing: the row goes under the new session', async () => {
    const ws = workstation();
    const id = ws.sign();
    const sink = gatedSink({ kind: 'unauthorized', message: 'Log in first.' });
    const s = sender(ws, sink);
    s.start();
    await sink.started;
    // The user logs in while the request sent without a session is still out.
    s.resume();
    sink.release();
    await until(() => s.status(id).state === 'synced', 3000);
    expect(s.loginRequired).toBeNull();
    expect(sink.calls).toBe(2);
  });

  it('a 401 in the current session still pauses for a login', async () => {
    const ws = workstation();
    const id = ws.sign();
    const sink = gatedSink({ kind: 'unauthorized', message: 'Your session has expired.' });
    const s = sender(ws, sink);
    s.start();
    await sink.started;
    sink.release();
    await until(() => s.loginRequired !== null);
    await sleep(100);
    expect(sink.calls).toBe(1);
    expect(s.status(id).state).toBe('pending');
  });
});

describe('hub:status with a department hub, nobody logged in, nothing to send', () => {
  it('turns offline when that hub dies (the idle sender probes its health)', async () => {
    const own = await startFakeHub();
    const ws = workstation();
    const h = new WorkstationHub({ baseUrl: own.url, embedded: false, db: ws.db, reports: ws.store, timeoutMs: 500, baseDelayMs: 20, pollMs: 60 });
    stops.push(() => h.stop());
    const changes: boolean[] = [];
    h.events.on('event', (e) => {
      if (e.type === 'hub-changed') changes.push(e.online);
    });
    h.start();
    await until(() => h.status().online);
    await own.close();
    await until(() => !h.status().online, 5000);
    expect(changes.at(-1)).toBe(false);
    expect(h.status()).toMatchObject({ user: null, pending: 0, failed: 0 });
  });
});

describe('OutboxSender while idle', () => {
  it('with nothing to send, notices a hub that dies (health probe each poll) and one that comes back', async () => {
    const ws = workstation();
    const sink = gatedSink({ kind: 'accepted', status: 201, receipt: '{}', replayed: false });
    const s = sender(ws, sink, 40);
    const online: boolean[] = [];
    s.events.on('online', (o) => online.push(o));
    s.start();
    await until(() => s.online === true);
    sink.up = false;
    await until(() => s.online === false, 3000);
    sink.up = true;
    await until(() => s.online === true, 3000);
    expect(online).toEqual([true, false, true]);
    expect(sink.calls).toBe(0);
  });
});
