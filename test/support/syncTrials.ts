// The exactly-once harness shared by test/main/sync/exactlyOnce.test.ts and
// bench/sync-faults.bench.ts. Each trial signs real reports (and sometimes an addendum) in the
// workstation's SQLite database through ReportStore, lets the OutboxSender deliver them to a real
// hub through the fault proxy (dropped requests and responses, delays past the client timeout,
// injected 500s, duplicate deliveries), sometimes restarts the hub or kills the sender mid-send
// (the killed instance never writes again; a new one starts on the same database), waits until
// every outbox row is synced, and then counts what the hub holds for the trial's reports.
// Invariants: exactly one stored report per signed report with the same content hash, exactly
// the addenda signed, exactly one `report-signed` event per record; every outbox row synced.
import crypto from 'node:crypto';
import type { Db } from '../../main/db/database.ts';
import type { SyncClock } from '../../main/sync/clock.ts';
import { realClock } from '../../main/sync/clock.ts';
import { HubClient, type SignedReportSink } from '../../main/sync/HubClient.ts';
import { OutboxSender } from '../../main/sync/OutboxSender.ts';
import { SqliteOutboxStore, type OutboxEntry, type OutboxStore } from '../../main/sync/OutboxStore.ts';
import { SqlitePhoneLog } from '../../main/sync/PhoneLog.ts';
import { mulberry32, startFaultProxy, type Fault, type FaultKind, type FaultProxy } from './faultProxy.ts';
import type { Workstation } from './syncWorkstation.ts';

/** What the harness needs from a running hub. */
export interface TrialHub {
  /** Base URL of the running instance (stable across restarts). */
  readonly url: string;
  /** Stop and start the hub again on the same database and port. */
  restart(): Promise<void>;
  /** What the hub stores for these reports. */
  counts(reportIds: readonly string[]): Promise<Map<string, HubCounts>>;
  /** Creates (if needed) and logs in the workstation's user; returns a session token. */
  login(client: HubClient): Promise<void>;
}

export interface HubCounts {
  reports: number;
  contentHashes: string[];
  addenda: number;
  events: number;
}

export interface TrialOptions {
  trials: number;
  seed: number;
  ws: Workstation;
  hub: TrialHub;
  /** Probability per trial of a hub restart and of a sender kill mid-send. */
  restartRate?: number;
  killRate?: number;
  /** Fault weights at the proxy (ingest requests only). */
  weights?: Partial<Record<FaultKind, number>>;
  /** Client timeout; delays up to `maxDelayMs` can exceed it (the hub stores, the client gives up). */
  timeoutMs?: number;
  maxDelayMs?: number;
  /** A trial that has not converged after this long counts its unsynced reports as missing. */
  trialDeadlineMs?: number;
  log?: (line: string) => void;
  /** Negative controls only: replaces the sender's view of the hub (e.g. a sink that loses reports). */
  wrapSink?: (client: HubClient) => SignedReportSink;
}

export interface TrialResult {
  trials: number;
  seed: number;
  reports: number;
  addenda: number;
  /** Signed records the hub holds more than once (or with a second event). */
  duplicates: number;
  /** Signed records the hub does not hold after the trial converged (or timed out). */
  missing: number;
  /** Outbox rows not synced at the end (pending or failed). */
  unsynced: number;
  failedRows: { reportId: string; error: string | null }[];
  hashMismatches: number;
  restarts: number;
  kills: number;
  faults: Record<FaultKind, number>;
  deliveries: number;
  ms: number;
  problems: string[];
}

/** An OutboxStore that dies: after `kill()` every call throws, as if the process had ended. */
export class KillableStore implements OutboxStore {
  private dead = false;
  constructor(private readonly inner: OutboxStore) {}
  kill(): void {
    this.dead = true;
  }
  private check(): void {
    if (this.dead) throw new Error('killed: this sender instance no longer exists');
  }
  due(nowIso: string, limit: number): OutboxEntry[] {
    this.check();
    return this.inner.due(nowIso, limit);
  }
  nextDue(): { pending: number; nextAttemptAt: string | null } {
    this.check();
    return this.inner.nextDue();
  }
  markSynced(id: number, receipt: string, atIso: string): void {
    this.check();
    this.inner.markSynced(id, receipt, atIso);
  }
  markAttempt(id: number, error: string, nextAttemptAt: string, failed: boolean): void {
    this.check();
    this.inner.markAttempt(id, error, nextAttemptAt, failed);
  }
  forReport(reportId: string): OutboxEntry[] {
    this.check();
    return this.inner.forReport(reportId);
  }
  unsynced(): OutboxEntry[] {
    this.check();
    return this.inner.unsynced();
  }
  retry(reportId: string, nowIso: string): number {
    this.check();
    return this.inner.retry(reportId, nowIso);
  }
  duePendingNow(nowIso: string, laterThanIso?: string): number {
    this.check();
    return this.inner.duePendingNow(nowIso, laterThanIso);
  }
}

