// The escalation scheduler (issue 9 line 4): every alert whose current rung's deadline has passed
// unacknowledged moves to the next rung of its ladder (common/alertDeadline.ts, stored on the
// alert when it was created), with an 'escalated' entry on its timeline and the new rung's
// notifications queued (failsafe_notify_rung, hub migration 8). Again at that rung's deadline,
// until the last rung, which has none and holds the alert until someone acknowledges it.
//
// Everything is in the database: the rung and its deadline (alerts.rung, alerts.next_due) and the
// timeline. A pass asks "which open alerts are due at `now`?", so a hub that was stopped catches
// up at its first pass after a restart, and a hub down across several deadlines climbs every rung
// whose time has come, one timeline entry per rung, in order.
//
// Exactly once across hub instances on one PostgreSQL: there is no timer per alert, only passes,
// and a pass claims each row it moves (SELECT … FOR UPDATE SKIP LOCKED, then UPDATE in the same
// transaction). Under READ COMMITTED the lock is taken on the row's newest committed version and
// the WHERE is checked again on it, so an alert another instance has just moved is no longer due
// (or is due for its next rung, which it then climbs, once, since the rung only moves forward one
// step per claim). SKIP LOCKED lets two instances share the due rows instead of queueing behind
// each other, and never makes the scheduler wait for a person acknowledging the alert at that
// moment (FOR UPDATE in server/alerts.ts): a row skipped because it is being acknowledged is
// either acknowledged when that commits, or still due at the next pass. No advisory lock: it would
// add nothing to exactly-once (the row claim is the guarantee) and would let one busy instance
// hold up the passes of the others.
import type { HubDb } from './db/adapter.ts';

/** How often a pass runs, by default: a missed deadline is acted on within this (plus the pass). */
export const ESCALATION_INTERVAL_MS = 15_000;
/** Alerts moved per transaction: short row locks, bounded statements, however many are due. */
export const ESCALATION_BATCH = 500;

export interface EscalationResult {
  /** Rungs climbed (one 'escalated' timeline entry each); an alert climbing two rungs counts twice. */
  escalated: number;
  /** The alerts that moved, each once. */
  reportIds: string[];
  /** Notifications queued for the rungs reached. */
  notifications: number;
}

/**
 * The claim and move of one batch, in one statement: the due rows are locked (skipping rows
 * another transaction holds), moved one rung up with the next rung's deadline (NULL on the last
 * rung), and each gets its 'escalated' timeline entry naming the new rung's recipients and the
 * deadline that was missed. The entry's time is the pass's time, when the hub acted; the deadline
 * missed is in `detail.dueBy`, so a late escalation (hub down) shows as late rather than being
 * back-dated to when it should have happened. The timeline trigger (migration 8) pushes each
 * entry as an alert-changed event; it fires at the end of the statement and so reads the new rung.
 * `jsonb_array_length(ladder) > rung + 1`: an alert on its last rung is never claimed, even were a
 * deadline stored on it.
 */
const CLAIM_AND_MOVE = `
WITH claimed AS (
  SELECT report_id FROM alerts
   WHERE state = 'open' AND next_due <= $1::timestamptz AND jsonb_array_length(ladder) > rung + 1
   ORDER BY next_due, report_id
   LIMIT $2
   FOR UPDATE SKIP LOCKED
), moved AS (
  UPDATE alerts a SET rung = a.rung + 1, next_due = (a.ladder -> (a.rung + 1) ->> 'dueBy')::timestamptz
    FROM claimed c
   WHERE a.report_id = c.report_id
  RETURNING a.report_id, a.rung, a.ladder -> (a.rung - 1) ->> 'dueBy' AS missed
)
INSERT INTO alert_events (report_id, at, type, rung, detail)
SELECT m.report_id, $1::timestamptz, 'escalated', m.rung, jsonb_strip_nulls(jsonb_build_object(
         'to', (SELECT string_agg(u.name, ', ' ORDER BY u.name) FROM failsafe_rung_recipients(m.report_id, m.rung) r JOIN users u ON u.id = r.user_id),
         'dueBy', m.missed))
  FROM moved m
 ORDER BY m.missed, m.report_id
RETURNING report_id, rung`;

/** The new rungs' notifications (and a 'notify-failed' entry where nobody holds the duty), after the move. */
const NOTIFY = `
SELECT coalesce(sum(failsafe_notify_rung(x.report_id, x.rung, $1::timestamptz)), 0)::int AS n
  FROM unnest($2::text[], $3::int[]) AS x(report_id, rung)`;

/**
 * One scheduler pass at `now` (ms since the epoch): escalates every open alert whose deadline is
 * at or before `now`, as many rungs as have come due, each rung once however many hubs run passes
 * at the same moment. Batches of ESCALATION_BATCH rows, each its own transaction; the pass ends
 * when no due row is left to claim (rows another instance is moving are left to it).
 */
