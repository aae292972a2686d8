// The one composition (main/launch/compose.ts) with the real embedded hub child: the services get
// the hub wired in, the sample is indexed while the hub starts, and the child never outlives the
// launcher: not when it stops, not when it is killed outright, not when composing fails.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose } from '../../../main/launch/compose.ts';
import { nodeHubSpawner } from '../../../main/launch/embeddedHub.ts';
import { beginHub } from '../../../main/launch/hub.ts';
import { parseLaunchArgs } from '../../../main/launch/options.ts';
import { bundle, hubBundle, processGone, repoRoot, waitFor } from './hubBundle.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-compose-'));
let hubScript = '';
let launcherScript = '';
/** One hub data folder initialised once (PGlite's first start is the slow part), copied per test. */
let seededHub = '';

beforeAll(async () => {
  [hubScript, launcherScript] = await Promise.all([hubBundle(), bundle('test/main/launch/fixtures/launcher.ts', 'launcher')]);
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  for (const f of [hubScript, launcherScript]) fs.rmSync(f, { force: true });
});

function dataDirWithHub(name: string): string {
  const dir = path.join(tmp, name);
  if (seededHub) fs.cpSync(seededHub, path.join(dir, 'hub'), { recursive: true });
  return dir;
}

/** Runs the launcher fixture; resolves with the hub pid and the launcher once it printed `until`. */
async function runLauncher(args: string[], until: RegExp): Promise<{ child: ChildProcessWithoutNullStreams; hubPid: number; line: string }> {
  const child = spawn(process.execPath, [launcherScript, hubScript, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const hit = out.split('\n').find((l) => until.test(l));
      if (hit) resolve(hit);
    });
    child.once('exit', (code) => reject(new Error(`launcher exited (${code}): ${out}`)));
  });
  const hubPid = Number(/HUB_PID (\d+)/.exec(out)?.[1] ?? 0);
  return { child, hubPid, line };
}

describe('compose: the launcher with the embedded hub', () => {
  it('wires the real hub child into the services (status online, demo login) with the sample indexed; stop() ends the child', async () => {
    const launch = parseLaunchArgs(['--data-dir', path.join(tmp, 'first'), '--demo'], {});
    const stages: string[] = [];
    const hub = beginHub({ launch, spawnHub: nodeHubSpawner(hubScript), trace: (s) => stages.push(s) });
    const composed = await compose({
      launch,
      hub,
      mode: 'browser',
      version: 'test',
      fileAccess: () => ({ fileBaseUrl: '', fileAuthHeader: null }),
      sampleDir: path.join(repoRoot, 'resources', 'samples', 'ct-head'),
      trace: (s) => stages.push(s),
    });
    try {
      // Database and sample did not wait for the hub: both were done before it was ready.
      expect(stages.indexOf('sample-indexed')).toBeLessThan(stages.indexOf('hub-ready'));
      expect(stages.at(-1)).toBe('services-ready');
      const { handlers } = composed.services;
      expect(((await handlers['library:list']({})) as { studies: unknown[] }[]).flatMap((p) => p.studies)).toHaveLength(2);
      const { url } = await composed.embeddedHub!.ready;
      await waitFor('hub online', async () => (await handlers['hub:status']({})).online);
      expect(await handlers['hub:status']({})).toMatchObject({ configured: true, embedded: true, url });
      const login = await handlers['hub:login']({ username: 'trainee', password: 'demo' });
      expect(login.user).toMatchObject({ username: 'trainee', role: 'trainee' });
      // Owner only (issue 8 finding 4): every folder, the embedded hub's included (the child
      // inherits the launcher's umask), so no other account reaches any file in them, whatever
      // mode PGlite gives a file it creates while it runs (0666: repaired at the next start).
      if (process.platform !== 'win32') {
        const open: string[] = [];
        const walk = (p: string): void => {
          const st = fs.lstatSync(p);
          if (!st.isDirectory()) return;
          if ((st.mode & 0o077) !== 0) open.push(`${path.relative(launch.dataDir, p) || '.'} ${(st.mode & 0o777).toString(8)}`);
          for (const n of fs.readdirSync(p)) walk(path.join(p, n));
        };
        walk(launch.dataDir);
        expect(open).toEqual([]);
        expect(fs.statSync(launch.dataDir).mode & 0o777).toBe(0o700);
      }
    } finally {
      await composed.stop();
    }
    expect(processGone(composed.embeddedHub!.pid!)).toBe(true);
    seededHub = path.join(tmp, 'first', 'hub');
  }, 180_000);

  it('a hub child that dies while the workstation runs is said, and hub:status turns offline', async () => {
    const launch = parseLaunchArgs(['--data-dir', dataDirWithHub('hub-dies')], {});
    const lines: string[] = [];
    const hub = beginHub({ launch, spawnHub: nodeHubSpawner(hubScript), log: (l) => lines.push(l) });
    const composed = await compose({ launch, hub, mode: 'browser', version: 'test', fileAccess: () => ({ fileBaseUrl: '', fileAuthHeader: null }) });
    try {
      const { handlers } = composed.services;
      await waitFor('hub online', async () => (await handlers['hub:status']({})).online);
      const events: unknown[] = [];
      composed.services.events.on('event', (e) => events.push(e));
      process.kill(composed.embeddedHub!.pid!, 'SIGKILL');
      await waitFor('the death to be said', () => lines.some((l) => /embedded hub stopped unexpectedly/.test(l)));
      // At once, not at the outbox's next attempt: nobody is logged in and nothing is pending.
      expect(await handlers['hub:status']({})).toMatchObject({ configured: true, embedded: true, online: false });
      expect(events).toContainEqual({ type: 'hub-changed', online: false });
    } finally {
      await composed.stop();
    }
  }, 180_000);

  it('a launcher killed outright (SIGKILL, no clean-up) leaves no hub behind', async () => {
    const { child, hubPid } = await runLauncher(['--data-dir', dataDirWithHub('killed')], /^COMPOSED /);
    expect(hubPid).toBeGreaterThan(0);
    expect(processGone(hubPid)).toBe(false);
    child.kill('SIGKILL');
    await waitFor('the orphaned hub to exit', () => processGone(hubPid), 15_000);
  }, 180_000);

  it('a launcher told to stop (SIGTERM) closes its services, then the hub', async () => {
    const { child, hubPid } = await runLauncher(['--data-dir', dataDirWithHub('stopped')], /^COMPOSED /);
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(processGone(hubPid)).toBe(true);
  }, 180_000);

  it('when the services cannot start (unreadable database), composing fails and the hub child is ended too', async () => {
    const dataDir = dataDirWithHub('broken');
    fs.mkdirSync(path.join(dataDir, 'failsafe.sqlite'), { recursive: true }); // a folder where the database file should be
    const { child, hubPid, line } = await runLauncher(['--data-dir', dataDir], /^(FAILED|COMPOSED) /);
    expect(line).toMatch(/^FAILED /);
    expect(hubPid).toBeGreaterThan(0);
    await new Promise((r) => child.once('exit', r));
    expect(processGone(hubPid)).toBe(true);
  }, 180_000);

  it('a hub child that cannot start fails the launch with its reason (not a workstation silently without sync)', async () => {
    const dataDir = path.join(tmp, 'hub-is-a-file');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'hub'), 'not a folder');
    const { line } = await runLauncher(['--data-dir', dataDir], /^(FAILED|COMPOSED) /);
    expect(line).toMatch(/^FAILED the embedded hub exited \(\d+\) before starting/);
  }, 180_000);
});
