// Browser mode: the same contract as Electron IPC, carried over a loopback HTTP bridge.
// - Listens on 127.0.0.1 only, on a free port unless told otherwise.
// - Every /api and /files request needs the per-launch secret token (header), and every request
//   must name our own Host (DNS-rebinding guard); a request carrying an Origin must be ours.
// - The token itself never leaves this process on a command line or in a log: the browser is
//   opened on a one-time launch code (`#launch=…`), which the page exchanges for the token
//   (POST /launch) and which is dead after that first use or after LAUNCH_CODE_MS. A page that
//   holds the token may ask for a further code (POST /launch/new) to open another window.
// - Every payload is parsed against the contract (common/contract.ts) before a handler runs.
// - Static renderer files are served with the app's CSP.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { dispatch, type AppEvent, type ErrorCode, type Handlers, type Result } from '../../common/contract.ts';
import { CONTENT_SECURITY_POLICY, TOKEN_HEADER } from '../../common/security.ts';
import { formatSseComment, formatSseEvent } from '../../common/sse.ts';

export interface BridgeOptions {
  handlers: Handlers;
  rendererDir: string;
  filePath(fileId: string): string | null;
  /** Subscribes to app events; returns an unsubscribe. */
  subscribe?(listener: (e: AppEvent) => void): () => void;
  port?: number;
  token?: string;
  /** Largest accepted API body (uploads are base64 JSON). */
  maxBodyBytes?: number;
}

export interface Bridge {
  origin: string;
  token: string;
  port: number;
  /** A new one-time address to open the app in a browser (`<origin>/#launch=<code>`). */
  launchUrl(): string;
  close(): Promise<void>;
}

/** How long an unused launch code stays valid. */
export const LAUNCH_CODE_MS = 5 * 60_000;
const MAX_LAUNCH_CODES = 16;

const STATUS: Record<ErrorCode, number> = {
  'invalid-input': 400,
  'not-found': 404,
  conflict: 409,
  forbidden: 403,
  'unsigned-problems': 422,
  'wrong-study': 409,
  internal: 500,
  unavailable: 503,
  // A question the page answers (the password dialog before signing), not a failure: no error status.
  'confirm-password': 200,
};

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res: http.ServerResponse, status: number, code: ErrorCode, message: string): void {
  const body: Result<never> = { ok: false, error: { code, message } };
  sendJson(res, status, body);
}

/**
 * Streams a file as the answer. pipeline() closes the file when the client goes away early (a
 * plain pipe() left the descriptor open: enough early-closed requests and the workstation ran out
 * of them) and turns a read error (the file became unreadable after stat) into a closed response
 * instead of an unhandled 'error' that would end the process.
 */
function sendFile(res: http.ServerResponse, file: string, headers: http.OutgoingHttpHeaders): void {
  res.writeHead(200, headers);
  pipeline(fs.createReadStream(file), res, () => undefined);
}

/** A path part decoded, or null when it is malformed or holds a NUL (never a valid file name). */
function decodePath(part: string): string | null {
  try {
    const decoded = decodeURIComponent(part);
    return decoded.includes('\0') ? null : decoded;
  } catch {
    return null;
  }
}