export async function runEscalationPass(db: HubDb, now: number, opts: { batch?: number } = {}): Promise<EscalationResult> {
  if (!Number.isFinite(now)) throw new TypeError(`runEscalationPass: now must be a time in milliseconds since 1970, not ${String(now)}`);
  const batch = opts.batch ?? ESCALATION_BATCH;
  if (!Number.isInteger(batch) || batch < 1) throw new TypeError(`runEscalationPass: batch must be a whole number of alerts ≥ 1, not ${String(batch)}`);
  const at = new Date(now).toISOString();
  const moved = new Set<string>();
  let escalated = 0;
  let notifications = 0;
  // Each batch moves every row it claims one rung, and a ladder has at most 9 rungs
  // (common/alertPolicy.ts), so this ends; the bound only guards against a bug looping forever.
  for (let round = 0; round < 1_000_000; round++) {
    const step = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ report_id: string; rung: number }>(CLAIM_AND_MOVE, [at, batch]);
      if (rows.length === 0) return { moved: 0, queued: 0, rows };
      const { rows: q } = await tx.query<{ n: number }>(NOTIFY, [at, rows.map((r) => r.report_id), rows.map((r) => r.rung)]);
      // Each rung climbed is also in the hash-chained audit trail (the timeline is append-only, the
      // audit trail is also tamper-evident: server/audit.ts).
      await tx.query(
        `INSERT INTO audit (at, actor_id, action, report_id, detail)
           SELECT $1::timestamptz, NULL, 'alert-escalated', x.report_id, jsonb_build_object('rung', x.rung)
             FROM unnest($2::text[], $3::int[]) AS x(report_id, rung)`,
        [at, rows.map((r) => r.report_id), rows.map((r) => r.rung)]);
      return { moved: rows.length, queued: q[0]?.n ?? 0, rows };
    });
    if (step.moved === 0) break;
    escalated += step.moved;
    notifications += step.queued;
    for (const r of step.rows) moved.add(r.report_id);
  }
  return { escalated, reportIds: [...moved], notifications };
}

/** Timers the scheduler waits on: Node's by default; a test's fake clock (test/support/manualClock.ts) fits. */
export interface SchedulerTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface EscalationSchedulerOptions {
  /** The hub's clock (buildHub's `clock`): the time each pass escalates at. */
  clock?: () => number;
  timers?: SchedulerTimers;
  /** Between the end of one pass and the start of the next (default ESCALATION_INTERVAL_MS). */
  intervalMs?: number;
  batch?: number;
  /** After a pass that escalated something, once it committed: where the hub wakes its pushed events (events.announce()). */
  onEscalated?: (result: EscalationResult) => void;
  /**
   * A pass that failed (database unreachable, …): reported, and the next pass tries again. Default:
   * a line on stderr, since a scheduler failing silently is an escalation that never fires.
   */
  onError?: (err: unknown) => void;
}

/** How the scheduler is doing, for a health check: a hub whose passes keep failing escalates nothing. */
export interface EscalationHealth {
  /** When the last pass that completed ran (the clock's time, ms), or null before the first. */
  lastPassAt: number | null;
  /** Passes failed in a row since the last one that completed, and the last failure in words. */
  consecutiveFailures: number;
  lastError: string | null;
}

export interface EscalationScheduler {
  /** Stops scheduling passes and resolves when the pass under way, if any, has finished. */
  stop(): Promise<void>;
  /** Resolves when no pass is under way (tests: after moving a fake clock). */
  idle(): Promise<void>;
  health(): EscalationHealth;
}

/**
 * Runs a pass at once (a restarted hub catches up on the deadlines missed while it was down), then
 * one every `intervalMs` after the previous pass ended, so passes of one hub never overlap. Passes
 * of several hubs may overlap: runEscalationPass is exactly-once across them.
 */
export function startEscalationScheduler(db: HubDb, opts: EscalationSchedulerOptions = {}): EscalationScheduler {
  const clock = opts.clock ?? (() => Date.now());
  const timers: SchedulerTimers = opts.timers ?? {
    setTimeout: (fn, ms) => {
      const t = setTimeout(fn, ms);
      // The scheduler alone never keeps a process alive (a CLI command that opened the hub ends).
      t.unref();
      return t;
    },
    clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  };
  const intervalMs = opts.intervalMs ?? ESCALATION_INTERVAL_MS;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new TypeError(`startEscalationScheduler: intervalMs must be a positive number of milliseconds, not ${String(intervalMs)}`);
  let stopped = false;
  let timer: unknown = null;
  let running: Promise<void> | null = null;
  const health: EscalationHealth = { lastPassAt: null, consecutiveFailures: 0, lastError: null };
  const onError = opts.onError ?? ((err: unknown) => {
    const n = health.consecutiveFailures;
    console.error(`failsafe hub: escalation: ${err instanceof Error ? err.message : String(err)}${n > 0 ? ` (the pass failed, ${n} in a row; next try in ${intervalMs} ms)` : ''}`);
  });

  const pass = (): void => {
    timer = null;
    if (stopped) return;
    running = (async () => {
      const now = clock();
      let result: EscalationResult;
      try {
        result = await runEscalationPass(db, now, opts.batch === undefined ? {} : { batch: opts.batch });
        Object.assign(health, { lastPassAt: now, consecutiveFailures: 0, lastError: null });
      } catch (err) {
        health.consecutiveFailures += 1;
        health.lastError = err instanceof Error ? err.message : String(err);
        onError(err);
        return;
      }
      // The escalations are committed whatever the announcement does; the poll delivers them anyway (server/events.ts).
      if (result.escalated > 0) {
        try {
          opts.onEscalated?.(result);
        } catch (err) {
          onError(err);
        }
      }
    })().finally(() => {
      running = null;
      if (!stopped) timer = timers.setTimeout(pass, intervalMs);
    });
  };
  pass();

  return {
    async stop() {
      stopped = true;
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      await running;
    },
    health: () => ({ ...health }),
    async idle() {
      // A pass may end and another start while we wait (a test moving its clock): wait for each.
      for (let p = running; p !== null; p = running) await p;
    },
  };
}
