// The one composition of the workstation, for both shells (browser mode in main/start.ts, the
// desktop app in main/electron/): from the launcher's options and the hub being started
// (./hub.ts), create the services with that hub wired in, and give back one stop() for all of
// it. The database opens and the sample is indexed while the hub child boots.
import type { AppInfo } from '../../common/contract.ts';
import path from 'node:path';
import { restoreBackup } from '../db/backup.ts';
import { createServices, type Services, type ServicesOptions } from '../services.ts';
import type { EmbeddedHubProcess } from './embeddedHub.ts';
import type { HubStart } from './hub.ts';
import type { LaunchOptions } from './options.ts';

export interface ComposeOptions {
  launch: Pick<LaunchOptions, 'dataDir'> & Partial<Pick<LaunchOptions, 'demo' | 'restoreBackup'>>;
  /** From beginHub(): started by the shell as early as it could. */
  hub: HubStart;
  mode: AppInfo['mode'];
  version: string;
  fileAccess: ServicesOptions['fileAccess'];
  sampleDir?: string;
  pickFolder?: ServicesOptions['pickFolder'];
  /** The desktop app's keychain for the hub session (ServicesOptions.secretCodec); undefined: an owner-only file. */
  secretCodec?: ServicesOptions['secretCodec'] | undefined;
  /** Start-up stages as they complete. */
  trace?: (stage: string) => void;
}

export interface Composed {
  services: Services;
  /** The embedded hub child, when this launch runs one. */
  embeddedHub: EmbeddedHubProcess | null;
  /** Closes the services (letting the outbox finish its request in flight), then the hub child. */
  stop(): Promise<void>;
}

export async function compose(opts: ComposeOptions): Promise<Composed> {
  // Node's fetch (undici) loads on its first call: ~60 ms of main-thread work that would otherwise
  // come when the hub is ready, in front of the page's first requests. A data: URL loads it now,
  // while the hub child starts, without touching the network (bench/startup.bench.ts).
  void fetch('data:,').then((r) => r.arrayBuffer(), () => undefined).catch(() => undefined);
  let services: Services;
  try {
    if (opts.launch.restoreBackup) {
      // Before the database opens: the chosen backup in its place, the current one moved aside.
      console.log(`Failsafe: ${await restoreBackup(path.join(opts.launch.dataDir, 'failsafe.sqlite'), opts.launch.restoreBackup.from ?? undefined)}`);
    }
    services = await createServices({
      dataDir: opts.launch.dataDir,
      mode: opts.mode,
      version: opts.version,
      fileAccess: opts.fileAccess,
      ...(opts.sampleDir ? { sampleDir: opts.sampleDir } : {}),
      ...(opts.pickFolder ? { pickFolder: opts.pickFolder } : {}),
      ...(opts.secretCodec ? { secretCodec: opts.secretCodec } : {}),
      demo: opts.launch.demo === true,
      hub: opts.hub.ready,
      ...(opts.trace ? { trace: opts.trace } : {}),
    });
  } catch (err) {
    // The database could not open (or the hub failed): leave no hub child behind.
    await opts.hub.stop();
    throw err;
  }
  opts.trace?.('services-ready');
  let stopping: Promise<void> | null = null;
  const embeddedHub = opts.hub.embedded();
  if (embeddedHub) {
    // The embedded hub's process gone is certain: say offline at once rather than when the
    // outbox next happens to try (with nothing to send and nobody logged in, that is never).
    let gone = false;
    void embeddedHub.exited.then(() => {
      if (stopping) return;
      gone = true;
      services.events.emit('event', { type: 'hub-changed', online: false });
    });
    const status = services.handlers['hub:status'];
    services.handlers['hub:status'] = async (input) => {
      const s = await status(input);
      return gone ? { ...s, online: false } : s;
    };
  }
  return {
    services,
    embeddedHub,
    stop: () =>
      (stopping ??= (async () => {
        try {
          await services.close();
        } finally {
          await opts.hub.stop();
        }
      })()),
  };
}
