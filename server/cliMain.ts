// The hub's commands (server/cli.ts is the entry that runs them).
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Role } from '../common/report.ts';
import { verifyAuditChain } from './audit.ts';
import { ACCOUNT_CHANGES, changeAccount, createUser, UserExistsError, UserNotFoundError } from './auth.ts';
import { HubConfigError, loadConfig, type HubFlags } from './config.ts';
import { grantAppRole, migrate } from './db/migrations.ts';
import type { HubDb } from './db/adapter.ts';
import { openHubDb, startEmbeddedHub, startHub } from './hub.ts';
import { addToTeam, describeDirectory, DirectoryError, importDirectory, setDuty, setEmail } from './directory.ts';
import { SITE_DUTIES } from '../common/alerts.ts';

const USAGE = `usage:
  hub [--host H] [--port N] [--data DIR] [--policy FILE]     start the hub
  hub user add --username U --name NAME --role ROLE --registration REG (--password P | --password-stdin) [--team T] [--email E]
  hub user email --username U --email E                       (where alert notifications are e-mailed; --email "" clears it)
  hub directory import FILE.csv                                (the site directory: requesters to teams; see server/directory.ts)
  hub directory duty DUTY --username U [--remove]              (DUTY: ${SITE_DUTIES.join(', ')})
  hub directory show
  hub user list
  hub user disable|enable|revoke-sessions --username U
  hub user reset-password --username U (--password-stdin | --password P)
  hub migrate                                                  (with the owner login: creates and upgrades the schema)
  hub grant-app ROLE                                          (with the owner login: lets the application's login ROLE read and write rows, nothing more)
  hub verify-audit                                            seals the rows written since the last seal, checks the audit trail's hash chain; exit 1 naming the first broken row
  hub embedded --data DIR [--port N] [--parent-stdin] [--demo] single-user hub (PGlite, 127.0.0.1; demo users only with --demo)
environment: DATABASE_URL (PostgreSQL; else embedded PGlite in --data / FAILSAFE_HUB_DATA, default ./hub-data),
  FAILSAFE_HUB_HOST, FAILSAFE_HUB_PORT (default 127.0.0.1:8787), FAILSAFE_HUB_POLICY, FAILSAFE_HUB_DB_SCHEMA
roles: ${Role.options.join(', ')}`;

/** `hub directory import|duty|show`: the site directory that routes alerts (server/directory.ts). */
async function directoryCommand(db: HubDb, sub: string | undefined, arg: string | undefined, values: { username?: string | undefined; remove?: boolean | undefined }): Promise<number> {
  if (sub === 'import') {
    if (!arg) throw new HubConfigError('give the directory file: hub directory import FILE.csv');
    let text: string;
    try {
      text = fs.readFileSync(arg, 'utf8');
    } catch (err) {
      throw new HubConfigError(`cannot read the directory file ${arg}: ${(err as Error).message}`);
    }
    const done = await importDirectory(db, text);
    console.log(`hub: directory imported: ${done.requesters} requester mapping${done.requesters === 1 ? '' : 's'} to ${done.teams} team${done.teams === 1 ? '' : 's'}, ${done.members} membership${done.members === 1 ? '' : 's'}`);
    return 0;
  }
  if (sub === 'duty') {
    if (!arg || !values.username) throw new HubConfigError(`give the duty and --username: hub directory duty DUTY --username U (DUTY: ${SITE_DUTIES.join(', ')})`);
    await setDuty(db, arg, values.username, values.remove !== true);
    console.log(`hub: ${values.username} ${values.remove ? 'no longer holds' : 'now holds'} the duty ${arg}`);
    return 0;
  }
  if (sub === 'show') {
    for (const line of await describeDirectory(db)) console.log(line);
    return 0;
  }
  throw new HubConfigError('hub directory import FILE.csv | duty DUTY --username U [--remove] | show');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Runs one command. `early`: the embedded hub's database, already opening (server/cli.ts starts
 * it before this module loads); closed here if the command turns out not to use it.
 */
