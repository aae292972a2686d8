// The Electron main process (main/electron/shell.ts) run in Node with the `electron` module
// replaced by a test double (./electronDouble.ts): no Electron binary needed. It proves the
// desktop app is composed like browser mode (hub wired: embedded child or department hub, or
// none) and keeps the shell's guarantees: every contract channel registered, payloads parsed,
// foreign frames refused, no navigation or new windows, no permissions, only the bundle served,
// the draft saved before the window closes, and the hub child gone when the app quits.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHANNELS, IPC_PREFIX } from '../../../common/channels.ts';
import type { HubStatus, PatientSummary, Result } from '../../../common/contract.ts';
import { openDatabase } from '../../../main/db/database.ts';
import { CLOSE_FLUSH_LIMIT_MS, prepareElectron, runShell, startDesktopApp, type Shell, type ShellOptions } from '../../../main/electron/shell.ts';
import { startFakeHub, type FakeHub } from '../../support/fakeHub.ts';
import { hubBundle, processGone, repoRoot, waitFor } from '../launch/hubBundle.ts';
import { createElectronDouble, type ElectronDouble } from './electronDouble.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-shell-'));
const rendererDir = path.join(tmp, 'renderer');
const emptySample = path.join(tmp, 'no-sample');
const realSample = path.join(repoRoot, 'resources', 'samples', 'ct-head');
let hubScript = '';
let fakeHub: FakeHub;
const running: { double: ElectronDouble; shell: Shell | null }[] = [];

