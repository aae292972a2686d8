// The real hub (server/app.ts buildHub) for the sync trials: one database (PGlite in memory, or
// PostgreSQL in a schema of its own), a hub that can be restarted on the same port and database,
// a reporter account matching the workstation's signer, and counts of what the hub stored.
import type { HubClient } from '../../main/sync/HubClient.ts';
import type { Profile } from '../../common/report.ts';
import { buildHub, type Hub } from '../../server/app.ts';
import { createUser, UserExistsError } from '../../server/auth.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { migrate } from '../../server/db/migrations.ts';
import { dropPgSchema, openPg } from '../../server/db/pg.ts';
import { openPglite } from '../../server/db/pglite.ts';
import type { HubCounts, TrialHub } from './syncTrials.ts';

export const TRIAL_PASSWORD = 'correct horse battery staple';
/** Cheap scrypt for test accounts only (the hub's default cost is for real passwords). */
const TEST_COST = { N: 1 << 10, r: 8, p: 1 };

export interface RealTrialHub extends TrialHub {
  readonly db: HubDb;
  readonly hub: Hub;
  close(): Promise<void>;
}

export function postgresUrl(): string {
  return process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

export async function openTrialDb(kind: 'pglite' | 'postgres', schema?: string): Promise<{ db: HubDb; drop(): Promise<void> }> {
  if (kind === 'pglite') {
    const db = await openPglite();
    return { db, drop: () => db.close() };
  }
  const url = postgresUrl();
  const s = schema ?? `sync_trials_${process.pid}_${Date.now() % 100000}`;
  await dropPgSchema(url, s);
  const db = await openPg({ connectionString: url, schema: s, max: 10 });
  return {
    db,
    async drop() {
      await db.close();
      await dropPgSchema(url, s);
    },
  };
}

/** Adds a hub account (cheap scrypt; password TRIAL_PASSWORD) unless it exists. */
export async function addTrialUser(db: HubDb, user: Profile & { username: string }): Promise<void> {
  try {
    await createUser(db, { username: user.username, name: user.name, role: user.role, registration: user.registration, password: TRIAL_PASSWORD }, { cost: TEST_COST });
  } catch (err) {
    if (!(err instanceof UserExistsError)) throw err;
  }
}

/** Starts the real hub on `db` with a reporter account for `profile` (username `profile.username`). */
export async function startRealTrialHub(db: HubDb, profile: Profile & { username: string }): Promise<RealTrialHub> {
  await migrate(db);
  await addTrialUser(db, profile);
  let hub = await buildHub({ db, migrate: false, ownsDb: false });
  const url = await hub.listen(0, '127.0.0.1');
  const port = Number(new URL(url).port);
  let closed = false;
  let restarting: Promise<void> | null = null;

  return {
    url,
    db,
    get hub() {
      return hub;
    },
    restart() {
      // One restart at a time: lanes that ask while one runs share it.
      restarting ??= (async () => {
        if (closed) return;
        await hub.close();
        if (closed) return;
        hub = await buildHub({ db, migrate: false, ownsDb: false });
        await hub.listen(port, '127.0.0.1');
      })().finally(() => {
        restarting = null;
      });
      return restarting;
    },
    async login(client: HubClient) {
      await client.login(profile.username, TRIAL_PASSWORD);
    },
    async counts(reportIds: readonly string[]): Promise<Map<string, HubCounts>> {
      const ids = [...reportIds];
      const out = new Map<string, HubCounts>(ids.map((id) => [id, { reports: 0, contentHashes: [], addenda: 0, events: 0 }]));
      const reports = await db.query<{ id: string; content_hash: string }>('SELECT id, content_hash FROM signed_reports WHERE id = ANY($1::text[])', [ids]);
      for (const r of reports.rows) {
        const c = out.get(r.id)!;
        c.reports += 1;
        c.contentHashes.push(r.content_hash);
      }
      const addenda = await db.query<{ report_id: string; n: number | string }>('SELECT report_id, count(*) AS n FROM addenda WHERE report_id = ANY($1::text[]) GROUP BY report_id', [ids]);
      for (const a of addenda.rows) out.get(a.report_id)!.addenda = Number(a.n);
      const events = await db.query<{ report_id: string; n: number | string }>(
        `SELECT report_id, count(*) AS n FROM events WHERE type = 'report-signed' AND report_id = ANY($1::text[]) GROUP BY report_id`,
        [ids],
      );
      for (const e of events.rows) out.get(e.report_id)!.events = Number(e.n);
      return out;
    },
    async close() {
      closed = true;
      if (restarting) await restarting.catch(() => undefined);
      await hub.close();
    },
  };
}
