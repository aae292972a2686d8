// The hub's audit chain (issue 9 line 8), on PGlite and PostgreSQL: audit rows are written
// unsealed, without a lock, and sealed after commit (the hub's sealer, or verifyAuditChain before
// it verifies): each then holds its predecessor's hash, so concurrent writers (logins, failed
// logins, batched ingests, a transaction committing after later rows were sealed) and concurrent
// sealers still make one intact chain, and no writer waits for a seal. The triggers refuse a row
// written with chain columns and every UPDATE but sealing. Then, as the schema's owner with the
// triggers dropped or disabled, each kind of tamper (a row edited, deleted in the middle or at the
// end, two rows swapped, a row rewritten with its hash recomputed, a row forged in the middle or
// at the end, a row let go of its chain) is caught and the first broken row named. Each tamper
// runs in a transaction that is rolled back, so every case starts from the same intact chain.
// Migration 9 chains an existing trail; `npm run hub -- verify-audit` answers 0 on an intact trail
// and 1, in words, on a tampered one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCanonicalSql, auditHashSql, auditUnsealed, GENESIS_HASH, sealAuditChain, startAuditSealer, verifyAuditChain, type AuditChainResult } from '../../server/audit.ts';
import type { HubDb, Queryable } from '../../server/db/adapter.ts';
import { migrate, MIGRATIONS } from '../../server/db/migrations.ts';
import { addUser, count, http, loginAs, openTestHub, PG_URL, post, sha256, signedReport, testDb, type DbKind, type TestUser } from './support.ts';

class Rollback extends Error {}

/** Runs `tamper` as the owner inside a transaction, verifies the chain it leaves, then rolls it all back. */
async function verifyAfter(db: HubDb, tamper: string[] | ((tx: Queryable) => Promise<void>)): Promise<AuditChainResult> {
  let result: AuditChainResult | null = null;
  await db.transaction(async (tx) => {
    if (typeof tamper === 'function') await tamper(tx);
    else for (const sql of tamper) await tx.query(sql);
    result = await verifyAuditChain(tx);
    throw new Rollback();
  }).catch((err: unknown) => {
    if (!(err instanceof Rollback)) throw err;
  });
  return result!;
}

/** Runs `fn` in a transaction that is always rolled back; resolves to what `fn` threw (or null). */
async function refusedIn(db: HubDb, fn: (tx: Queryable) => Promise<void>): Promise<Error | null> {
  let refused: Error | null = null;
  await db.transaction(async (tx) => {
    try {
      await fn(tx);
    } catch (err) {
      refused = err as Error;
    }
    throw new Rollback();
  }).catch((err: unknown) => {
    if (!(err instanceof Rollback)) throw err;
  });
  return refused;
}

/** The trail in chain order. */
async function chain(db: Queryable): Promise<{ seq: number; chain_pos: number; hash: string }[]> {
  return (await db.query<{ seq: number; chain_pos: number; hash: string }>('SELECT seq, chain_pos, hash FROM audit ORDER BY chain_pos')).rows;
}

