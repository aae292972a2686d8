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
    req.on('error', (err) => finish({ status: 0, headers: {}, body: Buffer.alloc(0), error: (err as NodeJS.ErrnoException).code ?? err.message }));
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
