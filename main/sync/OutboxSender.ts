// The background sender: delivers each outbox row (a signed report or addendum, written in the
// same transaction as its signature) to the hub exactly once. Exactly-once is the product of
// three things: the row stays pending until the hub's 2xx is recorded (at-least-once), every
// retry carries the Idempotency-Key created at signing with a byte-identical body, and the hub
// stores the first response per key and replays it (at-most-once effect).
//
// Failures: network error, timeout, 408/425/429 and 5xx are retried with exponential backoff
// and full jitter (capped); 401 keeps the row pending with "login required" and pauses until
// `resume()` (a 401 to a request sent before the latest `resume()` belongs to the ended session
// and is ignored: the row is due again at once); any other 4xx (422 invalid, 409 key reused with
// a different body, 403 …) marks the row failed with the hub's reason in words
// (common/refusal.ts): never retried silently, shown to the user as "Not delivered: …". A person
// may resend it only when the refusal is one a change on the hub's side can lift; otherwise
// `retry(reportId)` says why it would be refused again (the answer is a corrected report). A row
// whose sink answers `waiting` (its signer is not the one logged in) waits without holding up the
// other rows or marking the hub offline. While idle, the hub's health is probed every `pollMs`,
// so the online flag tells the truth with nothing to send.
//
// A signed report with a critical or urgent alert code that has not reached the hub within
// `criticalDeadlineMs` (60 s) raises `critical-undelivered` until it is delivered or the
// radiologist records that they phoned the finding through (`recordPhoneCommunication`).
import { EventEmitter } from 'node:events';
import type { AlertCategory } from '../../common/report.ts';
import { fullJitterDelay, realClock, type SyncClock } from './clock.ts';
import type { SendOutcome, SignedReportSink } from './HubClient.ts';
import type { OutboxEntry, OutboxStore } from './OutboxStore.ts';
import type { PhoneCallInput } from '../../common/contract.ts';
import type { PhoneLog, PhoneRecord } from './PhoneLog.ts';
import { isTamperedReason, parseRefusal, refusalMeaning, refusalReason, tamperedReason } from '../../common/refusal.ts';

export type SyncState = 'local' | 'pending' | 'synced' | 'failed';

export interface SyncStatus {
  reportId: string;
  /** `local`: nothing to send (a draft). `pending` includes "login required" (see reason). */
  state: SyncState;
  /** Why it is failed, or why it is still pending (last error), else null. */
  reason: string | null;
  attempts: number;
  /** When the last row reached the hub (ISO), if all did. */
  syncedAt: string | null;
  /** Outbox rows: the report and its addenda. */
  items: number;
}

export interface CriticalWarning {
  reportId: string;
  alertCode: Extract<AlertCategory, 'critical' | 'urgent'>;
  signedAt: string;
  /** How long since signing, ms. */
  undeliveredForMs: number;
  message: string;
}

export interface OutboxSenderEvents {
  status: [SyncStatus];
  online: [boolean];
  'critical-undelivered': [CriticalWarning];
  'critical-resolved': [{ reportId: string; how: 'delivered' | 'phoned' }];
  'login-required': [string];
  /** A local (database) error; the sender keeps going after a backoff. */
  'sender-error': [Error];
}

export interface OutboxSenderOptions {
  store: OutboxStore;
  hub: SignedReportSink;
  phoneLog: PhoneLog;
  clock?: SyncClock;
  /** Backoff base and cap (full jitter). Defaults 1 s and 60 s. */
  baseDelayMs?: number;
  capDelayMs?: number;
  /** Idle poll while online (rows written by another connection). Default 30 s. */
  pollMs?: number;
  /** Reachability probe while offline. Default 10 s. */
  probeMs?: number;
  /** Rows fetched per pass. Default 20. */
  batch?: number;
  /** Critical/urgent reports must reach the hub within this. Default 60 s. */
  criticalDeadlineMs?: number;
  /** How often the critical deadline is checked. Default 1 s. */
  criticalCheckMs?: number;
  /** Name recorded with phone communications when none is given. */
  actor?: () => string;
  /**
   * Checked before each send: why this row must not be sent (it no longer matches its signature
   * record or the report as stored: tampering), or null. A row it refuses is marked failed with
   * that reason, in words, and never sent.
   */
  verify?: (row: OutboxEntry) => string | null;
}

