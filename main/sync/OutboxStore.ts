// The sender's view of the outbox table (migrations 0010, 0050; written by ReportStore in the same
// transaction as a signature, verification or addendum). Only delivery state changes here; the payload,
// key and report id are immutable (trigger `outbox_payload_fixed`).
import type { OutboxPayload } from '../../common/hubPayload.ts';
import type { Db } from '../db/database.ts';

export type OutboxState = 'pending' | 'synced' | 'failed';

export interface OutboxEntry {
  id: number;
  kind: OutboxPayload['kind'];
  reportId: string;
  idempotencyKey: string;
  /** The JSON text stored at signing; sent verbatim so a retry is byte-identical. */
  payloadJson: string;
  createdAt: string;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  syncedAt: string | null;
  hubReceipt: string | null;
}

export interface OutboxStore {
  /**
   * Pending rows due at `nowIso`, oldest first, skipping any row with an earlier row of the same
   * report not yet synced (a report reaches the hub before its addenda), except an addendum refused
   * for good: it holds up no later addendum (blocks nothing else).
   */
  due(nowIso: string, limit: number): OutboxEntry[];
  /** Earliest next_attempt_at among pending rows (null = none scheduled; a NULL time counts as now). */
  nextDue(): { pending: number; nextAttemptAt: string | null };
  /** Marks a row synced with the hub's receipt; a row already synced keeps its first receipt. */
  markSynced(id: number, receipt: string, atIso: string): void;
  /** Records a failed attempt; `failed` = permanent (needs a person). Never touches a synced row. */
  markAttempt(id: number, error: string, nextAttemptAt: string, failed: boolean): void;
  /** Every outbox row of a report, oldest first. */
  forReport(reportId: string): OutboxEntry[];
  /** Every row not yet synced (pending and failed), oldest first. */
  unsynced(): OutboxEntry[];
  /** Puts a report's failed rows back to pending, due now (a person chose to retry). Returns how many. */
  retry(reportId: string, nowIso: string): number;
  /**
   * Makes every pending row scheduled later than `laterThanIso` (default: now) due now: after a
   * login, rows waiting for a session go at once; after the wall clock went back, rows scheduled
   * further ahead than any backoff could put them are not left waiting for it. Returns how many.
   */
  duePendingNow(nowIso: string, laterThanIso?: string): number;
}

interface Row {
  id: number;
  kind: OutboxPayload['kind'];
  report_id: string;
  idempotency_key: string;
  payload: string;
  created_at: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  synced_at: string | null;
  hub_receipt: string | null;
}

function toEntry(r: Row): OutboxEntry {
  return {
    id: r.id,
    kind: r.kind,
    reportId: r.report_id,
    idempotencyKey: r.idempotency_key,
    payloadJson: r.payload,
    createdAt: r.created_at,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    syncedAt: r.synced_at,
    hubReceipt: r.hub_receipt,
  };
}

/** OutboxStore on the workstation's SQLite database (the `outbox` table of migration 0010). */
export class SqliteOutboxStore implements OutboxStore {
  private readonly st;

  constructor(db: Db) {
    this.st = {
      due: db.prepare<[string, number], Row>(
        `SELECT * FROM outbox o
         WHERE o.state = 'pending' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?)
           AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.report_id = o.report_id AND e.id < o.id
                             AND (e.state = 'pending' OR (e.state = 'failed' AND e.kind <> 'addendum')))
         ORDER BY o.id LIMIT ?`,
      ),
      nextDue: db.prepare<[], { pending: number; next: string | null; nulls: number }>(
        `SELECT count(*) AS pending, min(next_attempt_at) AS next, sum(next_attempt_at IS NULL) AS nulls FROM outbox WHERE state = 'pending'`,
      ),
      markSynced: db.prepare<[string, string, number]>(
        `UPDATE outbox SET state = 'synced', synced_at = ?, hub_receipt = ?, next_attempt_at = NULL, last_error = NULL
         WHERE id = ? AND state <> 'synced'`,
      ),
      markAttempt: db.prepare<[string, string, string, number]>(
        `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, state = ? WHERE id = ? AND state <> 'synced'`,
      ),
      forReport: db.prepare<[string], Row>('SELECT * FROM outbox WHERE report_id = ? ORDER BY id'),
      forReports: db.prepare<[string], Row>('SELECT * FROM outbox WHERE report_id IN (SELECT value FROM json_each(?)) ORDER BY id'),
      unsynced: db.prepare<[], Row>(`SELECT * FROM outbox WHERE state <> 'synced' ORDER BY id`),
      retry: db.prepare<[string, string]>(`UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE report_id = ? AND state = 'failed'`),
      duePendingNow: db.prepare<[string, string]>(`UPDATE outbox SET next_attempt_at = ? WHERE state = 'pending' AND next_attempt_at > ?`),
    };
  }

  due(nowIso: string, limit: number): OutboxEntry[] {
    return this.st.due.all(nowIso, Math.max(1, Math.min(1000, Math.floor(limit)))).map(toEntry);
  }

  nextDue(): { pending: number; nextAttemptAt: string | null } {
    const r = this.st.nextDue.get();
    if (!r || r.pending === 0) return { pending: 0, nextAttemptAt: null };
    // A pending row with no scheduled time is due now.
    return { pending: r.pending, nextAttemptAt: r.nulls > 0 ? new Date(0).toISOString() : r.next };
  }

  markSynced(id: number, receipt: string, atIso: string): void {
    this.st.markSynced.run(atIso, receipt, id);
  }

  markAttempt(id: number, error: string, nextAttemptAt: string, failed: boolean): void {
    this.st.markAttempt.run(error, nextAttemptAt, failed ? 'failed' : 'pending', id);
  }

  forReport(reportId: string): OutboxEntry[] {
    return this.st.forReport.all(reportId).map(toEntry);
  }

  /** Every outbox row of these reports, oldest first, in one query (a list's sync states). */
  forReports(reportIds: readonly string[]): OutboxEntry[] {
    return this.st.forReports.all(JSON.stringify(reportIds)).map(toEntry);
  }

  unsynced(): OutboxEntry[] {
    return this.st.unsynced.all().map(toEntry);
  }

  retry(reportId: string, nowIso: string): number {
    return this.st.retry.run(nowIso, reportId).changes;
  }

  duePendingNow(nowIso: string, laterThanIso: string = nowIso): number {
    return this.st.duePendingNow.run(nowIso, laterThanIso).changes;
  }
}
