// Traffic for the same screen (issue 6): requests per minute of a browser-mode workstation showing
// its library with 200 reports (signed and drafts), before and after the change, in one session.
//
// Each variant is a built tree driven the same way: its own embedded hub (`dist/node/hub.mjs
// embedded`, PGlite) behind a counting proxy, its own launcher (`dist/node/start.mjs --browser
// --hub <proxy>`), 200 synthetic one-image studies indexed, 200 reports written through the
// bridge (150 signed and delivered, 50 drafts published to the hub), then the real renderer in
// headless Chromium on the library for two windows:
//   idle: nothing happens anywhere (the screen's own polling and first load);
//   busy: a colleague's workstation publishes a draft snapshot every 2 s (straight to the hub,
//         not counted) and this workstation's own draft is saved every 5 s through the bridge by
//         the bench (its hub PUTs are counted; the bench's own bridge calls are not).
// Counted: every bridge request the page makes (by channel; the /events stream too) and every
// request the workstation makes to the hub (by route), per minute.
//
// "before" is the release 865b120 (a git worktree built at BEFORE_DIR, default
// /tmp/before-865b120); "after" is this tree. Both must be built (`node scripts/build.mjs`).
// WINDOW_S (default 60) shortens the windows; counts are scaled to per minute.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { image } from '../test/main/dicom/synth.ts';
import { signableContent } from '../test/support/reportFixtures.ts';
import { newLaunchCode, parseLaunchLink, spendLaunchCode } from '../test/support/launch.ts';

interface Row {
  metric: string;
  value: number;
  unit: string;
  target?: string;
}

const TOKEN_HEADER = 'x-failsafe-token';
const REPORTS = 200;
const SIGNED = 150;
const WINDOW_S = Number(process.env['WINDOW_S'] ?? 60);
const USER = 'radiologist';
const COLLEAGUE = 'locum';

type Counts = Map<string, number>;
const bump = (m: Counts, k: string): void => {
  m.set(k, (m.get(k) ?? 0) + 1);
};
const total = (m: Counts): number => [...m.values()].reduce((a, b) => a + b, 0);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Hub routes with ids folded, e.g. "PUT /api/drafts/:id". */
function hubRoute(method: string, url: string): string {
  const p = new URL(url, 'http://x').pathname
    .replace(/^\/api\/drafts\/[^/]+\/take-over$/, '/api/drafts/:id/take-over')
    .replace(/^\/api\/drafts\/[^/]+$/, '/api/drafts/:id')
    .replace(/^\/api\/reports\/[^/]+$/, '/api/reports/:id');
  return `${method} ${p}`;
}

/** A pass-through proxy in front of the hub that counts requests by route (streams stay streams). */
async function countingProxy(target: string): Promise<{ url: string; counts: Counts; reset(): Counts; close(): Promise<void> }> {
  const t = new URL(target);
  let counts: Counts = new Map();
  const server = http.createServer((req, res) => {
    const route = hubRoute(req.method ?? 'GET', req.url ?? '/');
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (ur) => {
      // Counted with the answer: a refused request shows its status ("PUT /api/drafts/:id 409").
      const status = ur.statusCode ?? 502;
      bump(counts, status < 400 ? route : `${route} ${status}`);
      res.writeHead(status, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get counts() {
      return counts;
    },
    reset() {
      const old = counts;
      counts = new Map();
      return old;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Child {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function run(cmd: string[], cwd: string, ready: RegExp, stdin: 'pipe' | 'ignore' = 'ignore'): Promise<Child & { match: RegExpExecArray }> {
  const child = spawn(process.execPath, cmd, { cwd, stdio: [stdin, 'pipe', 'pipe'], env: { ...process.env, DATABASE_URL: '', FAILSAFE_HUB_POLICY: '' } });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd[0]} did not start within 120 s:\n${out}`)), 120_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = ready.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve({
        child,
        match: m,
        output: () => out,
        stop: async () => {
          if (child.exitCode === null) child.kill('SIGTERM');
          await Promise.race([exited, sleep(10_000)]);
          if (child.exitCode === null) child.kill('SIGKILL');
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd[0]} exited (${code}) before it was ready:\n${out}`));
    });
  });
}

