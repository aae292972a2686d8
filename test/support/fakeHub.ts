// A minimal in-process stand-in for the hub (contract: common/hub.ts), for unit tests of the
// workstation's sync client: login, idempotent ingest (first answer stored per key and replayed;
// same key + other body → 422; key in flight → 409; same record under another key → 200
// alreadyStored), draft snapshots with take-over, and an SSE event stream with catch-up.
// It proves the client's behaviour, not the hub's: the exactly-once trials run against the real
// hub (server/app.ts).
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HubEvent, HubUser } from '../../common/hub.ts';
import { HubError } from '../../common/hubError.ts';
import { formatSseEvent } from '../../common/sse.ts';

export interface FakeHubOptions {
  users?: { username: string; password: string; user: HubUser }[];
  /** Artificial processing time for ingest, ms (lets concurrent duplicates race). */
  ingestDelayMs?: number;
  /**
   * false = a broken hub that ignores Idempotency-Key and stores every delivery (a negative
   * control: the trials must catch its duplicates). Default true.
   */
  idempotency?: boolean;
}

export interface FakeHub {
  url: string;
  /** Every ingest request received (including replays). */
  requests: { key: string | undefined; body: string; status: number }[];
  /** Stored records by report id (report + addenda). */
  stored: Map<string, { kind: string; body: string }[]>;
  /** Script the next ingest answers (status, body); consumed first-in first-out. */
  script: { status: number; code?: string; message?: string; newOwner?: HubUser }[];
  /** Kill every open SSE stream (the client must reconnect and catch up). */
  dropStreams(): void;
  emit(e: Omit<HubEvent, 'seq' | 'at'>): HubEvent;
  takeOver(reportId: string, to: HubUser): void;
  expireSessions(): void;
  /** `report-signed` events per report id. */
  eventCount(reportId: string): number;
  /** Closes every connection and listens again on the same port; state is kept (like a database). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

const RADIOLOGIST: HubUser = { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' };

export async function startFakeHub(opts: FakeHubOptions = {}): Promise<FakeHub> {
  const users = opts.users ?? [{ username: 'ada', password: 'pw', user: RADIOLOGIST }];
  const sessions = new Map<string, HubUser>();
  const keys = new Map<string, { hash: string; status: number; body: string } | 'in-flight'>();
  const stored = new Map<string, { kind: string; body: string }[]>();
  const requests: FakeHub['requests'] = [];
  const script: FakeHub['script'] = [];
  const drafts = new Map<string, { owner: HubUser; revision: number }>();
  const events: HubEvent[] = [];
  const streams = new Set<http.ServerResponse>();
  let seq = 0;

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(text);
  };
  const err = (res: http.ServerResponse, status: number, code: string, message: string, details?: Record<string, unknown>): void =>
    send(res, status, new HubError(status, code, message, details).toBody());

  const emit = (e: Omit<HubEvent, 'seq' | 'at'>): HubEvent => {
    seq += 1;
    const ev = { ...e, seq, at: new Date().toISOString() } as HubEvent;
    events.push(ev);
    for (const s of streams) s.write(formatSseEvent({ id: ev.seq, data: JSON.stringify(ev) }));
    return ev;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url ?? '/', 'http://x');
        const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
        const user = auth ? sessions.get(auth[1]!) : undefined;
        if (req.method === 'GET' && url.pathname === '/api/health') return send(res, 200, { ok: true, instanceId: 'fake', storage: 'pglite', version: '0' });
        if (req.method === 'POST' && url.pathname === '/api/session') {
          const b = JSON.parse(body || '{}') as { username?: string; password?: string };
          const u = users.find((x) => x.username === b.username && x.password === b.password);
          if (!u) return err(res, 401, 'unauthenticated', 'Wrong username or password.');
          const token = crypto.randomUUID();
          sessions.set(token, u.user);
          return send(res, 200, { token, expiresAt: new Date(Date.now() + 3600_000).toISOString(), user: u.user, permissions: ['report:sign-final'] });
        }
        if (!user) return err(res, 401, 'unauthenticated', 'Log in first.');
        if (req.method === 'POST' && url.pathname === '/api/ingest') {
          const key = opts.idempotency === false ? crypto.randomUUID() : (req.headers['idempotency-key'] as string | undefined);
          const record = (status: number): void => {
            requests.push({ key, body, status });
          };
          const scripted = script.shift();
          if (scripted) {
            record(scripted.status);
            return err(res, scripted.status, scripted.code ?? 'internal', scripted.message ?? 'scripted');
          }
          if (!key) {
            record(400);
            return err(res, 400, 'idempotency-key-missing', 'Idempotency-Key header is required.');
          }
          const hash = crypto.createHash('sha256').update(body).digest('hex');
          const prior = keys.get(key);
          if (prior === 'in-flight') {
            record(409);
            return err(res, 409, 'idempotency-key-in-flight', 'This key is being processed; retry.');
          }
          if (prior) {
            if (prior.hash !== hash) {
              record(422);
              return err(res, 422, 'idempotency-key-reused', 'This Idempotency-Key was used with a different body.');
            }
            record(prior.status);
            return send(res, prior.status, prior.body, { 'idempotent-replayed': 'true' });
          }
          keys.set(key, 'in-flight');
          if (opts.ingestDelayMs) await new Promise((r) => setTimeout(r, opts.ingestDelayMs));
          let payload: { kind?: string; report?: { id?: string; content?: { alertCode?: string } }; reportId?: string };
          try {
            payload = JSON.parse(body) as typeof payload;
          } catch {
            keys.delete(key);
            record(400);
            return err(res, 400, 'invalid-json', 'Body is not JSON.');
          }
          const reportId = payload.kind === 'report' ? payload.report?.id : payload.reportId;
          if (!reportId || (payload.kind !== 'report' && payload.kind !== 'addendum')) {
            keys.set(key, { hash, status: 422, body: JSON.stringify({ error: { code: 'invalid-input', message: 'Not a signed payload.' } }) });
            record(422);
            return err(res, 422, 'invalid-input', 'Not a signed payload.');
          }
          if (payload.kind === 'addendum' && !stored.get(reportId)?.some((r) => r.kind === 'report')) {
            keys.delete(key);
            record(409);
            return err(res, 409, 'original-not-synced', 'The report this addendum belongs to has not reached the hub yet.');
          }
          const list = stored.get(reportId) ?? [];
          const already = opts.idempotency !== false && list.some((r) => r.body === body);
          if (!already) list.push({ kind: payload.kind, body });
          stored.set(reportId, list);
          const receipt = JSON.stringify({ kind: payload.kind, reportId, contentHash: hash, storedAt: new Date().toISOString(), alreadyStored: already });
          keys.set(key, { hash, status: 201, body: receipt });
          record(201);
          emit({ type: 'report-signed', reportId, kind: payload.kind, study: { patientId: 'p', studyUid: 's' }, signer: { name: user.name, registration: user.registration, role: user.role }, alertCode: null } as Omit<HubEvent, 'seq' | 'at'>);
          return send(res, 201, receipt);
        }
        const draftMatch = /^\/api\/drafts\/([^/]+)$/.exec(url.pathname);
        if (req.method === 'PUT' && draftMatch) {
          const id = decodeURIComponent(draftMatch[1]!);
          const snap = JSON.parse(body) as { revision: number };
          const d = drafts.get(id);
          if (d && d.owner.username !== user.username) return err(res, 409, 'draft-taken-over', `${d.owner.name} has taken over this report.`, { newOwner: d.owner });
          if (stored.has(id)) return err(res, 409, 'already-signed', 'This report is signed.');
          const applied = !d || snap.revision > d.revision;
          const next = { owner: d?.owner ?? user, revision: applied ? snap.revision : d!.revision };
          drafts.set(id, next);
          return send(res, 200, { reportId: id, revision: next.revision, applied, owner: next.owner });
        }
        if (req.method === 'GET' && url.pathname === '/api/events') {
          const since = url.searchParams.has('since') ? Number(url.searchParams.get('since')) : seq;
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
          res.write(formatSseEvent({ event: 'hello', data: JSON.stringify({ instanceId: 'fake', head: seq, since }) }));
          for (const e of events) if (e.seq > since) res.write(formatSseEvent({ id: e.seq, data: JSON.stringify(e) }));
          streams.add(res);
          res.on('close', () => streams.delete(res));
          return;
        }
        return err(res, 404, 'not-found', `No route ${req.method} ${url.pathname}`);
      })();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stored,
    script,
    dropStreams() {
      for (const s of streams) s.destroy();
      streams.clear();
    },
    emit,
    takeOver(reportId, to) {
      const d = drafts.get(reportId);
      drafts.set(reportId, { owner: to, revision: d?.revision ?? 0 });
    },
    expireSessions() {
      sessions.clear();
    },
    eventCount(reportId) {
      return events.filter((e) => e.type === 'report-signed' && e.reportId === reportId).length;
    },
    async restart() {
      for (const s of streams) s.destroy();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise((r) => setTimeout(r, 5));
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of streams) s.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
