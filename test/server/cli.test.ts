// Configuration (environment, flags, site policy file), the `npm run hub` command line run as a
// real child process from an esbuild bundle of server/cli.ts, and the embedded hub of `npm start`.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubHealth, IngestReceipt, LoginResponse } from '../../common/hub.ts';
import { embeddedDataDir } from '../../server/cli.ts';
import { HubConfigError, loadConfig } from '../../server/config.ts';
import { dropPgSchema } from '../../server/db/pg.ts';
import { startEmbeddedHub } from '../../server/hub.ts';
import { http, PG_URL, post, signedReport } from './support.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-hubcli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the entry opens the embedded hub\'s database early only for `embedded --data DIR`', () => {
  it('finds the folder in either form, and nothing for other commands or without --data', () => {
    expect(embeddedDataDir(['embedded', '--data', '/d/hub', '--port', '0'])).toBe('/d/hub');
    expect(embeddedDataDir(['embedded', '--port', '0', '--data=/d/hub'])).toBe('/d/hub');
    expect(embeddedDataDir(['embedded', '--port', '0'])).toBeNull();
    expect(embeddedDataDir(['embedded', '--data'])).toBeNull();
    expect(embeddedDataDir(['embedded', '--data', '--port', '0'])).toBeNull();
    // Only the embedded hub is PGlite in a folder: `serve` may be PostgreSQL (DATABASE_URL).
    expect(embeddedDataDir(['--data', '/d/hub'])).toBeNull();
    expect(embeddedDataDir(['migrate', '--data', '/d/hub'])).toBeNull();
  });
});

describe('hub configuration', () => {
  it('defaults to 127.0.0.1:8787 with PGlite in ./hub-data and the domain.md policy', () => {
    const c = loadConfig({}, {}, '/srv/x');
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8787, databaseUrl: null, dataDir: '/srv/x/hub-data', policyFile: null });
    expect(c.policy.unfinishedIdleHours).toBe(4);
    expect(c.policy.alertDeadlines.critical).toEqual({ kind: 'hours', hours: 1 });
    expect(c.policy.alertDeadlines.cancer).toEqual({ kind: 'working-days', days: 2 });
  });

  it('takes the environment, and flags over the environment', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://u@db/hub', FAILSAFE_HUB_PORT: '9000', FAILSAFE_HUB_HOST: '0.0.0.0' }, { port: '9100' }, '/');
    expect(c).toMatchObject({ databaseUrl: 'postgres://u@db/hub', port: 9100, host: '0.0.0.0' });
  });

  it('refuses bad values with errors that name them', () => {
    expect(() => loadConfig({ FAILSAFE_HUB_PORT: 'eighty' })).toThrow(/FAILSAFE_HUB_PORT/);
    expect(() => loadConfig({ FAILSAFE_HUB_PORT: '70000' })).toThrow(HubConfigError);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL: must be a postgres/);
  });

  it('reads a site policy file and names the file and field on every kind of error', () => {
    const good = path.join(tmp, 'policy.json');
    fs.writeFileSync(good, JSON.stringify({ unfinishedIdleHours: 2, alertDeadlines: { urgent: { kind: 'hours', hours: 12 } } }));
    const c = loadConfig({ FAILSAFE_HUB_POLICY: good });
    expect(c.policy.unfinishedIdleHours).toBe(2);
    expect(c.policy.alertDeadlines.urgent).toEqual({ kind: 'hours', hours: 12 });
    expect(c.policy.alertDeadlines.critical).toEqual({ kind: 'hours', hours: 1 });
    expect(() => loadConfig({ FAILSAFE_HUB_POLICY: path.join(tmp, 'missing.json') })).toThrow(/missing\.json: cannot read it \(ENOENT\)/);
    const broken = path.join(tmp, 'broken.json');
    fs.writeFileSync(broken, '{ "unfinishedIdleHours": 4,');
    expect(() => loadConfig({ FAILSAFE_HUB_POLICY: broken })).toThrow(/broken\.json: not valid JSON/);
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ unfinishedIdleHours: -1, alertDeadlines: { critical: { kind: 'minutes', n: 5 } }, colour: 'blue' }));
    let message = '';
    try {
      loadConfig({ FAILSAFE_HUB_POLICY: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('bad.json');
    expect(message).toContain('unfinishedIdleHours');
    expect(message).toContain('alertDeadlines.critical');
    expect(message).toMatch(/colour/);
  });
});

