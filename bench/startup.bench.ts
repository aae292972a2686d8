// Start-up: from launching the built launcher (`node dist/node/start.mjs --browser --no-open`, what
// `npm start` runs once built, in browser mode since the Electron binary may be absent) to a usable
// library with the embedded hub ready: the bridge serves `library:list` with the bundled sample
// study and `hub:status` says online. Each run is a fresh child process; "first start" uses a new
// data folder (database and hub created, sample indexed from scratch), "next start" reuses it.
// Stage times come from the launcher's own lines on stdout: `Embedded hub at …` (hub child
// ready), `Open: …` (bridge listening), and, where the launcher prints them with
// FAILSAFE_STARTUP_TRACE=1, `startup: <stage> <ms>` lines.
// FAILSAFE_BENCH_ROOT=<folder> measures another build instead; FAILSAFE_BENCH_COMPARE=<folder>
// measures another build as well (e.g. the previous release), alternating run by run;
// FAILSAFE_BENCH_STARTUP_RUNS=<n> (default 5) runs of each, FAILSAFE_BENCH_STARTUP_FIRST_RUNS=<m> of
// them first starts (default all).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TOKEN_HEADER } from '../common/security.ts';
import { parseLaunchLink, spendLaunchCode } from '../test/support/launch.ts';

const RUNS = Number(process.env['FAILSAFE_BENCH_STARTUP_RUNS'] ?? 5);
/** First starts (each creates a PGlite database: slow); the other next starts use copies of the first folder. */
const FIRST_RUNS = Math.min(RUNS, Number(process.env['FAILSAFE_BENCH_STARTUP_FIRST_RUNS'] ?? RUNS));
const TARGET_MS = 1500;
const LIMIT_MS = 180_000; // a first start on a busy machine (PGlite initdb) can take a minute

interface Row {
  metric: string;
  value: number;
  unit: string;
  target?: string;
}

interface Run {
  total: number;
  stages: Map<string, number>;
  /** CPU time (user + system) each process had used when the library became usable (Linux). */
  cpu: Map<string, number>;
}

