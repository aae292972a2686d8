// The record that a radiologist phoned a critical or urgent finding through because the signed
// report had not reached the hub in time. Append-only, like the audit trail.
// The table (sync_phone_communications, with its append-only triggers) is created by migration
// 0030-take-over.
import { z } from 'zod';
import type { Db } from '../db/database.ts';

export const PhoneCommunication = z.object({
  clinician: z.string().trim().min(1, 'Who was phoned?').max(500),
  role: z.string().trim().min(1, 'What is their role?').max(500),
  /** ISO date-time of the call. */
  time: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'time must be an ISO date-time'),
  note: z.string().max(10_000).default(''),
});
export type PhoneCommunication = z.input<typeof PhoneCommunication>;

export interface PhoneRecord {
  seq: number;
  reportId: string;
  clinician: string;
  role: string;
  time: string;
  note: string;
  recordedBy: string;
  recordedAt: string;
}

export interface PhoneLog {
  record(reportId: string, call: PhoneCommunication, recordedBy: string, recordedAtIso: string): PhoneRecord;
  has(reportId: string): boolean;
  forReport(reportId: string): PhoneRecord[];
}

interface Row {
  seq: number;
  report_id: string;
  clinician: string;
  role: string;
  time: string;
  note: string;
  recorded_by: string;
  recorded_at: string;
}

export class SqlitePhoneLog implements PhoneLog {
  private readonly st;

  constructor(db: Db) {
    this.st = {
      insert: db.prepare<[string, string, string, string, string, string, string]>(
        'INSERT INTO sync_phone_communications (report_id, clinician, role, time, note, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      has: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM sync_phone_communications WHERE report_id = ?'),
      forReport: db.prepare<[string], Row>('SELECT * FROM sync_phone_communications WHERE report_id = ? ORDER BY seq'),
    };
  }

  record(reportId: string, call: PhoneCommunication, recordedBy: string, recordedAtIso: string): PhoneRecord {
    const parsed = PhoneCommunication.safeParse(call);
    if (!parsed.success) {
      throw new Error(`Phone communication record is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ')}`);
    }
    const c = parsed.data;
    const seq = Number(this.st.insert.run(reportId, c.clinician, c.role, new Date(c.time).toISOString(), c.note, recordedBy, recordedAtIso).lastInsertRowid);
    return { seq, reportId, clinician: c.clinician, role: c.role, time: new Date(c.time).toISOString(), note: c.note, recordedBy, recordedAt: recordedAtIso };
  }

  has(reportId: string): boolean {
    return (this.st.has.get(reportId)?.n ?? 0) > 0;
  }

  forReport(reportId: string): PhoneRecord[] {
    return this.st.forReport.all(reportId).map((r) => ({
      seq: r.seq,
      reportId: r.report_id,
      clinician: r.clinician,
      role: r.role,
      time: r.time,
      note: r.note,
      recordedBy: r.recorded_by,
      recordedAt: r.recorded_at,
    }));
  }
}
