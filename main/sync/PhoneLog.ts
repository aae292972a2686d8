// The record that a radiologist phoned a critical or urgent finding through because the signed
// report had not reached the hub in time. Append-only, like the audit trail.
// NOTE for the lead: this table is created idempotently here (CREATE ... IF NOT EXISTS) because
// main/sync owns no migration; it should become a numbered migration with the same SQL.
import { z } from 'zod';
import type { Db } from '../db/database.ts';

export const PHONE_LOG_SQL = /* sql */ `
CREATE TABLE IF NOT EXISTS sync_phone_communications (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  report_id TEXT NOT NULL,
  clinician TEXT NOT NULL CHECK (length(trim(clinician)) > 0),
  role TEXT NOT NULL CHECK (length(trim(role)) > 0),
  time TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  recorded_by TEXT NOT NULL,
  recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_phone_by_report ON sync_phone_communications (report_id, seq);
CREATE TRIGGER IF NOT EXISTS sync_phone_no_update BEFORE UPDATE ON sync_phone_communications
BEGIN SELECT RAISE(ABORT, 'phone communication records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS sync_phone_no_delete BEFORE DELETE ON sync_phone_communications
BEGIN SELECT RAISE(ABORT, 'phone communication records are append-only'); END;
`;

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
    db.exec(PHONE_LOG_SQL);
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
