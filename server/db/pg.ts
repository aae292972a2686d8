// PostgreSQL through `pg`: a pool for queries and transactions, one dedicated client for LISTEN
// (reconnected with backoff when it drops; the event dispatcher also polls, so a lost
// notification delays an event by at most the poll interval, never loses it).
import crypto from 'node:crypto';
import { Client, Pool, types as pgTypes, type CustomTypesConfig, type PoolClient, type PoolConfig } from 'pg';
import { assertIdentifier, OID_INT8, OID_TIMESTAMPTZ, parseInt8, parseTimestamptz, type HubDb, type Queryable, type QueryResult } from './adapter.ts';

export interface PgOptions {
  connectionString: string;
  /** Use (and create) this schema instead of `public` (tests: one schema per file). */
  schema?: string;
  /** Pool size (default 20). */
  max?: number;
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (v: string) => unknown {
    if (oid === OID_INT8) return parseInt8;
    if (oid === OID_TIMESTAMPTZ) return parseTimestamptz;
    return pgTypes.getTypeParser(oid, format as 'text') as (v: string) => unknown;
  },
} as CustomTypesConfig;

/** A prepared statement's name: a digest of its text, so one text is prepared once per connection. */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `fs_${crypto.createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    if (statementNames.size < 1000) statementNames.set(sql, name);
  }
  return name;
}

export async function openPg(opts: PgOptions): Promise<HubDb> {
  const schema = opts.schema ? assertIdentifier(opts.schema) : null;
  const options = `-c TimeZone=UTC${schema ? ` -c search_path=${schema}` : ''}`;
  const config: PoolConfig = { connectionString: opts.connectionString, max: opts.max ?? 20, options, types, connectionTimeoutMillis: 10_000 };
  if (schema) {
    const c = new Client({ connectionString: opts.connectionString, types });
    await c.connect();
    try {
      // Created only when missing: an application login that owns nothing may not create one.
      const { rowCount } = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      if (rowCount === 0) await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    } finally {
      await c.end();
    }
  }
  const pool = new Pool(config);
  // An idle client erroring (server restart) must not crash the process.
  pool.on('error', () => {});
  const channel = `failsafe_events_${schema ?? 'public'}`;

  const wrap = (q: Pool | PoolClient): Queryable => ({
    async query<T>(sql: string, params?: readonly unknown[], how?: { prepare?: boolean }): Promise<QueryResult<T>> {
      const r = how?.prepare
        ? await q.query({ name: statementName(sql), text: sql, values: params as unknown[] | undefined })
        : await q.query(sql, params as unknown[] | undefined);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await q.query(sql);
    },
  });

  let listener: Client | null = null;
  let listenerReady: Promise<Client> | null = null;
  const handlers = new Map<string, Set<(payload: string) => void>>();
  let closed = false;
  let retryTimer: NodeJS.Timeout | null = null;

  const connectListener = (): Promise<Client> => {
    if (listenerReady) return listenerReady;
    listenerReady = (async () => {
      const c = new Client({ connectionString: opts.connectionString, types, options });
      c.on('notification', (n) => {
        for (const h of handlers.get(n.channel) ?? []) h(n.payload ?? '');
      });
      const reconnect = (): void => {
        if (listener === c) listener = null;
        listenerReady = null;
        c.removeAllListeners('error');
        c.on('error', () => {});
        void c.end().catch(() => {});
        if (closed || retryTimer) return;
        retryTimer = setTimeout(() => {
          retryTimer = null;
          if (!closed && handlers.size > 0) connectListener().catch(() => reconnect());
        }, 1000);
        retryTimer.unref();
      };
      c.on('error', reconnect);
      c.on('end', () => { if (!closed) reconnect(); });
      await c.connect();
      for (const ch of handlers.keys()) await c.query(`LISTEN "${ch}"`);
      listener = c;
      return c;
    })();
    listenerReady.catch(() => { listenerReady = null; });
    return listenerReady;
  };

  return {
    kind: 'postgres',
    eventChannel: channel,
    ...wrap(pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await fn(wrap(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(ch: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
      if (!/^[a-z0-9_]+$/.test(ch)) throw new Error(`invalid channel ${ch}`);
      let set = handlers.get(ch);
      const fresh = !set;
      if (!set) handlers.set(ch, (set = new Set()));
      set.add(handler);
      const c = await connectListener();
      if (fresh && listener === c) await c.query(`LISTEN "${ch}"`);
      return async () => {
        set.delete(handler);
        if (set.size === 0) {
          handlers.delete(ch);
          await listener?.query(`UNLISTEN "${ch}"`).catch(() => {});
        }
      };
    },
    async close(): Promise<void> {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      const l = listener;
      listener = null;
      if (l) await l.end().catch(() => {});
      await pool.end();
    },
  };
}

/** Drops a test schema (and everything in it). */
export async function dropPgSchema(connectionString: string, schema: string): Promise<void> {
  const c = new Client({ connectionString });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${assertIdentifier(schema)} CASCADE`);
  } finally {
    await c.end();
  }
}