function tokenMatches(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return 'too-large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const token = opts.token ?? crypto.randomBytes(32).toString('base64url');
  const maxBody = opts.maxBodyBytes ?? 128 * 1024 * 1024;
  const rendererDir = path.resolve(opts.rendererDir);
  let origin = '';
  let host = '';

  const serveStatic = (urlPath: string, res: http.ServerResponse): void => {
    let rel = decodePath(urlPath);
    if (rel === null) {
      fail(res, 400, 'invalid-input', 'Malformed URL.');
      return;
    }
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = path.resolve(rendererDir, `.${rel}`);
    if (!file.startsWith(rendererDir + path.sep)) {
      fail(res, 403, 'forbidden', 'Path outside the app.');
      return;
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        fail(res, 404, 'not-found', `No such file: ${rel}`);
        return;
      }
      sendFile(res, file, { ...SECURITY_HEADERS, 'content-type': MIME[path.extname(file)] ?? 'application/octet-stream', 'content-length': st.size });
    });
  };

  const serveDicom = (fileId: string, res: http.ServerResponse): void => {
    const file = opts.filePath(fileId);
    if (!file) {
      fail(res, 404, 'not-found', `Unknown image file ${fileId}.`);
      return;
    }
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) {
        fail(res, 404, 'not-found', `The image file is no longer on disk: ${file}`);
        return;
      }
      sendFile(res, file, { ...SECURITY_HEADERS, 'content-type': 'application/dicom', 'content-length': st.size });
    });
  };

  // Unused launch codes and when each expires (oldest first; a few at most).
  const launchCodes = new Map<string, number>();
  const newLaunchCode = (): string => {
    const code = crypto.randomBytes(24).toString('base64url');
    const now = Date.now();
    for (const [c, until] of launchCodes) if (until <= now || launchCodes.size >= MAX_LAUNCH_CODES) launchCodes.delete(c);
    launchCodes.set(code, now + LAUNCH_CODE_MS);
    return code;
  };
  /** The code's one use: true (and the code gone) when it was valid. */
  const useLaunchCode = (given: unknown): boolean => {
    if (typeof given !== 'string') return false;
    for (const [code, until] of launchCodes) {
      if (tokenMatches(given, code)) {
        launchCodes.delete(code);
        return until > Date.now();
      }
    }
    return false;
  };

  const serveLaunch = async (req: http.IncomingMessage, res: http.ServerResponse, mint: boolean): Promise<void> => {
    if (req.method !== 'POST') {
      fail(res, 405, 'invalid-input', 'Method not allowed.');
      return;
    }
    if (mint) {
      if (!tokenMatches(req.headers[TOKEN_HEADER] as string | undefined, token)) {
        fail(res, 401, 'forbidden', `Missing or wrong ${TOKEN_HEADER}.`);
        return;
      }
      sendJson(res, 200, { ok: true, value: { code: newLaunchCode() } });
      return;
    }
    const body = await readBody(req, 1024);
    let code: unknown = null;
    try {
      code = body === 'too-large' ? null : (JSON.parse(body.toString('utf8')) as { code?: unknown } | null)?.code;
    } catch {
      code = null;
    }
    if (!useLaunchCode(code)) {
      fail(res, 403, 'forbidden',
        'This link has been used already or has expired: each link opens Failsafe once. Use the window it opened, or press Enter where Failsafe runs for a new link.');
      return;
    }
    sendJson(res, 200, { ok: true, value: { token } });
  };

  const serveEvents = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (!opts.subscribe) {
      fail(res, 404, 'not-found', 'No event stream.');
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream', connection: 'keep-alive' });
    res.write(formatSseComment('connected'));
    const unsubscribe = opts.subscribe((e) => res.write(formatSseEvent({ data: JSON.stringify(e) })));
    const ping = setInterval(() => res.write(formatSseComment('ping')), 15_000);
    req.on('close', () => {
      clearInterval(ping);
      unsubscribe();
    });
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      // DNS rebinding: the Host must be the loopback address and port we listen on.
      if (req.headers.host !== host) {
        fail(res, 403, 'forbidden', `Wrong Host header; this bridge answers only ${host}.`);
        return;
      }
      const reqOrigin = req.headers.origin;
      if (reqOrigin !== undefined && reqOrigin !== origin) {
        fail(res, 403, 'forbidden', `Cross-origin request from ${reqOrigin} refused.`);
        return;
      }
      // A request target that is no path of ours ("//", "//host/x", a bare "*") is refused here:
      // new URL() would read it as another host, or throw.
      const target = req.url ?? '/';
      if (!target.startsWith('/') || target.startsWith('//')) {
        fail(res, 400, 'invalid-input', 'Malformed URL.');
        return;
      }
      const url = new URL(target, origin);
      if (url.pathname === '/launch' || url.pathname === '/launch/new') {
        await serveLaunch(req, res, url.pathname === '/launch/new');
        return;
      }
      const isApi = url.pathname.startsWith('/api/');
      const isFile = url.pathname.startsWith('/files/');
      const isEvents = url.pathname === '/events';
      if (!isApi && !isFile && !isEvents) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          fail(res, 405, 'invalid-input', 'Method not allowed.');
          return;
        }
        serveStatic(url.pathname, res);
        return;
      }
      if (!tokenMatches(req.headers[TOKEN_HEADER] as string | undefined, token)) {
        fail(res, 401, 'forbidden', `Missing or wrong ${TOKEN_HEADER}: open the URL printed at start.`);
        return;
      }
      if (isFile) {
        if (req.method !== 'GET') {
          fail(res, 405, 'invalid-input', 'Method not allowed.');
          return;
        }
        const fileId = decodePath(url.pathname.slice('/files/'.length));
        if (fileId === null) {
          fail(res, 400, 'invalid-input', 'Malformed URL.');
          return;
        }
        serveDicom(fileId, res);
        return;
      }
      if (isEvents) {
        serveEvents(req, res);
        return;
      }
      if (req.method !== 'POST') {
        fail(res, 405, 'invalid-input', 'API calls are POST.');
        return;
      }
      if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
        fail(res, 415, 'invalid-input', 'API calls take application/json.');
        return;
      }
      const body = await readBody(req, maxBody);
      if (body === 'too-large') {
        // The rest of the body is not read: the connection closes once the answer is out (said
        // in the answer, so a client does not send its next request on it and get it reset).
        res.setHeader('connection', 'close');
        res.once('finish', () => req.destroy());
        fail(res, 413, 'invalid-input', `Request body over ${maxBody} bytes.`);
        return;
      }
      let input: unknown;
      try {
        input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        fail(res, 400, 'invalid-input', 'Request body is not valid JSON.');
        return;
      }
      let channel: string;
      try {
        channel = decodeURIComponent(url.pathname.slice('/api/'.length));
      } catch {
        fail(res, 400, 'invalid-input', 'Malformed channel name.');
        return;
      }
      const result = await dispatch(opts.handlers, channel, input);
      sendJson(res, result.ok ? 200 : STATUS[result.error.code], result);
    })().catch((err: unknown) => {
      // The reason goes to the log, not to the client: an error's text can name this machine's paths.
      console.error('bridge: request failed:', err);
      if (!res.headersSent) fail(res, 500, 'internal', 'The workstation could not answer this request; the reason is in its log.');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  host = `127.0.0.1:${port}`;
  origin = `http://${host}`;
  return {
    origin,
    token,
    port,
    launchUrl: () => `${origin}/#launch=${newLaunchCode()}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
