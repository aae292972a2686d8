// The embedded hub (`hub embedded`, server/cli.ts) as a child process of the workstation. How the
// child is spawned is the shell's business: a Node child in browser mode (it exits when our
// stdin pipe closes, so even a killed launcher leaves no orphan), an Electron utility process in
// the desktop app (Chromium ends it with the app). Either way `stop()` ends it and waits.
import { spawn } from 'node:child_process';
import type { HubStatus } from '../../common/contract.ts';

/** What the launcher needs of a running child: its output, its exit, a polite stop and a kill. */
export interface HubChild {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  once(event: 'exit', listener: (code: number | null) => void): unknown;
  /** Asks the hub to close (stdin end / SIGTERM). */
  stop(): void;
  /** Ends it now (SIGKILL). */
  kill(): void;
}

/** Starts `hub embedded` with these extra arguments. */
export type SpawnHub = (args: string[]) => HubChild;

export interface EmbeddedHubProcess {
  readonly pid: number | undefined;
  /** Resolves with its address once it printed HUB_READY; rejects if it failed or timed out (it is ended then). */
  readonly ready: Promise<{ url: string; demoUsers: HubStatus['demoUsers'] }>;
  /** Resolves with the exit code once the child has exited. */
  readonly exited: Promise<number | null>;
  /** Ends it (politely, then after `graceMs` by force), starting or not; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Browser mode: `node <hub.mjs> embedded …`; it exits when our stdin pipe closes (--parent-stdin). */
export function nodeHubSpawner(hubScript: string, execPath: string = process.execPath): SpawnHub {
  return (args) => {
    const child = spawn(execPath, [hubScript, ...args, '--parent-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
    return {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      once: (event, listener) => child.once(event, listener),
      stop: () => child.stdin.end(),
      kill: () => child.kill('SIGKILL'),
    };
  };
}

const READY = 'HUB_READY ';

/** Runs the embedded hub on `dataDir` (`demo`: with the demo accounts); `ready` waits for its HUB_READY line (at most `timeoutMs`). */
export function startEmbeddedHubProcess(spawnHub: SpawnHub, dataDir: string, opts: { demo?: boolean; timeoutMs?: number } = {}): EmbeddedHubProcess {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const child = spawnHub(['embedded', '--data', dataDir, ...(opts.demo ? ['--demo'] : [])]);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const stop = async (graceMs = 5_000): Promise<void> => {
    if (exitCode !== undefined) return;
    child.stop();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    if ((await Promise.race([exited, late])) === 'late') {
      child.kill();
      await exited;
    }
    clearTimeout(timer);
  };
  const ready = new Promise<{ url: string; demoUsers: HubStatus['demoUsers'] }>((resolve, reject) => {
    let out = '';
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const fail = (message: string): void => settle(() => void stop(0).finally(() => reject(new Error(message))));
    const timer = setTimeout(() => fail(`the embedded hub did not start within ${timeoutMs / 1000} s: ${out.trim()}`), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      if (settled) return;
      out += d.toString();
      const line = out.split('\n').slice(0, -1).find((l) => l.startsWith(READY));
      if (!line) return;
      try {
        const info = JSON.parse(line.slice(READY.length)) as { url: string; demoUsers: HubStatus['demoUsers'] };
        settle(() => resolve({ url: info.url, demoUsers: info.demoUsers }));
      } catch {
        fail(`the embedded hub announced itself unreadably: ${line}`);
      }
    });
    void exited.then((code) => settle(() => reject(new Error(`the embedded hub exited (${code}) before starting: ${out.trim()}`))));
  });
  return { pid: child.pid, ready, exited, stop };
}