describe.each<DbKind>(['pglite', 'postgres'])('the hub\'s audit chain (%s)', (kind) => {
  let db: HubDb;
  let url = '';
  let close: () => Promise<void> = async () => {};
  let users: TestUser[] = [];

  beforeAll(async () => {
    ({ db, url, close } = await openTestHub(kind, 'audit_chain'));
    users = [];
    for (let i = 0; i < 6; i++) users.push(await addUser(db, 'radiologist'));
  }, 180_000);
  afterAll(async () => close());

  it('concurrent logins, failed logins and ingests (the hub\'s sealer running) make one intact chain once sealed', async () => {
    const tokens = await Promise.all(users.map((u) => loginAs(url, u)));
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 36; i++) {
      const u = users[i % users.length]!;
      work.push(post(url, tokens[i % users.length]!, signedReport(u)).then((r) => expect(r.status).toBe(201)));
      if (i % 3 === 0) work.push(loginAs(url, u));
      if (i % 9 === 0) work.push(http(url, 'POST', '/api/session', { body: { username: u.username, password: 'not the password' } }).then((r) => expect(r.status).toBe(401)));
    }
    await Promise.all(work);
    const v = await verifyAuditChain(db);
    expect(await auditUnsealed(db)).toMatchObject({ rows: 0, oldestAt: null });
    const rows = await count(db, 'audit');
    expect(rows).toBeGreaterThanOrEqual(36 + 12 + 4 + users.length);
    expect(v).toMatchObject({ ok: true, rows });
    const c = await chain(db);
    expect(c.map((r) => r.chain_pos)).toEqual(c.map((_, i) => i + 1));
    expect(v.head).toEqual({ pos: rows, hash: c.at(-1)!.hash });
  });

  it('hashes a fixed canonical text (pinned: every stored hash depends on it), and the sealer stores its sha256', async () => {
    const { rows } = await db.query<{ c: string }>(`SELECT ${auditCanonicalSql('x')} AS c FROM (SELECT 7::bigint AS chain_pos, '${GENESIS_HASH}'::text AS prev_hash,
      3::bigint AS seq, '2026-11-28T10:00:00.123456Z'::timestamptz AS at, 5::bigint AS actor_id, 'login'::text AS action, NULL::text AS report_id,
      '{"b": 1, "a": "é\\"x"}'::jsonb AS detail) x`);
    expect(rows[0]!.c).toBe(`["failsafe-audit-1", 7, "${GENESIS_HASH}", 3, 1795860000123456, 5, "login", null, {"a": "é\\"x", "b": 1}]`);
    const last = await db.query<{ hash: string; c: string }>(`SELECT hash, ${auditCanonicalSql('a')} AS c FROM audit a WHERE chain_pos IS NOT NULL ORDER BY chain_pos DESC LIMIT 1`);
    expect(last.rows[0]!.hash).toBe(sha256(last.rows[0]!.c));
  });

  it('the hub\'s sealer seals rows on its own: a row written is sealed within a few passes without anyone verifying', async () => {
    const token = await loginAs(url, users[0]!);
    expect((await post(url, token, signedReport(users[0]!))).status).toBe(201);
    for (let i = 0; i < 100 && (await auditUnsealed(db)).rows > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await auditUnsealed(db)).rows).toBe(0);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, sealedNow: 0 });
  });

  it('a row is written unsealed (a row arriving with any chain column set is refused) and tells its age until sealed', async () => {
    for (const cols of ['chain_pos', 'prev_hash', 'hash']) {
      const value = cols === 'chain_pos' ? '999999' : `'${GENESIS_HASH}'`;
      await expect(db.query(`INSERT INTO audit (at, action, ${cols}) VALUES (now(), 'login', ${value})`), cols).rejects.toThrow(/written unsealed; only the sealer chains it/);
    }
    const err = await refusedIn(db, async (tx) => {
      await tx.query(`INSERT INTO audit (at, action, detail) VALUES (now() - interval '5 seconds', 'test-unsealed', '{}')`);
      const { rows } = await tx.query<{ chain_pos: number | null; prev_hash: string | null; hash: string | null }>(`SELECT chain_pos, prev_hash, hash FROM audit WHERE action = 'test-unsealed'`);
      expect(rows).toEqual([{ chain_pos: null, prev_hash: null, hash: null }]);
      const u = await auditUnsealed(tx);
      expect(u.rows).toBe(1);
      expect(u.oldestAgeMs).toBeGreaterThanOrEqual(4000);
    });
    expect(err).toBeNull();
  });

  it('no UPDATE but sealing: a sealed row, an unsealed row\'s other columns, or chain columns set by hand are refused', async () => {
    await sealAuditChain(db);
    const refusals = [
      `UPDATE audit SET action = 'x' WHERE chain_pos = 1`,
      `UPDATE audit SET chain_pos = NULL, prev_hash = NULL, hash = NULL WHERE chain_pos = 1`,
      `SELECT set_config('failsafe.sealing', 'on', true); UPDATE audit SET hash = '${GENESIS_HASH}' WHERE chain_pos = 1`,
    ];
    for (const sql of refusals) {
      const err = await refusedIn(db, async (tx) => {
        for (const one of sql.split('; ')) await tx.query(one);
      });
      expect(err?.message, sql).toMatch(/the audit trail is immutable \(UPDATE refused\)/);
    }
    const head = (await db.query<{ pos: number }>('SELECT pos FROM audit_chain_head')).rows[0]!.pos;
    const unsealed = [
      `UPDATE audit SET detail = '{"x": 1}' WHERE action = 'test-unsealed'`,
      `UPDATE audit SET chain_pos = ${head + 1}, prev_hash = 'p', hash = 'h' WHERE action = 'test-unsealed'`,
      `SELECT set_config('failsafe.sealing', 'on', true); UPDATE audit SET action = 'x', chain_pos = ${head + 1}, prev_hash = 'p', hash = 'h' WHERE action = 'test-unsealed'`,
      `DELETE FROM audit WHERE action = 'test-unsealed'`,
    ];
    for (const sql of unsealed) {
      const err = await refusedIn(db, async (tx) => {
        await tx.query(`INSERT INTO audit (at, action, detail) VALUES (now(), 'test-unsealed', '{}')`);
        for (const one of sql.split('; ')) await tx.query(one);
      });
      expect(err?.message, sql).toMatch(/the audit trail is immutable \((UPDATE|DELETE) refused\)/);
    }
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });

  it('the head moves only with sealed rows: no statement may set, add, remove or empty it', async () => {
    for (const sql of ['UPDATE audit_chain_head SET pos = 1', 'INSERT INTO audit_chain_head (one, pos, hash) VALUES (false, 0, \'x\')', 'DELETE FROM audit_chain_head', 'TRUNCATE audit_chain_head']) {
      await expect(db.query(sql), sql).rejects.toThrow(/audit chain head/);
    }
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });

  describe('each tamper, made by the owner past the triggers, is caught and the first broken row named', () => {
    let c: { seq: number; chain_pos: number; hash: string }[] = [];
    let mid = 0;
    const off = 'ALTER TABLE audit DISABLE TRIGGER USER';
    beforeAll(async () => {
      await sealAuditChain(db);
      c = await chain(db);
      mid = Math.floor(c.length / 2);
      expect(c.length).toBeGreaterThan(20);
    });
    const at = (pos: number): { seq: number; chain_pos: number; hash: string } => c[pos - 1]!;

    it('a row\'s detail edited', async () => {
      const v = await verifyAfter(db, [off, `UPDATE audit SET detail = detail || '{"note": "added later"}' WHERE chain_pos = ${mid}`]);
      expect(v.firstBroken).toMatchObject({ chainPos: mid, seq: at(mid).seq, reason: 'hash' });
      expect(v.firstBroken!.message).toMatch(new RegExp(`^Audit row seq ${at(mid).seq} \\(chain position ${mid}\\) does not match its hash: its content was changed`));
      expect(v.rows).toBe(mid - 1);
    });

    it('a row\'s time moved by one microsecond, or its seq changed (the triggers dropped)', async () => {
      const drop = ['DROP TRIGGER audit_no_update ON audit', 'DROP TRIGGER audit_chain ON audit'];
      expect((await verifyAfter(db, [...drop, `UPDATE audit SET at = at + interval '1 microsecond' WHERE chain_pos = 2`])).firstBroken)
        .toMatchObject({ chainPos: 2, seq: at(2).seq, reason: 'hash' });
      expect((await verifyAfter(db, [...drop, `UPDATE audit SET seq = seq + 1000000 WHERE chain_pos = ${mid}`])).firstBroken)
        .toMatchObject({ chainPos: mid, seq: at(mid).seq + 1000000, reason: 'hash' });
    });

    it('a row deleted in the middle, and deleted with the later rows renumbered to close the gap', async () => {
      expect((await verifyAfter(db, [off, `DELETE FROM audit WHERE chain_pos = ${mid}`])).firstBroken)
        .toMatchObject({ chainPos: mid, seq: at(mid + 1).seq, reason: 'position' });
      const renumbered = await verifyAfter(db, [off, 'DROP INDEX audit_chain_pos', `DELETE FROM audit WHERE chain_pos = ${mid}`, `UPDATE audit SET chain_pos = chain_pos - 1 WHERE chain_pos > ${mid}`]);
      expect(renumbered.firstBroken).toMatchObject({ chainPos: mid, seq: at(mid + 1).seq, reason: 'prev-hash' });
      expect(renumbered.firstBroken!.message).toContain('does not follow the row before it');
    });

    it('the first row deleted', async () => {
      expect((await verifyAfter(db, [off, 'DELETE FROM audit WHERE chain_pos = 1'])).firstBroken).toMatchObject({ chainPos: 1, seq: at(2).seq, reason: 'position' });
    });

    it('the last row deleted: the chain stops short of its head', async () => {
      const n = c.length;
      const v = await verifyAfter(db, [off, `DELETE FROM audit WHERE chain_pos = ${n}`]);
      expect(v.firstBroken).toMatchObject({ chainPos: n, seq: null, reason: 'head' });
      expect(v.firstBroken!.message).toBe(`The audit chain ends at position ${n - 1} but its head is at ${n}: the last 1 row(s) were deleted.`);
    });

    it('the last rows deleted and the head rewound too: the chain holds, but its head no longer matches one kept elsewhere', async () => {
      const n = c.length;
      const v = await verifyAfter(db, [off, 'ALTER TABLE audit_chain_head DISABLE TRIGGER USER', `DELETE FROM audit WHERE chain_pos > ${n - 2}`,
        `UPDATE audit_chain_head SET pos = ${n - 2}, hash = '${at(n - 2).hash}'`]);
      // What verify-audit prints for the site to keep: here the anchor is the head before the tamper.
      expect(v.ok).toBe(true);
      expect(v.head).not.toEqual({ pos: n, hash: at(n).hash });
    });

    it('two rows swapped: by content, by position (with their hashes), and by seq', async () => {
      const [p, q] = [3, mid];
      const byContent = await verifyAfter(db, [off,
        `UPDATE audit a SET at = b.at, actor_id = b.actor_id, action = b.action, report_id = b.report_id, detail = b.detail
           FROM audit b WHERE (a.chain_pos, b.chain_pos) IN ((${p}, ${q}), (${q}, ${p}))`]);
      expect(byContent.firstBroken).toMatchObject({ chainPos: p, seq: at(p).seq, reason: 'hash' });
      const byPosition = await verifyAfter(db, [off, 'DROP INDEX audit_chain_pos',
        `UPDATE audit SET chain_pos = CASE chain_pos WHEN ${p} THEN ${q} ELSE ${p} END WHERE chain_pos IN (${p}, ${q})`]);
      expect(byPosition.firstBroken).toMatchObject({ chainPos: p, seq: at(q).seq, reason: 'prev-hash' });
      const bySeq = await verifyAfter(db, [off, `UPDATE audit SET seq = -seq WHERE chain_pos IN (${p}, ${q})`,
        `UPDATE audit SET seq = CASE WHEN -seq = ${at(p).seq} THEN ${at(q).seq} ELSE ${at(p).seq} END WHERE seq < 0`]);
      expect(bySeq.firstBroken).toMatchObject({ chainPos: p, seq: at(q).seq, reason: 'hash' });
    });

    it('a row rewritten with its hash recomputed: caught by the next row\'s link; every later hash recomputed too: caught by the head', async () => {
      const rewrite = [off, `UPDATE audit SET detail = '{"rewritten": true}' WHERE chain_pos = ${mid}`, `UPDATE audit SET hash = ${auditHashSql('audit')} WHERE chain_pos = ${mid}`];
      const v = await verifyAfter(db, rewrite);
      expect(v.firstBroken).toMatchObject({ chainPos: mid + 1, seq: at(mid + 1).seq, reason: 'prev-hash' });
      expect(v.rows).toBe(mid);
      const relinked = await verifyAfter(db, async (tx) => {
        for (const sql of rewrite) await tx.query(sql);
        for (let pos = mid + 1; pos <= c.length; pos++) {
          await tx.query(`UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE chain_pos = ${pos - 1}) WHERE chain_pos = ${pos}`);
          await tx.query(`UPDATE audit SET hash = ${auditHashSql('audit')} WHERE chain_pos = ${pos}`);
        }
      });
      expect(relinked.firstBroken).toMatchObject({ chainPos: c.length, seq: at(c.length).seq, reason: 'head' });
    });

    it('a row forged at the end past the trigger, linked and hashed correctly: the chain runs past its head', async () => {
      const n = c.length;
      const v = await verifyAfter(db, [off,
        `INSERT INTO audit (at, action, detail, chain_pos, prev_hash, hash) VALUES (now(), 'login', '{}', ${n + 1}, '${at(n).hash}', '')`,
        `UPDATE audit SET hash = ${auditHashSql('audit')} WHERE chain_pos = ${n + 1}`]);
      expect(v.firstBroken).toMatchObject({ chainPos: n + 1, reason: 'head' });
      expect(v.rows).toBe(n + 1);
    });

    it('a row forged in the middle past the triggers, linked and hashed as the row it sits beside: it repeats a position', async () => {
      const v = await verifyAfter(db, [off, 'DROP INDEX audit_chain_pos',
        `INSERT INTO audit (at, action, detail, chain_pos, prev_hash, hash) VALUES (now(), 'login', '{}', ${mid}, '${at(mid - 1).hash}', '')`,
        `UPDATE audit SET hash = ${auditHashSql('audit')} WHERE chain_pos = ${mid} AND seq > ${at(mid).seq}`]);
      expect(v.firstBroken).toMatchObject({ chainPos: mid, reason: 'position' });
      expect(v.firstBroken!.message).toMatch(new RegExp(`repeats chain position ${mid} of seq ${at(mid).seq}`));
    });

    it('a row let go of its chain (its chain columns emptied, so the next seal puts it at the end): the gap it leaves is caught', async () => {
      const v = await verifyAfter(db, [off, `UPDATE audit SET chain_pos = NULL, prev_hash = NULL, hash = NULL WHERE chain_pos = ${mid}`]);
      expect(v.sealedNow).toBe(1);
      expect(v.firstBroken).toMatchObject({ chainPos: mid, seq: at(mid + 1).seq, reason: 'position' });
    });

    it('after every rollback the chain is intact again', async () => {
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: c.length });
    });
  });
});

