// The hub's audit chain (issue 9 line 8). Every audit row holds the hash of its predecessor, so
// editing, deleting or reordering rows (even by someone who can drop the immutability triggers)
// breaks the chain at that row. Writers insert rows unsealed and never wait for each other; the
// sealer (migration 9's failsafe_seal_audit, run by every hub instance every second and by
// verify-audit first) chains the committed ones in seq order, one sealer at a time. A transaction
// that commits late is sealed by a later pass, after the rows sealed before it: chain order is
// sealing order, not seq order (bigserial values are drawn before commit).
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
  /** Rows written since the last seal that this verification sealed before reading. */
  sealedNow: number;
  /**
   * The first row that does not hold: its chain position, its seq (null when rows are missing
   * at the end), why, and a sentence saying so.
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

export const AUDIT_SEAL_BATCH = 5000;
export const AUDIT_SEAL_INTERVAL_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Committed audit rows not sealed yet, and when the oldest was written (its `at`). */
export async function auditUnsealed(db: Queryable, now: number = Date.now()): Promise<{ rows: number; oldestAt: string | null; oldestAgeMs: number | null }> {
  const { rows } = await db.query<{ n: number; oldest: string | null }>('SELECT count(*)::int AS n, min(at) AS oldest FROM audit WHERE chain_pos IS NULL');
  const oldest = rows[0]?.oldest ?? null;
  return { rows: rows[0]?.n ?? 0, oldestAt: oldest, oldestAgeMs: oldest === null ? null : Math.max(0, now - Date.parse(oldest)) };
}

/**
 * Seals the committed unsealed audit rows (migration 9's failsafe_seal_audit, `batch` at a time
 * until a pass seals fewer). Returns how many this call sealed: 0 at once when another sealer
 * holds the chain's head, unless `waitMs` is given: then, while committed rows stay unsealed, it
 * tries again until they are sealed (by either) or `waitMs` has passed.
 */
export async function sealAuditChain(db: Queryable, { batch = AUDIT_SEAL_BATCH, waitMs = 0 }: { batch?: number; waitMs?: number } = {}): Promise<number> {
  if (!Number.isInteger(batch) || batch <= 0) throw new TypeError(`sealAuditChain: batch must be a positive integer, not ${String(batch)}`);
  const until = Date.now() + waitMs;
  let total = 0;
  for (;;) {
    const { rows } = await db.query<{ n: number }>('SELECT failsafe_seal_audit($1) AS n', [batch], { prepare: true });
    const n = rows[0]?.n ?? 0;
    total += n;
    if (n >= batch) continue;
    if (n > 0 || Date.now() >= until) return total;
    const { rows: left } = await db.query<{ e: boolean }>('SELECT EXISTS (SELECT 1 FROM audit WHERE chain_pos IS NULL) AS e');
    if (!left[0]?.e) return total;
    await sleep(20);
  }
}

export interface AuditSealer {
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
  /** A pass now (or right after the one under way). */
  kick(): void;
}

/**
 * Seals the audit chain in the background: a pass at start and every `intervalMs` (default 1 s),
 * never two at once. Errors go to `onError` (default: a line on stderr) and the next pass tries
 * again. The timer never keeps the process alive.
 */
export function startAuditSealer(db: Queryable, { intervalMs = AUDIT_SEAL_INTERVAL_MS, onError }: { intervalMs?: number; onError?: (err: unknown) => void } = {}): AuditSealer {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new TypeError(`startAuditSealer: intervalMs must be a positive number of milliseconds, not ${String(intervalMs)}`);
  const report = onError ?? ((err: unknown) => {
    console.error(`failsafe hub: audit sealer: ${err instanceof Error ? err.message : String(err)} (next try in ${intervalMs} ms)`);
  });
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  const pass = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = sealAuditChain(db).then(() => {}, (err: unknown) => {
      try {
        report(err);
      } catch { /* a failing reporter must not stop the sealer */ }
    }).finally(() => {
      running = null;
      if (stopped) return;
      if (again) {
        again = false;
        pass();
        return;
      }
      timer = setTimeout(pass, intervalMs);
      timer.unref();
    });
  };
  pass();
  return {
    async stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      await running;
    },
    kick: pass,
  };
}

type Walk = { broken: AuditChainResult } | null;

