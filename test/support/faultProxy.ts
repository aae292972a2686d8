// A fault-injecting HTTP proxy on 127.0.0.1 between the workstation and the hub. Per request it
// may: pass it through, drop the request (close before forwarding), drop the response (forward,
// then close without answering), delay it, answer 500 without forwarding, or deliver it twice
// (concurrently or one after the other) and answer with one of the two responses. Hooks run
// before and after forwarding so a test can restart the hub or kill the sender mid-send.
// Faults are drawn from a seeded PRNG; the seed is printed so a failure reproduces
// (FAULT_SEED=<seed> picks it).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultKind = 'pass' | 'drop-request' | 'drop-response' | 'delay' | 'error-500' | 'duplicate';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'drop-request' }
  | { kind: 'drop-response' }
  | { kind: 'delay'; ms: number; where: 'before' | 'after' }
  | { kind: 'error-500' }
  | { kind: 'duplicate'; concurrent: boolean; answerWith: 0 | 1 };

export interface ProxiedRequest {
  /** 1-based count of requests the proxy has seen. */
  n: number;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface UpstreamResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface FaultProxyOptions {
  /** The hub's base URL, e.g. http://127.0.0.1:4100. */
  target: string;
  seed?: number;
  /** Relative weights of each fault; missing kinds weigh 0, `pass` defaults to 1. */
  weights?: Partial<Record<FaultKind, number>>;
  maxDelayMs?: number;
  /** Requests this returns false for are streamed through untouched (e.g. the live-update stream). */
  faultable?: (method: string, url: string) => boolean;
  /** Overrides the random choice (deterministic scenarios). */
  choose?: (req: ProxiedRequest, random: () => number) => Fault;
  /** Runs after the fault is chosen, before anything is forwarded. */
  beforeForward?: (req: ProxiedRequest, fault: Fault) => Promise<void> | void;
  /** Runs after the hub answered (each delivery), before the answer is returned or dropped. */
  afterForward?: (req: ProxiedRequest, fault: Fault, result: UpstreamResult | Error) => Promise<void> | void;
  /** Print the seed (default true). */
  announce?: boolean;
}

export interface FaultProxy {
  readonly url: string;
  readonly seed: number;
  readonly random: () => number;
  /** Counts of the faults applied so far. */
  readonly stats: Record<FaultKind, number>;
  /** Upstream deliveries (a duplicate counts twice). */
  readonly deliveries: number;
  setTarget(target: string): void;
  /** While disabled every request passes. */
  setEnabled(enabled: boolean): void;
  close(): Promise<void>;
}

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed for a run: FAULT_SEED from the environment, else a fresh one. */
export function chooseSeed(): number {
  const env = process.env.FAULT_SEED;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n)) throw new Error(`FAULT_SEED must be an integer, got ${env}`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'te', 'trailer']);

function forwardHeaders(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const seed = (opts.seed ?? chooseSeed()) >>> 0;
  const random = mulberry32(seed);
  if (opts.announce !== false) console.log(`faultProxy seed=${seed} (rerun with FAULT_SEED=${seed})`);
  let target = new URL(opts.target);
  let enabled = true;
  let n = 0;
  let deliveries = 0;
  const stats: Record<FaultKind, number> = { pass: 0, 'drop-request': 0, 'drop-response': 0, delay: 0, 'error-500': 0, duplicate: 0 };
  const maxDelay = opts.maxDelayMs ?? 50;
  const weights = Object.entries({ pass: 1, ...opts.weights }).filter(([, w]) => (w ?? 0) > 0) as [FaultKind, number][];
  const total = weights.reduce((s, [, w]) => s + w, 0);

  const pick = (): Fault => {
    let r = random() * total;
    let kind: FaultKind = 'pass';
    for (const [k, w] of weights) {
      if (r < w) {
        kind = k;
        break;
      }
      r -= w;
    }
    switch (kind) {
      case 'delay':
        return { kind, ms: Math.floor(random() * maxDelay), where: random() < 0.5 ? 'before' : 'after' };
      case 'duplicate':
        return { kind, concurrent: random() < 0.5, answerWith: random() < 0.5 ? 0 : 1 };
      default:
        return { kind } as Fault;
    }
  };

  const deliver = (r: ProxiedRequest): Promise<UpstreamResult> =>
    new Promise((resolve, reject) => {
      deliveries += 1;
      const up = http.request(
        { host: target.hostname, port: target.port, method: r.method, path: r.url, headers: { ...forwardHeaders(r.headers), 'content-length': String(r.body.length) }, agent: false },
        (res) => {
          readBody(res).then((body) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }), reject);
        },
      );
      up.on('error', reject);
      up.end(r.body);
    });

  const answer = (res: http.ServerResponse, result: UpstreamResult): void => {
    const out = forwardHeaders(result.headers);
    out['content-length'] = String(result.body.length);
    res.writeHead(result.status, out);
    res.end(result.body);
  };

  const kill = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    res.destroy();
    req.socket.destroy();
  };

  const streamThrough = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: forwardHeaders(req.headers), agent: false },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, forwardHeaders(upRes.headers));
        res.flushHeaders();
        upRes.pipe(res);
        upRes.on('error', () => kill(req, res));
      },
    );
    up.on('error', () => kill(req, res));
    res.on('close', () => up.destroy());
    req.pipe(up);
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    if (opts.faultable && !opts.faultable(method, url)) {
      streamThrough(req, res);
      return;
    }
    void (async () => {
      const body = await readBody(req);
      n += 1;
      const r: ProxiedRequest = { n, method, url, headers: req.headers, body };
      const fault: Fault = !enabled ? { kind: 'pass' } : opts.choose ? opts.choose(r, random) : pick();
      stats[fault.kind] += 1;
      await opts.beforeForward?.(r, fault);
      const once = async (): Promise<UpstreamResult | Error> => {
        let out: UpstreamResult | Error;
        try {
          out = await deliver(r);
        } catch (err) {
          out = err instanceof Error ? err : new Error(String(err));
        }
        await opts.afterForward?.(r, fault, out);
        return out;
      };
      switch (fault.kind) {
        case 'drop-request':
          kill(req, res);
          return;
        case 'error-500': {
          const b = Buffer.from(JSON.stringify({ error: 'injected', message: 'fault proxy: injected 500' }));
          answer(res, { status: 500, headers: { 'content-type': 'application/json' }, body: b });
          return;
        }
        case 'drop-response':
          await once();
          kill(req, res);
          return;
        case 'delay': {
          if (fault.where === 'before') await sleep(fault.ms);
          const out = await once();
          if (fault.where === 'after') await sleep(fault.ms);
          if (out instanceof Error) kill(req, res);
          else answer(res, out);
          return;
        }
        case 'duplicate': {
          const outs = fault.concurrent ? await Promise.all([once(), once()]) : [await once(), await once()];
          const out = outs[fault.answerWith]!;
          if (out instanceof Error) kill(req, res);
          else answer(res, out);
          return;
        }
        case 'pass': {
          const out = await once();
          if (out instanceof Error) kill(req, res);
          else answer(res, out);
          return;
        }
      }
    })().catch(() => kill(req, res));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    seed,
    random,
    stats,
    get deliveries() {
      return deliveries;
    },
    setTarget(t: string) {
      target = new URL(t);
    },
    setEnabled(e: boolean) {
      enabled = e;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
