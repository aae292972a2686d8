// `npm start`: the desktop app when the Electron binary is installed, otherwise (or with
// --browser) browser mode: the same main-process services in Node, the built renderer served on
// 127.0.0.1 with a per-launch token, opened in the default browser if there is one. Both shells
// get their services from main/launch/compose.ts with the same options (data folder, hub).
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findElectron } from './electronBinary.ts';
import { nodeHubSpawner } from './launch/embeddedHub.ts';
import { beginHub } from './launch/hub.ts';
import { earlierDataHint, launchArgs, LaunchOptionsError, parseLaunchArgs } from './launch/options.ts';
import { TOKEN_HEADER } from '../common/security.ts';
import { containEscapedErrors } from '../common/processGuards.ts';

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

/** FAILSAFE_STARTUP_TRACE=1: `startup: <stage> <ms since launch>` lines (bench/startup.bench.ts). */
const trace = process.env['FAILSAFE_STARTUP_TRACE'] === '1' ? (stage: string): void => console.log(`startup: ${stage} ${Math.round(performance.now())}`) : undefined;

async function main(): Promise<void> {
  containEscapedErrors('Failsafe', (ev, h) => process.on(ev, h), (l) => console.error(l), Date.now);
  const options = parseLaunchArgs(process.argv.slice(2));
  if (options.verifyAudit) {
    // A check, not a launch: no hub, no window; the database is read, never migrated.
    const { verifyAuditCommand } = await import('./db/auditChain.ts');
    const answer = verifyAuditCommand(path.join(options.dataDir, 'failsafe.sqlite'));
    (answer.code === 0 ? console.log : console.error)(answer.line);
    process.exit(answer.code);
  }
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

  if (!options.browser) {
    const electron = findElectron(root);
    if ('binary' in electron) {
      // The desktop app composes its own services (main/electron/) from the same options; the
      // environment (FAILSAFE_HUB_URL, FAILSAFE_TEST_TIMINGS) goes with it.
      const args = [path.join(root, 'dist', 'electron', 'main.cjs'), ...launchArgs(options)];
      const child = spawn(electron.binary, args, { stdio: 'inherit' });
      child.on('exit', (code) => process.exit(code ?? 0));
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
      return;
    }
    console.log(`Electron is not available here (${electron.missing}); starting browser mode instead.`);
  }

  // The hub child first: its start-up is the longest part, and needs none of what loads below.
  const hub = beginHub({ launch: options, spawnHub: nodeHubSpawner(path.join(here, 'hub.mjs')), log: (line) => console.log(line), ...(trace ? { trace } : {}) });
  // The services, the database and the bridge load meanwhile (a chunk of their own once built).
  const [{ compose }, { startBridge }] = await Promise.all([import('./launch/compose.ts'), import('./bridge/BrowserBridge.ts')]);
  let fileBaseUrl = '';
  let token = '';
  const composed = await compose({
    launch: options,
    hub,
    mode: 'browser',
    version,
    fileAccess: () => ({ fileBaseUrl, fileAuthHeader: { name: TOKEN_HEADER, value: token } }),
    sampleDir: path.join(root, 'resources', 'samples', 'ct-head'),
    ...(trace ? { trace } : {}),
  });
  const { services } = composed;
  const bridge = await startBridge({
    handlers: services.handlers,
    rendererDir: path.join(root, 'dist', 'renderer'),
    filePath: services.filePath,
    subscribe: (listener) => {
      services.events.on('event', listener);
      return () => services.events.off('event', listener);
    },
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  trace?.('bridge-listening');
  fileBaseUrl = `${bridge.origin}/files/`;
  token = bridge.token;
  // Ctrl+C / SIGTERM: bridge, services, then the hub child (handlers set before we announce the URL).
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void bridge
      .close()
      .then(() => composed.stop())
      .finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  console.log(`Failsafe ${version} (browser mode), data in ${options.dataDir}`);
  const hint = earlierDataHint(options);
  if (hint) console.log(hint);
  // A one-time link: the page exchanges it for the bridge's token, so what the browser's command
  // line and this console show is dead once the page has opened.
  const first = bridge.launchUrl();
  console.log(`Open: ${first}`);
  if (process.stdin.isTTY) {
    console.log('Each link opens Failsafe once. Press Enter here for another link.');
    process.stdin.on('data', () => console.log(`Open: ${bridge.launchUrl()}`));
    process.stdin.unref();
  }
  if (options.open) openInBrowser(first);
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  console.error(err instanceof LaunchOptionsError ? `Failsafe: ${message}` : `Failsafe could not start: ${message}`);
  process.exit(err instanceof LaunchOptionsError ? 2 : 1);
});
