// The audit chain (issue 9 line 8): every audit row holds the hash of the row before it, so a row
// edited, deleted or moved (even with the append-only triggers dropped in the sqlite3 shell) is
// found by `npm start -- --verify-audit` (main/db/auditChain.ts).
// - audit.prev_hash / audit.hash: written by the one insert site (ReportRepository.writeAudit),
//   which reads the head and hashes in JS inside the same transaction (SQLite has no sha256).
// - audit_chain_head: one row, the last audit row's seq and hash (seq 0 and the genesis hash when
//   the trail is empty), so rows deleted at the end are told too. An AFTER INSERT trigger moves it;
//   it can only ever name the newest row, and is never deleted.
// - A BEFORE INSERT trigger refuses a row that does not carry a hash or does not name the head as
//   its predecessor: a writer that bypassed the chain (or raced it) fails instead of forking it.
// - Existing rows are chained in seq order. The append-only trigger is dropped for that and
//   recreated exactly as 0010/0030 define it, inside migrate()'s transaction: all or nothing.
import { auditRowHash, GENESIS_HASH } from '../auditChain.ts';
import type { Migration } from './index.ts';

const SCHEMA = /* sql */ `
ALTER TABLE audit ADD COLUMN prev_hash TEXT;
ALTER TABLE audit ADD COLUMN hash TEXT;
CREATE TABLE audit_chain_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
`;

const TRIGGERS = /* sql */ `
CREATE TRIGGER audit_chain_follows BEFORE INSERT ON audit
WHEN NEW.hash IS NULL OR NEW.prev_hash IS NOT (SELECT hash FROM audit_chain_head WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only and hash-chained: a new row must carry its hash and name the last row''s hash as its predecessor'); END;

CREATE TRIGGER audit_chain_head_moves AFTER INSERT ON audit
BEGIN UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1; END;

CREATE TRIGGER audit_chain_head_is_last BEFORE UPDATE ON audit_chain_head
WHEN NEW.id IS NOT 1 OR NEW.seq IS NOT (SELECT max(seq) FROM audit) OR NEW.hash IS NOT (SELECT hash FROM audit WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'the audit chain head only ever names the newest audit row'); END;

CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
BEGIN SELECT RAISE(ABORT, 'the audit chain head is never deleted'); END;
`;

const migration: Migration = {
  version: 90,
  name: 'audit-chain',
  up(db) {
    db.exec(SCHEMA);
    db.exec('DROP TRIGGER audit_no_update');
    const rows = db.prepare('SELECT seq, at, actor, action, report_id, revision, detail FROM audit ORDER BY seq').all() as
      { seq: number; at: string; actor: string; action: string; report_id: string; revision: number | null; detail: string }[];
    const set = db.prepare<[string, string, number]>('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?');
    let prev = GENESIS_HASH;
    let last = 0;
    for (const r of rows) {
      const hash = auditRowHash({ prevHash: prev, at: r.at, actor: r.actor, action: r.action, reportId: r.report_id, revision: r.revision, detail: r.detail });
      set.run(prev, hash, r.seq);
      prev = hash;
      last = r.seq;
    }
    db.prepare('INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, ?, ?)').run(last, prev);
    // Exactly as 0010 and 0030 create it.
    db.exec(`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;`);
    db.exec(TRIGGERS);
  },
};
export default migration;
