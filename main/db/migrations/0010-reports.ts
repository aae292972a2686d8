// The local report store: the signer profile, reports (draft → signed), every saved revision,
// signed addenda, the append-only audit trail and the outbox the hub sync sends from.
// Immutability is enforced by the database itself (triggers), not only by ReportStore, so a
// bug or a hand-edit with the sqlite3 shell cannot change what was signed (domain.md §4).
import type { Migration } from './index.ts';

const SQL = /* sql */ `
CREATE TABLE profile (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  registration TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE reports (
  id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','signed')),
  template_id TEXT NOT NULL,
  content TEXT NOT NULL,
  revision INTEGER NOT NULL DEFAULT 0 CHECK (revision >= 0),
  author TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  signer_name TEXT,
  signer_role TEXT,
  signer_registration TEXT,
  signed_at TEXT,
  signature_meaning TEXT,
  content_hash TEXT,
  CHECK (
    (status = 'draft' AND signer_name IS NULL AND signer_role IS NULL AND signer_registration IS NULL
      AND signed_at IS NULL AND signature_meaning IS NULL AND content_hash IS NULL)
    OR
    (status = 'signed' AND signer_name IS NOT NULL AND signer_role IS NOT NULL AND signer_registration IS NOT NULL
      AND signed_at IS NOT NULL AND signature_meaning = 'final-report' AND length(content_hash) = 64)
  )
);
CREATE INDEX reports_by_study ON reports (study_uid, created_at);
CREATE INDEX reports_by_updated ON reports (updated_at);

CREATE TABLE report_revisions (
  report_id TEXT NOT NULL REFERENCES reports (id),
  revision INTEGER NOT NULL CHECK (revision >= 0),
  saved_at TEXT NOT NULL,
  actor TEXT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (report_id, revision)
) WITHOUT ROWID;

CREATE TABLE addenda (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  report_id TEXT NOT NULL REFERENCES reports (id),
  original_hash TEXT NOT NULL,
  text TEXT NOT NULL CHECK (length(trim(text)) > 0),
  signer_name TEXT NOT NULL,
  signer_role TEXT NOT NULL,
  signer_registration TEXT NOT NULL,
  signed_at TEXT NOT NULL,
  content_hash TEXT NOT NULL CHECK (length(content_hash) = 64)
);
CREATE INDEX addenda_by_report ON addenda (report_id, seq);

CREATE TABLE audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('create','edit','sign','addendum','view-signed','template-change')),
  report_id TEXT NOT NULL,
  revision INTEGER,
  detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_report ON audit (report_id, seq);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('report','addendum')),
  report_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,      -- crypto.randomUUID() created at signing
  payload TEXT NOT NULL,                     -- JSON, see common/hubPayload.ts
  created_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','synced','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  last_error TEXT,
  synced_at TEXT,
  hub_receipt TEXT
);
CREATE INDEX outbox_pending ON outbox (state, next_attempt_at, id);

-- Signed reports never change and are never deleted.
CREATE TRIGGER reports_signed_no_update BEFORE UPDATE ON reports
WHEN OLD.status = 'signed'
BEGIN SELECT RAISE(ABORT, 'signed reports are immutable'); END;

CREATE TRIGGER reports_signed_no_delete BEFORE DELETE ON reports
WHEN OLD.status = 'signed'
BEGIN SELECT RAISE(ABORT, 'signed reports cannot be deleted'); END;

-- A report stays bound to the study it was created for.
CREATE TRIGGER reports_binding_fixed BEFORE UPDATE OF id, patient_id, study_uid, created_at ON reports
WHEN NEW.id IS NOT OLD.id OR NEW.patient_id IS NOT OLD.patient_id OR NEW.study_uid IS NOT OLD.study_uid
  OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'a report stays bound to its study'); END;

-- Revision history is append-only; a signed report's revisions (its signed content) are frozen.
CREATE TRIGGER revisions_no_update BEFORE UPDATE ON report_revisions
BEGIN SELECT RAISE(ABORT, 'report revisions are append-only'); END;

CREATE TRIGGER revisions_signed_no_delete BEFORE DELETE ON report_revisions
WHEN (SELECT status FROM reports WHERE id = OLD.report_id) = 'signed'
BEGIN SELECT RAISE(ABORT, 'signed report content cannot be deleted'); END;

CREATE TRIGGER revisions_signed_no_insert BEFORE INSERT ON report_revisions
WHEN (SELECT status FROM reports WHERE id = NEW.report_id) = 'signed'
BEGIN SELECT RAISE(ABORT, 'signed reports are immutable; add an addendum'); END;

-- Addenda are signed records: never changed, never deleted, only on signed reports.
CREATE TRIGGER addenda_no_update BEFORE UPDATE ON addenda
BEGIN SELECT RAISE(ABORT, 'addenda are immutable'); END;

CREATE TRIGGER addenda_no_delete BEFORE DELETE ON addenda
BEGIN SELECT RAISE(ABORT, 'addenda cannot be deleted'); END;

CREATE TRIGGER addenda_only_signed BEFORE INSERT ON addenda
WHEN (SELECT status FROM reports WHERE id = NEW.report_id) IS NOT 'signed'
BEGIN SELECT RAISE(ABORT, 'addenda are added to signed reports only'); END;

-- The audit trail is append-only (21 CFR 11.10(e)).
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

-- The outbox's delivery state changes; what it delivers does not, and nothing undelivered is dropped.
CREATE TRIGGER outbox_payload_fixed BEFORE UPDATE OF id, kind, report_id, idempotency_key, payload, created_at ON outbox
WHEN NEW.id IS NOT OLD.id OR NEW.kind IS NOT OLD.kind OR NEW.report_id IS NOT OLD.report_id
  OR NEW.idempotency_key IS NOT OLD.idempotency_key OR NEW.payload IS NOT OLD.payload OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'outbox payloads are immutable'); END;

CREATE TRIGGER outbox_unsynced_no_delete BEFORE DELETE ON outbox
WHEN OLD.state <> 'synced'
BEGIN SELECT RAISE(ABORT, 'unsynced outbox rows cannot be deleted'); END;
`;

const migration: Migration = {
  version: 10,
  name: 'reports',
  up(db) {
    db.exec(SQL);
  },
};
export default migration;
