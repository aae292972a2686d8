// The Electron shell's logic: a window, the app:// protocol, IPC, and the same composition as
// browser mode (main/launch/). The `electron` module comes in as an argument, so tests run all
// of this in Node with a test double (test/main/electron/); main.ts passes the real one.
import fs from 'node:fs';
import path from 'node:path';
import type * as ElectronModule from 'electron';
import type { BrowserWindow, IpcMainInvokeEvent, WebContents } from 'electron';
import { CHANNELS, IPC_PREFIX } from '../../common/channels.ts';
import { dispatch, type Result } from '../../common/contract.ts';
import { CONTENT_SECURITY_POLICY } from '../../common/security.ts';
import { compose, type Composed } from '../launch/compose.ts';
import type { SpawnHub } from '../launch/embeddedHub.ts';
import { beginHub } from '../launch/hub.ts';
import { earlierDataHint, parseLaunchArgs, type LaunchOptions } from '../launch/options.ts';
import type { SecretCodec } from '../hub/sessionVault.ts';

/** What the shell uses of the `electron` module. */
export type ElectronApi = Pick<typeof ElectronModule, 'app' | 'BrowserWindow' | 'dialog' | 'ipcMain' | 'Menu' | 'protocol' | 'safeStorage' | 'session' | 'shell' | 'utilityProcess'>;

/**
 * The hub session's encryption: the OS keychain through safeStorage when it offers one; else the
 * session file is kept owner-only (0600) and unencrypted, as in browser mode, and the log says so.
 */
export function keychainCodec(e: Pick<ElectronApi, 'safeStorage'>, log: (line: string) => void): SecretCodec | undefined {
  if (!e.safeStorage.isEncryptionAvailable()) {
    log('Failsafe: this system offers no keychain to Electron; the hub session is kept in an owner-only file, unencrypted.');
    return undefined;
  }
  const backend = process.platform === 'linux' ? e.safeStorage.getSelectedStorageBackend() : process.platform;
  return { kind: `safeStorage (${backend})`, encrypt: (t) => e.safeStorage.encryptString(t), decrypt: (b) => e.safeStorage.decryptString(b) };
}

export const APP_ORIGIN = 'app://failsafe';
/** How long closing the window waits for the renderer to save the open draft. */
export const CLOSE_FLUSH_LIMIT_MS = 5_000;

export interface ShellOptions {
  /** process.argv (Electron and Chromium switches are ignored). */
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
  /** The built renderer (index.html, assets): the only files app:// serves besides DICOM files. */
  rendererDir: string;
  preload: string;
  /** The bundled sample study (`current/`, `prior/`). */
  sampleDir: string;
  /** The embedded hub's bundle (server/cli.ts), run as a utility process. */
  hubScript: string;
  closeFlushMs?: number;
  log?: (line: string) => void;
}

export interface Shell {
  options: LaunchOptions;
  composed: Composed;
  window: BrowserWindow;
}

/** Before `app` is ready: the privileged app:// scheme and the sandbox for every renderer. */
export function prepareElectron(e: Pick<ElectronApi, 'app' | 'protocol'>): void {
  e.protocol.registerSchemesAsPrivileged([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } }]);
  e.app.enableSandbox();
}

/** The embedded hub as an Electron utility process (Chromium ends it with the app). */
export function utilityHubSpawner(e: Pick<ElectronApi, 'utilityProcess'>, hubScript: string): SpawnHub {
  return (args) => {
    const child = e.utilityProcess.fork(hubScript, args, { stdio: 'pipe', serviceName: 'Failsafe hub' });
    return {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      once: (event, listener) => child.once(event, listener),
      stop: () => child.kill(),
      kill: () => {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      },
    };
  };
}

/** Only our own page's main frame may call the contract (VS Code's validated ipcMain). */
export function senderIsTrusted(event: Pick<IpcMainInvokeEvent, 'senderFrame' | 'sender'>): boolean {
  const frame = event.senderFrame;
  return !!frame && frame === event.sender.mainFrame && frame.url.startsWith(`${APP_ORIGIN}/`);
}

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml' };