/**
 * Seals what is committed (so every row can be verified; rows of transactions still in flight
 * are left to the next pass, as are any another sealer holds), then walks the audit trail by
 * chain position and recomputes every row's hash from its content (the stored hashes are only
 * compared, never trusted): a row whose content changed fails its hash; a row removed,
 * reordered or rewritten with a recomputed hash breaks the next row's link; rows removed at the
 * end leave the chain short of its head; a row forged past it runs beyond the head. Reads in
 * pages, so a long trail is never held in memory at once.
 */
export async function verifyAuditChain(db: Queryable): Promise<AuditChainResult> {
  const sealedNow = await sealAuditChain(db, { waitMs: 10_000 });
  const readHead = async (): Promise<{ pos: number; hash: string }[]> =>
    (await db.query<{ pos: number; hash: string }>('SELECT pos, hash FROM audit_chain_head')).rows.map((h) => ({ pos: Number(h.pos), hash: h.hash }));
  // Reported with a row that does not hold; the check at the end reads it again.
  let head: { pos: number; hash: string } | null = (await readHead())[0] ?? null;
  let rows = 0;
  const broken = (chainPos: number | null, seq: number | null, reason: AuditBreak, message: string): AuditChainResult =>
    ({ ok: false, rows, head, sealedNow, firstBroken: { chainPos, seq, reason, message } });

  let expectedPos = 1;
  let prev = GENESIS_HASH;
  let prevSeq: number | null = null;
  /** From the last row read to the end of what is sealed now. */
  const walk = async (): Promise<Walk> => {
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
            ? { broken: broken(expectedPos, r.seq, 'position', `Audit chain position ${expectedPos} is missing: the row before seq ${r.seq} (position ${pos}) was deleted.`) }
            : { broken: broken(pos, r.seq, 'position', `Audit row seq ${r.seq} repeats chain position ${pos}${prevSeq === null ? '' : ` of seq ${prevSeq}`}: a row was copied or renumbered.`) };
        }
        if (r.prev_hash !== prev) {
          return { broken: broken(pos, r.seq, 'prev-hash', `Audit row seq ${r.seq} (chain position ${pos}) does not follow the row before it: ${pos === 1 ? 'the first row does not start the chain' : `its predecessor's hash is not that of position ${pos - 1}${prevSeq === null ? '' : ` (seq ${prevSeq})`}`}, so a row before it was deleted, moved, or rewritten with a recomputed hash.`) };
        }
        const hash = crypto.createHash('sha256').update(r.canonical, 'utf8').digest('hex');
        if (r.hash !== hash) {
          return { broken: broken(pos, r.seq, 'hash', `Audit row seq ${r.seq} (chain position ${pos}) does not match its hash: its content was changed after it was written.`) };
        }
        rows++;
        expectedPos = pos + 1;
        prev = hash;
        prevSeq = r.seq;
      }
      if (page.length <= PAGE) return null;
    }
  };

  // The head is read after the rows it covers: a seal commits its rows and the head together,
  // so once the head is read every row up to it can be read. Another sealer may move it on
  // while this reads; then the walk goes on to the new head.
  let end: { pos: number; hash: string } | null = null;
  for (;;) {
    const w = await walk();
    if (w) return w.broken;
    // The rows up to a head read before this walk are not all there: stop at that head.
    if (end && end.pos > expectedPos - 1) break;
    const heads = await readHead();
    if (heads.length !== 1) {
      head = null;
      return broken(expectedPos, null, 'head', `The audit chain's head record (audit_chain_head) ${heads.length === 0 ? 'is missing' : `is there ${heads.length} times`}, so rows removed at the end cannot be told: it was changed by hand.`);
    }
    end = heads[0]!;
    head = end;
    if (end.pos <= expectedPos - 1) break;
  }
  const last = expectedPos - 1;
  if (end.pos !== last || end.hash !== prev) {
    return end.pos > last
      ? broken(last + 1, null, 'head', `The audit chain ends at position ${last} but its head is at ${end.pos}: the last ${end.pos - last} row(s) were deleted.`)
      : broken(last, prevSeq, 'head', `The audit chain's head (position ${end.pos}) does not match its last row (position ${last}${prevSeq === null ? '' : `, seq ${prevSeq}`}): the head or the rows at the end were changed by hand.`);
  }
  return { ok: true, rows, head: end, sealedNow };
}