// ---- the command line, as a child process ----------------------------------------------------

let bundle = '';
beforeAll(async () => {
  bundle = path.join(tmp, 'hub.mjs');
  await build({
    entryPoints: [path.join(repoRoot, 'server', 'cli.ts')], outfile: bundle, bundle: true, platform: 'node', target: 'node20', format: 'esm',
    absWorkingDir: repoRoot, logLevel: 'error',
    external: ['pg', 'pg-native', '@electric-sql/pglite', 'fastify', 'zod'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  // The bundle resolves its external packages from the repository's node_modules.
  const inRepo = path.join(repoRoot, 'node_modules', '.cache', `hub-cli-${process.pid}`, 'hub.mjs');
  fs.mkdirSync(path.dirname(inRepo), { recursive: true });
  fs.copyFileSync(bundle, inRepo);
  bundle = inRepo;
});
afterAll(() => fs.rmSync(path.dirname(bundle), { recursive: true, force: true }));

function run(args: string[], env: Record<string, string>, stdin?: string): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.end(stdin ?? '');
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

function serve(env: Record<string, string>): Promise<{ url: string; stop(): Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, '--port', '0'], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`hub did not start: ${out} ${err}`)); }, 30_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1]!,
          stop: () => new Promise((res) => { child.once('exit', (code) => res(code)); child.kill('SIGTERM'); }),
        });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`hub exited ${code}: ${out} ${err}`)); });
  });
}

describe.each([
  ['pglite', () => ({ FAILSAFE_HUB_DATA: path.join(tmp, `data-${crypto.randomBytes(3).toString('hex')}`) })],
  ['postgres', () => ({ DATABASE_URL: PG_URL, FAILSAFE_HUB_DB_SCHEMA: `t_cli_${process.pid}_${crypto.randomBytes(3).toString('hex')}` })],
] as const)('npm run hub (%s)', (kind, makeEnv) => {
  const env: Record<string, string> = makeEnv();
  afterAll(async () => {
    if (kind === 'postgres') await dropPgSchema(PG_URL, env['FAILSAFE_HUB_DB_SCHEMA']!);
  });

  it('adds users from stdin, refuses bad ones clearly, serves them, and has no demo users', async () => {
    const add = await run(['user', 'add', '--username', 'ada', '--name', 'Dr Ada Lovelace', '--role', 'radiologist', '--registration', 'GMC 1234567', '--password-stdin'], env, 'correct horse battery staple\n');
    expect(add.err).toBe('');
    expect(add.code).toBe(0);
    expect(add.out).toContain('user ada (Dr Ada Lovelace, radiologist, GMC 1234567) created');
    // Refusals (each is a child process opening the database: PGlite takes ~3 s per start, so once is enough).
    if (kind === 'postgres') {
      const again = await run(['user', 'add', '--username', 'ada', '--name', 'Other', '--role', 'radiologist', '--registration', 'X', '--password', 'another long password'], env);
      expect(again.code).toBe(2);
      expect(again.err).toContain('user ada already exists');
      const badRole = await run(['user', 'add', '--username', 'bob', '--name', 'Bob', '--role', 'wizard', '--registration', 'X', '--password', 'long enough pw'], env);
      expect(badRole.code).toBe(2);
      expect(badRole.err).toContain('--role must be one of radiologist, radiographer, locum, trainee, trainer, referrer, safety-lead');
      const short = await run(['user', 'add', '--username', 'bob', '--name', 'Bob', '--role', 'locum', '--registration', 'X', '--password', 'short'], env);
      expect(short.code).toBe(2);
      expect(short.err).toContain('at least 10 characters');
    }
    const list = await run(['user', 'list'], env);
    expect(list.out.trim().split('\n')).toEqual(['ada\tDr Ada Lovelace\tradiologist\tGMC 1234567']);

    const hub = await serve(env);
    try {
      const health = await http<HubHealth>(hub.url, 'GET', '/api/health');
      expect(health.body).toMatchObject({ ok: true, storage: kind });
      const login = await http<LoginResponse>(hub.url, 'POST', '/api/session', { body: { username: 'ada', password: 'correct horse battery staple' } });
      expect(login.status).toBe(200);
      const demo = await http(hub.url, 'POST', '/api/session', { body: { username: 'radiologist', password: 'demo' } });
      expect(demo.status).toBe(401);
      const p = signedReport(login.body.user);
      expect((await post(hub.url, login.body.token, p)).status).toBe(201);
      if (kind === 'postgres') {
        // Account commands against the running hub (another process): in effect at once.
        const disable = await run(['user', 'disable', '--username', 'ada'], env);
        expect(disable.code).toBe(0);
        expect(disable.out).toContain('user ada (Dr Ada Lovelace) disabled; 1 open session ended at once');
        expect((await http(hub.url, 'GET', '/api/unfinished', { token: login.body.token })).status).toBe(401);
        expect((await run(['user', 'enable', '--username', 'ada'], env)).code).toBe(0);
        const reset = await run(['user', 'reset-password', '--username', 'ada', '--password-stdin'], env, 'a brand new passphrase\n');
        expect(reset.out).toContain('user ada (Dr Ada Lovelace) given a new password');
        expect((await http(hub.url, 'POST', '/api/session', { body: { username: 'ada', password: 'a brand new passphrase' } })).status).toBe(200);
        const nobody = await run(['user', 'revoke-sessions', '--username', 'nobody'], env);
        expect(nobody.code).toBe(2);
        expect(nobody.err).toContain('no user nobody');
        expect((await run(['user', 'disable'], env)).err).toContain('give --username');
      }
    } finally {
      expect(await hub.stop()).toBe(0);
    }
  });
});