const CRITICAL: ReadonlySet<string> = new Set(['critical', 'urgent']);

type Timer = { handle: unknown } | null;

export class OutboxSender {
  readonly events = new EventEmitter<OutboxSenderEvents>();
  private readonly store: OutboxStore;
  private readonly hub: SignedReportSink;
  private readonly phoneLog: PhoneLog;
  private readonly clock: SyncClock;
  private readonly baseDelayMs: number;
  private readonly capDelayMs: number;
  private readonly pollMs: number;
  private readonly probeMs: number;
  private readonly batch: number;
  private readonly criticalDeadlineMs: number;
  /** Outbox row id → when this sender first saw it (monotonic) and its wall-clock age then (ageOf). */
  private readonly firstSeen = new Map<number, { mono: number; wallAge: number }>();
  /** The wall clock minus the monotonic clock when the loop last looked (null: not yet). */
  private wallOffset: number | null = null;
  private readonly criticalCheckMs: number;
  private readonly actor: () => string;
  private readonly verify: ((row: OutboxEntry) => string | null) | undefined;

  private running = false;
  private loopPromise: Promise<void> | null = null;
  private rerun = false;
  private timer: Timer = null;
  private criticalTimer: Timer = null;
  private consecutiveFailures = 0;
  private loginReason: string | null = null;
  private onlineFlag: boolean | null = null;
  private inFlight: AbortController | null = null;
  /** Bumped by `resume()` (a login): a 401 to a request sent in an earlier session pauses nothing. */
  private session = 0;
  /** When the hub last answered anything (ms), for the idle health probe. */
  private lastContactAt: number | null = null;
  /** Reports currently warned about (critical-undelivered emitted, not yet resolved). */
  private readonly warned = new Set<string>();
  /** Alert code per outbox row id (payloads are immutable, so parse once). */
  private readonly alertCache = new Map<number, string | null>();

  constructor(opts: OutboxSenderOptions) {
    this.store = opts.store;
    this.hub = opts.hub;
    this.phoneLog = opts.phoneLog;
    this.clock = opts.clock ?? realClock;
    this.baseDelayMs = opts.baseDelayMs ?? 1000;
    this.capDelayMs = opts.capDelayMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 30_000;
    this.probeMs = opts.probeMs ?? 10_000;
    this.batch = opts.batch ?? 20;
    this.criticalDeadlineMs = opts.criticalDeadlineMs ?? 60_000;
    this.criticalCheckMs = opts.criticalCheckMs ?? 1000;
    this.actor = opts.actor ?? (() => 'unidentified user');
    this.verify = opts.verify;
  }

