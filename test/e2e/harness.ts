// Starts the real app in browser mode (the built dist/node/start.mjs, the same code `npm start`
// runs) on a free port with its own data folder, and launches Chromium headless.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { TOKEN_HEADER } from '../../common/security.ts';
import { newLaunchCode, spendLaunchCode } from '../support/launch.ts';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const corpusDir = path.resolve(repoRoot, '..', 'shared', 'dicom');

export interface RunningApp {
  origin: string;
  /** The bridge's token, from the printed one-time link (the harness spends that link itself). */
  token: string;
  /** A new one-time link for a page (each page of a test opens on its own, as each browser window must). */
  pageUrl(): Promise<string>;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  /** Graceful stop (SIGTERM), waits for exit. */
  stop(): Promise<void>;
  /** kill -9: no chance to clean up. */
  kill(): Promise<void>;
}

export function tempDataDir(prefix = 'failsafe-e2e-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** `demo` (default true): the demo accounts the tests log in with (`--demo`); false runs as an installed app does, without them. */
export async function startApp(opts: { dataDir?: string; env?: NodeJS.ProcessEnv; args?: string[]; demo?: boolean } = {}): Promise<RunningApp> {
  const dataDir = opts.dataDir ?? tempDataDir();
  const child = spawn(
    process.execPath,
    [path.join(repoRoot, 'dist', 'node', 'start.mjs'), '--browser', '--no-open', '--data-dir', dataDir, ...(opts.demo === false ? [] : ['--demo']), ...(opts.args ?? [])],
    { cwd: repoRoot, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not start within 60 s:\n${out}`)), 60_000);
    const check = (): void => {
      const m = /Open: (http:\/\/127\.0\.0\.1:\d+\/#launch=[\w-]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`app exited (${code}) before starting:\n${out}`));
    });
  });
  const parsed = new URL(url);
  const token = await spendLaunchCode(parsed.origin, parsed.hash.replace('#launch=', ''));
  return {
    origin: parsed.origin,
    token,
    pageUrl: async () => `${parsed.origin}/#launch=${await newLaunchCode(parsed.origin, token)}`,
    dataDir,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env['CHROMIUM_PATH'] ?? (fs.existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
  return chromium.launch({
    ...(executablePath ? { executablePath } : {}),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

/** Calls the workstation's own contract (the loopback bridge), as the page would; the Result as answered. */
export async function bridge(app: RunningApp, channel: string, input: unknown): Promise<{ ok: boolean; value?: unknown; error?: { code: string; message: string } }> {
  const res = await fetch(`${app.origin}/api/${channel}`, { method: 'POST', headers: { 'content-type': 'application/json', [TOKEN_HEADER]: app.token }, body: JSON.stringify(input) });
  return (await res.json()) as { ok: boolean; value?: unknown; error?: { code: string; message: string } };
}

/**
 * With a hub, the first signature of a session (and one after the site's idle minutes) asks for
 * the password again (renderer/report/ConfirmSigner.tsx): enter it and confirm. The demo
 * accounts' password is "demo".
 */
export async function enterSignPassword(page: Page, password = 'demo'): Promise<void> {
  const dialog = page.getByTestId('confirm-signer');
  await dialog.waitFor();
  await dialog.getByLabel('Password').fill(password);
  await dialog.getByRole('button', { name: 'Confirm and sign' }).click();
  await dialog.waitFor({ state: 'detached' });
}

/** On the login screen of a demo-mode app: log in as the demo radiologist and wait for the hub to say so. */
export async function logInAsDemoRadiologist(page: Page): Promise<void> {
  await page.getByTestId('login-form').waitFor();
  await page.getByRole('button', { name: /^Log in as Dr Ada Lovelace, Radiologist/ }).click();
  await expect.poll(() => page.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain('Dr Ada Lovelace');
}

/**
 * On an open draft of the sample CT: writes a critical report (acute subdural haematoma, the
 * verbal communication recorded at `verbalTime`, a datetime-local value) ready to sign.
 */
export async function writeCriticalReport(page: Page, verbalTime: string): Promise<void> {
  await page.getByLabel('Clinical question (from the request)').fill('Collapse, GCS 8.');
  await page.getByLabel('No prior imaging available').check();
  // The sample has a prior in the library: saying none is available needs a reason (issue 7).
  await page.getByLabel(/^Why none of the/).fill('Prior CT degraded by motion artefact; not comparable.');
  await page.getByLabel('Brain parenchyma').fill('Large acute right subdural haematoma with 9 mm midline shift.');
  await page.getByLabel('No clinically significant unexpected findings').check();
  await page.getByLabel(/^Conclusion/).fill('Acute right subdural haematoma with midline shift: neurosurgical emergency.');
  await page.getByRole('radio', { name: 'Critical', exact: true }).check();
  await page.getByLabel('Clinician informed').fill('Dr Sam Patel');
  await page.getByLabel("Clinician's role").fill('ED registrar');
  await page.getByLabel('Time of the conversation').fill(verbalTime);
}

/**
 * A copy of the built hub page (dist/hub-web/) for a hub under test to serve: a rebuild while the
 * test runs (it empties dist/hub-web/) cannot pull the page away. Fails in words when it is not built.
 */
export function copyHubWeb(prefix = 'failsafe-hubweb-e2e-'): { dir: string; remove(): void } {
  const built = path.join(repoRoot, 'dist', 'hub-web');
  if (!fs.existsSync(path.join(built, 'index.html'))) throw new Error(`The hub page is not built (${built}): run node scripts/build.mjs first.`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.cpSync(built, dir, { recursive: true });
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
