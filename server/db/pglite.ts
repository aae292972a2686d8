// Embedded PGlite (PostgreSQL compiled to WebAssembly) in a data folder, or in memory when no
// folder is given (tests). One connection: PGlite serialises queries and transactions itself.
import { PGlite } from '@electric-sql/pglite';
import { OID_INT8, OID_TIMESTAMPTZ, parseInt8, parseTimestamptz, type HubDb, type Queryable, type QueryResult } from './adapter.ts';

export interface PgliteOptions {
  /** Data folder; omitted = in memory. */
  dataDir?: string;
}

export async function openPglite(opts: PgliteOptions = {}): Promise<HubDb> {
  const db = await PGlite.create({
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    parsers: { [OID_INT8]: parseInt8, [OID_TIMESTAMPTZ]: parseTimestamptz },
  });
  await db.exec("SET TimeZone = 'UTC'");
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const r = await q.query<T>(sql, params ? [...params] : undefined);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
  });
  return {
    kind: 'pglite',
    eventChannel: 'failsafe_events_public',
    ...wrap(db),
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return db.transaction((tx) => fn(wrap(tx)));
    },
    async listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>> {
      const off = await db.listen(channel, handler);
      return async () => { await off(); };
    },
    async close(): Promise<void> {
      if (!db.closed) await db.close();
    },
  };
}
