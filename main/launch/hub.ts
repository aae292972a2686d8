// Starting the launcher's hub: nothing, the department's URL, or the embedded hub child. Kept
// free of the services' imports so a shell can start the hub child first thing, before it loads
// the rest of the app (the child's start-up is the longest part of launching).
import path from 'node:path';
import type { HubOptions } from '../services.ts';
import { startEmbeddedHubProcess, type EmbeddedHubProcess, type SpawnHub } from './embeddedHub.ts';
import type { LaunchOptions } from './options.ts';
import { privateUmask } from '../privateFolder.ts';

export interface HubStart {
  /** The hub the services should use once known (undefined: none); rejects if the child fails. */
  readonly ready: Promise<HubOptions | undefined>;
  /** The embedded hub child (null without one). */
  embedded(): EmbeddedHubProcess | null;
  /** Ends the embedded hub child, starting or not, and waits for it to exit. */
  stop(): Promise<void>;
}

export interface HubStartOptions {
  launch: Pick<LaunchOptions, 'dataDir' | 'hub' | 'testTimings' | 'demo'>;
  /** How this shell runs `hub embedded` (Node child or Electron utility process). */
  spawnHub: SpawnHub;
  log?: (line: string) => void;
  trace?: (stage: string) => void;
}

export function beginHub(opts: HubStartOptions): HubStart {
  const { launch } = opts;
  // Before the hub child is started: it inherits the umask, so its files are owner only too.
  privateUmask();
  const log = opts.log ?? (() => {});
  const timings = launch.testTimings ? { criticalDeadlineMs: 3_000, draftThrottleMs: 500 } : {};
  if (launch.hub.kind === 'none') {
    log('No hub: signed reports stay on this workstation (--no-hub).');
    return { ready: Promise.resolve(undefined), embedded: () => null, stop: async () => {} };
  }
  if (launch.hub.kind === 'department') {
    log(`Hub: ${launch.hub.url}`);
    return { ready: Promise.resolve({ baseUrl: launch.hub.url, embedded: false, ...timings }), embedded: () => null, stop: async () => {} };
  }
  opts.trace?.('hub-spawned');
  const child = startEmbeddedHubProcess(opts.spawnHub, path.join(launch.dataDir, 'hub'), { demo: launch.demo });
  let stopped = false;
  const ready = child.ready.then((h) => {
    opts.trace?.('hub-ready');
    log(h.demoUsers.length > 0
      ? `Embedded hub at ${h.url} (demo mode: demo users, password "demo": ${h.demoUsers.map((u) => u.username).join(', ')})`
      : `Embedded hub at ${h.url} (no demo accounts)`);
    void child.exited.then((code) => {
      // The status bar shows the hub offline and signed reports pending; say why, too.
      if (!stopped) log(`The embedded hub stopped unexpectedly (exit ${code}): signed reports wait on this workstation; restart Failsafe.`);
    });
    return { baseUrl: h.url, embedded: true, demoUsers: h.demoUsers, ...timings };
  });
  ready.catch(() => undefined); // whoever awaits it gets the failure; nobody awaiting is no crash
  return {
    ready,
    embedded: () => child,
    stop: () => {
      stopped = true;
      return child.stop();
    },
  };
}
