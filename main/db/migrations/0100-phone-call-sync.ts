// Phone calls synced to the hub's alert timeline (issue 9 line 6). The phone log itself
// (sync_phone_communications, 0030) is append-only and stays so: what changes as a call is sent
// lives beside it, one row per call, in sync_phone_uploads (main/sync/PhoneCallSync.ts):
// - call_id: the id the hub stores the call under (AlertPhoneCall.id, exactly-once: the hub
//   ignores an id it holds). A random id made the first time the call is considered for sending
//   and never changed (trigger), so every retry carries the same id; random rather than the
//   log's seq, because a database restored from a backup reuses seqs and a new call must never
//   be taken by the hub for an old one.
// - synced_at: when the hub confirmed it (null: not yet); attempts and last_error: the last
//   failure in words; refused: why the call cannot be sent as it is (never retried by itself; the
//   call stays in the log and on screen).
// A row is never deleted (trigger): a call once confirmed is never sent again.
import type { Migration } from './index.ts';

const SQL = /* sql */ `
CREATE TABLE sync_phone_uploads (
  seq INTEGER PRIMARY KEY REFERENCES sync_phone_communications (seq),
  call_id TEXT NOT NULL UNIQUE CHECK (length(call_id) BETWEEN 1 AND 64),
  synced_at TEXT,
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  last_error TEXT,
  refused TEXT
);
CREATE TRIGGER sync_phone_uploads_keep_id BEFORE UPDATE OF seq, call_id ON sync_phone_uploads
BEGIN SELECT RAISE(ABORT, 'a phone call keeps the id it is sent to the hub with'); END;
CREATE TRIGGER sync_phone_uploads_no_delete BEFORE DELETE ON sync_phone_uploads
BEGIN SELECT RAISE(ABORT, 'phone call upload records are kept'); END;
`;

const migration: Migration = {
  version: 100,
  name: 'phone-call-sync',
  up(db) {
    db.exec(SQL);
  },
};
export default migration;