// Several connections: PGlite has one, so its writers and sealers never overlap.
describe('the hub\'s audit chain is sealed in sealing order, by one sealer at a time, never blocking a writer (postgres)', () => {
  let db: HubDb;
  let open: () => Promise<HubDb> = async () => db;
  let cleanup: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ db, open, cleanup } = await testDb('postgres', 'audit_sealing'));
  }, 60_000);
  afterAll(async () => cleanup());

  const insert = (q: Queryable, action: string): Promise<unknown> => q.query(`INSERT INTO audit (at, action, detail) VALUES (now(), $1, '{}')`, [action]);
  /** Rejects if `p` takes longer than `ms`: a writer must not wait for a sealer. */
  const within = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([p, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} waited more than ${ms} ms`)), ms); })]);
    } finally {
      clearTimeout(timer);
    }
  };

  it('a transaction that drew a lower seq but commits after later rows were sealed is sealed after them', async () => {
    const other = await open();
    let commitLate!: () => void;
    const mayCommit = new Promise<void>((r) => { commitLate = r; });
    let inserted!: () => void;
    const lateInserted = new Promise<void>((r) => { inserted = r; });
    const late = db.transaction(async (tx) => {
      await insert(tx, 'test-late');
      inserted();
      await mayCommit;
    });
    try {
      await lateInserted;
      await within(insert(other, 'test-b1'), 5000, 'a writer beside an open transaction');
      await within(insert(other, 'test-b2'), 5000, 'a writer beside an open transaction');
      expect(await sealAuditChain(other)).toBe(2);
    } finally {
      commitLate();
      await late;
    }
    expect(await sealAuditChain(other)).toBe(1);
    const { rows } = await db.query<{ action: string; seq: number; chain_pos: number }>(
      `SELECT action, seq, chain_pos FROM audit WHERE action LIKE 'test-%' ORDER BY chain_pos`);
    expect(rows.map((r) => r.action)).toEqual(['test-b1', 'test-b2', 'test-late']);
    expect(rows[2]!.seq).toBeLessThan(rows[0]!.seq);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: 3, sealedNow: 0 });
  });

  it('two sealers at once, many times, while writers insert: one intact chain, no position used twice', async () => {
    const [s1, s2] = [await open(), await open()];
    const before = await count(db, 'audit');
    const run = { writing: true };
    let skipped = 0;
    const sealer = async (s: HubDb): Promise<number> => {
      let n = 0;
      while (run.writing) {
        const got = (await s.query<{ n: number }>('SELECT failsafe_seal_audit(7) AS n')).rows[0]!.n;
        if (got === 0) skipped++;
        n += got;
      }
      return n;
    };
    const sealers = [sealer(s1), sealer(s2)];
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 150; i++) {
        if (i % 10 === 0) await db.transaction(async (tx) => { for (let k = 0; k < 3; k++) await insert(tx, `test-w${w}`); });
        else await insert(db, `test-w${w}`);
      }
    });
    try {
      await Promise.all(writers);
    } finally {
      run.writing = false;
    }
    const sealed = (await Promise.all(sealers)).reduce((a, b) => a + b, 0) + await sealAuditChain(db);
    const written = 4 * (135 + 15 * 3);
    expect(sealed).toBe(written);
    const { rows } = await db.query<{ n: number; distinct: number; lo: number; hi: number; loose: number }>(
      'SELECT count(*)::int AS n, count(DISTINCT chain_pos)::int AS distinct, min(chain_pos)::int AS lo, max(chain_pos)::int AS hi, count(*) FILTER (WHERE chain_pos IS NULL)::int AS loose FROM audit');
    expect(rows[0]).toEqual({ n: before + written, distinct: before + written, lo: 1, hi: before + written, loose: 0 });
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: before + written, head: { pos: before + written } });
    expect(skipped).toBeGreaterThan(0); // they did meet: one returned at once while the other held the head
  });

  it('a writer inserting while a seal is under way is never blocked by it (another sealer returns at once)', async () => {
    const holder = await open();
    for (let i = 0; i < 3; i++) await insert(db, 'test-before-seal');
    let finish!: () => void;
    const mayFinish = new Promise<void>((r) => { finish = r; });
    let sealedIn!: (n: number) => void;
    const sealedOpen = new Promise<number>((r) => { sealedIn = r; });
    const held = holder.transaction(async (tx) => {
      sealedIn((await tx.query<{ n: number }>('SELECT failsafe_seal_audit(5000) AS n')).rows[0]!.n);
      await mayFinish;
    });
    try {
      expect(await sealedOpen).toBe(3);
      // The seal's transaction is open: it holds the head and the rows it sealed.
      const t0 = Date.now();
      await within(insert(db, 'test-during-seal'), 2000, 'an insert during a seal');
      await within(db.transaction(async (tx) => { await insert(tx, 'test-during-seal'); await insert(tx, 'test-during-seal'); }), 2000, 'a transaction during a seal');
      expect((await within(db.query<{ n: number }>('SELECT failsafe_seal_audit(5000) AS n'), 2000, 'a second sealer')).rows[0]!.n).toBe(0);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      finish();
      await held;
    }
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, sealedNow: 3 });
  });
});

describe.each<DbKind>(['pglite', 'postgres'])('migration 9 chains an existing audit trail (%s)', (kind) => {
  let db: HubDb;
  let cleanup: () => Promise<void> = async () => {};
  beforeAll(async () => {
    ({ db, cleanup } = await testDb(kind, 'audit_backfill', MIGRATIONS.filter((m) => m.id < 9)));
  }, 180_000);
  afterAll(async () => cleanup());

  it('in seq order from the genesis hash, content unchanged; new rows continue the chain and the trail stays immutable', async () => {
    const at = '2026-11-28T09:00:00.000001Z';
    for (let i = 0; i < 30; i++) {
      await db.query('INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES ($1, NULL, $2, $3, $4)',
        [at, i % 2 ? 'login' : 'ingest-report', i % 2 ? null : `r-${i}`, JSON.stringify({ i, text: 'naïve "quoted" ✓' })]);
    }
    const columns = 'seq, at, actor_id, action, report_id, detail';
    const before = (await db.query(`SELECT ${columns} FROM audit ORDER BY seq`)).rows;
    expect(await migrate(db)).toEqual([9]);
    expect((await db.query(`SELECT ${columns} FROM audit ORDER BY seq`)).rows).toEqual(before);
    const c = await db.query<{ seq: number; chain_pos: number; prev_hash: string }>('SELECT seq, chain_pos, prev_hash FROM audit ORDER BY seq');
    expect(c.rows.map((r) => r.chain_pos)).toEqual(c.rows.map((_, i) => i + 1));
    expect(c.rows[0]!.prev_hash).toBe(GENESIS_HASH);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: 30, head: { pos: 30 } });

    await db.query(`INSERT INTO audit (at, action) VALUES (now(), 'login')`);
    expect((await db.query('SELECT chain_pos FROM audit ORDER BY seq DESC LIMIT 1')).rows).toEqual([{ chain_pos: null }]);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: 31, head: { pos: 31 }, sealedNow: 1 });
    await expect(db.query(`UPDATE audit SET action = 'x' WHERE chain_pos = 1`)).rejects.toThrow(/immutable/);
    await expect(db.query('DELETE FROM audit WHERE chain_pos = 31')).rejects.toThrow(/immutable/);
  });
});

describe('npm run hub -- verify-audit', () => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const bundleDir = path.join(repoRoot, 'node_modules', '.cache', `hub-audit-cli-${process.pid}`);
  const bundle = path.join(bundleDir, 'hub.mjs');
  let db: HubDb;
  let schema = '';
  let cleanup: () => Promise<void> = async () => {};
  beforeAll(async () => {
    // Bundled into node_modules so its external packages resolve from the repository.
    await build({
      entryPoints: [path.join(repoRoot, 'server', 'cli.ts')], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'esm',
      absWorkingDir: repoRoot, logLevel: 'error', external: ['pg', 'pg-native', '@electric-sql/pglite', 'fastify', 'zod'],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    const d = await testDb('postgres', 'audit_cli');
    ({ db, cleanup } = d);
    schema = d.schema!;
    for (let i = 0; i < 5; i++) await db.query(`INSERT INTO audit (at, action, detail) VALUES (now(), 'login', $1)`, [JSON.stringify({ i })]);
  }, 60_000);
  afterAll(async () => {
    await cleanup();
    fs.rmSync(bundleDir, { recursive: true, force: true });
  });
  const run = (): { code: number | null; out: string; err: string } => {
    const r = spawnSync(process.execPath, [bundle, 'verify-audit'], {
      env: { PATH: process.env['PATH'] ?? '', DATABASE_URL: PG_URL, FAILSAFE_HUB_DB_SCHEMA: schema }, encoding: 'utf8', timeout: 60_000,
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('answers 0 with the head to keep on an intact trail, 1 naming the first broken row on a tampered one', async () => {
    expect((await auditUnsealed(db)).rows).toBe(5); // written with no hub running: nothing sealed them yet
    const ok = run();
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    const head = (await db.query<{ hash: string }>('SELECT hash FROM audit_chain_head')).rows[0]!.hash;
    expect(ok.out.trim()).toBe(`hub: the audit trail is intact: 5 rows chained (5 rows written since the last seal were sealed now); chain head at position 5, hash ${head}`);
    expect(run().out.trim()).toBe(`hub: the audit trail is intact: 5 rows chained; chain head at position 5, hash ${head}`);

    const { rows } = await db.query<{ seq: number }>('SELECT seq FROM audit WHERE chain_pos = 3');
    await db.exec(`ALTER TABLE audit DISABLE TRIGGER USER; UPDATE audit SET detail = '{"i": 99}' WHERE chain_pos = 3; ALTER TABLE audit ENABLE TRIGGER USER;`);
    const bad = run();
    expect(bad.code).toBe(1);
    expect(bad.err.trim()).toBe(`hub: the audit trail has been altered. Audit row seq ${rows[0]!.seq} (chain position 3) does not match its hash: its content was changed after it was written. (2 rows before it hold; chain head at position 5, hash ${head})`);
  });
});

describe('startAuditSealer', () => {
  it('a pass at start, one at a time however often kicked, errors to onError, none after stop', async () => {
    let calls = 0;
    let running = 0;
    let most = 0;
    let fail = false;
    const db: Queryable = {
      async query<T>(): Promise<{ rows: T[]; rowCount: number }> {
        calls++;
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        if (fail) throw new Error('connection lost');
        return { rows: [{ n: 0 } as T], rowCount: 1 };
      },
      async exec() {},
    };
    const errors: string[] = [];
    const sealer = startAuditSealer(db, { intervalMs: 60_000, onError: (err) => errors.push((err as Error).message) });
    for (let i = 0; i < 5; i++) sealer.kick();
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(2); // the pass at start, then one more for all the kicks made during it
    expect(most).toBe(1);
    fail = true;
    sealer.kick();
    await new Promise((r) => setTimeout(r, 60));
    expect(errors).toEqual(['connection lost']);
    await sealer.stop();
    sealer.kick();
    await new Promise((r) => setTimeout(r, 40));
    expect(calls).toBe(3);
  });
});
