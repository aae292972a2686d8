// Phone calls recorded on this workstation (main/sync/PhoneLog.ts: a critical or urgent finding
// phoned through because its signed report had not reached the hub in time) are sent to the hub,
// onto the alert's timeline (POST /api/alerts/:reportId/phone-calls, issue 9 line 6).
//
// Exactly once: each call gets a random id the first time it is considered (kept in
// sync_phone_uploads, migration 0100, never changed), every retry carries that id, and the hub
// stores an id once and ignores it after. A call is marked synced only after the hub's 2xx; a
// crash between the two sends it again, which the hub ignores.
// Order: a report's calls are sent only once the report itself is at the hub (its outbox rows all
// synced); the hub's 409 original-not-synced is retried like an unreachable hub, with backoff.
// A record that cannot be sent as it is (it fails the call's own schema: written by an older
// version, or edited outside the app) is refused here with the reason in words, never sent and
// never dropped: it stays in the log and on screen. A 4xx the hub will answer again (its refusal
// of the calls as sent) is kept the same way; 401/403 wait for a login that may send them.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AlertPhoneCall } from '../../common/alerts.ts';
import { PhoneCall, type LocalPhoneCall } from '../../common/contract.ts';
import { messageOf } from '../../common/errorMessage.ts';
import { HubError } from '../../common/hubError.ts';
import { issueText } from '../../common/validation.ts';
import type { Db } from '../db/database.ts';
import type { PhoneRecord } from './PhoneLog.ts';
import { fullJitterDelay, realClock, type SyncClock } from './clock.ts';

/** The hub's side of it (HubClient.postPhoneCalls). */
export interface PhoneCallSink {
  postPhoneCalls(reportId: string, calls: readonly AlertPhoneCall[]): Promise<{ added: number }>;
}

export interface PhoneCallSyncOptions {
  db: Db;
  hub: PhoneCallSink;
  /** The report itself is at the hub: its calls may go (before that the hub answers 409). */
  reportAtHub(reportId: string): boolean;
  /** A session that may send is open (logged in). */
  canSend(): boolean;
  clock?: SyncClock;
  /** Retry backoff base and cap (full jitter). Defaults 2 s and 5 min. */
  baseDelayMs?: number;
  capDelayMs?: number;
}

export interface PassResult {
  /** Calls sent in this pass (the hub may have held some already), and how many it had not. */
  sent: number;
  added: number;
  /** Calls left waiting (report not at the hub yet, hub unreachable, no session). */
  waiting: number;
  /** Calls refused in this pass. */
  refused: number;
}

/** The hub takes at most this many calls per request (common/alerts.ts AlertPhoneCalls). */
const BATCH = 50;

/** A call recorded here (the PhoneLog's record) with its upload state. */
type Row = PhoneRecord & {
  id: string | null;
  syncedAt: string | null;
  lastError: string | null;
  refused: string | null;
};

const SELECT = `SELECT c.seq, c.report_id AS reportId, c.clinician, c.role, c.time, c.note, c.recorded_by AS recordedBy, c.recorded_at AS recordedAt,
    u.call_id AS id, u.synced_at AS syncedAt, u.last_error AS lastError, u.refused
  FROM sync_phone_communications c LEFT JOIN sync_phone_uploads u ON u.seq = c.seq`;

/** Why a stored record cannot go to the hub as it is, in words; null when it can. */
function malformed(r: Row): string | null {
  const local = PhoneCall.safeParse({ clinician: r.clinician, role: r.role, time: r.time, note: r.note });
  if (!local.success) return issueText(local.error, { root: '(record)' });
  const wire = AlertPhoneCall.safeParse(toWire(r));
  return wire.success ? null : issueText(wire.error, { root: '(record)' });
}

function toWire(r: Row): AlertPhoneCall {
  return { id: r.id ?? '', clinician: r.clinician, role: r.role, time: r.time, note: r.note, recordedBy: r.recordedBy, recordedAt: r.recordedAt };
}

export class PhoneCallSync {
  /** `changed`: a report's calls changed state (synced, failed, refused). */
  readonly events = new EventEmitter<{ changed: [string] }>();
  private readonly opts: PhoneCallSyncOptions;
  private readonly clock: SyncClock;
  private readonly st;
  private running: Promise<PassResult> | null = null;
  private again = false;
  private timer: unknown = null;
  private failures = 0;
  private stopped = false;