/** 200 one-image studies of 200 patients. */
function synthStudies(dir: string): { patientId: string; studyUid: string }[] {
  fs.mkdirSync(dir, { recursive: true });
  const out: { patientId: string; studyUid: string }[] = [];
  for (let i = 1; i <= REPORTS; i++) {
    const study = { patientId: `TRAFFIC-${String(i).padStart(3, '0')}`, studyUid: `1.2.826.0.1.3680043.8.498.7${i}` };
    fs.writeFileSync(path.join(dir, `${i}.dcm`), image({ study: study.studyUid, series: `${study.studyUid}.1`, sop: `${study.studyUid}.1.1`, patientId: study.patientId, instanceNumber: 1 }));
    out.push(study);
  }
  return out;
}

interface Bridge {
  origin: string;
  token: string;
  call<T = unknown>(channel: string, input?: unknown): Promise<T>;
}

async function bridge(url: string): Promise<Bridge> {
  const u = new URL(url);
  const token = await spendLaunchCode(u.origin, parseLaunchLink(url).code);
  return {
    origin: u.origin,
    token,
    async call<T>(channel: string, input: unknown = {}): Promise<T> {
      const res = await fetch(`${u.origin}/api/${encodeURIComponent(channel)}`, {
        method: 'POST',
        headers: { [TOKEN_HEADER]: token, 'content-type': 'application/json' },
        body: JSON.stringify(input),
      });
      const body = (await res.json()) as { ok: boolean; value?: T; error?: { code: string; message: string } };
      if (!body.ok) throw Object.assign(new Error(`${channel}: ${body.error?.code} ${body.error?.message}`), { code: body.error?.code });
      return body.value as T;
    },
  };
}

interface Window {
  seconds: number;
  bridge: Counts;
  hub: Counts;
}

interface VariantResult {
  label: string;
  /** The tree measured: its commit, and whether it had uncommitted changes. */
  tree: string;
  seedSeconds: number;
  load: Window;
  idle: Window;
  busy: Window;
}

