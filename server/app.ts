// The hub: a Fastify application over the storage adapter. Stateless apart from the pushed-event
// connections it holds, so several instances run behind one load balancer on one database.
import { isUtf8 } from 'node:buffer';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ConfirmSignerRequest, DraftSnapshot, HUB_BODY_LIMIT, HUB_PATHS, IDEMPOTENCY_HEADER, IdempotencyKey, LoginRequest, OutboxPayload, REPLAYED_HEADER,
  ROLE_PERMISSIONS, SitePolicy, TakeOverRequest, roleMay,
  type ConfirmSignerResponse, type EventLog, type HubAction, type HubEvent, type HubHealth, type HubHello, type HubSignedReport, type LoginResponse, type SessionInfo,
} from '../common/hub.ts';
import { refuseUnstorable, type Role } from '../common/report.ts';
import { confirmSigner, login, logout, lookupSession, sessionChannel, toHubUser, type SessionUser } from './auth.ts';
import type { HubDb } from './db/adapter.ts';
import { migrate } from './db/migrations.ts';
import { getDraft, listUnfinished, putSnapshot, takenFromMe, takeOver } from './drafts.ts';
import { HubError } from './errors.ts';
import { formatSseComment, formatSseEvent } from '../common/sse.ts';
import { issueDetails, issueText } from '../common/validation.ts';
import { EventDispatcher } from './events.ts';
import { ACTION_WORDS, IngestBatcher, ingest } from './ingest.ts';
import { readSignedReport } from './reports.ts';
import { registerFirstUserSetup } from './setup.ts';
import { AcknowledgeRequest, ALERT_PATHS, AlertListQuery, AlertPhoneCalls, type AlertDetail, type AlertList, type SafetyDashboard } from '../common/alerts.ts';
import { acknowledgeAlert, addPhoneCalls, alertsCsv, listAlerts, mayReadReport, readAlert, safetyDashboard, takeOpened, userScope } from './alerts.ts';
import { registerWebPages } from './web/serve.ts';
import { startHubNotifications } from './notify.ts';
import { startEscalationScheduler } from './escalation.ts';
import { startAuditSealer } from './audit.ts';
import type { NotificationConfig } from './config.ts';

export const HUB_VERSION = '0.1.0';

export interface BuildHubOptions {
  db: HubDb;
  /** Site policy (already parsed, or raw JSON to parse); defaults per domain.md. */
  policy?: unknown;
  /** Milliseconds since the epoch; tests move it to make drafts stale or sessions expire. */
  clock?: () => number;
  instanceId?: string;
  /** Fastify logger options (default off). */
  logger?: boolean | Record<string, unknown>;
  /** Apply pending migrations before serving (default true). */
  migrate?: boolean;
  /** Close the database when the hub closes (default false: the caller owns it). */
  ownsDb?: boolean;
  /** SSE keep-alive interval (default 15 s). */
  pingMs?: number;
  /** How long a looked-up session is reused on this instance (default 2 s; 0 = never). */
  sessionCacheMs?: number;
  /**
   * The embedded hub: answer only requests addressed to this machine's loopback at the hub's own
   * port (Host 127.0.0.1:<port> or localhost:<port>) that carry no Origin but that same one, like the workstation's
   * bridge. Its demo passwords are published: without this, a web page on another site could
   * reach it by DNS rebinding, log in and read patient data. The workstation (Node's fetch) sends
   * no Origin; browsers always do on cross-origin requests.
   */
  loopbackOnly?: boolean;
  /** The installed app's embedded hub (not in demo mode): serves GET/POST /api/setup for its first account (server/setup.ts). */
  firstUserSetup?: boolean;
  /** The built referrer page (server/web/serve.ts; default: dist/hub-web/ found beside the hub). */
  webDir?: string;
  /**
   * Alert notifications (server/notify.ts): delivered on this hub's clock. A channel left null is
   * not configured and every notification for it fails visibly on the alert's timeline. Absent:
   * no sender runs on this instance (tests that do not exercise notifications).
   */
  notifications?: NotificationConfig;
  /**
   * The alert escalation scheduler (server/escalation.ts) on this hub's clock: a pass at start and
   * every 15 s (or `intervalMs`). Every instance runs one; the row claim makes each escalation
   * happen once. `false`: none on this instance (tests that move the clock and escalate by hand).
   */
  escalation?: false | { intervalMs?: number };
  /**
   * The audit sealer (server/audit.ts): chains the audit rows written since its last pass, a pass
   * at start and every second (or `intervalMs`). Every instance runs one; one seals at a time.
   * `false`: none on this instance (verify-audit and verifyAuditChain seal before verifying).
   */
  auditSealer?: false | { intervalMs?: number };
}