describe('embedded hub (npm start default)', () => {
  it('runs as `hub embedded --parent-stdin`, prints HUB_READY with its URL and the demo users, serves them and exits when its parent goes', async () => {
    const dataDir = path.join(tmp, 'embedded-cli');
    const child = spawn(process.execPath, [bundle, 'embedded', '--data', dataDir, '--parent-stdin', '--demo'], { env: { PATH: process.env['PATH'] ?? '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    let out = '';
    const ready = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no HUB_READY: ${out}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        // What main/start.ts does: the first line starting with HUB_READY, the rest is JSON.
        const line = out.split('\n').find((l) => l.startsWith('HUB_READY ') && out.includes(`${l}\n`));
        if (line) {
          clearTimeout(timer);
          resolve(line.slice('HUB_READY '.length));
        }
      });
    });
    const info = JSON.parse(ready) as { url: string; demoUsers: { username: string; password: string; role: string; name: string }[] };
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.demoUsers.map((u) => u.role).sort()).toEqual(['locum', 'radiographer', 'radiologist', 'referrer', 'safety-lead', 'trainee', 'trainer']);
    const locum = info.demoUsers.find((u) => u.username === 'locum')!;
    expect(locum).toMatchObject({ password: 'demo', role: 'locum' });
    expect(locum.name).not.toBe('');
    expect(out).toContain('demo users radiologist, locum');
    const login = await http<LoginResponse>(info.url, 'POST', '/api/session', { body: { username: locum.username, password: locum.password } });
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ role: 'locum', name: locum.name });
    child.stdin.end();
    expect(await exited).toBe(0);
  });

  it('`hub embedded` refuses a bad --port with a clear message and exit code 2', async () => {
    const r = await run(['embedded', '--data', path.join(tmp, 'embedded-bad'), '--port', 'eighty'], {});
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^hub: .*PORT/m);
    expect(r.out).not.toContain('HUB_READY');
  });

  it('answers only its own loopback address and no other web page: a rebound Host or a foreign Origin is refused before the demo login (issue 8 finding 10); its own page (issue 9) is answered', async () => {
    const hub = await startEmbeddedHub({ dataDir: path.join(tmp, 'embedded-rebinding'), demo: true });
    try {
      const port = Number(new URL(hub.url).port);
      const login = JSON.stringify({ username: 'radiologist', password: hub.demoPassword });
      const send = (headers: Record<string, string>): Promise<{ status: number; body: string }> =>
        new Promise((resolve, reject) => {
          const req = nodeHttp.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/session', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject);
          req.end(login);
        });
      // DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1.
      const refused: Record<string, string>[] = [
        { host: `evil.example:${port}` },
        { host: `127.0.0.1:${port + 1}` },
        { host: `127.0.0.1:${port}`, origin: 'http://evil.example' },
        { host: `localhost:${port}`, origin: `http://127.0.0.1:${port}` },
        // A web page on another localhost port.
        { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port + 1}` },
        { host: `127.0.0.1:${port}`, origin: 'null' },
      ];
      for (const headers of refused) {
        const r = await send(headers);
        expect({ headers, status: r.status }).toEqual({ headers, status: 403 });
        expect(r.body).not.toContain('token');
      }
      // The workstation's own requests (Node's fetch: its address, no Origin) are answered.
      expect((await send({ host: `127.0.0.1:${port}` })).status).toBe(200);
      expect((await send({ host: `localhost:${port}` })).status).toBe(200);
      // The hub's own page (server/web/), same origin: browsers send Origin on its POSTs.
      expect((await send({ host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status).toBe(200);
      expect((await http(hub.url, 'POST', '/api/session', { body: { username: 'radiologist', password: hub.demoPassword } })).status).toBe(200);
    } finally {
      await hub.close();
    }
  });

  it('out of demo mode (the installed app, an explicit data folder): no demo account works, and the first user creates theirs, once (issue 8 line 8)', async () => {
    const dataDir = path.join(tmp, 'embedded-real');
    // The folder was once run in demo mode: its demo accounts (published password) exist.
    const demo = await startEmbeddedHub({ dataDir, demo: true });
    const demoLogin = await http<LoginResponse>(demo.url, 'POST', '/api/session', { body: { username: 'radiologist', password: 'demo' } });
    expect(demoLogin.status).toBe(200);
    expect((await http(demo.url, 'GET', '/api/setup')).status).toBe(404);
    await demo.close();

    const real = await startEmbeddedHub({ dataDir });
    try {
      expect(real.demoUsers).toEqual([]);
      expect((await http(real.url, 'POST', '/api/session', { body: { username: 'radiologist', password: 'demo' } })).status).toBe(401);
      expect((await http(real.url, 'GET', '/api/unfinished', { token: demoLogin.body.token })).status).toBe(401);
      expect((await http<{ awaitingFirstUser: boolean }>(real.url, 'GET', '/api/setup')).body).toEqual({ awaitingFirstUser: true });
      const first = { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567', password: 'correct horse battery' };
      expect((await http(real.url, 'POST', '/api/setup', { body: { ...first, password: 'short' } })).status).toBe(400);
      // Two first users at once: one account.
      const [a, b] = await Promise.all([
        http(real.url, 'POST', '/api/setup', { body: first }),
        http(real.url, 'POST', '/api/setup', { body: { ...first, username: 'mallory', name: 'Mallory' } }),
      ]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
      expect((await http<{ awaitingFirstUser: boolean }>(real.url, 'GET', '/api/setup')).body).toEqual({ awaitingFirstUser: false });
      const { rows } = await real.hub.db.query<{ username: string }>('SELECT username FROM users WHERE NOT demo');
      expect(rows).toHaveLength(1);
      const winner = rows[0]!.username === 'ada' ? first : { ...first, username: 'mallory' };
      expect((await http(real.url, 'POST', '/api/session', { body: { username: winner.username, password: winner.password } })).status).toBe(200);
      expect((await http(real.url, 'POST', '/api/setup', { body: { ...first, username: 'eve' } })).status).toBe(409);
    } finally {
      await real.close();
    }
  });

  it('creates demo users once, keeps its data in the folder across restarts', async () => {
    const dataDir = path.join(tmp, 'embedded');
    const first = await startEmbeddedHub({ dataDir, demo: true });
    let reportId = '';
    try {
      expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(first.demoUsers.map((u) => u.role).sort()).toEqual(['locum', 'radiographer', 'radiologist', 'referrer', 'safety-lead', 'trainee', 'trainer']);
      const login = await http<LoginResponse>(first.url, 'POST', '/api/session', { body: { username: 'radiologist', password: first.demoPassword } });
      expect(login.status).toBe(200);
      const p = signedReport(login.body.user);
      reportId = p.report.id;
      expect(((await post(first.url, login.body.token, p)).body as IngestReceipt).reportId).toBe(reportId);
    } finally {
      await first.close();
    }
    const second = await startEmbeddedHub({ dataDir, demo: true });
    try {
      const login = await http<LoginResponse>(second.url, 'POST', '/api/session', { body: { username: 'radiologist', password: second.demoPassword } });
      const got = await http(second.url, 'GET', `/api/reports/${reportId}`, { token: login.body.token });
      expect(got.status).toBe(200);
      const { rows } = await second.hub.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users');
      expect(rows[0]!.n).toBe(7);
    } finally {
      await second.close();
    }
  });
});
