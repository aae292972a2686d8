// Opening the hub from configuration: PostgreSQL when DATABASE_URL is set, else embedded PGlite
// in the data folder; then the same migrations and the same app. Also the embedded hub that
// `npm start` runs beside the workstation, with demo users.
import fs from 'node:fs';
import { DEMO_PASSWORD, DEMO_USERS, seedDemoDirectory } from './demo.ts';
import { buildHub, type Hub } from './app.ts';
import { createUser, disableDemoAccounts, UserExistsError } from './auth.ts';
import type { HubConfig } from './config.ts';
import type { HubDb } from './db/adapter.ts';
import { migrate } from './db/migrations.ts';
import { openPglite } from './db/pglite.ts';

export { buildHub, type Hub } from './app.ts';

export async function openHubDb(cfg: Pick<HubConfig, 'databaseUrl' | 'dbSchema' | 'dataDir'>): Promise<HubDb> {
  if (cfg.databaseUrl) {
    // Loaded only for PostgreSQL: the `pg` package takes ~70 ms to load, on the embedded hub's
    // start-up path otherwise (bench/startup.bench.ts).
    const { openPg } = await import('./db/pg.ts');
    return openPg({ connectionString: cfg.databaseUrl, ...(cfg.dbSchema ? { schema: cfg.dbSchema } : {}) });
  }
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  return openPglite({ dataDir: cfg.dataDir });
}

/** `npm run hub`: opens storage, migrates, listens. */
export async function startHub(cfg: HubConfig, opts: { logger?: boolean } = {}): Promise<{ hub: Hub; url: string }> {
  const db = await openHubDb(cfg);
  try {
    await migrate(db);
    const hub = await buildHub({ db, policy: cfg.policy, ownsDb: true, migrate: false, logger: opts.logger ?? false, notifications: cfg.notifications });
    const url = await hub.listen(cfg.port, cfg.host);
    return { hub, url };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}

export interface EmbeddedHub {
  url: string;
  hub: Hub;
  /** The demo accounts of this embedded hub in demo mode (all share DEMO_PASSWORD); none otherwise. */
  demoUsers: typeof DEMO_USERS;
  demoPassword: string;
  close(): Promise<void>;
}

/**
 * The single-user hub beside a workstation: PGlite in `dataDir`, 127.0.0.1 only. In demo mode
 * (`demo`: `npm start` from a checkout) the demo accounts exist (ONLY here, never for `npm run
 * hub`); otherwise (the installed app, an explicit data folder) every demo account is disabled
 * and the first user creates their own account (POST /api/setup). `port` 0 or omitted picks a
 * free port.
 */
export async function startEmbeddedHub(opts: {
  dataDir: string; port?: number; policy?: unknown; demo?: boolean;
  /** PGlite in `dataDir`, already opening (server/cli.ts starts it before the hub's code loads). */
  db?: Promise<HubDb>;
}): Promise<EmbeddedHub> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const db = await (opts.db ?? openPglite({ dataDir: opts.dataDir }));
  try {
    await migrate(db);
    // Only the demo users not there yet (hashing all seven on every start cost seconds), hashed
    // concurrently (scrypt runs on libuv's pool). The demo password is public anyway: a cheaper
    // scrypt keeps the first start quick.
    if (opts.demo) {
      const { rows } = await db.query<{ username: string }>('SELECT username FROM users WHERE username = ANY($1)', [DEMO_USERS.map((u) => u.username)]);
      const existing = new Set(rows.map((r) => r.username));
      await db.query('UPDATE users SET disabled = false WHERE demo AND disabled');
      await Promise.all(
        DEMO_USERS.filter((u) => !existing.has(u.username)).map(async (u) => {
          try {
            await createUser(db, { ...u, password: DEMO_PASSWORD }, { allowShortPassword: true, cost: { N: 1 << 14, r: 8, p: 1 }, demo: true });
          } catch (err) {
            if (!(err instanceof UserExistsError)) throw err;
          }
        }),
      );
      await seedDemoDirectory(db);
    } else {
      await disableDemoAccounts(db);
    }
    // One user on one machine: nobody to e-mail or page. Notifications are not configured, and each
    // alert's timeline says so (not left silently pending).
    const hub = await buildHub({
      db, policy: opts.policy, ownsDb: true, migrate: false, loopbackOnly: true, firstUserSetup: !opts.demo,
      notifications: { publicUrl: null, webhook: null, mail: null },
    });
    const url = await hub.listen(opts.port ?? 0, '127.0.0.1');
    return { url, hub, demoUsers: opts.demo ? DEMO_USERS : [], demoPassword: DEMO_PASSWORD, close: () => hub.close() };
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
}