async function measureVariant(label: string, root: string, browser: Browser, studiesDir: string, studies: { patientId: string; studyUid: string }[]): Promise<VariantResult> {
  for (const f of ['dist/node/start.mjs', 'dist/node/hub.mjs', 'dist/renderer/index.html']) {
    if (!fs.existsSync(path.join(root, f))) throw new Error(`${label}: ${path.join(root, f)} is missing; run node scripts/build.mjs in ${root}`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `failsafe-traffic-${label}-`));
  const stops: (() => Promise<void>)[] = [];
  try {
    const hub = await run([path.join(root, 'dist/node/hub.mjs'), 'embedded', '--data', path.join(tmp, 'hub'), '--parent-stdin', '--demo'], root, /HUB_READY (\{.*\})\n/, 'pipe');
    stops.push(async () => {
      hub.child.stdin?.end();
      await hub.stop();
    });
    const ready = JSON.parse(hub.match[1]!) as { url: string; demoUsers: { username: string; password: string }[] };
    const password = (name: string): string => ready.demoUsers.find((u) => u.username === name)?.password ?? 'demo';
    const proxy = await countingProxy(ready.url);
    stops.push(() => proxy.close());
    const app = await run([path.join(root, 'dist/node/start.mjs'), '--browser', '--no-open', '--data-dir', path.join(tmp, 'ws'), '--hub', proxy.url], root, /Open: (http:\/\/127\.0\.0\.1:\d+\/#launch=[\w-]+)/);
    stops.push(() => app.stop());
    const b = await bridge(app.match[1]!);

    // Seed: log in, index 200 studies, write 200 reports (150 signed, 50 drafts published and closed).
    const seedStart = Date.now();
    await b.call('hub:login', { username: USER, password: password(USER) });
    await b.call('library:openFolder', { path: studiesDir });
    const content = signableContent();
    const drafts: { id: string; study: { patientId: string; studyUid: string }; revision: number }[] = [];
    for (const [i, study] of studies.entries()) {
      const r = await b.call<{ id: string; revision: number }>('reports:open', { study });
      const saved = await b.call<{ revision: number }>('reports:save', { reportId: r.id, study, content, baseRevision: r.revision });
      if (i < SIGNED) {
        const sign = (): Promise<unknown> => b.call('reports:sign', { reportId: r.id, study, revision: saved.revision });
        await sign().catch(async (err: unknown) => {
          // Trees that ask for the password again at a session's first signature.
          if ((err as { code?: string }).code !== 'confirm-password') throw err;
          await b.call('hub:confirmSigner', { password: password(USER) });
          await sign();
        });
      }
      else {
        await b.call('reports:close', { reportId: r.id });
        drafts.push({ id: r.id, study, revision: saved.revision });
      }
    }
    for (let t = 0; ; t++) {
      const s = await b.call<{ pending: number; failed: number }>('hub:status');
      if (s.pending === 0) {
        if (s.failed > 0) throw new Error(`${label}: ${s.failed} signed reports refused by the hub while seeding`);
        break;
      }
      if (t > 600) throw new Error(`${label}: ${s.pending} signed reports still pending after 60 s`);
      await sleep(100);
    }
    const seedSeconds = (Date.now() - seedStart) / 1000;
    // Past the seeding's aftermath (sync-changed events, one refetch floor, and draft snapshots
    // queued behind the 30 s publish throttle): until no request reached the hub for 5 s (at most 90 s).
    await sleep(12_000);
    for (let quiet = 0, waited = 0; quiet < 5 && waited < 90; waited++) {
      const before = total(proxy.counts);
      await sleep(1000);
      quiet = total(proxy.counts) === before ? quiet + 1 : 0;
    }
    proxy.reset();

    // The page: every bridge request it makes, by channel.
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let pageCounts: Counts = new Map();
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.origin !== b.origin) return;
      if (u.pathname.startsWith('/api/')) bump(pageCounts, decodeURIComponent(u.pathname.slice(5)));
      else if (u.pathname === '/events') bump(pageCounts, '(event stream)');
      else if (u.pathname.startsWith('/files/')) bump(pageCounts, '(DICOM files)');
      else bump(pageCounts, '(static)');
    });
    let lastRequest = Date.now();
    page.on('request', () => {
      lastRequest = Date.now();
    });
    // First load: until the library and the Unfinished panel show and the page has been quiet for 2 s.
    const loadStart = Date.now();
    await page.goto(`${b.origin}/#launch=${await newLaunchCode(b.origin, b.token)}`);
    await page.waitForSelector('[data-testid="unfinished-panel"]', { timeout: 60_000 });
    await page.waitForFunction(() => document.body.textContent?.includes('Reports in progress and signed') ?? false, undefined, { timeout: 60_000 });
    while (Date.now() - lastRequest < 2000 && Date.now() - loadStart < 30_000) await sleep(100);
    const load: Window = { seconds: (Date.now() - loadStart) / 1000, bridge: pageCounts, hub: proxy.reset() };
    pageCounts = new Map();

    // Idle: the library on screen, nothing happening.
    const idleStart = Date.now();
    await sleep(WINDOW_S * 1000);
    const idle: Window = { seconds: (Date.now() - idleStart) / 1000, bridge: pageCounts, hub: proxy.reset() };
    pageCounts = new Map();

    // Busy: a colleague publishes a draft snapshot every 2 s; this workstation's own draft is saved every 5 s.
    const colleague = await fetch(`${ready.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: COLLEAGUE, password: password(COLLEAGUE) }),
    }).then((r) => r.json() as Promise<{ token: string }>);
    const busyStart = Date.now();
    const own = drafts[0]!;
    const running = { on: true };
    const colleagueLoop = (async () => {
      let n = 0;
      while (running.on) {
        n += 1;
        const id = `traffic-colleague-${label}-${n}`;
        await fetch(`${ready.url}/api/drafts/${id}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${colleague.token}` },
          body: JSON.stringify({ study: studies[n % studies.length], content, revision: 1, lastActivity: new Date().toISOString(), author: 'colleague' }),
        }).then((r) => r.text());
        await sleep(2000);
      }
    })();
    const ownLoop = (async () => {
      while (running.on) {
        const saved = await b.call<{ revision: number }>('reports:save', { reportId: own.id, study: own.study, content: signableContent(` Edit at ${new Date().toISOString()}.`), baseRevision: own.revision });
        own.revision = saved.revision;
        await sleep(5000);
      }
    })();
    await sleep(WINDOW_S * 1000);
    running.on = false;
    await Promise.all([colleagueLoop, ownLoop]);
    const busy: Window = { seconds: (Date.now() - busyStart) / 1000, bridge: pageCounts, hub: proxy.reset() };
    await page.close();
    return { label, tree: treeOf(root), seedSeconds, load, idle, busy };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function treeOf(root: string): string {
  const git = (...args: string[]): string => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' }).stdout.trim();
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown commit';
  return git('status', '--porcelain', '--untracked-files=no') ? `${head} with uncommitted changes` : head;
}

const perMin = (n: number, seconds: number): number => Math.round((n * 600) / seconds) / 10;

/** "channel n, …", most first; per minute when `seconds` is given. */
function describe(m: Counts, seconds?: number): string {
  return [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${seconds === undefined ? v : perMin(v, seconds)}`).join(', ') || 'none';
}

