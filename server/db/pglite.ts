// Embedded PGlite (PostgreSQL compiled to WebAssembly) in a data folder, or in memory when no
// folder is given (tests). One connection: PGlite serialises queries and transactions itself.
import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { OID_INT8, OID_TIMESTAMPTZ, parseInt8, parseTimestamptz, type HubDb, type Queryable, type QueryResult } from './adapter.ts';

export interface PgliteOptions {
  /** Data folder; omitted = in memory. */
  dataDir?: string;
}

/**
 * One process per PGlite folder: PGlite is PostgreSQL in one process, with no lock of its own, so
 * a second process on the same folder (`npm run hub -- user …` while the hub serves, two embedded
 * hubs on one data folder) would corrupt it. A lock file holds the owner's pid; a lock whose
 * process is gone (a crash) is taken over.
 */
export class FolderInUseError extends Error {
  override name = 'FolderInUseError';
}

const LOCK = 'failsafe-hub.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === 'EPERM';
  }
}

function lockFolder(dir: string): () => void {
  const file = path.join(dir, LOCK);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) {
        throw new FolderInUseError(`The hub's data folder ${dir} is in use by process ${holder} (a hub running on it). Stop that hub first; one process at a time may open a PGlite folder. Nothing was changed.`);
      }
      fs.rmSync(file, { force: true }); // its process is gone: a crash left it
    }
  }
  throw new FolderInUseError(`The hub's data folder ${dir} could not be locked for this process. Nothing was changed.`);
}

export async function openPglite(opts: PgliteOptions = {}): Promise<HubDb> {
  const unlock = opts.dataDir ? lockFolder(opts.dataDir) : () => undefined;
  let db: PGlite;
  try {
    db = await PGlite.create({
      ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
      parsers: { [OID_INT8]: parseInt8, [OID_TIMESTAMPTZ]: parseTimestamptz },
    });
  } catch (err) {
    unlock();
    throw err;
  }
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
      try {
        if (!db.closed) await db.close();
      } finally {
        unlock();
      }
    },
  };
}
