// The record that a radiologist phoned a critical or urgent finding through because the signed
// report had not reached the hub in time. Append-only, like the audit trail.
// The table (sync_phone_communications, with its append-only triggers) is created by migration
// 0030-take-over.
// The record's schema is the contract's PhoneCall (common/contract.ts), the one for every layer;
// like the report's verbal communication, a call cannot be after it is recorded (beyond the clock
// skew common/signoff.ts allows).
import { PhoneCall, type PhoneCallInput } from '../../common/contract.ts';
import { issueText } from '../../common/validation.ts';
import { formatDateTime } from '../../common/format.ts';
import { VERBAL_CLOCK_SKEW_MS } from '../../common/signoff.ts';
import type { Db } from '../db/database.ts';

/** A stored call: the PhoneCall (time normalised to ISO UTC) and who recorded it when. */
export type PhoneRecord = PhoneCall & { seq: number; reportId: string; recordedBy: string; recordedAt: string };

export interface PhoneLog {
  record(reportId: string, call: PhoneCallInput, recordedBy: string, recordedAtIso: string): PhoneRecord;
  has(reportId: string): boolean;
  /** Which of these reports have a call recorded (one query for a whole list). */
  withCalls(reportIds: readonly string[]): Set<string>;
  forReport(reportId: string): PhoneRecord[];
}

export class SqlitePhoneLog implements PhoneLog {
  private readonly st;

  constructor(db: Db) {
    this.st = {
      insert: db.prepare<[string, string, string, string, string, string, string]>(
        'INSERT INTO sync_phone_communications (report_id, clinician, role, time, note, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      has: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM sync_phone_communications WHERE report_id = ?'),
      withCalls: db.prepare<[string], { report_id: string }>(
        'SELECT DISTINCT report_id FROM sync_phone_communications WHERE report_id IN (SELECT value FROM json_each(?))',
      ),
      forReport: db.prepare<[string], PhoneRecord>(
        'SELECT seq, report_id AS reportId, clinician, role, time, note, recorded_by AS recordedBy, recorded_at AS recordedAt FROM sync_phone_communications WHERE report_id = ? ORDER BY seq',
      ),
    };
  }

  record(reportId: string, call: PhoneCallInput, recordedBy: string, recordedAtIso: string): PhoneRecord {
    const parsed = PhoneCall.safeParse(call);
    if (!parsed.success) throw new Error(`Phone communication record is not valid: ${issueText(parsed.error, { root: '(record)' })}`);
    const c = { ...parsed.data, time: new Date(parsed.data.time).toISOString() };
    if (Date.parse(c.time) > Date.parse(recordedAtIso) + VERBAL_CLOCK_SKEW_MS) {
      throw new Error(`Phone communication record is not valid: time: the call is given as ${formatDateTime(c.time)}, after it is being recorded (${formatDateTime(recordedAtIso)}): correct the time.`);
    }
    const seq = Number(this.st.insert.run(reportId, c.clinician, c.role, c.time, c.note, recordedBy, recordedAtIso).lastInsertRowid);
    return { seq, reportId, ...c, recordedBy, recordedAt: recordedAtIso };
  }

  has(reportId: string): boolean {
    return (this.st.has.get(reportId)?.n ?? 0) > 0;
  }

  withCalls(reportIds: readonly string[]): Set<string> {
    return new Set(this.st.withCalls.all(JSON.stringify(reportIds)).map((r) => r.report_id));
  }

  forReport(reportId: string): PhoneRecord[] {
    return this.st.forReport.all(reportId);
  }
}
