// `npm start` (main/start.ts, bundled as scripts/build.mjs does): the desktop app where an
// Electron binary exists, given the same options (data folder, hub flags, environment), else one
// line saying why and browser mode. A stand-in "electron" executable records what it was given.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './hubBundle.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-start-'));
/** A built app folder: dist/node/start.mjs (with its chunks), package.json, node_modules. */
const appRoot = path.join(tmp, 'app');
const fakeElectronDir = path.join(tmp, 'electron-dist');
const noElectronDir = path.join(tmp, 'no-electron');

beforeAll(async () => {
  fs.mkdirSync(path.join(appRoot, 'dist', 'node'), { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'package.json'), path.join(appRoot, 'package.json'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(appRoot, 'node_modules'), 'dir');
  await build({
    entryPoints: { start: path.join(repoRoot, 'main', 'start.ts') },
    outdir: path.join(appRoot, 'dist', 'node'),
    splitting: true,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3', 'electron', 'pg', 'pg-native', '@electric-sql/pglite', 'fastify', 'zod', 'ws'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'error',
  });
  // The stand-in binary writes its arguments and the hub variable, one per line, and exits 3.
  fs.mkdirSync(fakeElectronDir);
  fs.mkdirSync(noElectronDir);
  const record = path.join(tmp, 'electron-args.txt');
  fs.writeFileSync(path.join(fakeElectronDir, 'electron'), `#!/bin/sh\nfor a in "$@"; do echo "$a"; done > '${record}'\necho "FAILSAFE_HUB_URL=$FAILSAFE_HUB_URL" >> '${record}'\nexit 3\n`, { mode: 0o755 });
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv, until?: RegExp): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [path.join(appRoot, 'dist', 'node', 'start.mjs'), ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve) => {
    const take = (d: Buffer): void => {
      out += d.toString();
      if (until?.test(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe.skipIf(process.platform === 'win32')('npm start', () => {
  it('starts the desktop app where the binary exists, with the same data folder, hub and environment', async () => {
    const dataDir = path.join(tmp, 'data');
    const r = await run(['--data-dir', dataDir, '--hub', 'http://hub.example.org:8787'], { ELECTRON_OVERRIDE_DIST_PATH: fakeElectronDir, FAILSAFE_HUB_URL: 'http://from-env:1' });
    expect(r.code).toBe(3); // the app's exit code is the launcher's
    const args = fs.readFileSync(path.join(tmp, 'electron-args.txt'), 'utf8').trim().split('\n');
    expect(args).toEqual([path.join(appRoot, 'dist', 'electron', 'main.cjs'), `--data-dir=${dataDir}`, '--hub=http://hub.example.org:8787', 'FAILSAFE_HUB_URL=http://from-env:1']);
    expect(r.out).not.toMatch(/browser mode/);
  });

  it('--no-hub reaches the desktop app too', async () => {
    await run(['--data-dir', path.join(tmp, 'data'), '--no-hub'], { ELECTRON_OVERRIDE_DIST_PATH: fakeElectronDir });
    expect(fs.readFileSync(path.join(tmp, 'electron-args.txt'), 'utf8')).toMatch(/^--no-hub$/m);
  });

  it('without the binary: one line saying why, then browser mode', async () => {
    const r = await run(['--data-dir', path.join(tmp, 'data-browser'), '--no-hub', '--no-open'], { ELECTRON_OVERRIDE_DIST_PATH: noElectronDir }, /^Open: /m);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe('Electron is not available here (ELECTRON_OVERRIDE_DIST_PATH has no electron); starting browser mode instead.');
    expect(r.out).toMatch(/^Failsafe \S+ \(browser mode\), data in /m);
    // A one-time launch link; the bridge's token is on no command line and in no output.
    expect(r.out).toMatch(/^Open: http:\/\/127\.0\.0\.1:\d+\/#launch=[\w-]{32}$/m);
    expect(r.out).not.toMatch(/token/i);
    expect(r.code).toBe(0); // SIGTERM: a clean stop
  });

  it('a mistyped flag or hub address stops with the reason and exit code 2, starting nothing', async () => {
    const bad = await run(['--hub', 'hub.example.org'], { ELECTRON_OVERRIDE_DIST_PATH: fakeElectronDir });
    expect(bad.code).toBe(2);
    expect(bad.out).toMatch(/^Failsafe: --hub must be the hub's address/m);
    const typo = await run(['--no-hubb'], { ELECTRON_OVERRIDE_DIST_PATH: fakeElectronDir });
    expect(typo.code).toBe(2);
    expect(typo.out).toMatch(/Unknown option '--no-hubb'/);
  });
});