/** User + system CPU of a process so far, ms (Linux /proc; null elsewhere). */
function cpuMs(pid: number): number | null {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

async function call(origin: string, token: string, channel: string): Promise<{ ok: boolean; value?: unknown }> {
  const res = await fetch(`${origin}/api/${channel}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token },
    body: '{}',
  });
  return (await res.json()) as { ok: boolean; value?: unknown };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/** One launch: spawn → bridge serves the sample and an online hub; then a clean stop. */
async function launch(root: string, dataDir: string): Promise<Run> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(root, 'dist', 'node', 'start.mjs'), '--browser', '--no-open', '--data-dir', dataDir, '--demo'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FAILSAFE_HUB_URL: '', FAILSAFE_STARTUP_TRACE: '1' },
  });
  const stages = new Map<string, number>();
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const bridge = new Promise<{ origin: string; token: string }>((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (d: Buffer) => {
      const now = performance.now() - t0;
      buffered += d.toString();
      out += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const trace = /^startup: (\S+) (\d+(?:\.\d+)?)/.exec(line);
        if (trace) stages.set(trace[1]!, Number(trace[2]));
        if (line.startsWith('Embedded hub at ')) stages.set('hub child ready (stdout)', now);
        const open = /^Open: (http:\/\/[^/]+\/#launch=\S+)/.exec(line);
        if (open) {
          stages.set('bridge listening (stdout)', now);
          const link = parseLaunchLink(open[1]!);
          // The page's first request: the one-time code for the token.
          resolve(spendLaunchCode(link.origin, link.code).then((token) => ({ origin: link.origin, token })));
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`the launcher exited (${code}) before serving: ${out}${err}`)));
  });
  try {
    const { origin, token } = await bridge;
    let libraryAt = 0;
    let hubAt = 0;
    for (;;) {
      if (performance.now() - t0 > LIMIT_MS) throw new Error(`not usable within ${LIMIT_MS} ms: ${out}${err}`);
      const now = (): number => performance.now() - t0;
      if (!libraryAt) {
        const lib = await call(origin, token, 'library:list');
        const patients = (lib.value ?? []) as { studies: unknown[] }[];
        if (lib.ok && patients.some((p) => p.studies.length > 0)) libraryAt = now();
      }
      if (!hubAt) {
        const hub = await call(origin, token, 'hub:status');
        if (hub.ok && (hub.value as { online: boolean }).online) hubAt = now();
      }
      if (libraryAt && hubAt) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    stages.set('library:list has the sample', libraryAt);
    stages.set('hub:status online', hubAt);
    const cpu = new Map<string, number>();
    const own = child.pid !== undefined ? cpuMs(child.pid) : null;
    if (own !== null) cpu.set('launcher', own);
    const hubCpu = (child.pid !== undefined ? childrenOf(child.pid) : []).map(cpuMs).filter((x): x is number => x !== null);
    if (hubCpu.length > 0) cpu.set('hub child', hubCpu.reduce((a, b) => a + b, 0));
    return { total: Math.max(libraryAt, hubAt), stages, cpu };
  } finally {
    child.kill('SIGTERM');
    await exited(child);
  }
}

interface Series {
  label: string;
  root: string;
  first: Run[];
  next: Run[];
}

function rowsFor(prefix: string, kind: string, runs: Run[]): Row[] {
  const totals = runs.map((r) => r.total).sort((a, b) => a - b);
  const rows: Row[] = [
    { metric: `${prefix}${kind}: launch → usable library, hub online (median of ${runs.length})`, value: Math.round(percentile(totals, 50)), unit: 'ms', target: `≤ ${TARGET_MS} ms` },
    { metric: `${prefix}${kind}: launch → usable library, hub online (p95)`, value: Math.round(percentile(totals, 95)), unit: 'ms' },
  ];
  const stageMedian = (n: string): number => percentile(runs.map((r) => r.stages.get(n) ?? Number.NaN).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b), 50);
  const names = [...new Set(runs.flatMap((r) => [...r.stages.keys()]))];
  for (const name of names.sort((a, b) => stageMedian(a) - stageMedian(b))) {
    rows.push({ metric: `${prefix}${kind}: ${name} (median, from launch)`, value: Math.round(stageMedian(name)), unit: 'ms' });
  }
  for (const proc of ['launcher', 'hub child']) {
    const xs = runs.map((r) => r.cpu.get(proc)).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
    if (xs.length > 0) rows.push({ metric: `${prefix}${kind}: CPU time of the ${proc} until usable (median)`, value: Math.round(percentile(xs, 50)), unit: 'ms' });
  }
  return rows;
}

export default async function run(): Promise<{ name: string; rows: Row[]; notes?: string }> {
  const root = path.resolve(process.env['FAILSAFE_BENCH_ROOT'] ?? process.cwd());
  const compare = process.env['FAILSAFE_BENCH_COMPARE'];
  const series: Series[] = [{ label: compare ? 'this build' : '', root, first: [], next: [] }];
  if (compare) series.push({ label: `compared build (${path.basename(path.resolve(compare))})`, root: path.resolve(compare), first: [], next: [] });
  for (const s of series) {
    if (!fs.existsSync(path.join(s.root, 'dist', 'node', 'start.mjs'))) throw new Error(`no built launcher in ${s.root}/dist/node (run npm run build)`);
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-startup-'));
  const loadBefore = os.loadavg()[0]!;
  try {
    // Builds alternate run by run, so a busy moment of the machine weighs on both alike.
    for (let i = 0; i < RUNS; i++) {
      for (const [k, s] of series.entries()) {
        const dataDir = path.join(base, `${k}-${i}`);
        if (i < FIRST_RUNS) s.first.push(await launch(s.root, dataDir)); // a new folder: everything created
        else fs.cpSync(path.join(base, `${k}-0`), dataDir, { recursive: true }); // a copy of a folder started once
        s.next.push(await launch(s.root, dataDir)); // the same folder again
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  const rows = series.flatMap((s) => {
    const prefix = s.label ? `${s.label}, ` : '';
    return [...rowsFor(prefix, 'next start', s.next), ...rowsFor(prefix, 'first start', s.first)];
  });
  return {
    name: 'Start-up (launcher to usable library with the embedded hub)',
    rows,
    notes:
      `Each run spawns \`node dist/node/start.mjs --browser --no-open --data-dir <dir>\` and polls the bridge every 5 ms until ` +
      '`library:list` returns the bundled CT head sample (162 files, current and prior) and `hub:status` reports the embedded hub online. ' +
      '"First start": a new data folder (workstation database, PGlite hub database with its migrations and demo users, sample indexed). ' +
      '"Next start": the same folder started again (what a user sees every morning). Stage times are medians from launch; ' +
      '`startup:` stages are the launcher\'s own (FAILSAFE_STARTUP_TRACE=1), `(stdout)` ones when its lines arrived.' +
      (compare ? ` Compared with the build in ${compare}, alternating run by run.` : '') +
      ` CPU times (Linux) are what the launcher and the embedded hub child had used when the library became usable: on an idle machine the wall time approaches the larger of the two. ` +
      `Load average (1 min) ${loadBefore.toFixed(1)} before and ${os.loadavg()[0]!.toFixed(1)} after the runs on ${os.cpus().length} cores.`,
  };
}
