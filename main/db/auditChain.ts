// The workstation's audit chain (issue 9 line 8; migration 0090). Every audit row holds the hash
// of the row before it (seq order: SQLite has one writer at a time, so seq is commit order), and
// `audit_chain_head` the last row's seq and hash. A row edited, deleted or moved, even with the
// append-only triggers dropped in the sqlite3 shell, breaks the chain at that row; rows deleted
// at the end leave the chain short of its head. The hub's chain is separate (server/audit.ts): its
// canonical text is built by PostgreSQL, this one in JS, each frozen with its own chain.
import crypto from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { Db } from './database.ts';

/** The predecessor of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/** The chain's migration: a database below it has no chain to verify. */
export const AUDIT_CHAIN_VERSION = 90;

/** An audit row's content as stored: every column but seq and the chain's own. */
export interface AuditRowContent {
  prevHash: string;
  at: string;
  actor: string;
  action: string;
  reportId: string;
  revision: number | null;
  detail: string;
}

/**
 * The hash of an audit row: sha256 (hex) of a JSON array of a version tag, the predecessor's hash
 * and every column of the row. seq is not in it: the order is fixed by each row naming its
 * predecessor, and the value is only known once SQLite has inserted the row. Every stored hash
 * depends on this text: it never changes (test/main/db/auditChain.test.ts pins one).
 */
export function auditRowHash(r: AuditRowContent): string {
  const text = JSON.stringify(['failsafe-workstation-audit-1', r.prevHash, r.at, r.actor, r.action, r.reportId, r.revision, r.detail]);
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

interface StoredRow {
  seq: number;
  at: string;
  actor: string;
  action: string;
  report_id: string;
  revision: number | null;
  detail: string;
  prev_hash: string | null;
  hash: string | null;
}

export interface WorkstationAuditResult {
  ok: boolean;
  /** Rows that hold, in seq order, before the first broken one (all of them when ok). */
  rows: number;
  /** The chain's head as the database records it (null if its record is missing). */
  head: { seq: number; hash: string } | null;
  /** The first row that does not hold (seq null when rows are missing at the end), why, and a sentence saying so. */
  firstBroken?: { seq: number | null; reason: 'hash' | 'prev-hash' | 'head'; message: string };
}

/**
 * Walks the audit trail in seq order and recomputes every row's hash from its content (stored
 * hashes are compared, never trusted). Reads row by row (an iterator), so a long trail is never
 * held in memory at once.
 */
export function verifyWorkstationAudit(db: Db): WorkstationAuditResult {
  const heads = db.prepare('SELECT seq, hash FROM audit_chain_head').all() as { seq: number; hash: string }[];
  const head = heads.length === 1 ? heads[0]! : null;
  let rows = 0;
  let prev = GENESIS_HASH;
  let prevSeq: number | null = null;
  const broken = (seq: number | null, reason: 'hash' | 'prev-hash' | 'head', message: string): WorkstationAuditResult =>
    ({ ok: false, rows, head, firstBroken: { seq, reason, message } });
  const it = db.prepare('SELECT seq, at, actor, action, report_id, revision, detail, prev_hash, hash FROM audit ORDER BY seq').iterate() as IterableIterator<StoredRow>;
  try {
    for (const r of it) {
      if (r.prev_hash !== prev) {
        const gap = prevSeq !== null && r.seq > prevSeq + 1 ? ` (seq ${prevSeq + 1}${r.seq - 1 > prevSeq + 1 ? `–${r.seq - 1}` : ''} missing)` : prevSeq === null && r.seq > 1 ? ` (seq 1${r.seq > 2 ? `–${r.seq - 1}` : ''} missing)` : '';
        return broken(r.seq, 'prev-hash', `Audit row seq ${r.seq} does not follow the row before it${gap}: ${prevSeq === null ? 'the first row does not start the chain' : `its predecessor's hash is not that of seq ${prevSeq}`}, so a row before it was deleted, moved, or rewritten with a recomputed hash.`);
      }
      const hash = auditRowHash({ prevHash: r.prev_hash, at: r.at, actor: r.actor, action: r.action, reportId: r.report_id, revision: r.revision, detail: r.detail });
      if (r.hash !== hash) return broken(r.seq, 'hash', `Audit row seq ${r.seq} does not match its hash: its content was changed after it was written.`);
      rows++;
      prev = hash;
      prevSeq = r.seq;
    }
  } finally {
    it.return?.();
  }
  if (!head) return broken(null, 'head', `The audit chain's head record (audit_chain_head) ${heads.length === 0 ? 'is missing' : `is there ${heads.length} times`}, so rows deleted at the end cannot be told: it was changed by hand.`);
  if (head.hash !== prev || head.seq !== (prevSeq ?? 0)) {
    return head.seq > (prevSeq ?? 0)
      ? broken(null, 'head', `The audit chain ends at seq ${prevSeq ?? 'none'} but its head is seq ${head.seq}: the last row(s) were deleted.`)
      : broken(prevSeq, 'head', `The audit chain's head (seq ${head.seq}) does not match its last row (seq ${prevSeq}): the head or the rows at the end were changed by hand.`);
  }
  return { ok: true, rows, head };
}

/**
 * `npm start -- --verify-audit [--data-dir DIR]`: checks the workstation database in `file`
 * without changing it (no migration: an older database is named, not upgraded). 0: intact; 1:
 * altered, naming the first broken row; 2: nothing could be checked.
 */
export function verifyAuditCommand(file: string): { code: 0 | 1 | 2; line: string } {
  if (!fs.existsSync(file)) return { code: 2, line: `Failsafe: there is no workstation database at ${file}; nothing was checked. Give the data folder with --data-dir.` };
  let db: Db;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch (err) {
    return { code: 2, line: `Failsafe: the workstation database ${file} cannot be opened (${err instanceof Error ? err.message : String(err)}); nothing was checked.` };
  }
  try {
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version < AUDIT_CHAIN_VERSION) {
      return { code: 2, line: `Failsafe: the workstation database ${file} is from before the audit chain (schema version ${version}); start Failsafe once to upgrade it, then verify.` };
    }
    const v = verifyWorkstationAudit(db);
    const head = v.head ? `chain head at seq ${v.head.seq}, hash ${v.head.hash}` : 'no chain head recorded';
    if (v.ok) return { code: 0, line: `Failsafe: the audit trail in ${file} is intact: ${v.rows} row${v.rows === 1 ? '' : 's'} chained; ${head}.` };
    return { code: 1, line: `Failsafe: the audit trail in ${file} has been altered. ${v.firstBroken!.message} (${v.rows} row${v.rows === 1 ? '' : 's'} before it hold; ${head}.)` };
  } finally {
    db.close();
  }
}
