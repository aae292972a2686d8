// The Electron shell: a window, the app:// protocol, IPC. Everything else is main/services.ts,
// shared with browser mode. The only folder that imports `electron`.
import path from 'node:path';
import fs from 'node:fs';
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session, shell, type IpcMainInvokeEvent } from 'electron';
import { CHANNELS, IPC_PREFIX } from '../../common/channels.ts';
import { dispatch, type Result } from '../../common/contract.ts';
import { CONTENT_SECURITY_POLICY } from '../../common/security.ts';
import { createServices, type Services } from '../services.ts';
import { defaultDataDir } from '../paths.ts';

const APP_ORIGIN = 'app://failsafe';
// Bundled to dist/electron/main.cjs; packaged, dist/ sits inside app.asar and the sample study
// beside it in the resources folder (electron-builder.yml extraResources).
const rendererDir = path.resolve(__dirname, '..', 'renderer');
const resourcesRoot = app.isPackaged ? process.resourcesPath : path.resolve(__dirname, '..', '..');
const sampleDir = path.join(resourcesRoot, 'resources', 'samples', 'ct-head');

protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

app.enableSandbox();

function dataDirFromArgs(): string {
  const arg = process.argv.find((a) => a.startsWith('--data-dir='));
  return arg ? path.resolve(arg.slice('--data-dir='.length)) : process.env['FAILSAFE_DATA_DIR'] ? defaultDataDir() : app.getPath('userData');
}

const MIME: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.svg': 'image/svg+xml' };

function serveFile(file: string, type: string): Response {
  try {
    const body = fs.readFileSync(file);
    return new Response(body, { headers: { 'content-type': type, 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff' } });
  } catch {
    return new Response('not found', { status: 404 });
  }
}

/** Only our own page's main frame may call the contract (VS Code's validated ipcMain). */
function senderIsTrusted(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return !!frame && frame === event.sender.mainFrame && frame.url.startsWith(`${APP_ORIGIN}/`);
}

async function main(): Promise<void> {
  await app.whenReady();
  let win: BrowserWindow | null = null;
  const services: Services = await createServices({
    dataDir: dataDirFromArgs(),
    mode: 'electron',
    version: app.getVersion(),
    fileAccess: () => ({ fileBaseUrl: `${APP_ORIGIN}/files/`, fileAuthHeader: null }),
    sampleDir,
    pickFolder: async () => {
      const r = win ? await dialog.showOpenDialog(win, { properties: ['openDirectory'] }) : await dialog.showOpenDialog({ properties: ['openDirectory'] });
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
  });

  protocol.handle('app', (request) => {
    const url = new URL(request.url);
    if (url.host !== 'failsafe') return new Response('forbidden', { status: 403 });
    if (url.pathname.startsWith('/files/')) {
      const file = services.filePath(decodeURIComponent(url.pathname.slice('/files/'.length)));
      return file ? serveFile(file, 'application/dicom') : new Response('not found', { status: 404 });
    }
    const rel = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
    const file = path.resolve(rendererDir, `.${rel}`);
    if (!file.startsWith(rendererDir + path.sep)) return new Response('forbidden', { status: 403 });
    return serveFile(file, MIME[path.extname(file)] ?? 'application/octet-stream');
  });

  // Deny every permission request (camera, notifications, …): the app needs none.
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);

  for (const channel of CHANNELS) {
    ipcMain.handle(`${IPC_PREFIX}${channel}`, async (event, input: unknown): Promise<Result<unknown>> => {
      if (!senderIsTrusted(event)) return { ok: false, error: { code: 'forbidden', message: 'IPC from an untrusted frame.' } };
      return dispatch(services.handlers, channel, input);
    });
  }

  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (e) => e.preventDefault());
    contents.on('will-redirect', (e) => e.preventDefault());
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      // Only http(s) links leave the app, in the user's browser; nothing opens a new window.
      if (/^https?:\/\//.test(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
  });

  win = new BrowserWindow({
    width: 1600,
    height: 1000,
    title: 'Failsafe',
    backgroundColor: '#111418',
    webPreferences: {
      preload: path.join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      spellcheck: true,
    },
  });
  services.events.on('event', (e) => win?.webContents.send(`${IPC_PREFIX}event`, e));

  // Closing the window: let the renderer save the open draft first (IPC may not finish once the
  // page is gone), at most 5 s, then close for real.
  let flushedForClose = false;
  win.on('close', (e) => {
    if (flushedForClose || !win) return;
    e.preventDefault();
    flushedForClose = true;
    const w = win;
    const timeout = new Promise((resolve) => setTimeout(resolve, 5_000));
    const flush = w.webContents.executeJavaScript('window.failsafeBeforeClose ? window.failsafeBeforeClose() : true').catch(() => false);
    void Promise.race([flush, timeout]).finally(() => w.destroy());
  });

  Menu.setApplicationMenu(
    Menu.buildFromTemplate([
      {
        label: 'File',
        submenu: [
          {
            label: 'Open folder…',
            accelerator: 'CmdOrCtrl+O',
            click: () => void services.handlers['library:pickFolder']({}),
          },
          { type: 'separator' },
          { role: 'quit' },
        ],
      },
      { role: 'editMenu' },
      { label: 'View', submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { role: 'togglefullscreen' }] },
    ]),
  );

  await win.loadURL(`${APP_ORIGIN}/index.html`);
  app.on('window-all-closed', () => {
    services.close();
    app.quit();
  });
}

main().catch((err: unknown) => {
  dialog.showErrorBox('Failsafe could not start', err instanceof Error ? err.message : String(err));
  app.exit(1);
});