export default async function bench(): Promise<{ name: string; rows: Row[]; notes?: string }> {
  const after = process.cwd();
  const before = process.env['BEFORE_DIR'] ?? '/tmp/before-865b120';
  const studiesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-traffic-studies-'));
  const studies = synthStudies(studiesDir);
  const executablePath = process.env['CHROMIUM_PATH'] ?? (fs.existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);
  const browser = await chromium.launch({ ...(executablePath ? { executablePath } : {}), headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const variants: VariantResult[] = [];
  try {
    const only = process.env['TRAFFIC_ONLY'];
    if (!only || only === 'before') {
      if (fs.existsSync(before)) variants.push(await measureVariant('before', before, browser, studiesDir, studies));
      else console.error(`traffic: ${before} does not exist (git worktree add ${before} 865b120, symlink node_modules, build): "before" not measured`);
    }
    if (!only || only === 'after') variants.push(await measureVariant('after', after, browser, studiesDir, studies));
  } finally {
    await browser.close();
    fs.rmSync(studiesDir, { recursive: true, force: true });
  }
  const rows: Row[] = [];
  const details: string[] = [];
  for (const v of variants) {
    rows.push({ metric: `${v.label}: first load, bridge requests from the page`, value: total(v.load.bridge), unit: 'requests' });
    rows.push({ metric: `${v.label}: first load, workstation → hub requests`, value: total(v.load.hub), unit: 'requests' });
    details.push(`${v.label} = ${v.tree}; seeding took ${v.seedSeconds.toFixed(0)} s.`);
    details.push(`${v.label} first load (${v.load.seconds.toFixed(1)} s) bridge: ${describe(v.load.bridge)}. Hub: ${describe(v.load.hub)}.`);
    for (const [name, w] of [['idle', v.idle], ['busy', v.busy]] as const) {
      rows.push({ metric: `${v.label}: ${name}, bridge requests from the page`, value: perMin(total(w.bridge), w.seconds), unit: 'per min' });
      rows.push({ metric: `${v.label}: ${name}, workstation → hub requests`, value: perMin(total(w.hub), w.seconds), unit: 'per min' });
      details.push(`${v.label} ${name} (${w.seconds.toFixed(0)} s) bridge/min: ${describe(w.bridge, w.seconds)}. Hub/min: ${describe(w.hub, w.seconds)}.`);
    }
  }
  const notes =
    `A browser-mode workstation (built launcher, its own embedded hub on PGlite behind a counting proxy) with ${REPORTS} reports in its library ` +
    `(${SIGNED} signed and delivered, ${REPORTS - SIGNED} drafts published), the real renderer in headless Chromium on the library view. ` +
    `"first load": from opening the page until the library and the Unfinished panel show and no request has gone for 2 s (absolute counts). ` +
    `Then two windows of ${WINDOW_S} s, counts scaled to per minute: "idle": the library on screen, nothing happening. ` +
    `"busy": a colleague publishes a draft snapshot every 2 s and this workstation's own draft is saved through the bridge every 5 s (the bench's calls are not counted; the hub PUTs they cause are). ` +
    `"before" = release 865b120 (its own build, renderer and hub); "after" = this tree. Per window, by channel/route:\n\n` +
    details.map((d) => `- ${d}`).join('\n');
  return { name: 'traffic', rows, notes };
}
