// Take-over of unfinished drafts (issue 3, domain.md §6), the hub session setting, and the
// phone-communication log as part of the numbered schema.
// - reports.taken_over_by / taken_over_at: set on the workstation that LOST a draft to a
//   colleague (null = not taken over); the local copy is then read-only (ReportStore refuses
//   save and sign).
// - settings: small key/value store (e.g. the hub session).
// - sync_phone_communications: main/sync/PhoneLog.ts's SQL (CREATE ... IF NOT EXISTS, so a
//   database where PhoneLog already created it is unaffected).
// - audit: the action CHECK gains 'take-over' (I took a draft over) and 'taken-over' (a
//   colleague took mine). SQLite cannot alter a CHECK, so the table is rebuilt: every row is
//   copied with its seq, the AUTOINCREMENT counter is carried over, and the append-only
//   triggers are recreated exactly as 0010 defines them. This runs inside migrate()'s
//   transaction, so it is all or nothing.
import type { Migration } from './index.ts';

const SQL = /* sql */ `
ALTER TABLE reports ADD COLUMN taken_over_by TEXT;
ALTER TABLE reports ADD COLUMN taken_over_at TEXT;

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE audit_new (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('create','edit','sign','addendum','view-signed','template-change','take-over','taken-over')),
  report_id TEXT NOT NULL,
  revision INTEGER,
  detail TEXT NOT NULL DEFAULT ''
);
INSERT INTO audit_new (seq, at, actor, action, report_id, revision, detail)
  SELECT seq, at, actor, action, report_id, revision, detail FROM audit ORDER BY seq;
-- Keep the AUTOINCREMENT high-water mark, so a seq is never reused even if the newest rows were
-- ever gone (they cannot be: the trail is append-only; this is belt and braces).
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0))
  WHERE name = 'audit_new';
DROP TRIGGER audit_no_update;
DROP TRIGGER audit_no_delete;
DROP INDEX audit_by_report;
DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_by_report ON audit (report_id, seq);

-- The audit trail is append-only (21 CFR 11.10(e)).
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
`;

// The phone-communication record (main/sync/PhoneLog.ts), copied here so this shipped migration
// never changes when that file does.
const PHONE_LOG_SQL = /* sql */ `
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

const migration: Migration = {
  version: 30,
  name: 'take-over',
  up(db) {
    db.exec(SQL);
    db.exec(PHONE_LOG_SQL);
  },
};
export default migration;