beforeAll(async () => {
  fs.mkdirSync(path.join(rendererDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Failsafe</title>');
  fs.writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(tmp, 'secret.txt'), 'outside the bundle');
  hubScript = await hubBundle();
  fakeHub = await startFakeHub();
});

afterEach(async () => {
  // Quit whatever a test left running (and with it any hub child).
  for (const r of running.splice(0)) {
    if (!r.double.app.quitted) {
      for (const w of r.double.windows) w.webContents.answerScript = () => Promise.resolve(true);
      r.double.app.quit();
      await r.double.quitted();
    }
  }
});

afterAll(async () => {
  await fakeHub.close();
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(hubScript, { force: true });
});

let n = 0;
async function launch(args: string[], opts: { env?: NodeJS.ProcessEnv; sample?: string; closeFlushMs?: number } = {}): Promise<{ double: ElectronDouble; shell: Shell; dataDir: string }> {
  const dataDir = path.join(tmp, `data-${++n}`);
  const double = createElectronDouble({ userData: path.join(tmp, `userData-${n}`) });
  const entry = { double, shell: null as Shell | null };
  running.push(entry);
  prepareElectron(double.electron);
  const shellOpts: ShellOptions = {
    // What Electron's process.argv looks like: the binary, the app, our flags, Chromium's.
    argv: ['/opt/electron', path.join(repoRoot, 'dist', 'electron', 'main.cjs'), `--data-dir=${dataDir}`, ...args, '--no-sandbox'],
    env: opts.env ?? {},
    rendererDir,
    preload: path.join(tmp, 'preload.cjs'),
    sampleDir: opts.sample ?? emptySample,
    hubScript,
    log: () => {},
    ...(opts.closeFlushMs !== undefined ? { closeFlushMs: opts.closeFlushMs } : {}),
  };
  const shell = await runShell(double.electron, shellOpts);
  entry.shell = shell;
  return { double, shell, dataDir };
}

const ok = <T>(r: unknown): T => {
  const res = r as Result<T>;
  if (!res.ok) throw new Error(`expected ok, got ${res.error.code}: ${res.error.message}`);
  return res.value;
};

async function onlineStatus(double: ElectronDouble): Promise<HubStatus> {
  let status = ok<HubStatus>(await double.invoke(`${IPC_PREFIX}hub:status`, {}));
  await waitFor('hub:status online', async () => {
    status = ok<HubStatus>(await double.invoke(`${IPC_PREFIX}hub:status`, {}));
    return status.online;
  });
  return status;
}

describe('Electron main process with the embedded hub (the default)', () => {
  it('runs the real embedded hub child, wires it (status online, demo login) and indexes the sample; quitting ends the child', async () => {
    const { double, shell, dataDir } = await launch(['--demo'], { sample: realSample });
    expect(double.forks).toHaveLength(1);
    expect(double.forks[0]!.args.slice(0, 1)).toEqual(['embedded']);
    expect(double.forks[0]!.args).toContain('--demo');
    const pid = shell.composed.embeddedHub?.pid;
    expect(pid).toBeGreaterThan(0);

    const status = await onlineStatus(double);
    expect(status).toMatchObject({ configured: true, embedded: true, online: true, user: null });
    expect(status.url).toBe((await shell.composed.embeddedHub!.ready).url);
    expect(status.demoUsers.map((u) => u.username)).toContain('radiologist');
    const login = ok<HubStatus>(await double.invoke(`${IPC_PREFIX}hub:login`, { username: 'radiologist', password: 'demo' }));
    expect(login.user).toMatchObject({ username: 'radiologist', role: 'radiologist' });
    ok<unknown[]>(await double.invoke(`${IPC_PREFIX}unfinished:list`, {}));
    // The hub session is kept encrypted with the OS keychain, owner only, and not in the database (issue 8 line 4).
    const kept = fs.readFileSync(path.join(dataDir, 'hub-session'));
    expect(fs.statSync(path.join(dataDir, 'hub-session')).mode & 0o777).toBe(0o600);
    expect(kept.toString('latin1')).not.toMatch(/fsh_|radiologist/);
    const session = JSON.parse(double.electron.safeStorage.decryptString(kept)) as { token: string; user: { username: string } };
    expect(session.token).toMatch(/^fsh_/);
    expect(session.user.username).toBe('radiologist');
    expect(shell.composed.services.reports.getSetting('hub.session')).toBeNull();

    const patients = ok<PatientSummary[]>(await double.invoke(`${IPC_PREFIX}library:list`, {}));
    expect(patients.flatMap((p) => p.studies)).toHaveLength(2);
    // A DICOM file of the index comes through app://failsafe/files/<id>.
    const series = patients[0]!.studies[0]!.series[0]!;
    const images = ok<{ fileId: string }[]>(await double.invoke(`${IPC_PREFIX}series:images`, { seriesUid: series.seriesUid }));
    const file = await double.fetchApp(`app://failsafe/files/${encodeURIComponent(images[0]!.fileId)}`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/dicom');

    // The user closes the window: the draft is saved, the app quits, the services and the hub child stop.
    expect(double.windows[0]!.close()).toBe(false);
    await double.quitted();
    expect(double.app.quitted).toBe(true);
    await waitFor('the hub child to exit', () => processGone(pid!), 10_000);
  }, 180_000); // a first start initialises the hub's PGlite database: slow on a busy machine
});

describe('Electron main process that cannot start', () => {
  it('shows why, exits 1 and leaves no hub child behind (here: the database path is a folder)', async () => {
    const dataDir = path.join(tmp, 'broken');
    fs.mkdirSync(path.join(dataDir, 'failsafe.sqlite'), { recursive: true });
    const double = createElectronDouble({ userData: path.join(tmp, 'userData-broken') });
    const shell = await startDesktopApp(double.electron, {
      argv: ['/opt/electron', 'main.cjs', `--data-dir=${dataDir}`],
      env: {},
      rendererDir,
      preload: path.join(tmp, 'preload.cjs'),
      sampleDir: emptySample,
      hubScript,
      log: () => {},
    });
    expect(shell).toBeNull();
    expect(double.errorBoxes).toEqual([{ title: 'Failsafe could not start', content: expect.stringMatching(/.+/) }]);
    expect(double.app.exitCode).toBe(1);
    expect(double.forks).toHaveLength(1);
    const child = double.forks[0]!.child;
    await waitFor('the hub child to exit', () => child.exitCode !== null || child.signalCode !== null, 15_000);
  }, 60_000);
});

describe('Electron main process with a department hub or none', () => {
  it('takes --hub URL like npm start: hub:status reports that hub, online, and login goes to it', async () => {
    const { double, shell } = await launch([`--hub=${fakeHub.url}`]);
    expect(double.forks).toHaveLength(0);
    expect(shell.options.hub).toEqual({ kind: 'department', url: fakeHub.url });
    const status = await onlineStatus(double);
    expect(status).toMatchObject({ configured: true, url: fakeHub.url, embedded: false, online: true });
    const login = ok<HubStatus>(await double.invoke(`${IPC_PREFIX}hub:login`, { username: 'ada', password: 'pw' }));
    expect(login.user?.name).toBe('Dr Ada Lovelace');
  });

  it('takes FAILSAFE_HUB_URL from the environment the launcher passes on', async () => {
    const { double } = await launch([], { env: { FAILSAFE_HUB_URL: fakeHub.url } });
    expect(double.forks).toHaveLength(0);
    expect((await onlineStatus(double)).url).toBe(fakeHub.url);
  });

  it('--no-hub: no child, hub:status says not configured, and hub calls say why', async () => {
    const { double } = await launch(['--no-hub'], { env: { FAILSAFE_HUB_URL: fakeHub.url } });
    expect(double.forks).toHaveLength(0);
    expect(ok<HubStatus>(await double.invoke(`${IPC_PREFIX}hub:status`, {}))).toMatchObject({ configured: false, online: false });
    const r = (await double.invoke(`${IPC_PREFIX}unfinished:list`, {})) as Result<unknown>;
    expect(r).toMatchObject({ ok: false, error: { code: 'unavailable' } });
  });

  it('uses the shared data folder, but keeps the data of an older desktop install where it is (Electron userData)', async () => {
    const xdg = path.join(tmp, 'xdg');
    const fresh = createElectronDouble({ userData: path.join(tmp, 'userData-none') });
    running.push({ double: fresh, shell: null });
    prepareElectron(fresh.electron);
    const base = { argv: ['/opt/electron', 'main.cjs', '--no-hub'], env: { XDG_DATA_HOME: xdg }, rendererDir, preload: 'p.cjs', sampleDir: emptySample, hubScript, log: () => {} };
    // An installed (packaged) app: the per-user folder, no demo mode.
    (fresh.electron.app as { isPackaged: boolean }).isPackaged = true;
    const a = await runShell(fresh.electron, base);
    expect(a.options).toMatchObject({ dataDir: path.join(xdg, 'failsafe'), demo: false }); // what browser mode uses with the same folder
    fresh.app.quit();
    await fresh.quitted();

    const legacy = path.join(tmp, 'userData-legacy');
    fs.mkdirSync(legacy, { recursive: true });
    // An older install's database (a real one: an empty file is refused as damaged).
    openDatabase(path.join(legacy, 'failsafe.sqlite')).close();
    const old = createElectronDouble({ userData: legacy });
    running.push({ double: old, shell: null });
    prepareElectron(old.electron);
    (old.electron.app as { isPackaged: boolean }).isPackaged = true;
    const b = await runShell(old.electron, { ...base, env: { XDG_DATA_HOME: path.join(tmp, 'xdg-empty') } });
    expect(b.options.dataDir).toBe(legacy);
  });

  it('in demo mode, says where the data of earlier (non-demo) runs is, and how to open it; says nothing when there is none', async () => {
    const run = async (xdg: string): Promise<string[]> => {
      const lines: string[] = [];
      const d = createElectronDouble({ userData: path.join(tmp, `userData-hint-${++n}`) });
      running.push({ double: d, shell: null });
      prepareElectron(d.electron);
      const s = await runShell(d.electron, {
        argv: ['/opt/electron', 'main.cjs', '--demo', '--no-hub'], env: { XDG_DATA_HOME: xdg }, rendererDir, preload: 'p.cjs', sampleDir: emptySample, hubScript,
        log: (l: string) => void lines.push(l),
      });
      expect(s.options.demo).toBe(true);
      d.app.quit();
      await d.quitted();
      return lines;
    };
    const xdg = path.join(tmp, 'xdg-hint');
    expect((await run(xdg)).filter((l) => l.includes('earlier data'))).toEqual([]);
    fs.mkdirSync(path.join(xdg, 'failsafe'), { recursive: true });
    openDatabase(path.join(xdg, 'failsafe', 'failsafe.sqlite')).close();
    const hint = (await run(xdg)).filter((l) => l.includes('earlier data'));
    expect(hint).toHaveLength(1);
    expect(hint[0]).toContain(`Your earlier data is in ${path.join(xdg, 'failsafe')}: start with --data-dir "${path.join(xdg, 'failsafe')}"`);
  });

  it('refuses a malformed hub address rather than running unsynced', async () => {
    await expect(launch(['--hub=hub.example.org'])).rejects.toThrow(/--hub must be the hub's address/);
  });
});

describe('Electron main process: the shell guarantees', () => {
  let double: ElectronDouble;
  let shell: Shell;
  beforeAll(async () => {
    ({ double, shell } = await launch([`--hub=${fakeHub.url}`]));
    running.splice(running.findIndex((r) => r.double === double), 1); // kept for the whole block
  });
  afterAll(async () => {
    double.app.quit();
    await double.quitted();
  });

  it('registers every contract channel with ipcMain.handle under the prefix, and nothing else', () => {
    expect([...double.ipcHandlers.keys()].sort()).toEqual(CHANNELS.map((c) => `${IPC_PREFIX}${c}`).sort());
  });

  it('sandboxes every renderer and opens one context-isolated window without Node', () => {
    expect(double.app.sandboxed).toBe(true);
    expect(double.privilegedSchemes).toEqual([expect.objectContaining({ scheme: 'app' })]);
    expect(double.windows).toHaveLength(1);
    expect(double.windows[0]!.options['webPreferences']).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true });
    expect(double.windows[0]!.webContents.mainFrame.url).toBe('app://failsafe/index.html');
  });

  it('parses every payload: malformed input gets an invalid-input result and the handler is never called', async () => {
    const handlers = shell.composed.services.handlers;
    const spy = vi.fn(handlers['profile:set']);
    const saveSpy = vi.fn(handlers['reports:save']);
    handlers['profile:set'] = spy;
    handlers['reports:save'] = saveSpy;
    for (const [channel, input, spied] of [
      ['profile:set', { name: 42, role: 'radiologist', registration: 'x' }, spy],
      ['profile:set', { name: 'Dr X', role: 'janitor', registration: 'GMC 1' }, spy],
      ['reports:save', { reportId: 'r1' }, saveSpy],
      ['reports:save', 'not an object', saveSpy],
    ] as const) {
      const r = (await double.invoke(`${IPC_PREFIX}${channel}`, input)) as Result<unknown>;
      expect(r).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
      expect(spied).not.toHaveBeenCalled();
    }
  });

  it('refuses IPC from any frame but our app:// main frame, without calling the handler', async () => {
    const handlers = shell.composed.services.handlers;
    const spy = vi.fn(handlers['library:list']);
    handlers['library:list'] = spy;
    const contents = double.windows[0]!.webContents;
    const foreign = [
      contents.childFrame('app://failsafe/index.html'), // an iframe, even of our own origin
      contents.childFrame('https://evil.example/'),
      null, // a frame that has gone
    ];
    for (const frame of foreign) {
      expect(await double.invoke(`${IPC_PREFIX}library:list`, {}, frame)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    }
    // The main frame after navigating elsewhere (if it ever could) is not trusted either.
    contents.mainFrame.url = 'https://evil.example/';
    expect(await double.invoke(`${IPC_PREFIX}library:list`, {})).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(spy).not.toHaveBeenCalled();
    contents.mainFrame.url = 'app://failsafe/index.html';
    expect(await double.invoke(`${IPC_PREFIX}library:list`, {})).toMatchObject({ ok: true });
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('denies navigation, redirects, webviews and new windows; only http(s) links go to the system browser', () => {
    const contents = double.windows[0]!.webContents;
    expect(contents.navigate('https://example.org/')).toBe(false);
    expect(contents.navigate('app://failsafe/other.html')).toBe(false);
    expect(contents.navigate('https://example.org/', 'will-redirect')).toBe(false);
    expect(contents.navigate('https://example.org/', 'will-attach-webview')).toBe(false);
    expect(contents.windowOpenHandler?.({ url: 'https://www.rcr.ac.uk/' })).toEqual({ action: 'deny' });
    expect(contents.windowOpenHandler?.({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(contents.windowOpenHandler?.({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(double.openedExternally).toEqual(['https://www.rcr.ac.uk/']);
  });

  it('refuses every permission request and check', () => {
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      let granted: boolean | null = null;
      double.permissionRequest?.({}, permission, (g) => (granted = g), {});
      expect(granted).toBe(false);
      expect(double.permissionCheck?.({}, permission)).toBe(false);
    }
  });

  it('app:// serves the bundle with the CSP, and nothing outside it', async () => {
    const index = await double.fetchApp('app://failsafe/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-security-policy')).toMatch(/default-src/);
    expect(index.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await index.text()).toContain('<title>Failsafe</title>');
    const js = await double.fetchApp('app://failsafe/assets/app.js');
    expect(js.headers.get('content-type')).toBe('text/javascript');
    expect((await double.fetchApp('app://failsafe/..%2fsecret.txt')).status).toBe(403);
    expect((await double.fetchApp('app://failsafe/%2e%2e/secret.txt')).status).toBe(404); // URL parsing drops the ..
    expect((await double.fetchApp('app://failsafe/..%2f..%2f..%2fetc%2fpasswd')).status).toBe(403);
    expect((await double.fetchApp('app://other/index.html')).status).toBe(403);
    expect((await double.fetchApp('app://failsafe/%E0%A4%A')).status).toBe(400);
    expect((await double.fetchApp('app://failsafe/files/no-such-file')).status).toBe(404);
  });
});

describe('Electron main process: closing the window saves the draft first', () => {
  it('prevents the close until the renderer confirms its draft save, then closes and quits', async () => {
    const { double } = await launch(['--no-hub']);
    const win = double.windows[0]!;
    let confirm: (v: boolean) => void = () => {};
    win.webContents.answerScript = () => new Promise((r) => (confirm = r));
    expect(win.close()).toBe(false);
    expect(win.webContents.scripts.at(-1)).toMatch(/failsafeBeforeClose/);
    await new Promise((r) => setTimeout(r, 300));
    expect(win.destroyed).toBe(false); // still waiting for the save
    confirm(true);
    await double.quitted();
    expect(win.destroyed).toBe(true);
  });

  it('closes after the limit when the renderer never answers (5 s in the app)', async () => {
    expect(CLOSE_FLUSH_LIMIT_MS).toBe(5_000);
    const { double } = await launch(['--no-hub'], { closeFlushMs: 400 });
    const win = double.windows[0]!;
    win.webContents.answerScript = () => new Promise(() => {});
    const t0 = Date.now();
    expect(win.close()).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(win.destroyed).toBe(false);
    await double.quitted();
    expect(win.destroyed).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
  });

  it('a renderer that fails its save does not keep the window open', async () => {
    const { double } = await launch(['--no-hub']);
    const win = double.windows[0]!;
    win.webContents.answerScript = () => Promise.reject(new Error('renderer crashed'));
    win.close();
    await double.quitted();
    expect(win.destroyed).toBe(true);
  });
});