async function serveFile(file: string, type: string): Promise<Response> {
  try {
    const body = await fs.promises.readFile(file);
    return new Response(body, { headers: { 'content-type': type, 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff' } });
  } catch {
    return new Response('not found', { status: 404 });
  }
}

/** app://failsafe/…: the renderer bundle and, under /files/, the indexed DICOM files; nothing else. */
export function appProtocolHandler(rendererDir: string, filePath: (fileId: string) => Promise<string | null>): (request: Request) => Promise<Response> {
  const root = path.resolve(rendererDir);
  return async (request) => {
    const url = new URL(request.url);
    if (url.protocol !== 'app:' || url.host !== 'failsafe') return new Response('forbidden', { status: 403 });
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      return new Response('bad request', { status: 400 });
    }
    if (rel.startsWith('/files/')) {
      const file = await filePath(rel.slice('/files/'.length));
      return file ? serveFile(file, 'application/dicom') : new Response('not found', { status: 404 });
    }
    const file = path.resolve(root, `.${rel === '/' ? '/index.html' : rel}`);
    if (!file.startsWith(root + path.sep)) return new Response('forbidden', { status: 403 });
    return serveFile(file, MIME[path.extname(file)] ?? 'application/octet-stream');
  };
}

/** Electron used userData (~/.config/Failsafe on Linux) before both shells shared one folder. */
function keepLegacyDataDir(e: Pick<ElectronApi, 'app'>, o: LaunchOptions, argv: readonly string[], env: NodeJS.ProcessEnv, log: (l: string) => void): LaunchOptions {
  // Demo mode keeps a folder of its own: an older install's (real) data is never opened as a demo.
  if (o.demo || argv.some((a) => a === '--data-dir' || a.startsWith('--data-dir=')) || env['FAILSAFE_DATA_DIR']) return o;
  const legacy = e.app.getPath('userData');
  const has = (dir: string): boolean => fs.existsSync(path.join(dir, 'failsafe.sqlite'));
  if (path.resolve(legacy) === o.dataDir || !has(legacy) || has(o.dataDir)) return o;
  log(`Using the desktop app's existing data in ${legacy}.`);
  return { ...o, dataDir: path.resolve(legacy) };
}

/** Hardening of every web contents: no navigation away, no new windows, no webviews. */
function guardContents(e: Pick<ElectronApi, 'shell'>, contents: WebContents): void {
  contents.on('will-navigate', (ev) => ev.preventDefault());
  contents.on('will-redirect', (ev) => ev.preventDefault());
  contents.on('will-attach-webview', (ev) => ev.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    // Only http(s) links leave the app, in the user's browser; nothing opens a new window.
    if (/^https?:\/\//.test(url)) void e.shell.openExternal(url);
    return { action: 'deny' };
  });
}

/**
 * Runs the desktop app: composes the services exactly as browser mode does (same options: data
 * folder, hub flags, FAILSAFE_HUB_URL, --no-hub), serves them over IPC to one sandboxed window,
 * and on quit closes the services and the embedded hub child before exiting.
 */
export async function runShell(e: ElectronApi, opts: ShellOptions): Promise<Shell> {
  const log = opts.log ?? ((line: string) => console.log(line));
  await e.app.whenReady();
  // The installed (packaged) app never runs in demo mode unless asked (--demo).
  const options = keepLegacyDataDir(e, parseLaunchArgs(opts.argv, opts.env, { strict: false, packaged: e.app.isPackaged }), opts.argv, opts.env, log);
  const hint = earlierDataHint(options, opts.env);
  if (hint) log(hint);
  // The hub child first: its start-up is the longest part of launching.
  const hub = beginHub({ launch: options, spawnHub: utilityHubSpawner(e, opts.hubScript), log });
  let win: BrowserWindow | null = null;
  const composing = compose({
    launch: options,
    hub,
    mode: 'electron',
    version: e.app.getVersion(),
    fileAccess: () => ({ fileBaseUrl: `${APP_ORIGIN}/files/`, fileAuthHeader: null }),
    sampleDir: opts.sampleDir,
    secretCodec: keychainCodec(e, log),
    pickFolder: async () => {
      const r = win ? await e.dialog.showOpenDialog(win, { properties: ['openDirectory'] }) : await e.dialog.showOpenDialog({ properties: ['openDirectory'] });
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
  });
  // While the services start, the window loads: the protocol, permissions, guards and IPC are in
  // place first, and IPC calls wait for the services.
  composing.catch(() => undefined);

  e.protocol.handle('app', appProtocolHandler(opts.rendererDir, async (fileId) => (await composing).services.filePath(fileId)));
  // Deny every permission request (camera, notifications, …): the app needs none.
  e.session.defaultSession.setPermissionRequestHandler((_wc, _perm, callback) => callback(false));
  e.session.defaultSession.setPermissionCheckHandler(() => false);
  e.app.on('web-contents-created', (_ev, contents) => guardContents(e, contents));

  for (const channel of CHANNELS) {
    e.ipcMain.handle(`${IPC_PREFIX}${channel}`, async (event, input: unknown): Promise<Result<unknown>> => {
      if (!senderIsTrusted(event)) return { ok: false, error: { code: 'forbidden', message: 'IPC from an untrusted frame.' } };
      return dispatch((await composing).services.handlers, channel, input);
    });
  }

  win = new e.BrowserWindow({
    width: 1600,
    height: 1000,
    title: 'Failsafe',
    backgroundColor: '#111418',
    webPreferences: {
      preload: opts.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      spellcheck: true,
    },
  });
  const window = win;

  // Closing the window: let the renderer save the open draft first (IPC may not finish once the
  // page is gone), at most CLOSE_FLUSH_LIMIT_MS, then close for real.
  let flushedForClose = false;
  window.on('close', (ev) => {
    if (flushedForClose) return;
    ev.preventDefault();
    flushedForClose = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise((resolve) => {
      timer = setTimeout(resolve, opts.closeFlushMs ?? CLOSE_FLUSH_LIMIT_MS);
    });
    const flush = window.webContents.executeJavaScript('window.failsafeBeforeClose ? window.failsafeBeforeClose() : true').catch(() => false);
    void Promise.race([flush, limit]).finally(() => {
      clearTimeout(timer);
      window.destroy();
    });
  });

  // Quitting (last window closed, menu Quit, Ctrl+C): close the services, then the hub child.
  let stopped = false;
  e.app.on('window-all-closed', () => e.app.quit());
  e.app.on('will-quit', (ev) => {
    if (stopped) return;
    ev.preventDefault();
    void composing
      .then((c) => c.stop())
      .catch(() => undefined)
      .finally(() => {
        stopped = true;
        e.app.quit();
      });
  });
  const quitOnSignal = (): void => e.app.quit();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, quitOnSignal);
  e.app.once('quit', () => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.off(sig, quitOnSignal);
  });

  const loaded = window.loadURL(`${APP_ORIGIN}/index.html`);
  let composed: Composed;
  try {
    composed = await composing;
  } catch (err) {
    window.destroy();
    throw err;
  }
  composed.services.events.on('event', (ev) => {
    if (!window.isDestroyed()) window.webContents.send(`${IPC_PREFIX}event`, ev);
  });

  e.Menu.setApplicationMenu(
    e.Menu.buildFromTemplate([
      {
        label: 'File',
        submenu: [
          { label: 'Open folder…', accelerator: 'CmdOrCtrl+O', click: () => void composed.services.handlers['library:pickFolder']({}) },
          { type: 'separator' },
          { role: 'quit' },
        ],
      },
      { role: 'editMenu' },
      { label: 'View', submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { role: 'togglefullscreen' }] },
    ]),
  );
  await loaded;
  return { options, composed, window };
}

/**
 * The desktop app's entry (main.ts passes the real module): prepares Electron at once (before
 * ready, as it must), runs the shell, and on a failed start shows why and exits 1, having ended
 * whatever it had started (the hub child included).
 */
export function startDesktopApp(e: ElectronApi, opts: ShellOptions): Promise<Shell | null> {
  prepareElectron(e);
  return runShell(e, opts).catch((err: unknown) => {
    e.dialog.showErrorBox('Failsafe could not start', err instanceof Error ? err.message : String(err));
    e.app.exit(1);
    return null;
  });
}