export const SESSION_CACHE_MS = 2000;

export interface Hub {
  app: FastifyInstance;
  db: HubDb;
  policy: SitePolicy;
  instanceId: string;
  events: EventDispatcher;
  /** Starts listening; resolves to the base URL (http://host:port). */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const ReportIdParam = z.object({ reportId: z.string().min(1).max(64) }).strict();
const SinceQuery = z.object({
  since: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  limit: z.coerce.number().int().positive().max(1000).optional(),
});

function invalid(what: string, error: z.ZodError): HubError {
  return new HubError(400, 'invalid-input', `${what}: ${issueText(error, { root: '(body)' })}`, { issues: issueDetails(error) });
}

/**
 * Every string of an input, keys too, as every store keeps it (common/text.ts): a NUL or a lone
 * surrogate anywhere (also in a field whose schema does not say so, such as an addendum's id) is
 * refused here, not left for PostgreSQL to refuse with a 500 or to store altered.
 */
const Storable = z.unknown().superRefine((value, ctx) => refuseUnstorable(value, ctx));

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw invalid(what, r.error);
  const storable = Storable.safeParse(r.data);
  if (!storable.success) throw invalid(what, storable.error);
  return r.data;
}

/** JSON is UTF-8 (RFC 8259 §8.1): other bytes are refused, not decoded to U+FFFD and stored changed. */
function utf8JsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    if (!isUtf8(bytes)) {
      done(new HubError(400, 'invalid-json', 'The body is not valid JSON: it is not UTF-8 text.'), undefined);
      return;
    }
    parseJson(req, bytes.toString('utf8'), done);
  });
}

/** Maps Fastify's and PostgreSQL's errors to the hub's `{ error: { code, message } }`. */
function toHubError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HubError(415, 'unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HubError(413, 'payload-too-large', `The body is larger than the hub accepts (${HUB_BODY_LIMIT} bytes).`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HubError(400, 'invalid-json', 'The body is empty but Content-Type says JSON.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HubError(400, 'invalid-json', `The body is not valid JSON: ${e.message ?? ''}`.trim());
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HubError(400, 'invalid-input', 'Content-Length does not match the body.');
    // PostgreSQL: text PostgreSQL cannot store (NUL, invalid UTF-8), values too long for an index.
    case '22P05':
    case '22021':
    case '54000':
      return new HubError(422, 'invalid-input', `The hub cannot store this text: ${e.message ?? ''}`.trim());
    // A value the client sent that its column cannot hold (a number out of range, text that is
    // no valid JSON for PostgreSQL): the request is at fault, and a 500 would be retried for ever.
    case '22003':
    case '22P02':
    case '22007':
    case '22008':
      return new HubError(422, 'invalid-input', `The hub cannot store this value: ${e.message ?? ''}`.trim());
    default:
      break;
  }
  if (err instanceof SyntaxError || (e.statusCode === 400 && /JSON/i.test(e.message ?? ''))) {
    return new HubError(400, 'invalid-json', `The body is not valid JSON: ${e.message ?? ''}`.trim());
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HubError(e.statusCode, 'invalid-input', e.message ?? 'Bad request.');
  }
  const transient = ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P02', '57P03', '53300', '08006', '08001', '08003', '40001', '40P01'];
  if (e.code && transient.includes(e.code)) {
    return new HubError(503, 'internal', 'The hub\'s database is unavailable right now; retry later.');
  }
  return new HubError(500, 'internal', 'The hub failed to handle this request; it can be retried.');
}

