// The launcher's options, parsed the same way by `npm start` (main/start.ts) and by the Electron
// main process (main/electron/), so both shells get the same data folder and the same hub.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { defaultDataDir } from '../paths.ts';

/** Which hub this workstation reports to. */
export type HubChoice =
  /** The single-user hub started beside the workstation (PGlite in `<data>/hub`, demo users). */
  | { kind: 'embedded' }
  /** The department's hub at `url` (`--hub URL` or FAILSAFE_HUB_URL). */
  | { kind: 'department'; url: string }
  /** None (`--no-hub`): signed reports stay on this workstation. */
  | { kind: 'none' };

export interface LaunchOptions {
  dataDir: string;
  hub: HubChoice;
  /** Browser mode even where Electron exists (`--browser`). */
  browser: boolean;
  /** Open the browser-mode URL in the default browser (not with `--no-open` or CI). */
  open: boolean;
  /** Browser mode's bridge port (`--port`); default a free one. */
  port?: number;
  /** FAILSAFE_TEST_TIMINGS=1: short critical-delivery and draft-throttle timings for e2e tests. */
  testTimings: boolean;
  /**
   * Demo mode: the embedded hub's demo accounts (published password) and a "Demo: not for patient
   * data" banner. What `npm start` from a checkout runs, in a data folder of its own
   * (`<default>-demo`); `--demo` asks for it anywhere. The installed app and any explicit data
   * folder (`--data-dir`, FAILSAFE_DATA_DIR) run without demo accounts: the first user creates
   * theirs.
   */
  demo: boolean;
  /**
   * `--restore-backup` (the newest good backup) or `--restore-backup=FILE`: before the database
   * opens, put that backup in its place (the current one is moved aside, not deleted).
   */
  restoreBackup?: { from: string | null };
  /** `--verify-audit`: check the audit trail's hash chain in the data folder, print the answer and exit (main/db/auditChain.ts). */
  verifyAudit?: boolean;
}

export class LaunchOptionsError extends Error {}

/**
 * Parses the launcher's flags. `strict` (npm start) refuses unknown flags; the Electron main
 * process passes false because Chromium and Electron add switches of their own.
 */
export function parseLaunchArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env, opts: { strict?: boolean; packaged?: boolean } = {}): LaunchOptions {
  // --restore-backup takes an optional value (=FILE), which parseArgs cannot say: read it here.
  let restoreBackup: { from: string | null } | undefined;
  const rest = argv.filter((a) => {
    if (a === '--restore-backup') restoreBackup = { from: null };
    else if (a.startsWith('--restore-backup=')) restoreBackup = { from: path.resolve(a.slice('--restore-backup='.length)) };
    else return true;
    return false;
  });
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        browser: { type: 'boolean', default: false },
        'no-open': { type: 'boolean', default: false },
        'data-dir': { type: 'string' },
        port: { type: 'string' },
        hub: { type: 'string' },
        'no-hub': { type: 'boolean', default: false },
        demo: { type: 'boolean', default: false },
        'verify-audit': { type: 'boolean', default: false },
      },
      strict: opts.strict ?? true,
      allowPositionals: !(opts.strict ?? true),
    }));
  } catch (err) {
    throw new LaunchOptionsError(err instanceof Error ? err.message : String(err));
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const hubFlag = str(values.hub);
  if (hubFlag !== undefined && values['no-hub'] === true) throw new LaunchOptionsError('Give --hub URL or --no-hub, not both.');
  const hubUrl = hubFlag ?? (env['FAILSAFE_HUB_URL'] || undefined);
  let hub: HubChoice = { kind: 'embedded' };
  if (values['no-hub'] === true) hub = { kind: 'none' };
  else if (hubUrl !== undefined) hub = { kind: 'department', url: checkHubUrl(hubUrl, hubFlag !== undefined ? '--hub' : 'FAILSAFE_HUB_URL') };
  const portFlag = str(values.port);
  let port: number | undefined;
  if (portFlag !== undefined) {
    port = Number(portFlag);
    if (!/^\d+$/.test(portFlag) || port < 0 || port > 65535) throw new LaunchOptionsError(`--port must be a number 0–65535, not "${portFlag}".`);
  }
  const dataDirFlag = str(values['data-dir']);
  const chosenDir = dataDirFlag !== undefined || Boolean(env['FAILSAFE_DATA_DIR']);
  const demo = values.demo === true || (!chosenDir && opts.packaged !== true);
  return {
    dataDir: dataDirFlag ? path.resolve(dataDirFlag) : chosenDir || !demo ? defaultDataDir(env) : `${defaultDataDir(env)}-demo`,
    demo,
    hub,
    browser: values.browser === true,
    open: values['no-open'] !== true && !env['CI'],
    ...(port !== undefined ? { port } : {}),
    testTimings: env['FAILSAFE_TEST_TIMINGS'] === '1',
    ...(restoreBackup ? { restoreBackup } : {}),
    ...(values['verify-audit'] === true ? { verifyAudit: true } : {}),
  };
}

function checkHubUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LaunchOptionsError(`${from} must be the hub's address, like http://hub.example.org:8787, not "${raw}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new LaunchOptionsError(`${from} must be an http:// or https:// address, not "${raw}".`);
  return raw.replace(/\/+$/, '');
}

/** The flags that give another process (the Electron main process) the same options. */
export function launchArgs(o: Pick<LaunchOptions, 'dataDir' | 'hub' | 'demo'>): string[] {
  const hub = o.hub.kind === 'none' ? ['--no-hub'] : o.hub.kind === 'department' ? [`--hub=${o.hub.url}`] : [];
  return [`--data-dir=${o.dataDir}`, ...hub, ...(o.demo ? ['--demo'] : [])];
}

/**
 * In demo mode, where the data of a run before demo mode had its own folder (reports in the
 * default folder): a line saying where it is and how to open it, or null.
 */
export function earlierDataHint(o: Pick<LaunchOptions, 'demo' | 'dataDir'>, env: NodeJS.ProcessEnv = process.env, exists: (file: string) => boolean = fs.existsSync): string | null {
  const earlier = defaultDataDir(env);
  if (!o.demo || o.dataDir === earlier || !exists(path.join(earlier, 'failsafe.sqlite'))) return null;
  return `Demo mode keeps its data in ${o.dataDir}. Your earlier data is in ${earlier}: start with --data-dir "${earlier}" to open it (without demo accounts).`;
}
