// A test double of the `electron` module, as much of it as main/electron/shell.ts uses, with the
// behaviour that matters to it: app quit sequence (before-quit, window close, will-quit, each
// preventable), windows with web contents and frames, ipcMain.handle with invocations from a
// chosen frame, protocol and session handlers kept for the test to call, and utilityProcess.fork
// running the module as a real Node child (what a utility process is: Node in a child process).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { ElectronApi } from '../../../main/electron/shell.ts';

export interface FakeFrame {
  url: string;
}

export interface FakeEvent {
  defaultPrevented: boolean;
  preventDefault(): void;
}

const newEvent = (): FakeEvent => {
  const ev = {
    defaultPrevented: false,
    preventDefault() {
      ev.defaultPrevented = true;
    },
  };
  return ev;
};

export class FakeWebContents extends EventEmitter {
  readonly mainFrame: FakeFrame = { url: '' };
  readonly sent: { channel: string; payload: unknown }[] = [];
  readonly scripts: string[] = [];
  windowOpenHandler: ((d: { url: string }) => { action: 'allow' | 'deny' }) | null = null;
  /** What `executeJavaScript` answers (the renderer's draft save before close); default: at once. */
  answerScript: (code: string) => Promise<unknown> = () => Promise.resolve(true);

  send(channel: string, payload: unknown): void {
    this.sent.push({ channel, payload });
  }
  executeJavaScript(code: string): Promise<unknown> {
    this.scripts.push(code);
    return this.answerScript(code);
  }
  setWindowOpenHandler(h: (d: { url: string }) => { action: 'allow' | 'deny' }): void {
    this.windowOpenHandler = h;
  }
  /** The page tries to navigate: true if the app let it. */
  navigate(url: string, event: 'will-navigate' | 'will-redirect' | 'will-attach-webview' = 'will-navigate'): boolean {
    const ev = newEvent();
    this.emit(event, ev, url);
    return !ev.defaultPrevented;
  }
  /** A frame of the page that is not the main frame (an iframe). */
  childFrame(url: string): FakeFrame {
    return { url };
  }
}

export interface ElectronDouble {
  electron: ElectronApi;
  app: EventEmitter & { quitted: boolean; exitCode: number | null; sandboxed: boolean; quit(): void };
  windows: FakeWindow[];
  privilegedSchemes: unknown[];
  protocolHandlers: Map<string, (request: Request) => Promise<Response> | Response>;
  ipcHandlers: Map<string, (event: unknown, input: unknown) => Promise<unknown>>;
  permissionRequest: ((wc: unknown, permission: string, callback: (granted: boolean) => void, details: unknown) => void) | null;
  permissionCheck: ((wc: unknown, permission: string) => boolean) | null;
  openedExternally: string[];
  errorBoxes: { title: string; content: string }[];
  forks: { modulePath: string; args: string[]; child: ChildProcess }[];
  /** Calls an IPC channel as a frame of the first window would (default: its main frame). */
  invoke(channel: string, input: unknown, frame?: FakeFrame | null): Promise<unknown>;
  /** Fetches an app:// URL through the registered protocol handler. */
  fetchApp(url: string): Promise<Response>;
  /** Resolves when the app has quit (after every will-quit handler let it). */
  quitted(): Promise<void>;
}