export async function buildHub(opts: BuildHubOptions): Promise<Hub> {
  const policyResult = SitePolicy.safeParse(opts.policy ?? {});
  if (!policyResult.success) throw new Error(`invalid site policy: ${issueText(policyResult.error, { root: '(policy)' })}`);
  const policy = policyResult.data;
  const db = opts.db;
  const clock = opts.clock ?? (() => Date.now());
  const instanceId = opts.instanceId ?? `hub-${crypto.randomBytes(4).toString('hex')}`;
  const pingMs = opts.pingMs ?? 15_000;
  if (opts.migrate !== false) await migrate(db);
  const events = new EventDispatcher(db);
  await events.start();
  const escalation = opts.escalation === false ? null : startEscalationScheduler(db, {
    clock, ...(opts.escalation?.intervalMs ? { intervalMs: opts.escalation.intervalMs } : {}), onEscalated: () => events.announce(),
  });
  const auditSealer = opts.auditSealer === false ? null : startAuditSealer(db, opts.auditSealer?.intervalMs ? { intervalMs: opts.auditSealer.intervalMs } : {});
  const notifier = opts.notifications
    ? startHubNotifications({ db, events }, opts.notifications, { clock, timeZone: policy.calendar.timeZone })
    : null;
  const batcher = new IngestBatcher(db);

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: HUB_BODY_LIMIT,
    forceCloseConnections: true,
    return503OnClosing: true,
    // Every body is parsed with zod (parse() above); no route has a Fastify JSON schema, so no
    // Ajv or fast-json-stringify compiler is built (≈0.2 s of CPU at each start of the embedded
    // hub). A route given a schema anyway fails at start-up instead of going unchecked.
    schemaController: {
      compilersFactory: {
        buildValidator: () => () => {
          throw new Error('hub routes take no JSON schema: parse the input with zod');
        },
        buildSerializer: () => () => {
          throw new Error('hub routes take no response schema');
        },
      },
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Report ids are ≤ 64 characters: longer ones reach the schema (400); absurd ones get 414.
    routerOptions: { maxParamLength: 256 },
    // Errors the router raises before any handler (bad URL encoding, over-long parameters).
    frameworkErrors: (err, _req, rawReply) => {
      const reply = rawReply as unknown as FastifyReply;
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      void reply.code(status).send(new HubError(status, 'invalid-input', err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'A path parameter is far too long.' : `Bad request URL: ${err.message}`).toBody());
    },
  });
  // JSON only: a text/plain body is refused (415), never parsed as a string.
  app.removeContentTypeParser(['text/plain']);
  utf8JsonParser(app);

  /** Open event streams: each one's stop, with its user and how to end it when the user's sessions end. */
  const streams = new Map<() => void, { userId: number; sessionEnded: () => void }>();

  app.setErrorHandler((err, req, reply) => {
    const h = toHubError(err);
    if (h.status >= 500) req.log.error({ err }, 'hub error');
    void reply.code(h.status).send(h.toBody());
  });
  if (opts.loopbackOnly) {
    app.addHook('onRequest', async (req) => {
      const port = (app.server.address() as AddressInfo | null)?.port;
      const host = req.headers.host;
      if (port === undefined || (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)) {
        throw new HubError(403, 'forbidden', 'This hub answers only requests addressed to 127.0.0.1 at its own port.');
      }
      // Its own page (server/web/) is same-origin: browsers send Origin on its POSTs. Any other is refused.
      // Same origin means the very address asked for: a page of 127.0.0.1 calling localhost is another origin.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${host}`) throw new HubError(403, 'forbidden', 'This hub answers no other web page: cross-origin request refused.');
    });
  }
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(new HubError(404, 'not-found', `No such hub route: ${req.method} ${req.url.split('?')[0]}`).toBody());
  });

  // Sessions looked up in the last SESSION_CACHE_MS are reused: this saves a query on every
  // ingest. Logout on this instance clears the entry at once; on another instance the token
  // keeps working for at most SESSION_CACHE_MS. Expiry is checked on every use.
  const sessionCache = new Map<string, { user: SessionUser; until: number }>();
  const cachedSession = async (token: string): Promise<ReturnType<typeof lookupSession>> => {
    const now = clock();
    const hit = sessionCache.get(token);
    if (hit && hit.until > Date.now()) {
      if (Date.parse(hit.user.expires_at) > now) return { ok: true, user: hit.user };
      sessionCache.delete(token);
    }
    const found = await lookupSession(db, token, now);
    if (found.ok) {
      if (sessionCache.size >= 10_000) sessionCache.clear();
      sessionCache.set(token, { user: found.user, until: Date.now() + (opts.sessionCacheMs ?? SESSION_CACHE_MS) });
    } else {
      sessionCache.delete(token);
    }
    return found;
  };
  const forgetSession = (sessionHash: string): void => {
    for (const [t, v] of sessionCache) if (v.user.session_hash === sessionHash) sessionCache.delete(t);
  };
  // An account disabled, its password reset or its sessions revoked (`npm run hub -- user …`,
  // changeAccount): every instance forgets the user's cached sessions and ends their event
  // streams at once, instead of at the next cache expiry or keep-alive.
  const unlistenSessions = await db.listen(sessionChannel(db), (payload) => {
    const userId = Number(payload);
    for (const [t, v] of sessionCache) if (v.user.id === userId) sessionCache.delete(t);
    for (const s of [...streams.values()]) if (s.userId === userId) s.sessionEnded();
  });

  /** The session's user, or 401; with `action`, 403 unless the role may do it. */
  async function auth(req: FastifyRequest, action: HubAction | null): Promise<SessionUser> {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer ([A-Za-z0-9_\-.~+/=]{10,200})$/.exec(header.trim()) : null;
    if (!m) throw new HubError(401, 'unauthenticated', 'Log in first: send Authorization: Bearer <token> from POST /api/session.');
    const found = await cachedSession(m[1]!);
    if (!found.ok) {
      throw found.reason === 'session-expired'
        ? new HubError(401, 'session-expired', 'Your session has ended (expired or logged out). Log in again.')
        : new HubError(401, 'unauthenticated', 'This session token is not known to the hub. Log in again.');
    }
    if (action && !roleMay(found.user.role, action)) {
      throw new HubError(403, 'forbidden', `A ${found.user.role} may not ${ACTION_WORDS[action]}.`);
    }
    return found.user;
  }

  const permissions = (role: Role): HubAction[] => [...ROLE_PERMISSIONS[role]];

  registerWebPages(app, { dir: opts.webDir });
  app.get(HUB_PATHS.health, async (): Promise<HubHealth> => ({ ok: true, instanceId, storage: db.kind, version: HUB_VERSION }));
  if (opts.firstUserSetup) registerFirstUserSetup(app, db, parse);

  app.post(HUB_PATHS.session, async (req, reply): Promise<LoginResponse | undefined> => {
    const body = parse(LoginRequest, req.body, 'login');
    const out = await login(db, policy, body.username, body.password, clock());
    if (!out.ok) {
      if (out.reason === 'locked-out') {
        void reply.header('retry-after', String(out.retryAfterSeconds));
        throw new HubError(429, 'locked-out', `Too many failed logins: try again in ${out.retryAfterSeconds} s.`, { retryAfterSeconds: out.retryAfterSeconds });
      }
      throw new HubError(401, 'unauthenticated', 'Unknown username or wrong password.');
    }
    return { token: out.token, expiresAt: out.expiresAt, user: toHubUser(out.user), permissions: permissions(out.user.role) };
  });

  app.get(HUB_PATHS.session, async (req): Promise<SessionInfo> => {
    const u = await auth(req, null);
    return { user: toHubUser(u), expiresAt: u.expires_at, permissions: permissions(u.role) };
  });

  // The password again before signing (21 CFR 11.200(a)); a wrong one counts towards lockout.
  app.post(HUB_PATHS.sessionConfirm, async (req, reply): Promise<ConfirmSignerResponse> => {
    const u = await auth(req, null);
    const body = parse(ConfirmSignerRequest, req.body, 'signer confirmation');
    const out = await confirmSigner(db, policy, u, body.password, clock());
    if (!out.ok) {
      if (out.reason === 'locked-out') {
        void reply.header('retry-after', String(out.retryAfterSeconds));
        throw new HubError(429, 'locked-out', `Too many wrong passwords: try again in ${out.retryAfterSeconds} s.`, { retryAfterSeconds: out.retryAfterSeconds });
      }
      throw new HubError(403, 'forbidden', 'Wrong password: the signature was not confirmed.');
    }
    return { confirmedAt: out.confirmedAt, idleMinutes: policy.signConfirmIdleMinutes };
  });

  app.delete(HUB_PATHS.session, async (req) => {
    const u = await auth(req, null);
    await logout(db, u.session_hash, u.id, clock());
    forgetSession(u.session_hash);
    events.kick();
    return { ok: true };
  });

  app.get(HUB_PATHS.policy, async (req) => {
    await auth(req, null);
    return policy;
  });

  app.post(HUB_PATHS.ingest, async (req, reply) => {
    const user = await auth(req, null);
    const rawKey = req.headers[IDEMPOTENCY_HEADER];
    if (rawKey === undefined || rawKey === '') {
      throw new HubError(400, 'idempotency-key-missing', 'Send an Idempotency-Key header (created once per signed record, reused on every retry).');
    }
    const key = IdempotencyKey.safeParse(rawKey);
    if (!key.success) throw new HubError(400, 'idempotency-key-invalid', 'The Idempotency-Key must be one value of 8–128 characters from A–Z a–z 0–9 _ . : -.');
    const payload = parse(OutboxPayload, req.body, 'signed record');
    // The role check is part of the ingest rule (server/ingest.ts): the record's transition's action.
    const result = await ingest(db, user, key.data, req.body, payload, clock(), batcher, policy);
    if (result.replayed) void reply.header(REPLAYED_HEADER, 'true');
    else events.announce();
    return reply.code(result.status).type('application/json; charset=utf-8').send(result.bodyText);
  });

  app.get('/api/reports/:reportId', async (req): Promise<HubSignedReport> => {
    const user = await auth(req, 'report:read');
    const { reportId } = parse(ReportIdParam, req.params, 'report id');
    // A referrer reads only their teams' reports: the same answer as for a report the hub does not
    // hold, so the answer never tells which report ids exist.
    const report = (await mayReadReport(db, user, reportId)) ? await readSignedReport(db, reportId) : null;
    if (!report) throw new HubError(404, 'not-found', `The hub holds no signed report ${reportId} that you may read.`);
    return report;
  });

  // ---- alerts (issue 9): lists, detail, acknowledgement, phone calls, the safety dashboard ----

  app.get(ALERT_PATHS.list, async (req): Promise<AlertList> => {
    const user = await auth(req, 'alert:read');
    const q = parse(AlertListQuery, req.query, 'query');
    return { alerts: await listAlerts(db, user, q), now: new Date(clock()).toISOString() };
  });

  app.get('/api/alerts/:reportId', async (req): Promise<AlertDetail> => {
    const user = await auth(req, 'alert:read');
    const { reportId } = parse(ReportIdParam, req.params, 'report id');
    const alert = await readAlert(db, user, reportId, clock(), { timeZone: policy.calendar.timeZone });
    if (takeOpened()) events.announce();
    if (!alert) throw new HubError(404, 'not-found', `No alert ${reportId} is routed to you.`);
    return alert;
  });

  app.post('/api/alerts/:reportId/acknowledge', async (req): Promise<AlertDetail> => {
    const user = await auth(req, 'alert:acknowledge');
    const { reportId } = parse(ReportIdParam, req.params, 'report id');
    const body = parse(AcknowledgeRequest, req.body, 'acknowledgement');
    const alert = await acknowledgeAlert(db, user, reportId, body.actionPlan, clock(), policy.calendar.timeZone);
    events.announce();
    return alert;
  });

  app.post('/api/alerts/:reportId/phone-calls', async (req): Promise<{ added: number }> => {
    const user = await auth(req, 'alert:read');
    const { reportId } = parse(ReportIdParam, req.params, 'report id');
    const body = parse(AlertPhoneCalls, req.body, 'phone calls');
    const added = await addPhoneCalls(db, user, reportId, body.calls, clock());
    if (added > 0) events.announce();
    return { added };
  });

  app.get(ALERT_PATHS.dashboard, async (req): Promise<SafetyDashboard> => {
    const user = await auth(req, 'safety:dashboard');
    return safetyDashboard(db, user, clock());
  });

  app.get(ALERT_PATHS.dashboardCsv, async (req, reply) => {
    const user = await auth(req, 'safety:dashboard');
    const csv = await alertsCsv(db, user);
    return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="failsafe-alerts.csv"').send(csv);
  });

  app.put('/api/drafts/:reportId', async (req) => {
    const user = await auth(req, 'draft:write');
    const { reportId } = parse(ReportIdParam, req.params, 'report id');
    const body = parse(DraftSnapshot, req.body, 'draft snapshot');
    const ack = await putSnapshot(db, user, reportId, body, clock());
    if (ack.applied) events.announce();
    return ack;
  });

  app.get('/api/drafts/:reportId', async (req) => {
    await auth(req, 'draft:read');
    const { reportId } = parse(ReportIdParam, req.params, 'report id');
    return getDraft(db, reportId);
  });

  app.post('/api/drafts/:reportId/take-over', async (req) => {
    const user = await auth(req, 'draft:take-over');
    const { reportId } = parse(ReportIdParam, req.params, 'report id');
    const body = parse(TakeOverRequest, req.body ?? {}, 'take-over');
    const out = await takeOver(db, user, reportId, body, clock());
    events.announce();
    return out;
  });

  app.get(HUB_PATHS.takenFromMe, async (req) => {
    const user = await auth(req, 'draft:write');
    return takenFromMe(db, user);
  });

  app.get(HUB_PATHS.unfinished, async (req) => {
    await auth(req, 'unfinished:list');
    return listUnfinished(db, policy, clock());
  });

  /**
   * Which events a user's stream carries. Draft events only reach roles that may see the
   * unfinished list (a referrer never learns of drafts). A referrer gets no report-signed events
   * (they name patients of every team) and only the alert events of their own teams, unless they
   * hold a site duty (which may make any alert theirs); `scope` is refreshed on each keep-alive.
   */
  const visibleTo = (role: Role, scope: { teams: string[]; duties: string[] } | null) => (e: HubEvent): boolean => {
    if (role === 'referrer') {
      if (e.type !== 'alert-changed' || !scope) return false;
      return scope.duties.length > 0 || (e.teamId !== null && scope.teams.includes(e.teamId));
    }
    if (e.type === 'alert-changed') return roleMay(role, 'alert:read');
    return e.type === 'report-signed' || roleMay(role, 'unfinished:list');
  };
  const scopeOf = async (user: SessionUser) => (user.role === 'referrer' ? userScope(db, user.id) : null);

  app.get(HUB_PATHS.eventLog, async (req): Promise<EventLog> => {
    const user = await auth(req, 'events:subscribe');
    const q = parse(SinceQuery, req.query, 'query');
    const head = events.cursor;
    const list = await events.backlog(q.since ?? 0, q.limit ?? 1000, head);
    return { events: list.filter(visibleTo(user.role, await scopeOf(user))), head };
  });

  app.get(HUB_PATHS.events, async (req, reply: FastifyReply) => {
    const user = await auth(req, 'events:subscribe');
    const q = parse(SinceQuery, req.query, 'query');
    const lastEventId = req.headers['last-event-id'];
    let since = q.since;
    if (since === undefined && typeof lastEventId === 'string' && lastEventId !== '') {
      since = parse(SinceQuery, { since: lastEventId }, 'Last-Event-ID').since;
    }
    // HEAD: the head of the stream's answer, then the end (no stream is opened: a hijacked answer
    // to HEAD never sends its head, and the request would hang with a subscription held).
    if (req.method === 'HEAD') return reply.code(200).type('text/event-stream; charset=utf-8').send();
    let visible = visibleTo(user.role, await scopeOf(user));
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let open = true;
    let live = false;
    const buffered: HubEvent[] = [];
    const head = events.cursor;
    // A client ahead of this database (hub rebuilt) restarts from the head; hello.since tells it.
    let last = since === undefined || since > head ? head : since;
    const write = (text: string): void => {
      if (open) res.write(text);
    };
    const send = (e: HubEvent): void => {
      if (e.seq <= last) return;
      last = e.seq;
      if (visible(e)) write(formatSseEvent({ id: e.seq, data: JSON.stringify(e) }));
    };
    const unsubscribe = events.subscribe((e) => (live ? send(e) : buffered.push(e)));
    const hello: HubHello = { instanceId, head, since: last };
    write(formatSseEvent({ event: 'hello', data: JSON.stringify(hello) }));
    const stop = (): void => {
      if (!open) return;
      open = false;
      unsubscribe();
      clearInterval(ping);
      streams.delete(stop);
      res.end();
    };
    const sessionEnded = (): void => {
      write(formatSseEvent({ event: 'session-ended', data: '{}' }));
      stop();
    };
    streams.set(stop, { userId: user.id, sessionEnded });
    const ping = setInterval(() => {
      write(formatSseComment('ping'));
      // A logged-out or expired session stops receiving events.
      void db.query<{ ok: boolean }>('SELECT (ended_at IS NULL AND expires_at > $2) AS ok FROM sessions WHERE token_hash = $1', [user.session_hash, new Date(clock()).toISOString()])
        .then(async (r) => {
          if (r.rows[0]?.ok !== true) sessionEnded();
          else if (user.role === 'referrer') visible = visibleTo(user.role, await scopeOf(user));
        })
        .catch(() => {});
    }, pingMs);
    ping.unref();
    req.raw.on('close', stop);
    res.on('error', stop);
    try {
      // Catch-up: everything after `last` this instance has delivered, then the live buffer.
      for (;;) {
        const page = await events.backlog(last, 1000, head);
        for (const e of page) send(e);
        if (page.length < 1000) break;
      }
    } catch {
      stop();
      return;
    }
    live = true;
    for (const e of buffered.splice(0)) send(e);
  });

  return {
    app,
    db,
    policy,
    instanceId,
    events,
    async listen(port = 0, host = '127.0.0.1'): Promise<string> {
      await app.listen({ port, host });
      const addr = app.server.address();
      if (!addr || typeof addr === 'string') throw new Error('hub: no TCP address');
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return `http://${h}:${addr.port}`;
    },
    async close(): Promise<void> {
      await unlistenSessions().catch(() => {});
      for (const stop of [...streams.keys()]) stop();
      await escalation?.stop();
      await auditSealer?.stop();
      await notifier?.stop();
      await app.close();
      await events.close();
      if (opts.ownsDb) await db.close();
    },
  };
}
