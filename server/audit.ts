// The hub's audit chain (issue 9 line 8). Every audit row holds the hash of its predecessor, so
// editing, deleting or reordering rows (even by someone who can drop the immutability triggers)
// breaks the chain at that row. Rows are chained in the order a lock hands out positions
// (migration 9's BEFORE INSERT trigger on `audit`, whoever the writer), not in `seq` order:
// bigserial values are drawn before commit, so two writers can commit out of seq order.
import crypto from 'node:crypto';
import type { Queryable } from './db/adapter.ts';

/** The predecessor of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * The text an audit row's hash is taken over, as a SQL expression on the row `r`: a JSON array
 * built by PostgreSQL itself (so the trigger, the backfill and verify-audit agree byte for byte)
 * of a version tag, the chain position, the predecessor's hash, seq, the time as microseconds
 * since 1970 (exact, and independent of the session's time zone), actor, action, report and the
 * detail as jsonb prints it. Migration 9 is built from it, and every stored hash depends on it:
 * it never changes (test/server/auditChain.test.ts pins one row's hash).
 */
export const auditCanonicalSql = (r: string): string =>
  `json_build_array('failsafe-audit-1', ${r}.chain_pos, ${r}.prev_hash, ${r}.seq, (extract(epoch FROM ${r}.at) * 1000000)::bigint, ${r}.actor_id, ${r}.action, ${r}.report_id, ${r}.detail)::text`;

/** The row's hash in SQL: sha256 of the canonical text's UTF-8, lower-case hex. */
export const auditHashSql = (r: string): string => `encode(sha256(convert_to(${auditCanonicalSql(r)}, 'UTF8')), 'hex')`;

export type AuditBreak = 'hash' | 'prev-hash' | 'position' | 'head';

export interface AuditChainResult {
  ok: boolean;
  /** Rows read. */
  rows: number;
  /** The chain's head as the database records it (null if the record is missing). */
  head: { pos: number; hash: string } | null;
  /**
   * The first row that does not hold: its chain position (null for a row written outside the
   * chain), its seq (null when rows are missing at the end), why, and a sentence saying so.
   */
  firstBroken?: { chainPos: number | null; seq: number | null; reason: AuditBreak; message: string };
}

interface ChainRow {
  seq: number;
  chain_pos: number | null;
  prev_hash: string | null;
  hash: string | null;
  canonical: string;
}

const PAGE = 5000;

/**
 * Walks the audit trail by chain position and recomputes every row's hash from its content
 * (the stored hashes are only compared, never trusted): a row whose content changed fails its
 * hash; a row removed, reordered or rewritten with a recomputed hash breaks the next row's link;
 * rows removed at the end leave the chain short of its head. Reads in pages, so a long trail is
 * never held in memory at once.
 */
export async function verifyAuditChain(db: Queryable): Promise<AuditChainResult> {
  const { rows: heads } = await db.query<{ pos: number; hash: string }>('SELECT pos, hash FROM audit_chain_head');
  const head = heads.length === 1 ? heads[0]! : null;
  const headMissing = heads.length === 0 ? 'is missing' : `is there ${heads.length} times`;
  let rows = 0;
  const broken = (chainPos: number | null, seq: number | null, reason: AuditBreak, message: string): AuditChainResult =>
    ({ ok: false, rows, head, firstBroken: { chainPos, seq, reason, message } });

  // A row without a position was written past the chain (its trigger dropped): it belongs nowhere.
  const { rows: loose } = await db.query<{ seq: number }>('SELECT seq FROM audit WHERE chain_pos IS NULL ORDER BY seq LIMIT 1');
  if (loose[0]) return broken(null, loose[0].seq, 'position', `Audit row seq ${loose[0].seq} has no chain position: it was written with the chain's trigger removed.`);

  let expectedPos = 1;
  let prev = GENESIS_HASH;
  let prevSeq: number | null = null;
  for (;;) {
    // From the last row read (inclusive, skipped below), so a copy of it across a page boundary is seen.
    const { rows: page } = await db.query<ChainRow>(
      `SELECT a.seq, a.chain_pos, a.prev_hash, a.hash, ${auditCanonicalSql('a')} AS canonical
         FROM audit a WHERE a.chain_pos >= $1 ORDER BY a.chain_pos, a.seq LIMIT ${PAGE + 1}`,
      [expectedPos - 1],
    );
    for (const r of page) {
      const pos = Number(r.chain_pos);
      if (pos === expectedPos - 1 && r.seq === prevSeq) continue;
      if (pos !== expectedPos) {
        return pos > expectedPos
          ? broken(expectedPos, r.seq, 'position', `Audit chain position ${expectedPos} is missing: the row before seq ${r.seq} (position ${pos}) was deleted.`)
          : broken(pos, r.seq, 'position', `Audit row seq ${r.seq} repeats chain position ${pos}${prevSeq === null ? '' : ` of seq ${prevSeq}`}: a row was copied or renumbered.`);
      }
      if (r.prev_hash !== prev) {
        return broken(pos, r.seq, 'prev-hash', `Audit row seq ${r.seq} (chain position ${pos}) does not follow the row before it: ${pos === 1 ? 'the first row does not start the chain' : `its predecessor's hash is not that of position ${pos - 1}${prevSeq === null ? '' : ` (seq ${prevSeq})`}`}, so a row before it was deleted, moved, or rewritten with a recomputed hash.`);
      }
      const hash = crypto.createHash('sha256').update(r.canonical, 'utf8').digest('hex');
      if (r.hash !== hash) {
        return broken(pos, r.seq, 'hash', `Audit row seq ${r.seq} (chain position ${pos}) does not match its hash: its content was changed after it was written.`);
      }
      rows++;
      expectedPos = pos + 1;
      prev = hash;
      prevSeq = r.seq;
    }
    if (page.length <= PAGE) break;
  }
  const last = expectedPos - 1;
  if (!head) return broken(last + 1, null, 'head', `The audit chain's head record (audit_chain_head) ${headMissing}, so rows removed at the end cannot be told: it was changed by hand.`);
  if (head.pos !== last || head.hash !== prev) {
    return head.pos > last
      ? broken(last + 1, null, 'head', `The audit chain ends at position ${last} but its head is at ${head.pos}: the last ${head.pos - last} row(s) were deleted.`)
      : broken(last, prevSeq, 'head', `The audit chain's head (position ${head.pos}) does not match its last row (position ${last}${prevSeq === null ? '' : `, seq ${prevSeq}`}): the head or the rows at the end were changed by hand.`);
  }
  return { ok: true, rows, head };
}