  constructor(opts: PhoneCallSyncOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? realClock;
    const db = opts.db;
    this.st = {
      withoutId: db.prepare<[], { seq: number }>('SELECT c.seq FROM sync_phone_communications c WHERE NOT EXISTS (SELECT 1 FROM sync_phone_uploads u WHERE u.seq = c.seq) ORDER BY c.seq'),
      giveId: db.prepare<[number, string]>('INSERT INTO sync_phone_uploads (seq, call_id) VALUES (?, ?)'),
      unsent: db.prepare<[], Row>(`${SELECT} WHERE u.synced_at IS NULL AND u.refused IS NULL ORDER BY c.seq`),
      forReport: db.prepare<[string], Row>(`${SELECT} WHERE c.report_id = ? ORDER BY c.seq`),
      synced: db.prepare<[string, number]>('UPDATE sync_phone_uploads SET synced_at = ?, last_error = NULL WHERE seq = ? AND synced_at IS NULL'),
      failed: db.prepare<[string, number]>('UPDATE sync_phone_uploads SET attempts = attempts + 1, last_error = ? WHERE seq = ?'),
      refuse: db.prepare<[string, number]>('UPDATE sync_phone_uploads SET attempts = attempts + 1, refused = ?, last_error = NULL WHERE seq = ?'),
    };
  }

  /** A report's calls, oldest first, with where each is. */
  forReport(reportId: string): LocalPhoneCall[] {
    return this.st.forReport.all(reportId).map((r) => ({
      id: r.id, clinician: r.clinician, role: r.role, time: r.time, note: r.note, recordedBy: r.recordedBy, recordedAt: r.recordedAt,
      syncedAt: r.syncedAt, problem: r.refused ?? r.lastError, refused: r.refused !== null,
    }));
  }

  /** Send what waits, soon (calls coalesce). */
  wake(): void {
    if (this.stopped) return;
    this.clearTimer();
    void this.pass().catch(() => undefined);
  }

  /** One pass over every call not yet on the hub; a pass asked for while one runs follows it. */
  pass(): Promise<PassResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.run().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.pass().catch(() => undefined);
      }
    });
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private async run(): Promise<PassResult> {
    const result: PassResult = { sent: 0, added: 0, waiting: 0, refused: 0 };
    // Every call gets its id before it is first sent, in one transaction: a retry reuses it.
    this.opts.db.transaction(() => {
      for (const { seq } of this.st.withoutId.all()) this.st.giveId.run(seq, crypto.randomUUID());
    })();
    const byReport = new Map<string, Row[]>();
    for (const r of this.st.unsent.all()) byReport.set(r.reportId, [...(byReport.get(r.reportId) ?? []), r]);
    let retryLater = false;
    for (const [reportId, rows] of byReport) {
      const sendable: Row[] = [];
      for (const r of rows) {
        const why = malformed(r);
        if (why === null) {
          sendable.push(r);
          continue;
        }
        this.st.refuse.run(`Not sent to the hub: this phone call record is not valid (${why}). It is kept here as recorded; tell your imaging safety lead.`, r.seq);
        result.refused += 1;
        this.events.emit('changed', reportId);
      }
      if (sendable.length === 0) continue;
      if (!this.opts.canSend() || !this.opts.reportAtHub(reportId)) {
        result.waiting += sendable.length;
        continue;
      }
      for (let i = 0; i < sendable.length; i += BATCH) {
        const batch = sendable.slice(i, i + BATCH);
        const outcome = await this.send(reportId, batch);
        if (typeof outcome === 'number') {
          result.sent += batch.length;
          result.added += outcome;
          continue;
        }
        result.waiting += batch.length;
        if (outcome === 'retry') retryLater = true;
      }
    }
    if (retryLater && !this.stopped) {
      const delay = fullJitterDelay(this.failures, this.opts.baseDelayMs ?? 2000, this.opts.capDelayMs ?? 300_000, this.clock.random);
      this.failures += 1;
      this.clearTimer();
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        void this.pass().catch(() => undefined);
      }, delay);
    } else if (!retryLater) {
      this.failures = 0;
    }
    return result;
  }

  /** One request; the outcome is stored on each call before the next request. Sent: how many the hub had not held. */
  private async send(reportId: string, batch: readonly Row[]): Promise<number | 'retry' | 'wait' | 'refused'> {
    const mark = (stmt: 'failed' | 'refuse', message: string): void => {
      this.opts.db.transaction(() => {
        for (const r of batch) this.st[stmt].run(message, r.seq);
      })();
      this.events.emit('changed', reportId);
    };
    try {
      const { added } = await this.opts.hub.postPhoneCalls(reportId, batch.map(toWire));
      const at = new Date(this.clock.now()).toISOString();
      this.opts.db.transaction(() => {
        for (const r of batch) this.st.synced.run(at, r.seq);
      })();
      this.events.emit('changed', reportId);
      return added;
    } catch (err) {
      if (err instanceof HubError && err.status !== null && !err.retryable) {
        if (err.status === 401 || err.status === 403) {
          // Another session (a login, a reporting role) may send them: wait for it.
          mark('failed', `Waiting to be sent to the hub: ${err.message}`);
          return 'wait';
        }
        mark('refuse', `Not sent to the hub: the hub refused it (${err.message}). It is kept here as recorded; tell your imaging safety lead.`);
        return 'refused';
      }
      const why = err instanceof HubError && err.code === 'original-not-synced' ? 'the report is not on the hub yet' : messageOf(err);
      mark('failed', `Waiting to be sent to the hub (retried): ${why}`);
      return 'retry';
    }
  }
}
