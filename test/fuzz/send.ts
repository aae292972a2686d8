// One raw HTTP request as the fuzz builds it (any method, path, Host, Origin and body bytes: fetch
// would refuse most of them), and a runner that sends a stream of them with a few in flight and
// counts what came back. Shared by the fuzz tests and bench/fuzz.bench.ts.
import http from 'node:http';

export interface FuzzRequest {
  /** The route or channel the valid request was for (for the report). */
  target: string;
  method: string;
  /** As it goes on the request line (already percent-encoded, or deliberately not). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What was done to the valid request; empty: it is the valid request. */
  mutations: string[];
  /** An event stream: the answer's head is enough, the connection is closed after it. */
  stream?: boolean;
  /** Sent again on a new connection because the kept-alive one was closed under it (sendRaw). */
  retried?: boolean;
}

export interface FuzzAnswer {
  /** 0: no answer (connection reset or closed before a status line, or timed out). */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Why there was no answer. */
  error?: string;
}

const MAX_KEPT_BODY = 8 * 1024 * 1024;

const ignoreSocketError = (): void => {};

export function sendRaw(port: number, agent: http.Agent, r: FuzzRequest, timeoutMs = 30_000): Promise<FuzzAnswer> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (a: FuzzAnswer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(a);
    };
    const headers: Record<string, string> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = String(r.body.length);
    let req: http.ClientRequest;
    try {
      req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent });
    } catch (err) {
      // The client itself refused to send it (a character HTTP forbids): not the server's answer.
      finish({ status: -1, headers: {}, body: Buffer.alloc(0), error: (err as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, headers: {}, body: Buffer.alloc(0), error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('response', (res) => {
      if (r.stream && res.statusCode === 200) {
        res.destroy();
        finish({ status: 200, headers: res.headers, body: Buffer.alloc(0) });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size <= MAX_KEPT_BODY) chunks.push(d);
      });
      res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err) => finish({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error: err.message }));
    });
    // The server may answer (413) and close before the body is all written: the client's socket
    // then fails its last writes after the request is done. That is this client's error, not the
    // server's: heard here so it is not an uncaught exception of the process that runs both.
    req.on('socket', (socket) => {
      if (socket.listenerCount('error') === 0 || !socket.listeners('error').includes(ignoreSocketError)) socket.on('error', ignoreSocketError);
    });
    req.on('error', (err) => {
      // A kept-alive connection the server closed just as it was reused (after an answer that
      // ended its connection, or at its idle timeout): the request never reached the server.
      // Sent again once, on a new connection; a second failure is the server's.
      if (req.reusedSocket && !r.retried) {
        clearTimeout(timer);
        done = true;
        void sendRaw(port, new http.Agent(), { ...r, retried: true }, timeoutMs).then(resolve);
        return;
      }
      finish({ status: 0, headers: {}, body: Buffer.alloc(0), error: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    req.end(r.body);
  });
}

export interface Exchange {
  n: number;
  request: FuzzRequest;
  answer: FuzzAnswer;
}

/**
 * Sends `count` requests made by `make(n)` (in order, `concurrency` in flight) and hands each
 * exchange to `check`. Resolves with the requests per second.
 */
export async function runExchanges(opts: {
  port: number;
  count: number;
  concurrency: number;
  make: (n: number) => FuzzRequest;
  check: (e: Exchange) => void;
}): Promise<{ seconds: number; perSecond: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < opts.count) {
      const n = next++;
      const request = opts.make(n);
      const answer = await sendRaw(opts.port, agent, request);
      opts.check({ n, request, answer });
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency }, lane));
  } finally {
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  return { seconds, perSecond: opts.count / seconds };
}

/** The request as bytes a person can replay (start of the body only). */
export function describeRequest(r: FuzzRequest, max = 600): string {
  const head = `${r.method} ${r.path}\n${Object.entries(r.headers).map(([k, v]) => `${k}: ${v.length > 120 ? `${v.slice(0, 120)}… (${v.length})` : v}`).join('\n')}`;
  const body = r.body === undefined ? '' : `\n\n${JSON.stringify(r.body.subarray(0, max).toString('latin1'))}${r.body.length > max ? ` … (${r.body.length} bytes)` : ''}`;
  return `[${r.target}; ${r.mutations.join(', ') || 'valid'}]\n${head}${body}`;
}

/** Process-level crashes while `run` runs: uncaught exceptions and unhandled rejections (each would end a real process). */
export async function countingCrashes<T>(run: () => Promise<T>): Promise<{ result: T; crashes: string[] }> {
  const crashes: string[] = [];
  const onError = (err: unknown): void => {
    crashes.push(err instanceof Error ? err.stack ?? err.message : String(err));
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  try {
    return { result: await run(), crashes };
  } finally {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  }
}

/** What one fuzz run found. */
export interface FuzzReport {
  seed: number;
  sent: number;
  /** Answers with a 5xx status. */
  serverErrors: number;
  /** Requests that got no answer, and uncaught exceptions or unhandled rejections in the process. */
  crashes: number;
  /** Every problem found (5xx, no answer, a body that is not the contract's), each with its request (the first 50). */
  problems: string[];
  /** Status → how many. */
  statuses: Record<number, number>;
  perSecond: number;
}

/** Sends `count` requests made by `make` and judges each answer with `problem`; `observe` sees every exchange. */
export async function runFuzz(opts: {
  port: number;
  count: number;
  seed: number;
  concurrency: number;
  make: () => FuzzRequest;
  problem: (e: Exchange) => string | null;
  observe?: (e: Exchange) => void;
}): Promise<FuzzReport> {
  const report: FuzzReport = { seed: opts.seed, sent: 0, serverErrors: 0, crashes: 0, problems: [], statuses: {}, perSecond: 0 };
  const check = (e: Exchange): void => {
    report.sent++;
    report.statuses[e.answer.status] = (report.statuses[e.answer.status] ?? 0) + 1;
    opts.observe?.(e);
    const problem = opts.problem(e);
    if (!problem) return;
    if (e.answer.status >= 500) report.serverErrors++;
    if (e.answer.status === 0) report.crashes++;
    if (report.problems.length < 50) report.problems.push(`#${e.n} ${problem}\n${describeRequest(e.request)}\n→ ${e.answer.body.toString('utf8').slice(0, 300)}`);
  };
  const { result, crashes } = await countingCrashes(() => runExchanges({ port: opts.port, count: opts.count, concurrency: opts.concurrency, make: opts.make, check }));
  report.perSecond = result.perSecond;
  report.crashes += crashes.length;
  for (const c of crashes.slice(0, 5)) report.problems.push(`crash: ${c}`);
  return report;
}
