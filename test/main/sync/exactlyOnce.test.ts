// Exactly-once delivery of signed reports, proven by randomised trials through the fault proxy
// against the real hub (server/app.ts): dropped requests, dropped responses, delays beyond the
// client timeout, injected 500s, duplicate (concurrent and sequential) deliveries, hub restarts
// and workstation senders killed mid-send. 1,000 trials on PGlite and 200 on PostgreSQL must end
// with 0 duplicates, 0 missing and every outbox row synced. Two negative controls show the
// harness catches a hub without idempotency (duplicates) and a sender that treats silence as
// success (loss). The seed is printed; FAULT_SEED=<seed> reruns the same faults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubDb } from '../../../server/db/adapter.ts';
import type { SignedReportSink } from '../../../main/sync/HubClient.ts';
import { chooseSeed } from '../../support/faultProxy.ts';
import { startFakeHub, type FakeHub } from '../../support/fakeHub.ts';
import { openTrialDb, startRealTrialHub, type RealTrialHub } from '../../support/realHub.ts';
import { runTrials, runTrialsParallel, type TrialHub, type TrialResult } from '../../support/syncTrials.ts';
import { RADIOLOGIST, workstation } from '../../support/syncWorkstation.ts';

const seed = chooseSeed();
console.log(`exactlyOnce: seed=${seed} (rerun with FAULT_SEED=${seed})`);

function summary(r: TrialResult): string {
  return `${r.trials} trials (${r.reports} reports, ${r.addenda} addenda), seed ${r.seed}: duplicates ${r.duplicates}, missing ${r.missing}, unsynced ${r.unsynced}, ` +
    `restarts ${r.restarts}, kills ${r.kills}, deliveries ${r.deliveries}, faults ${JSON.stringify(r.faults)}, ${(r.ms / 1000).toFixed(1)} s`;
}

function expectExactlyOnce(r: TrialResult): void {
  console.log(summary(r));
  if (r.problems.length > 0) console.log(r.problems.slice(0, 20).join('\n'));
  expect(r.problems).toEqual([]);
  expect(r.duplicates).toBe(0);
  expect(r.missing).toBe(0);
  expect(r.hashMismatches).toBe(0);
  expect(r.unsynced).toBe(0);
  expect(r.failedRows).toEqual([]);
  // The faults really happened.
  expect(r.faults['drop-request']).toBeGreaterThan(0);
  expect(r.faults['drop-response']).toBeGreaterThan(0);
  expect(r.faults.duplicate).toBeGreaterThan(0);
  expect(r.faults['error-500']).toBeGreaterThan(0);
  expect(r.faults.delay).toBeGreaterThan(0);
  expect(r.restarts).toBeGreaterThan(0);
  expect(r.kills).toBeGreaterThan(0);
}

describe('exactly-once through the fault proxy, real hub on PGlite', () => {
  let db: HubDb;
  let drop: () => Promise<void>;
  let hub: RealTrialHub;
  beforeAll(async () => {
    ({ db, drop } = await openTrialDb('pglite'));
    hub = await startRealTrialHub(db, { ...RADIOLOGIST, username: 'ada' });
  });
  afterAll(async () => {
    await hub?.close();
    await drop?.();
  });

  it('1,000 randomised trials from two workstations, with restarts and kills: 0 duplicates, 0 missing, every outbox row synced', async () => {
    const workstations = [workstation({ memoryBacked: true }), workstation({ memoryBacked: true })];
    const r = await runTrialsParallel({ trials: 1000, seed, workstations, hub, log: console.log });
    expectExactlyOnce(r);
    expect(r.trials).toBe(1000);
    expect(r.reports).toBeGreaterThanOrEqual(1000);
    // Every report either workstation signed is on the hub, once, and every outbox row is synced.
    const all = workstations.flatMap((ws) => ws.db.prepare<[], { report_id: string }>(`SELECT DISTINCT report_id FROM outbox`).all().map((x) => x.report_id));
    expect(all.length).toBe(r.reports);
    const counts = await hub.counts(all);
    expect([...counts.values()].filter((c) => c.reports !== 1)).toEqual([]);
    for (const ws of workstations) expect(ws.db.prepare(`SELECT count(*) AS n FROM outbox WHERE state <> 'synced'`).get()).toEqual({ n: 0 });
  }, 240_000);
});

describe('exactly-once through the fault proxy, real hub on PostgreSQL', () => {
  let drop: () => Promise<void>;
  let hub: RealTrialHub;
  beforeAll(async () => {
    const opened = await openTrialDb('postgres');
    drop = opened.drop;
    hub = await startRealTrialHub(opened.db, { ...RADIOLOGIST, username: 'ada' });
  });
  afterAll(async () => {
    await hub?.close();
    await drop?.();
  });

  it('200 randomised trials with restarts and kills: 0 duplicates, 0 missing, every outbox row synced', async () => {
    const ws = workstation({ memoryBacked: true });
    const r = await runTrials({ trials: 200, seed: (seed ^ 0x5eed) >>> 0, ws, hub, restartRate: 0.05, killRate: 0.08 });
    expectExactlyOnce(r);
  }, 120_000);
});

describe('the trials catch what they claim to catch (negative controls, fake hub)', () => {
  let fake: FakeHub;
  afterAll(async () => {
    await fake?.close();
  });

  const asTrialHub = (f: FakeHub): TrialHub => ({
    url: f.url,
    restart: () => f.restart(),
    login: async (c) => {
      await c.login('ada', 'pw');
    },
    counts: async (ids) =>
      new Map(
        ids.map((id) => {
          const s = f.stored.get(id) ?? [];
          return [id, { reports: s.filter((x) => x.kind === 'report').length, contentHashes: [], addenda: s.filter((x) => x.kind === 'addendum').length, events: f.eventCount(id) }];
        }),
      ),
  });

  it('a hub that ignores the Idempotency-Key shows up as duplicates', async () => {
    fake = await startFakeHub({ idempotency: false });
    const r = await runTrials({ trials: 60, seed, ws: workstation(), hub: asTrialHub(fake), weights: { pass: 1, 'drop-response': 1, duplicate: 1 } });
    console.log(`control (no idempotency): ${summary(r)}`);
    expect(r.duplicates).toBeGreaterThan(0);
    await fake.close();
  }, 60_000);

  it('a sender that treats "no answer" as delivered shows up as missing reports', async () => {
    fake = await startFakeHub();
    const lossy = (client: SignedReportSink): SignedReportSink => ({
      ping: (s) => client.ping(s),
      async postSigned(key, body, signal) {
        const out = await client.postSigned(key, body, signal);
        return out.kind === 'unavailable' && out.status === null ? { kind: 'accepted', status: 201, receipt: 'assumed', replayed: false } : out;
      },
    });
    const r = await runTrials({ trials: 60, seed, ws: workstation(), hub: asTrialHub(fake), weights: { pass: 1, 'drop-request': 1 }, wrapSink: lossy, trialDeadlineMs: 2000 });
    console.log(`control (lossy sender): ${summary(r)}`);
    expect(r.missing).toBeGreaterThan(0);
    await fake.close();
  }, 60_000);
});
