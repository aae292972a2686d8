// Signatures as records, the report life cycle and the exam (issue 6, lines 1-3).
// - signatures: one immutable row per electronic signature (provisional, final-report,
//   verification, addendum): signer name/role/registration, time, meaning and the SHA-256 of
//   exactly what was signed. Every signature made before this migration moves here with its hash
//   unchanged: each signed report's (from the reports row) and each addendum's (the addenda rows
//   stay as they are; their signer columns are the shipped record and never change).
// - reports: rebuilt (SQLite cannot change a CHECK) with `state` (common/lifecycle.ts) instead of
//   status draft/signed and the flattened signature columns, plus `exam` (the exam details bound
//   into the signature, JSON; NULL for reports signed before exams were recorded). Rows keep their
//   rowid. A signed report becomes final, appended when it has addenda; a taken-over draft
//   becomes taken-over.
// - outbox: rebuilt so its kind may be 'verification'; rows keep their ids and the AUTOINCREMENT
//   high-water mark.
// - Triggers: a signed report changes only its state, only by a life-cycle transition, and only
//   once the signature that makes it is on record; signatures and addenda can never be updated,
//   deleted or replaced. INSERT OR REPLACE deletes the row it conflicts with WITHOUT firing delete
//   triggers (unless recursive_triggers is on), so every append-only table also refuses an insert
//   that would conflict with an existing row.
// Every value list in this SQL is built from common/lifecycle.ts (the one place they are written).
// migrate() runs this with foreign keys off (the documented way to rebuild a table) and checks
// every foreign key before it commits.
import { FINAL_STATES, REPORT_STATES, ROLES, SIGNATURE_MEANINGS, SIGNED_STATES, TRANSITIONS, type ReportState } from '../../../common/lifecycle.ts';
import { OutboxPayload } from '../../../common/hubPayload.ts';
import type { Migration } from './index.ts';

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const sqlList = (values: readonly string[]): string => `(${values.map(quote).join(', ')})`;

const DRAFT: ReportState = 'draft';
const FINAL: ReportState = 'final';
const APPENDED: ReportState = 'appended';
const TAKEN_OVER: ReportState = TRANSITIONS['take-over'].to;
const ADDENDUM = TRANSITIONS.addendum.meaning;
const OUTBOX_KINDS = OutboxPayload.options.map((o) => o.shape.kind.value);
const transitions = Object.values(TRANSITIONS);

/** A state change is a life-cycle transition, and a signing one only with its signature on record. */
const STATE_CHANGES = transitions
  .flatMap((t) =>
    t.from
      .filter((from) => from !== t.to)
      .map((from) => {
        const signed = t.meaning === null ? '' : ` AND EXISTS (SELECT 1 FROM signatures s WHERE s.report_id = NEW.id AND s.meaning = ${quote(t.meaning)})`;
        return `(OLD.state = ${quote(from)} AND NEW.state = ${quote(t.to)}${signed})`;
      }),
  )
  .join('\n    OR ');

/** A signature is added only to a report in a state its meaning's transition leaves. */
const SIGNATURE_FITS = transitions
  .filter((t) => t.meaning !== null)
  .map((t) => `(NEW.meaning = ${quote(t.meaning!)} AND (SELECT state FROM reports WHERE id = NEW.report_id) IN ${sqlList(t.from)})`)
  .join('\n    OR ');