export class FakeWindow extends EventEmitter {
  readonly webContents = new FakeWebContents();
  destroyed = false;
  constructor(
    readonly options: Record<string, unknown>,
    private readonly onDestroyed: () => void,
  ) {
    super();
  }
  loadURL(url: string): Promise<void> {
    this.webContents.mainFrame.url = url;
    return Promise.resolve();
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  /** The user closes the window: true if it closed at once (nobody prevented it). */
  close(): boolean {
    const ev = newEvent();
    this.emit('close', ev);
    if (ev.defaultPrevented) return false;
    this.destroy();
    return true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('closed');
    this.onDestroyed();
  }
}

export function createElectronDouble(opts: { userData: string }): ElectronDouble {
  const windows: FakeWindow[] = [];
  const protocolHandlers = new Map<string, (request: Request) => Promise<Response> | Response>();
  const ipcHandlers = new Map<string, (event: unknown, input: unknown) => Promise<unknown>>();
  const forks: ElectronDouble['forks'] = [];
  const openedExternally: string[] = [];
  const errorBoxes: ElectronDouble['errorBoxes'] = [];
  const privilegedSchemes: unknown[] = [];
  let resolveQuit: () => void = () => {};
  const quitPromise = new Promise<void>((r) => {
    resolveQuit = r;
  });

  const app = Object.assign(new EventEmitter(), {
    quitted: false,
    exitCode: null as number | null,
    sandboxed: false,
    isPackaged: false,
    whenReady: () => Promise.resolve(),
    getVersion: () => '0.0.0-double',
    getPath: (name: string) => {
      if (name !== 'userData') throw new Error(`double: getPath(${name}) not modelled`);
      return opts.userData;
    },
    enableSandbox: () => {
      app.sandboxed = true;
    },
    /** Electron's order: before-quit, then every window is closed (a prevented close cancels), then will-quit. */
    quit: () => {
      if (app.quitted) return;
      const before = newEvent();
      app.emit('before-quit', before);
      if (before.defaultPrevented) return;
      for (const w of windows.filter((x) => !x.destroyed)) if (!w.close()) return;
      const will = newEvent();
      app.emit('will-quit', will);
      if (will.defaultPrevented) return;
      app.quitted = true;
      app.emit('quit');
      resolveQuit();
    },
    exit: (code = 0) => {
      app.exitCode = code;
      app.quitted = true;
      resolveQuit();
    },
  });

  const onDestroyed = (): void => {
    if (windows.every((w) => w.destroyed)) app.emit('window-all-closed');
  };
  class BrowserWindow extends FakeWindow {
    constructor(options: Record<string, unknown>) {
      super(options, onDestroyed);
      windows.push(this);
      app.emit('web-contents-created', newEvent(), this.webContents);
    }
  }

  const double: ElectronDouble = {
    electron: {
      app,
      BrowserWindow,
      dialog: {
        showOpenDialog: () => Promise.resolve({ canceled: true, filePaths: [] }),
        showErrorBox: (title: string, content: string) => errorBoxes.push({ title, content }),
      },
      ipcMain: {
        handle: (channel: string, fn: (event: unknown, input: unknown) => Promise<unknown>) => {
          if (ipcHandlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
          ipcHandlers.set(channel, fn);
        },
      },
      Menu: { setApplicationMenu: () => {}, buildFromTemplate: (t: unknown) => t },
      protocol: {
        registerSchemesAsPrivileged: (schemes: unknown[]) => privilegedSchemes.push(...schemes),
        handle: (scheme: string, fn: (request: Request) => Promise<Response> | Response) => protocolHandlers.set(scheme, fn),
      },
      session: {
        defaultSession: {
          setPermissionRequestHandler: (h: ElectronDouble['permissionRequest']) => {
            double.permissionRequest = h;
          },
          setPermissionCheckHandler: (h: ElectronDouble['permissionCheck']) => {
            double.permissionCheck = h;
          },
        },
      },
      // The OS keychain: a reversible scrambling stands in for its encryption (never the plain text).
      safeStorage: {
        isEncryptionAvailable: () => true,
        getSelectedStorageBackend: () => 'gnome_libsecret',
        encryptString: (text: string) => Buffer.concat([Buffer.from('v11'), Buffer.from(text, 'utf8').map((b) => b ^ 0x5a)]),
        decryptString: (data: Buffer) => {
          if (data.subarray(0, 3).toString() !== 'v11') throw new Error('double: not encrypted by this keychain');
          return Buffer.from(data.subarray(3).map((b) => b ^ 0x5a)).toString('utf8');
        },
      },
      shell: {
        openExternal: (url: string) => {
          openedExternally.push(url);
          return Promise.resolve();
        },
      },
      utilityProcess: {
        fork: (modulePath: string, args: string[] = []) => {
          const child = spawn(process.execPath, [modulePath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
          forks.push({ modulePath, args, child });
          return Object.assign(new EventEmitter(), {
            get pid() {
              return child.exitCode === null && child.signalCode === null ? child.pid : undefined;
            },
            stdout: child.stdout,
            stderr: null,
            once(event: string, listener: (code: number | null) => void) {
              if (event === 'exit') child.once('exit', (code) => listener(code));
              return this;
            },
            kill: () => child.kill('SIGTERM'),
          });
        },
      },
    } as unknown as ElectronApi,
    app,
    windows,
    privilegedSchemes,
    protocolHandlers,
    ipcHandlers,
    permissionRequest: null,
    permissionCheck: null,
    openedExternally,
    errorBoxes,
    forks,
    invoke: async (channel, input, frame) => {
      const handler = ipcHandlers.get(channel);
      if (!handler) throw new Error(`No handler registered for '${channel}'`);
      const contents = windows[0]?.webContents;
      if (!contents) throw new Error('double: no window');
      const senderFrame = frame === undefined ? contents.mainFrame : frame;
      return handler({ senderFrame, sender: contents }, input);
    },
    fetchApp: async (url) => {
      const handler = protocolHandlers.get(new URL(url).protocol.replace(/:$/, ''));
      if (!handler) throw new Error(`double: no protocol handler for ${url}`);
      return handler(new Request(url));
    },
    quitted: () => quitPromise,
  };
  return double;
}