export async function main(argv: string[], early?: Promise<HubDb>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      host: { type: 'string' }, port: { type: 'string' }, data: { type: 'string' }, policy: { type: 'string' },
      username: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, registration: { type: 'string' },
      password: { type: 'string' }, 'password-stdin': { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, log: { type: 'boolean' },
      'parent-stdin': { type: 'boolean' }, demo: { type: 'boolean' }, team: { type: 'string' }, email: { type: 'string' }, remove: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const flags: HubFlags = {
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.port !== undefined ? { port: values.port } : {}),
    ...(values.data !== undefined ? { data: values.data } : {}),
    ...(values.policy !== undefined ? { policy: values.policy } : {}),
  };
  const cfg = loadConfig(process.env, flags);
  const [cmd, sub] = positionals;

  if (cmd === undefined || cmd === 'serve') {
    const { hub, url } = await startHub(cfg, { logger: values.log ?? false });
    console.log(`hub: listening on ${url} (${hub.db.kind}${cfg.databaseUrl ? '' : ` in ${cfg.dataDir}`}; instance ${hub.instanceId})`);
    const stop = (sig: string): void => {
      console.log(`hub: ${sig}, closing`);
      hub.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    return -1; // keep running
  }

  if (cmd === 'embedded') {
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      await closeEarly(early);
      throw new HubConfigError('--port must be 0–65535');
    }
    const demo = values.demo === true;
    const hub = await startEmbeddedHub({ dataDir: cfg.dataDir, port, policy: cfg.policy, demo, ...(early ? { db: early } : {}) });
    const demoUsers = hub.demoUsers.map((u) => ({ username: u.username, password: hub.demoPassword, role: u.role, name: u.name }));
    console.log(`hub: embedded, listening on ${hub.url} (PGlite in ${cfg.dataDir}; ${demo ? `demo users ${demoUsers.map((u) => u.username).join(', ')}, password "${hub.demoPassword}"` : 'no demo users'})`);
    console.log(`HUB_READY ${JSON.stringify({ url: hub.url, demoUsers })}`);
    let closing = false;
    const stop = (): void => {
      if (closing) return;
      closing = true;
      hub.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (values['parent-stdin']) {
      process.stdin.on('end', stop);
      process.stdin.on('error', stop);
      process.stdin.resume();
    }
    return -1;
  }

  await closeEarly(early);
  const db = await openHubDb(cfg);
  try {
    await migrate(db);
    if (cmd === 'migrate') {
      console.log(`hub: migrated (${db.kind})`);
      return 0;
    }
    if (cmd === 'grant-app') {
      if (db.kind !== 'postgres' || !sub) throw new HubConfigError('grant-app ROLE: PostgreSQL only (DATABASE_URL with the owner login), naming the application\'s login role');
      await grantAppRole(db, sub);
      console.log(`hub: ${sub} may read and write the hub's rows; the schema and its triggers stay the owner's`);
      return 0;
    }
    if (cmd === 'verify-audit') {
      // The head's hash is printed so a site can keep it elsewhere: a trail rewritten from the
      // start (every hash recomputed) is then told by the head no longer matching.
      // Rows written since the hub's last seal are sealed first (as the hub's sealer would), so
      // every committed row is verified.
      const v = await verifyAuditChain(db);
      const head = v.head ? `chain head at position ${v.head.pos}, hash ${v.head.hash}` : 'no chain head recorded';
      const sealed = v.sealedNow > 0 ? ` (${v.sealedNow} row${v.sealedNow === 1 ? '' : 's'} written since the last seal ${v.sealedNow === 1 ? 'was' : 'were'} sealed now)` : '';
      if (v.ok) {
        console.log(`hub: the audit trail is intact: ${v.rows} row${v.rows === 1 ? '' : 's'} chained${sealed}; ${head}`);
        return 0;
      }
      console.error(`hub: the audit trail has been altered. ${v.firstBroken!.message} (${v.rows} row${v.rows === 1 ? '' : 's'} before it hold; ${head})${sealed}`);
      return 1;
    }
    const password = async (): Promise<string> => {
      if (values.password !== undefined && values['password-stdin']) throw new HubConfigError('give --password or --password-stdin, not both');
      const pw = values['password-stdin'] ? await readStdin() : values.password;
      if (pw === undefined) throw new HubConfigError('give --password-stdin (recommended) or --password');
      return pw;
    };
    const change = ACCOUNT_CHANGES.find((c) => c === sub);
    if (cmd === 'user' && change) {
      if (!values.username) throw new HubConfigError(`give --username of the account to ${change.replace('-', ' ')}`);
      const done = await changeAccount(db, values.username, change, change === 'reset-password' ? { password: await password() } : {});
      const what = { disable: 'disabled', enable: 'enabled', 'reset-password': 'given a new password', 'revoke-sessions': 'logged out everywhere' }[change];
      console.log(`hub: user ${done.user.username} (${done.user.name}) ${what}${change === 'enable' ? '' : `; ${done.sessionsEnded} open session${done.sessionsEnded === 1 ? '' : 's'} ended at once`}`);
      return 0;
    }
    if (cmd === 'user' && sub === 'add') {
      const pw = await password();
      const role = Role.safeParse(values.role);
      if (!role.success) throw new HubConfigError(`--role must be one of ${Role.options.join(', ')}`);
      const u = await createUser(db, {
        username: values.username ?? '', name: values.name ?? '', role: role.data, registration: values.registration ?? '', password: pw,
      });
      if (values.team !== undefined) await addToTeam(db, u.username, values.team);
      if (values.email !== undefined && values.email !== '') await setEmail(db, u.username, values.email);
      console.log(`hub: user ${u.username} (${u.name}, ${u.role}, ${u.registration}) created${values.team !== undefined ? `, on team ${values.team}` : ''}`);
      return 0;
    }
    if (cmd === 'user' && sub === 'email') {
      if (!values.username || values.email === undefined) throw new HubConfigError('give --username and --email (an empty --email clears it)');
      await setEmail(db, values.username, values.email === '' ? null : values.email);
      console.log(`hub: alert notifications for ${values.username} ${values.email === '' ? 'are no longer e-mailed' : `are e-mailed to ${values.email}`}`);
      return 0;
    }
    if (cmd === 'directory') return await directoryCommand(db, sub, positionals[2], values);
    if (cmd === 'user' && sub === 'list') {
      const { rows } = await db.query<{ username: string; name: string; role: string; registration: string; disabled: boolean }>(
        'SELECT username, name, role, registration, disabled FROM users ORDER BY username',
      );
      for (const r of rows) console.log(`${r.username}\t${r.name}\t${r.role}\t${r.registration}${r.disabled ? '\t(disabled)' : ''}`);
      return 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await db.close();
  }
}

async function closeEarly(early: Promise<HubDb> | undefined): Promise<void> {
  if (early) await early.then((db) => db.close(), () => undefined);
}

/** The message and exit code for a failed command: 2 for a usage or configuration error, else 1. */
export function failure(err: unknown): { message: string; stack: string | null; code: 1 | 2 } {
  const code = (err as { code?: string } | null)?.code ?? '';
  const known = err instanceof HubConfigError || err instanceof UserExistsError || err instanceof UserNotFoundError || err instanceof DirectoryError || code.startsWith('ERR_PARSE_ARGS')
    || (err instanceof Error && /^invalid user|^invalid site policy/.test(err.message));
  return { message: `hub: ${err instanceof Error ? err.message : String(err)}`, stack: !known && err instanceof Error && err.stack ? err.stack : null, code: known ? 2 : 1 };
}