  // ---- life cycle ---------------------------------------------------------------------------

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
    this.scheduleCritical(0);
  }

  /**
   * Stops sending. The request in flight (if any) completes and its outcome is recorded; after
   * `drainMs` it is aborted (the row stays pending: the retry carries the same key).
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    this.running = false;
    this.clearTimer('timer');
    this.clearTimer('criticalTimer');
    const loop = this.loopPromise;
    if (!loop) return;
    const drainMs = opts.drainMs ?? 10_000;
    let abortTimer: unknown = null;
    const aborted = new Promise<void>((resolve) => {
      abortTimer = this.clock.setTimeout(() => {
        this.inFlight?.abort(new Error('sender stopped'));
        resolve();
      }, drainMs);
    });
    await Promise.race([loop, aborted.then(() => loop)]);
    this.clock.clearTimeout(abortTimer);
  }

  /** Send now (call after signing or an addendum, and after reconnecting). */
  wake(): void {
    if (!this.running) return;
    if (this.loopPromise) {
      this.rerun = true;
      return;
    }
    this.consecutiveFailures = 0;
    this.schedule(0);
  }

  /** After a successful login: leaves the "login required" pause and sends. */
  resume(): void {
    this.session += 1;
    this.loginReason = null;
    // Rows that waited for a session (their signer's, or any after a 401) are due at once.
    this.store.duePendingNow(new Date(this.clock.now()).toISOString());
    this.consecutiveFailures = 0;
    this.wake();
  }

  /** Resolves when nothing is due and no pass is running (tests, shutdown paths). */
  async idle(): Promise<void> {
    while (this.loopPromise) await this.loopPromise;
  }

  // ---- state for the UI ---------------------------------------------------------------------

  /** true: hub reachable; false: unreachable (show the offline banner); null: not yet known. */
  get online(): boolean | null {
    return this.onlineFlag;
  }

  /** Why sending is paused for a login, or null. */
  get loginRequired(): string | null {
    return this.loginReason;
  }

  status(reportId: string): SyncStatus {
    const rows = this.store.forReport(reportId);
    return summarise(reportId, rows);
  }

  /**
   * How long a row has waited: its age by the wall clock when this sender first saw it (within a
   * second of signing, or at start-up for a row from before), plus the time since on the
   * monotonic clock. A wall clock moved back an hour neither hides the warning for that hour nor
   * does one moved forward raise it early (issue 8 finding 6).
   */
  private ageOf(row: OutboxEntry, wall: number, mono: number): number {
    let seen = this.firstSeen.get(row.id);
    if (!seen) {
      seen = { mono, wallAge: Math.max(0, wall - Date.parse(row.createdAt)) };
      this.firstSeen.set(row.id, seen);
    }
    return seen.wallAge + (mono - seen.mono);
  }

  /** Critical/urgent reports past their delivery deadline with no phone call recorded. */
  criticalUndelivered(): CriticalWarning[] {
    const wall = this.clock.now();
    const mono = this.clock.monotonic();
    const out: CriticalWarning[] = [];
    const unsynced = this.store.unsynced();
    const ids = new Set(unsynced.map((r) => r.id));
    for (const id of this.firstSeen.keys()) if (!ids.has(id)) this.firstSeen.delete(id);
    for (const row of unsynced) {
      if (row.kind !== 'report') continue;
      const age = this.ageOf(row, wall, mono);
      const alert = this.alertOf(row);
      if (alert === null || !CRITICAL.has(alert)) continue;
      if (age < this.criticalDeadlineMs) continue;
      if (this.phoneLog.has(row.reportId)) continue;
      out.push({
        reportId: row.reportId,
        alertCode: alert as CriticalWarning['alertCode'],
        signedAt: row.createdAt,
        undeliveredForMs: age,
        message: `This ${alert} report has not reached the hub ${Math.round(age / 1000)} s after signing${row.state === 'failed' ? ` (delivery failed: ${row.lastError ?? 'unknown reason'})` : ''}. The referring team cannot see it. Phone the finding to a responsible clinician now, then record the call.`,
      });
    }
    return out;
  }

  /** Records that the radiologist phoned the finding through; clears the warning. */
  recordPhoneCommunication(reportId: string, call: PhoneCallInput & { recordedBy?: string }): PhoneRecord {
    if (this.store.forReport(reportId).length === 0) throw new Error(`No signed report ${reportId} to record a call for.`);
    const rec = this.phoneLog.record(reportId, call, call.recordedBy ?? this.actor(), new Date(this.clock.now()).toISOString());
    if (this.warned.delete(reportId)) this.events.emit('critical-resolved', { reportId, how: 'phoned' });
    return rec;
  }

  /**
   * A person chose to resend a report refused for good. Only a refusal a change on the hub's side
   * can lift is sent again; any other would be refused again with the same bytes, so this throws
   * `RefusedForGood` saying why (the remedy is a corrected report).
   */
  retry(reportId: string): number {
    for (const row of this.store.forReport(reportId)) {
      if (row.state !== 'failed') continue;
      if (isTamperedReason(row.lastError)) {
        throw new RefusedForGood(`This ${row.kind} was not sent because it was changed after signing; resending cannot help. Tell your imaging safety lead.`);
      }
      const refusal = parseRefusal(row.lastError);
      if (refusal && !refusalMeaning(refusal.code, '').resendCanHelp) {
        const meaning = refusalMeaning(refusal.code, '');
        throw new RefusedForGood(
          `Resending this ${row.kind} would be refused again: ${meaning.words}. The signed content cannot change${meaning.correctionCanHelp === false ? '.' : '; issue a corrected report instead.'}`,
        );
      }
    }
    const n = this.store.retry(reportId, new Date(this.clock.now()).toISOString());
    if (n > 0) {
      this.emitStatus(reportId);
      this.wake();
    }
    return n;
  }

  // ---- the loop -----------------------------------------------------------------------------

  private schedule(ms: number): void {
    this.arm('timer', ms, () => this.runLoop());
  }

  /** (Re)arms one of the sender's two timers: the old one cleared, nothing armed while stopped. */
  private arm(which: 'timer' | 'criticalTimer', ms: number, fire: () => void): void {
    this.clearTimer(which);
    if (!this.running) return;
    this[which] = {
      handle: this.clock.setTimeout(() => {
        this[which] = null;
        fire();
      }, Math.max(0, ms)),
    };
  }

  private clearTimer(which: 'timer' | 'criticalTimer'): void {
    const t = this[which];
    if (t) this.clock.clearTimeout(t.handle);
    this[which] = null;
  }

  private runLoop(): void {
    if (!this.running || this.loopPromise) return;
    this.loopPromise = this.loop()
      .catch((err: unknown) => {
        this.events.emit('sender-error', err instanceof Error ? err : new Error(String(err)));
        this.consecutiveFailures += 1;
      })
      .finally(() => {
        this.loopPromise = null;
        if (!this.running) return;
        if (this.rerun) {
          this.rerun = false;
          this.schedule(0);
        } else {
          this.schedule(this.nextDelay());
        }
      });
  }

  private async loop(): Promise<void> {
    if (this.loginReason !== null) return;
    if (this.onlineFlag !== true && this.consecutiveFailures > 0) {
      // Offline: probe cheaply before sending anything.
      const up = await this.hub.ping();
      this.setOnline(up);
      if (!up) {
        this.consecutiveFailures += 1;
        return;
      }
    }
    for (;;) {
      if (!this.running || this.loginReason !== null) return;
      const now = this.clock.now();
      if (this.wallClockWentBack(now)) {
        // No backoff puts a row further ahead than capDelayMs (or pollMs): one scheduled later
        // was scheduled before the clock went back, and would otherwise wait for it to catch up.
        this.store.duePendingNow(new Date(now).toISOString(), new Date(now + Math.max(this.capDelayMs, this.pollMs) + 1000).toISOString());
      }
      const rows = this.store.due(new Date(now).toISOString(), this.batch);
      if (rows.length === 0) {
        // Nothing to send: learn (or re-learn, e.g. after wake() reset the failures while the
        // hub was down) whether the hub is reachable, and keep probing while it is not. While
        // online, a cheap health probe each idle poll notices a hub that died.
        const quiet = this.lastContactAt === null || this.clock.now() - this.lastContactAt >= this.pollMs / 2;
        if (this.onlineFlag !== true || quiet) {
          const up = await this.hub.ping();
          this.setOnline(up);
          if (!up) this.consecutiveFailures += 1;
        }
        return;
      }
      for (const row of rows) {
        if (!this.running) return;
        const ok = await this.sendOne(row);
        if (!ok) return;
      }
    }
  }

  /** Sends one row; false stops this pass (hub unavailable or login required). */
  private async sendOne(row: OutboxEntry): Promise<boolean> {
    let tampered: string | null;
    try {
      tampered = this.verify?.(row) ?? null;
    } catch (err) {
      tampered = `it could not be checked (${err instanceof Error ? err.message : String(err)})`;
    }
    if (tampered !== null) {
      this.store.markAttempt(row.id, tamperedReason(tampered), new Date(this.clock.now()).toISOString(), true);
      this.emitStatus(row.reportId);
      return true;
    }
    const ctrl = new AbortController();
    this.inFlight = ctrl;
    const session = this.session;
    let outcome: SendOutcome;
    try {
      outcome = await this.hub.postSigned(row.idempotencyKey, row.payloadJson, ctrl.signal);
    } catch (err) {
      outcome = { kind: 'unavailable', status: null, message: err instanceof Error ? err.message : String(err) };
    } finally {
      this.inFlight = null;
    }
    const nowMs = this.clock.now();
    const nowIso = new Date(nowMs).toISOString();
    switch (outcome.kind) {
      case 'accepted': {
        this.store.markSynced(row.id, outcome.receipt, nowIso);
        this.consecutiveFailures = 0;
        this.setOnline(true);
        this.alertCache.delete(row.id);
        if (this.warned.delete(row.reportId)) this.events.emit('critical-resolved', { reportId: row.reportId, how: 'delivered' });
        this.emitStatus(row.reportId);
        return true;
      }
      case 'rejected': {
        const reason = refusalReason(row.kind, outcome.status, outcome.code, outcome.message);
        this.store.markAttempt(row.id, reason, nowIso, true);
        this.consecutiveFailures = 0;
        this.setOnline(true);
        this.emitStatus(row.reportId);
        return true;
      }
      case 'unauthorized': {
        if (session !== this.session) {
          // Sent under a session that has since been replaced by a login: not this session's
          // answer. The row is due again at once, under the new session.
          this.store.markAttempt(row.id, `sent before the latest login: ${outcome.message}`, nowIso, false);
          this.emitStatus(row.reportId);
          return true;
        }
        const reason = `login required: ${outcome.message}`;
        const next = new Date(nowMs + fullJitterDelay(row.attempts, this.baseDelayMs, this.capDelayMs, this.clock.random)).toISOString();
        this.store.markAttempt(row.id, reason, next, false);
        this.setOnline(true);
        this.loginReason = reason;
        this.events.emit('login-required', reason);
        this.emitStatus(row.reportId);
        return false;
      }
      case 'unavailable': {
        const delay = fullJitterDelay(row.attempts, this.baseDelayMs, this.capDelayMs, this.clock.random);
        const reason = outcome.status === null ? `hub unreachable: ${outcome.message}` : `hub unavailable (${outcome.status}): ${outcome.message}`;
        this.store.markAttempt(row.id, reason, new Date(nowMs + delay).toISOString(), false);
        this.consecutiveFailures += 1;
        // A 5xx came from something that answered; only no answer at all means offline.
        this.setOnline(outcome.status !== null);
        this.emitStatus(row.reportId);
        return false;
      }
      case 'waiting': {
        // Held on this workstation (e.g. for its signer's session): the others go on.
        this.store.markAttempt(row.id, outcome.message, new Date(nowMs + this.pollMs).toISOString(), false);
        this.emitStatus(row.reportId);
        return true;
      }
    }
  }

  /**
   * Whether the wall clock was set back (by more than a second) since the loop last looked: the
   * difference between it and the monotonic clock shrank. The first look counts as a jump, so
   * rows scheduled under an earlier run's clock are looked at once too.
   */
  private wallClockWentBack(wall: number): boolean {
    const offset = wall - this.clock.monotonic();
    const back = this.wallOffset === null || offset < this.wallOffset - 1000;
    this.wallOffset = offset;
    return back;
  }

  private nextDelay(): number {
    if (this.loginReason !== null) return this.pollMs;
    if (this.consecutiveFailures > 0) {
      const backoff = fullJitterDelay(this.consecutiveFailures - 1, this.baseDelayMs, this.capDelayMs, this.clock.random);
      return this.onlineFlag === false ? Math.min(backoff, this.probeMs) : backoff;
    }
    const { pending, nextAttemptAt } = this.store.nextDue();
    if (pending === 0 || nextAttemptAt === null) return this.pollMs;
    return Math.min(this.pollMs, Math.max(0, Date.parse(nextAttemptAt) - this.clock.now()));
  }

  private setOnline(up: boolean): void {
    if (up) this.lastContactAt = this.clock.now();
    if (this.onlineFlag === up) return;
    this.onlineFlag = up;
    this.events.emit('online', up);
  }

  private emitStatus(reportId: string): void {
    this.events.emit('status', this.status(reportId));
  }

  // ---- critical / urgent delivery deadline -----------------------------------------------------

  private scheduleCritical(ms: number): void {
    this.arm('criticalTimer', ms, () => {
      try {
        this.checkCritical();
      } catch (err) {
        this.events.emit('sender-error', err instanceof Error ? err : new Error(String(err)));
      }
      this.scheduleCritical(this.criticalCheckMs);
    });
  }

  /** Emits `critical-undelivered` once per report when its deadline passes (public for tests). */
  checkCritical(): CriticalWarning[] {
    const current = this.criticalUndelivered();
    const ids = new Set(current.map((w) => w.reportId));
    for (const w of current) {
      if (this.warned.has(w.reportId)) continue;
      this.warned.add(w.reportId);
      this.events.emit('critical-undelivered', w);
    }
    for (const id of [...this.warned]) {
      if (!ids.has(id)) {
        this.warned.delete(id);
        this.events.emit('critical-resolved', { reportId: id, how: this.phoneLog.has(id) ? 'phoned' : 'delivered' });
      }
    }
    return current;
  }

  private alertOf(row: OutboxEntry): string | null {
    if (this.alertCache.has(row.id)) return this.alertCache.get(row.id) ?? null;
    let alert: string | null = null;
    try {
      const p = JSON.parse(row.payloadJson) as { kind?: unknown; report?: { content?: { alertCode?: unknown } } };
      const a = p.kind === 'report' ? p.report?.content?.alertCode : null;
      alert = typeof a === 'string' ? a : null;
    } catch {
      // An unreadable payload is the hub's to reject; it carries no alert we can see.
      alert = null;
    }
    this.alertCache.set(row.id, alert);
    return alert;
  }
}

/** Thrown by `retry` for a refusal that resending the same signed bytes cannot lift. */
export class RefusedForGood extends Error {
  override readonly name = 'RefusedForGood';
}

/** One status for a report from its outbox rows (report + addenda). */
export function summarise(reportId: string, rows: readonly OutboxEntry[]): SyncStatus {
  if (rows.length === 0) return { reportId, state: 'local', reason: null, attempts: 0, syncedAt: null, items: 0 };
  const attempts = rows.reduce((s, r) => s + r.attempts, 0);
  const failed = rows.find((r) => r.state === 'failed');
  if (failed) return { reportId, state: 'failed', reason: failed.lastError ?? 'delivery failed', attempts, syncedAt: null, items: rows.length };
  const pending = rows.find((r) => r.state === 'pending');
  if (pending) return { reportId, state: 'pending', reason: pending.lastError, attempts, syncedAt: null, items: rows.length };
  const syncedAt = rows.reduce<string | null>((m, r) => (r.syncedAt !== null && (m === null || r.syncedAt > m) ? r.syncedAt : m), null);
  return { reportId, state: 'synced', reason: null, attempts, syncedAt, items: rows.length };
}