const SQL = /* sql */ `
-- The triggers of 0010 that read reports.status go; their successors are created below.
DROP TRIGGER revisions_signed_no_delete;
DROP TRIGGER revisions_signed_no_insert;
DROP TRIGGER addenda_only_signed;

CREATE TABLE reports_new (
  id TEXT PRIMARY KEY,
  patient_id TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT ${quote(DRAFT)} CHECK (state IN ${sqlList(REPORT_STATES)}),
  template_id TEXT NOT NULL,
  content TEXT NOT NULL,
  revision INTEGER NOT NULL DEFAULT 0 CHECK (revision >= 0),
  author TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  exam TEXT CHECK (exam IS NULL OR json_valid(exam)),
  taken_over_by TEXT,
  taken_over_at TEXT,
  CHECK ((state = ${quote(TAKEN_OVER)}) = (taken_over_by IS NOT NULL))
);
INSERT INTO reports_new (rowid, id, patient_id, study_uid, state, template_id, content, revision, author, created_at, updated_at, exam, taken_over_by, taken_over_at)
  SELECT r.rowid, r.id, r.patient_id, r.study_uid,
    CASE
      WHEN r.content_hash IS NOT NULL AND EXISTS (SELECT 1 FROM addenda a WHERE a.report_id = r.id) THEN ${quote(APPENDED)}
      WHEN r.content_hash IS NOT NULL THEN ${quote(FINAL)}
      WHEN r.taken_over_by IS NOT NULL THEN ${quote(TAKEN_OVER)}
      ELSE ${quote(DRAFT)}
    END,
    r.template_id, r.content, r.revision, r.author, r.created_at, r.updated_at, NULL, r.taken_over_by, r.taken_over_at
  FROM reports r ORDER BY r.rowid;

CREATE TABLE signatures (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 64),
  report_id TEXT NOT NULL REFERENCES reports (id),
  meaning TEXT NOT NULL CHECK (meaning IN ${sqlList(SIGNATURE_MEANINGS)}),
  signer_name TEXT NOT NULL CHECK (length(trim(signer_name)) > 0),
  signer_role TEXT NOT NULL CHECK (signer_role IN ${sqlList(ROLES)}),
  signer_registration TEXT NOT NULL,
  signed_at TEXT NOT NULL,
  content_hash TEXT NOT NULL CHECK (length(content_hash) = 64 AND content_hash NOT GLOB '*[^0-9a-f]*'),
  addendum_id TEXT UNIQUE REFERENCES addenda (id),
  CHECK ((meaning = ${quote(ADDENDUM)}) = (addendum_id IS NOT NULL))
);
-- One provisional, one final-report, one verification per report; addenda as many as signed.
CREATE UNIQUE INDEX signatures_one_each ON signatures (report_id, meaning) WHERE addendum_id IS NULL;
CREATE INDEX signatures_by_report ON signatures (report_id, seq);

-- Every signature already made, hashes unchanged, oldest first: each report's, then the addenda.
INSERT INTO signatures (id, report_id, meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id)
  SELECT lower(hex(randomblob(16))), id, signature_meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, NULL
  FROM reports WHERE content_hash IS NOT NULL ORDER BY signed_at, rowid;
INSERT INTO signatures (id, report_id, meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id)
  SELECT lower(hex(randomblob(16))), report_id, ${quote(ADDENDUM)}, signer_name, signer_role, signer_registration, signed_at, content_hash, id
  FROM addenda ORDER BY seq;

DROP TABLE reports;
ALTER TABLE reports_new RENAME TO reports;
CREATE INDEX reports_by_study ON reports (study_uid, created_at);
CREATE INDEX reports_by_updated ON reports (updated_at);

-- The outbox, with every payload kind of common/hubPayload.ts.
CREATE TABLE outbox_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ${sqlList(OUTBOX_KINDS)}),
  report_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  payload TEXT NOT NULL,
  created_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','synced','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  last_error TEXT,
  synced_at TEXT,
  hub_receipt TEXT
);
INSERT INTO outbox_new (id, kind, report_id, idempotency_key, payload, created_at, state, attempts, next_attempt_at, last_error, synced_at, hub_receipt)
  SELECT id, kind, report_id, idempotency_key, payload, created_at, state, attempts, next_attempt_at, last_error, synced_at, hub_receipt FROM outbox ORDER BY id;
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0))
  WHERE name = 'outbox_new';
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (state, next_attempt_at, id);

-- ---- reports ----
CREATE TRIGGER reports_start_as_drafts BEFORE INSERT ON reports
WHEN NEW.state IS NOT ${quote(DRAFT)} OR EXISTS (SELECT 1 FROM reports WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'a report starts as a new draft; signed reports are immutable'); END;

-- A signed report row changes only its state (by a transition below); nothing else, ever.
CREATE TRIGGER reports_signed_no_update BEFORE UPDATE ON reports
WHEN OLD.state IN ${sqlList(SIGNED_STATES)} AND (NEW.state IS OLD.state
  OR NEW.template_id IS NOT OLD.template_id OR NEW.content IS NOT OLD.content OR NEW.revision IS NOT OLD.revision
  OR NEW.author IS NOT OLD.author OR NEW.updated_at IS NOT OLD.updated_at OR NEW.exam IS NOT OLD.exam
  OR NEW.taken_over_by IS NOT OLD.taken_over_by OR NEW.taken_over_at IS NOT OLD.taken_over_at)
BEGIN SELECT RAISE(ABORT, 'signed reports are immutable'); END;

CREATE TRIGGER reports_state_by_transition BEFORE UPDATE OF state ON reports
WHEN NEW.state IS NOT OLD.state AND NOT (
    ${STATE_CHANGES})
BEGIN SELECT RAISE(ABORT, 'a report changes state only by a life-cycle transition, after its signature is recorded'); END;

CREATE TRIGGER reports_signed_no_delete BEFORE DELETE ON reports
WHEN OLD.state IN ${sqlList(SIGNED_STATES)}
BEGIN SELECT RAISE(ABORT, 'signed reports cannot be deleted'); END;

CREATE TRIGGER reports_binding_fixed BEFORE UPDATE OF id, patient_id, study_uid, created_at ON reports
WHEN NEW.id IS NOT OLD.id OR NEW.patient_id IS NOT OLD.patient_id OR NEW.study_uid IS NOT OLD.study_uid
  OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'a report stays bound to its study'); END;

-- ---- revisions: append-only; a signed report's revisions (its signed content) are frozen ----
CREATE TRIGGER revisions_no_replace BEFORE INSERT ON report_revisions
WHEN EXISTS (SELECT 1 FROM report_revisions WHERE report_id = NEW.report_id AND revision = NEW.revision)
BEGIN SELECT RAISE(ABORT, 'report revisions are append-only'); END;

CREATE TRIGGER revisions_signed_no_delete BEFORE DELETE ON report_revisions
WHEN (SELECT state FROM reports WHERE id = OLD.report_id) IN ${sqlList(SIGNED_STATES)}
BEGIN SELECT RAISE(ABORT, 'signed report content cannot be deleted'); END;

CREATE TRIGGER revisions_signed_no_insert BEFORE INSERT ON report_revisions
WHEN (SELECT state FROM reports WHERE id = NEW.report_id) IN ${sqlList(SIGNED_STATES)}
BEGIN SELECT RAISE(ABORT, 'signed reports are immutable; add an addendum'); END;

-- ---- addenda: only on final reports; never changed, deleted or replaced ----
CREATE TRIGGER addenda_only_final BEFORE INSERT ON addenda
WHEN coalesce((SELECT state FROM reports WHERE id = NEW.report_id), '') NOT IN ${sqlList(FINAL_STATES)}
BEGIN SELECT RAISE(ABORT, 'addenda are added to final reports only'); END;

CREATE TRIGGER addenda_no_replace BEFORE INSERT ON addenda
WHEN EXISTS (SELECT 1 FROM addenda WHERE id = NEW.id OR seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'addenda are immutable'); END;

-- ---- signatures: never changed, deleted or replaced; each fits the report's state ----
CREATE TRIGGER signatures_no_update BEFORE UPDATE ON signatures
BEGIN SELECT RAISE(ABORT, 'signatures are immutable'); END;

CREATE TRIGGER signatures_no_delete BEFORE DELETE ON signatures
BEGIN SELECT RAISE(ABORT, 'signatures cannot be deleted'); END;

CREATE TRIGGER signatures_no_replace BEFORE INSERT ON signatures
WHEN EXISTS (SELECT 1 FROM signatures WHERE id = NEW.id OR seq = NEW.seq OR addendum_id = NEW.addendum_id
  OR (report_id = NEW.report_id AND meaning = NEW.meaning AND addendum_id IS NULL AND NEW.addendum_id IS NULL))
BEGIN SELECT RAISE(ABORT, 'signatures are immutable'); END;

CREATE TRIGGER signatures_fit_state BEFORE INSERT ON signatures
WHEN NOT (
    ${SIGNATURE_FITS})
BEGIN SELECT RAISE(ABORT, 'this signature does not fit the report''s life-cycle state'); END;

-- ---- audit and outbox: what was written stays written ----
CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit
WHEN EXISTS (SELECT 1 FROM audit WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;

CREATE TRIGGER outbox_payload_fixed BEFORE UPDATE OF id, kind, report_id, idempotency_key, payload, created_at ON outbox
WHEN NEW.id IS NOT OLD.id OR NEW.kind IS NOT OLD.kind OR NEW.report_id IS NOT OLD.report_id
  OR NEW.idempotency_key IS NOT OLD.idempotency_key OR NEW.payload IS NOT OLD.payload OR NEW.created_at IS NOT OLD.created_at
BEGIN SELECT RAISE(ABORT, 'outbox payloads are immutable'); END;

CREATE TRIGGER outbox_no_replace BEFORE INSERT ON outbox
WHEN EXISTS (SELECT 1 FROM outbox WHERE id = NEW.id OR idempotency_key = NEW.idempotency_key)
BEGIN SELECT RAISE(ABORT, 'outbox payloads are immutable'); END;

CREATE TRIGGER outbox_unsynced_no_delete BEFORE DELETE ON outbox
WHEN OLD.state <> 'synced'
BEGIN SELECT RAISE(ABORT, 'unsynced outbox rows cannot be deleted'); END;
`;

const migration: Migration = {
  version: 50,
  name: 'signatures',
  up(db) {
    db.exec(SQL);
  },
};
export default migration;
