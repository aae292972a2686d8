// `npm start`: the desktop app when the Electron binary is installed, otherwise (or with
// --browser) browser mode: the same main-process services in Node, the built renderer served on
// 127.0.0.1 with a per-launch token, opened in the default browser if there is one.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServices, type ServicesOptions } from './services.ts';
import { startBridge } from './bridge/BrowserBridge.ts';
import { defaultDataDir } from './paths.ts';
import { findElectron } from './electronBinary.ts';
import { TOKEN_HEADER } from '../common/security.ts';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/node
const root = path.resolve(here, '..', '..');

function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  if (process.platform === 'linux' && spawnSync('which', [cmd]).status !== 0) {
    console.log('No default browser found: open the URL above in Chrome, Chromium, Edge or Firefox.');
    return;
  }
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => console.log('Could not open a browser: open the URL above yourself.'));
  child.unref();
}

interface EmbeddedHubProcess {
  url: string;
  demoUsers: NonNullable<NonNullable<ServicesOptions['hub']>['demoUsers']>;
  stop(): void;
}

/** Runs the embedded hub (`dist/node/hub.mjs embedded`) as a child; it exits when we do (its stdin closes). */
function startEmbeddedHubProcess(hubDataDir: string): Promise<EmbeddedHubProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'hub.mjs'), 'embedded', '--data', hubDataDir, '--parent-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the embedded hub did not start within 60 s: ${out}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').slice(0, -1).find((l) => l.startsWith('HUB_READY '));
      if (!line) return;
      clearTimeout(timer);
      const info = JSON.parse(line.slice('HUB_READY '.length)) as { url: string; demoUsers: EmbeddedHubProcess['demoUsers'] };
      resolve({ ...info, stop: () => child.stdin.end() });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the embedded hub exited (${code}) before starting: ${out}`));
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      browser: { type: 'boolean', default: false },
      'no-open': { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      hub: { type: 'string' },
      'no-hub': { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const dataDir = values['data-dir'] ? path.resolve(values['data-dir']) : defaultDataDir();

  if (!values.browser) {
    const electron = findElectron(root);
    if ('binary' in electron) {
      const args = [path.join(root, 'dist', 'electron', 'main.cjs'), `--data-dir=${dataDir}`];
      const child = spawn(electron.binary, args, { stdio: 'inherit' });
      child.on('exit', (code) => process.exit(code ?? 0));
      return;
    }
    console.log(`Electron is not available here (${electron.missing}); starting browser mode instead.`);
  }

  const hubUrl = values.hub ?? process.env['FAILSAFE_HUB_URL'];
  let embeddedHub: EmbeddedHubProcess | null = null;
  let hub: ServicesOptions['hub'];
  if (values['no-hub']) {
    console.log('No hub: signed reports stay on this workstation (--no-hub).');
  } else if (hubUrl) {
    hub = { baseUrl: hubUrl, embedded: false };
  } else {
    embeddedHub = await startEmbeddedHubProcess(path.join(dataDir, 'hub'));
    hub = { baseUrl: embeddedHub.url, embedded: true, demoUsers: embeddedHub.demoUsers };
    console.log(`Embedded hub at ${embeddedHub.url} (demo users, password "demo": ${embeddedHub.demoUsers.map((u) => u.username).join(', ')})`);
  }
  const testing = process.env['FAILSAFE_TEST_TIMINGS'] === '1';
  if (hub && testing) Object.assign(hub, { criticalDeadlineMs: 3_000, draftThrottleMs: 500 });

  let fileBaseUrl = '';
  let token = '';
  const services = await createServices({
    dataDir,
    mode: 'browser',
    version,
    fileAccess: () => ({ fileBaseUrl, fileAuthHeader: { name: TOKEN_HEADER, value: token } }),
    sampleDir: path.join(root, 'resources', 'samples', 'ct-head'),
    ...(hub ? { hub } : {}),
  });
  const bridge = await startBridge({
    handlers: services.handlers,
    rendererDir: path.join(root, 'dist', 'renderer'),
    filePath: services.filePath,
    subscribe: (listener) => {
      services.events.on('event', listener);
      return () => services.events.off('event', listener);
    },
    ...(values.port ? { port: Number(values.port) } : {}),
  });
  fileBaseUrl = `${bridge.origin}/files/`;
  token = bridge.token;
  console.log(`Failsafe ${version} (browser mode), data in ${dataDir}`);
  console.log(`Open: ${bridge.url}`);
  if (!values['no-open'] && !process.env['CI']) openInBrowser(bridge.url);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void bridge
      .close()
      .then(() => services.close())
      .finally(() => {
        embeddedHub?.stop();
        process.exit(0);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`Failsafe could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