interface SenderInstance {
  sender: OutboxSender;
  store: KillableStore;
  client: HubClient;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runTrials(opts: TrialOptions): Promise<TrialResult> {
  const started = Date.now();
  const log = opts.log ?? (() => undefined);
  const rnd = mulberry32(opts.seed ^ 0x9e3779b9);
  const restartRate = opts.restartRate ?? 0.03;
  const killRate = opts.killRate ?? 0.05;
  const timeoutMs = opts.timeoutMs ?? 150;
  const deadline = opts.trialDeadlineMs ?? 15_000;
  const db: Db = opts.ws.db;
  const problems: string[] = [];
  let restarts = 0;
  let kills = 0;

  // Per-trial plans, consulted by the proxy hooks.
  let plan: { restartAt: number | null; killAt: number | null; killWhen: 'before' | 'after'; ingestSeen: number } = {
    restartAt: null,
    killAt: null,
    killWhen: 'after',
    ingestSeen: 0,
  };
  let current: SenderInstance | null = null;
  let token: string | null = null;
  let restarting: Promise<void> | null = null;

  const isIngest = (method: string, url: string): boolean => method === 'POST' && url.startsWith('/api/ingest');
  const proxy: FaultProxy = await startFaultProxy({
    target: opts.hub.url,
    seed: opts.seed,
    announce: false,
    maxDelayMs: opts.maxDelayMs ?? 200,
    weights: opts.weights ?? { pass: 45, 'drop-request': 10, 'drop-response': 12, delay: 13, 'error-500': 10, duplicate: 10 },
    faultable: isIngest,
    beforeForward: async (req, _fault: Fault) => {
      plan.ingestSeen += 1;
      if (plan.restartAt === plan.ingestSeen) {
        plan.restartAt = null;
        restarts += 1;
        // Not awaited: the request races the restart (it may hit the closing or the new hub).
        restarting = opts.hub.restart().finally(() => {
          restarting = null;
        });
      }
      if (plan.killAt === plan.ingestSeen && plan.killWhen === 'before') {
        plan.killAt = null;
        kill();
      }
      void req;
    },
    afterForward: async () => {
      if (plan.killAt !== null && plan.killAt <= plan.ingestSeen && plan.killWhen === 'after') {
        // The hub has processed the request; the sender dies before it hears the answer.
        plan.killAt = null;
        kill();
      }
    },
  });

  const clock: SyncClock = realClock;
  const newSender = (): SenderInstance => {
    const client = new HubClient({ baseUrl: proxy.url, timeoutMs, token });
    const store = new KillableStore(new SqliteOutboxStore(db));
    const sender = new OutboxSender({
      store,
      hub: opts.wrapSink ? opts.wrapSink(client) : client,
      phoneLog: new SqlitePhoneLog(db),
      clock,
      baseDelayMs: 1,
      capDelayMs: 20,
      pollMs: 25,
      probeMs: 10,
      criticalCheckMs: 60_000,
    });
    sender.events.on('sender-error', (err) => {
      if (!/killed/.test(err.message)) problems.push(`sender error: ${err.message}`);
    });
    sender.events.on('login-required', () => {
      // A restarted hub keeps its sessions (same database); a 401 would be a real problem.
      problems.push('login required during trials');
      void (async () => {
        await opts.hub.login(client);
        token = client.token;
        sender.resume();
      })();
    });
    sender.start();
    return { sender, store, client };
  };

  function kill(): void {
    if (!current) return;
    kills += 1;
    const dying = current;
    dying.store.kill();
    void dying.sender.stop({ drainMs: 0 }).catch(() => undefined);
    // The process restarts: a new sender instance on the same database, same saved session.
    current = newSender();
  }

  {
    const c = new HubClient({ baseUrl: opts.hub.url, timeoutMs: 5000 });
    await opts.hub.login(c);
    token = c.token;
  }
  current = newSender();

  const outbox = new SqliteOutboxStore(db);
  const countUnsynced = db.prepare<[], { n: number; failed: number }>(
    `SELECT count(*) AS n, coalesce(sum(state = 'failed'), 0) AS failed FROM outbox WHERE state <> 'synced'`,
  );
  let reports = 0;
  let addenda = 0;
  let duplicates = 0;
  let missing = 0;
  let hashMismatches = 0;

  for (let t = 0; t < opts.trials; t++) {
    const nReports = rnd() < 0.7 ? 1 : 2;
    const withAddendum = rnd() < 0.25;
    const restartThis = rnd() < restartRate;
    const killThis = rnd() < killRate;
    plan = {
      restartAt: restartThis ? 1 + Math.floor(rnd() * 2) : null,
      killAt: killThis ? 1 + Math.floor(rnd() * 2) : null,
      killWhen: rnd() < 0.5 ? 'before' : 'after',
      ingestSeen: 0,
    };
    const ids: string[] = [];
    const expectedAddenda = new Map<string, number>();
    for (let i = 0; i < nReports; i++) {
      const id = opts.ws.sign({ alert: rnd() < 0.1 ? 'urgent' : 'none' });
      ids.push(id);
      expectedAddenda.set(id, 0);
      reports += 1;
    }
    if (withAddendum) {
      const target = ids[0]!;
      opts.ws.addendum(target, `Addendum ${t}: ${crypto.randomUUID()}`);
      expectedAddenda.set(target, 1);
      addenda += 1;
    }
    current.sender.wake();

    const until = Date.now() + deadline;
    for (;;) {
      const u = countUnsynced.get();
      if (!u || u.n === 0) break;
      if (u.failed > 0 || Date.now() > until) break;
      await sleep(1);
    }
    if (restarting) await restarting;

    const counts = await opts.hub.counts(ids);
    for (const id of ids) {
      const c = counts.get(id) ?? { reports: 0, contentHashes: [], addenda: 0, events: 0 };
      const local = outbox.forReport(id);
      const localHash = (JSON.parse(local[0]!.payloadJson) as { report: { signature: { contentHash: string } } }).report.signature.contentHash;
      const wantAddenda = expectedAddenda.get(id) ?? 0;
      if (c.reports === 0) {
        missing += 1;
        problems.push(`trial ${t}: report ${id} missing on the hub (outbox: ${local.map((r) => `${r.state}/${r.attempts}/${r.lastError ?? ''}`).join(', ')})`);
      }
      if (c.reports > 1) duplicates += c.reports - 1;
      if (c.addenda < wantAddenda) {
        missing += wantAddenda - c.addenda;
        problems.push(`trial ${t}: addendum of ${id} missing on the hub`);
      }
      if (c.addenda > wantAddenda) duplicates += c.addenda - wantAddenda;
      const wantEvents = (c.reports > 0 ? 1 : 0) + Math.min(c.addenda, wantAddenda);
      if (c.events > wantEvents) {
        duplicates += c.events - wantEvents;
        problems.push(`trial ${t}: ${c.events} report-signed events for ${id}, expected ${wantEvents}`);
      }
      if (c.contentHashes.some((h) => h !== localHash)) {
        hashMismatches += 1;
        problems.push(`trial ${t}: ${id} stored with another content hash`);
      }
    }
    if ((t + 1) % 250 === 0) log(`trials ${t + 1}/${opts.trials}: duplicates ${duplicates}, missing ${missing}, restarts ${restarts}, kills ${kills}`);
  }

  await current.sender.stop();
  const remaining = outbox.unsynced();
  await proxy.close();
  return {
    trials: opts.trials,
    seed: opts.seed,
    reports,
    addenda,
    duplicates,
    missing,
    unsynced: remaining.length,
    failedRows: remaining.filter((r) => r.state === 'failed').map((r) => ({ reportId: r.reportId, error: r.lastError })),
    hashMismatches,
    restarts,
    kills,
    faults: { ...proxy.stats },
    deliveries: proxy.deliveries,
    ms: Date.now() - started,
    problems,
  };
}

/**
 * Several workstations (each its own SQLite database, sender and fault proxy) running trials at
 * once against the same hub; a restart planned by one lane hits every lane's requests in flight.
 */
export async function runTrialsParallel(
  opts: Omit<TrialOptions, 'ws'> & { workstations: readonly Workstation[] },
): Promise<TrialResult> {
  const lanes = opts.workstations.length;
  const per = Math.floor(opts.trials / lanes);
  const results = await Promise.all(
    opts.workstations.map((ws, i) =>
      runTrials({ ...opts, ws, seed: (opts.seed + i * 0x9e3779b1) >>> 0, trials: i === 0 ? opts.trials - per * (lanes - 1) : per, log: i === 0 ? opts.log : undefined }),
    ),
  );
  const faults = { pass: 0, 'drop-request': 0, 'drop-response': 0, delay: 0, 'error-500': 0, duplicate: 0 } as Record<FaultKind, number>;
  for (const r of results) for (const k of Object.keys(faults) as FaultKind[]) faults[k] += r.faults[k];
  const sum = (f: (r: TrialResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  return {
    trials: sum((r) => r.trials),
    seed: opts.seed,
    reports: sum((r) => r.reports),
    addenda: sum((r) => r.addenda),
    duplicates: sum((r) => r.duplicates),
    missing: sum((r) => r.missing),
    unsynced: sum((r) => r.unsynced),
    failedRows: results.flatMap((r) => r.failedRows),
    hashMismatches: sum((r) => r.hashMismatches),
    restarts: sum((r) => r.restarts),
    kills: sum((r) => r.kills),
    faults,
    deliveries: sum((r) => r.deliveries),
    ms: Math.max(...results.map((r) => r.ms)),
    problems: results.flatMap((r, i) => r.problems.map((p) => `lane ${i}: ${p}`)),
  };
}
