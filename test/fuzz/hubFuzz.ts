// The hub's surface fuzzed: a valid request for each route (a signed report, an addendum, a
// verification, a draft snapshot, a take-over, a login…), built from the same fixtures the hub
// tests use and signed as the logged-in user, then mutated (test/fuzz/mutate.ts). `hubRequest` is
// pure given its context; `openHubFuzzTarget` starts a hub on PostgreSQL with users of every role;
// `runHubFuzz` sends the requests and checks every answer. Shared by test/fuzz/hub.fuzz.test.ts and
// bench/fuzz.bench.ts.
import { AcknowledgeRequest, ALERT_PATHS, AlertDetail, AlertList, AlertPhoneCalls, SafetyDashboard } from '../../common/alerts.ts';
import { z } from 'zod';
import {
  ConfirmSignerResponse, DraftAck, DraftSnapshot, DraftWithHistory, EventLog, HUB_BODY_LIMIT, HUB_PATHS, HubErrorCode, HubHealth, HubSignedReport,
  IngestReceipt, LoginResponse, OutboxPayload, SessionInfo, SitePolicy, TakenFromMeList, TakeOverResponse, UnfinishedList,
} from '../../common/hub.ts';
import type { SignedReportPayload } from '../../common/hubPayload.ts';
import { ROLES, type Role } from '../../common/lifecycle.ts';
import type { StudyRef } from '../../common/report.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { addUser, count, http, loginAs, openTestHub, post, signableContent, signedAddendum, signedReport, verificationOf, type TestUser } from '../server/support.ts';
import { mutateBody, ODD_CONTENT_TYPES, ODD_HEADER_VALUES, ODD_METHODS, ODD_PATH_SEGMENTS, Rng } from './mutate.ts';
import { runFuzz, type Exchange, type FuzzReport, type FuzzRequest } from './send.ts';

export interface FuzzUser extends TestUser {
  token: string;
}

/** What the generator may refer to: who is logged in, what the hub already holds. */
export interface HubFuzzContext {
  users: Record<Role, FuzzUser>;
  /** Final reports the hub holds (signed by the radiologist): addenda attach to them. */
  finals: SignedReportPayload[];
  /** Provisional reports the hub holds (signed by the trainee): the trainer verifies them. */
  provisionals: SignedReportPayload[];
  /** Drafts the hub holds (the radiologist's): snapshots, reads and take-overs name them. */
  draftIds: string[];
  /** Sessions a valid logout may end (never the users' own tokens, which the run needs). */
  spareTokens: string[];
  /** The hub's clock (a signature must not lie in its future). */
  now(): number;
}

/** The generator's memory between requests: keys already sent (a replay with another body is a 422, never a 5xx). */
export interface HubFuzzState {
  keys: string[];
  spareUsed: number;
  revision: number;
}

export const newHubFuzzState = (): HubFuzzState => ({ keys: [], spareUsed: 0, revision: 1 });

interface ValidRequest {
  target: string;
  method: string;
  /** Path template (`:reportId`) and its parameter, so a mutation can replace the parameter. */
  path: string;
  param?: string;
  query?: string;
  user: FuzzUser | null;
  token?: string;
  body?: unknown;
  idempotencyKey?: string;
  stream?: boolean;
}

const studyOf = (rng: Rng): StudyRef => ({ patientId: `FZ-${rng.int(1e9)}`, studyUid: `1.2.826.0.1.3680043.8.498.${rng.int(1e9)}.${rng.int(1e9)}` });

/** A valid request for one route, as the given (or a fitting) user would send it. */
function validHubRequest(rng: Rng, ctx: HubFuzzContext, state: HubFuzzState): ValidRequest {
  const u = ctx.users;
  const anyUser = (): FuzzUser => u[rng.pick(ROLES)];
  const signedAt = (): string => new Date(ctx.now() - rng.int(60_000)).toISOString();
  const key = (): string => rng.uuid();
  const target = rng.weighted<string>([
    [10, 'ingest:report'], [3, 'ingest:addendum'], [2, 'ingest:verification'], [6, 'draft:put'], [2, 'draft:get'], [2, 'draft:take-over'],
    [2, 'report:get'], [2, 'session:login'], [1, 'session:get'], [1, 'session:confirm'], [1, 'session:logout'], [1, 'policy'],
    [1, 'unfinished'], [1, 'taken-from-me'], [1, 'events:log'], [0.3, 'events:stream'], [0.5, 'health'], [0.5, 'unknown'],
    [1, 'alerts:list'], [1, 'alert:get'], [1, 'alert:ack'], [0.5, 'alert:phone'], [0.5, 'safety:dashboard'],
  ]);
  const someReport = (): string => (rng.chance(0.7) && ctx.finals.length > 0 ? rng.pick(ctx.finals).report.id : rng.uuid());
  switch (target) {
    case 'ingest:report': {
      const user = rng.weighted([[4, u.radiologist], [2, u.locum], [3, u.trainee], [1, anyUser()]]);
      const payload = signedReport(user, {
        id: rng.uuid(), study: studyOf(rng), signedAt: signedAt(), meaning: user.role === 'trainee' ? 'provisional' : 'final-report',
        content: signableContent(` Fuzz ${rng.int(1e6)}.`),
      });
      return { target, method: 'POST', path: HUB_PATHS.ingest, user, body: payload, idempotencyKey: key() };
    }
    case 'ingest:addendum': {
      const user = rng.weighted([[3, u.radiologist], [1, u.locum], [1, anyUser()]]);
      return { target, method: 'POST', path: HUB_PATHS.ingest, user, body: signedAddendum(user, rng.pick(ctx.finals), `Addendum ${rng.int(1e6)}: no change.`), idempotencyKey: key() };
    }
    case 'ingest:verification': {
      const user = rng.weighted([[4, u.trainer], [1, anyUser()]]);
      return { target, method: 'POST', path: HUB_PATHS.ingest, user, body: verificationOf(user, rng.pick(ctx.provisionals), { signedAt: signedAt() }), idempotencyKey: key() };
    }
    case 'draft:put': {
      const user = rng.weighted([[4, u.radiologist], [2, u.trainee], [1, anyUser()]]);
      const reportId = rng.chance(0.5) ? rng.pick(ctx.draftIds) : rng.uuid();
      const body: DraftSnapshot = {
        study: studyOf(rng), content: signableContent(` Typing ${rng.int(1e6)}.`), revision: state.revision++,
        lastActivity: new Date(ctx.now()).toISOString(), ...(rng.chance(0.2) ? { closed: true } : {}),
      };
      return { target, method: 'PUT', path: '/api/drafts/:reportId', param: reportId, user, body };
    }
    case 'draft:get':
      return { target, method: 'GET', path: '/api/drafts/:reportId', param: rng.chance(0.7) ? rng.pick(ctx.draftIds) : rng.uuid(), user: anyUser() };
    case 'draft:take-over': {
      const user = rng.weighted([[3, u.radiologist], [2, u.locum], [1, anyUser()]]);
      const body = { reason: 'Author off sick; finishing the report.', ...(rng.chance(0.3) ? { expectedOwner: u.radiologist.username } : {}) };
      return { target, method: 'POST', path: '/api/drafts/:reportId/take-over', param: rng.pick(ctx.draftIds), user, body };
    }
    case 'report:get': {
      const id = rng.chance(0.7) ? rng.pick([...ctx.finals, ...ctx.provisionals]).report.id : rng.uuid();
      return { target, method: 'GET', path: '/api/reports/:reportId', param: id, user: anyUser() };
    }
    case 'session:login': {
      const user = anyUser();
      return { target, method: 'POST', path: HUB_PATHS.session, user: null, body: { username: user.username, password: user.password } };
    }
    case 'session:get':
      return { target, method: 'GET', path: HUB_PATHS.session, user: anyUser() };
    case 'session:confirm': {
      const user = anyUser();
      return { target, method: 'POST', path: HUB_PATHS.sessionConfirm, user, body: { password: user.password } };
    }
    case 'session:logout': {
      // A spare session while one is left; after that a token the hub does not know (401).
      const token = ctx.spareTokens[state.spareUsed++] ?? `spent-${rng.uuid()}`;
      return { target, method: 'DELETE', path: HUB_PATHS.session, user: null, token };
    }
    case 'policy':
      return { target, method: 'GET', path: HUB_PATHS.policy, user: anyUser() };
    case 'unfinished':
      return { target, method: 'GET', path: HUB_PATHS.unfinished, user: anyUser() };
    case 'taken-from-me':
      return { target, method: 'GET', path: HUB_PATHS.takenFromMe, user: anyUser() };
    case 'events:log':
      return { target, method: 'GET', path: HUB_PATHS.eventLog, query: `since=${rng.int(50)}&limit=${1 + rng.int(100)}`, user: anyUser() };
    case 'events:stream':
      return { target, method: 'GET', path: HUB_PATHS.events, query: `since=${rng.int(50)}`, user: anyUser(), stream: true };
    case 'health':
      return { target, method: 'GET', path: HUB_PATHS.health, user: null };
    case 'alerts:list':
      return { target, method: 'GET', path: ALERT_PATHS.list, query: `scope=${rng.pick(['mine', 'signed-by-me', 'all'])}&state=${rng.pick(['open', 'acknowledged', 'any'])}`, user: anyUser() };
    case 'alert:get':
      return { target, method: 'GET', path: '/api/alerts/:reportId', param: someReport(), user: anyUser() };
    case 'alert:ack':
      return { target, method: 'POST', path: '/api/alerts/:reportId/acknowledge', param: someReport(), user: anyUser(), body: { actionPlan: `Reviewed; plan ${rng.int(1e6)} agreed with the team.` } };
    case 'alert:phone': {
      const t = new Date(ctx.now() - rng.int(600_000)).toISOString();
      return {
        target, method: 'POST', path: '/api/alerts/:reportId/phone-calls', param: someReport(), user: rng.pick([u.radiologist, anyUser()]),
        body: { calls: [{ id: rng.uuid(), clinician: 'Dr Who', role: 'ED registrar', time: t, note: '', recordedBy: u.radiologist.name, recordedAt: t }] },
      };
    }
    case 'safety:dashboard':
      return { target, method: 'GET', path: ALERT_PATHS.dashboard, user: anyUser() };
    default:
      return { target: 'unknown', method: rng.pick(['GET', 'POST']), path: `/api/${rng.pick(['admin', 'users', 'reports', 'ingest/x', 'session/x'])}`, user: anyUser() };
  }
}

const ODD_QUERIES = [
  'since=-1', 'since=NaN', 'since=1e309', 'since=9007199254740993', 'limit=0', 'limit=100000', 'since[]=1', 'since=1&since=2', 'since=%00', 'since=',
  'limit=-5', 'since=0x10', 'since=1.5', 'since=%E0%A4%A', '__proto__[admin]=1', 'constructor[prototype][x]=1', '%', 'since=' + '9'.repeat(400),
];

/** One fuzz request: the valid request for a route, then (nine times in ten) mutated. */
export function hubRequest(rng: Rng, ctx: HubFuzzContext, state: HubFuzzState): FuzzRequest {
  const v = validHubRequest(rng, ctx, state);
  const mutations: string[] = [];
  let method = v.method;
  let param = v.param !== undefined ? encodeURIComponent(v.param) : undefined;
  let query = v.query;
  let token = v.token ?? v.user?.token;
  let contentType: string | null = v.body !== undefined ? 'application/json' : null;
  let key = v.idempotencyKey;
  let body = v.body !== undefined ? mutateBody(rng, v.body, { bodyLimit: HUB_BODY_LIMIT, mutate: false }).body : undefined;

  if (!rng.chance(0.1)) {
    const kinds = rng.weighted<string[]>([[7, ['body']], [1, ['header']], [1, ['path']], [0.3, ['method']], [0.7, ['body', 'header']]]);
    for (const kind of kinds) {
      if (kind === 'body' && v.body !== undefined) {
        const m = mutateBody(rng, v.body, { bodyLimit: HUB_BODY_LIMIT });
        body = m.body;
        mutations.push(...m.mutations);
      } else if (kind === 'body' || kind === 'header') {
        const what = rng.weighted<string>([[3, 'auth'], [2, 'content-type'], [v.idempotencyKey !== undefined ? 4 : 0, 'idempotency-key'], [1, 'body-on-get']]);
        if (what === 'auth') {
          const choice = rng.int(7);
          // Another user's token, except on a logout (that would end a session the run needs).
          const other = v.method === 'DELETE' ? `z${rng.uuid()}` : ctx.users[rng.pick(ROLES)].token;
          token = [undefined, `x${rng.uuid()}`, rng.pick(ODD_HEADER_VALUES), other, `${token ?? ''} extra`, '', 'a'.repeat(201)][choice];
          mutations.push(`auth:${choice}`);
        } else if (what === 'content-type') {
          contentType = rng.pick(ODD_CONTENT_TYPES);
          mutations.push(`content-type:${contentType}`);
        } else if (what === 'idempotency-key') {
          const choice = rng.int(3);
          key = choice === 0 ? undefined : choice === 1 ? rng.pick(ODD_HEADER_VALUES) : state.keys.length ? rng.pick(state.keys) : undefined;
          mutations.push(`idempotency-key:${['missing', 'odd', 'reused'][choice]}`);
        } else {
          body = Buffer.from('{"unexpected":"body"}');
          contentType = 'application/json';
          mutations.push('body-on-get');
        }
      } else if (kind === 'path') {
        if (param !== undefined) {
          param = rng.pick(ODD_PATH_SEGMENTS);
          mutations.push(`param:${param.slice(0, 40)}`);
        } else if (rng.chance(0.5)) {
          query = rng.pick(ODD_QUERIES);
          mutations.push(`query:${query.slice(0, 40)}`);
        } else {
          const seg = rng.pick(ODD_PATH_SEGMENTS);
          v.path = `${v.path}/${seg}`;
          mutations.push(`path:+${seg.slice(0, 40)}`);
        }
      } else if (kind === 'method') {
        // Never DELETE /api/session with a user's own token: that is a valid logout the run needs undone.
        method = rng.pick(ODD_METHODS.filter((m) => m !== method && !(m === 'DELETE' && v.path === HUB_PATHS.session)));
        mutations.push(`method:${method}`);
      }
    }
  }
  if (key !== undefined && key !== '' && !state.keys.includes(key) && state.keys.length < 500) state.keys.push(key);
  const headers: Record<string, string> = {};
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  if (contentType !== null && body !== undefined) headers['content-type'] = contentType;
  if (key !== undefined) headers['idempotency-key'] = key;
  const path = `${param !== undefined ? v.path.replace(':reportId', param) : v.path}${query !== undefined ? `?${query}` : ''}`;
  return { target: v.target, method, path, headers, ...(body !== undefined ? { body } : {}), mutations, ...(v.stream ? { stream: true } : {}) };
}

// ---- what an answer may be ---------------------------------------------------------------------------

/** A valid answer's schema for each route the hub has (method and path template). */
const ANSWERS: [method: string, path: RegExp, schema: z.ZodType][] = [
  ['GET', /^\/api\/health$/, HubHealth],
  ['POST', /^\/api\/session$/, LoginResponse],
  ['GET', /^\/api\/session$/, SessionInfo],
  ['DELETE', /^\/api\/session$/, z.object({ ok: z.literal(true) })],
  ['POST', /^\/api\/session\/confirm$/, ConfirmSignerResponse],
  ['GET', /^\/api\/policy$/, SitePolicy],
  ['POST', /^\/api\/ingest$/, IngestReceipt],
  ['GET', /^\/api\/reports\/[^/]+$/, HubSignedReport],
  ['GET', /^\/api\/drafts\/taken-from-me$/, TakenFromMeList],
  ['PUT', /^\/api\/drafts\/[^/]+$/, DraftAck],
  ['GET', /^\/api\/drafts\/[^/]+$/, DraftWithHistory],
  ['POST', /^\/api\/drafts\/[^/]+\/take-over$/, TakeOverResponse],
  ['GET', /^\/api\/unfinished$/, UnfinishedList],
  ['GET', /^\/api\/events\/log$/, EventLog],
  ['GET', /^\/api\/alerts$/, AlertList],
  ['GET', /^\/api\/alerts\/[^/]+$/, AlertDetail],
  ['POST', /^\/api\/alerts\/[^/]+\/acknowledge$/, AlertDetail],
  ['POST', /^\/api\/alerts\/[^/]+\/phone-calls$/, z.object({ added: z.number().int().nonnegative() }).strict()],
  ['GET', /^\/api\/safety\/dashboard$/, SafetyDashboard],
];

/** The hub's error body with one of its own codes. */
const StrictHubErrorBody = z.object({ error: z.object({ code: HubErrorCode, message: z.string().min(1), details: z.record(z.string(), z.unknown()).optional() }).strict() }).strict();

/** A body as the hub reads it: UTF-8 JSON, a leading byte-order mark ignored (RFC 8259 §8.1 allows that). */
const jsonOf = (b: Buffer): unknown => {
  try {
    return JSON.parse(b.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
};

/** What is wrong with one answer, or null. `accepted` notes the writes a 2xx answer stands for. */
export function hubAnswerProblem(e: Exchange): string | null {
  const { request: r, answer: a } = e;
  if (a.status === -1) return null; // never sent (the client refused it): nothing to judge
  if (a.status === 0) return `no answer (${a.error})`;
  if (a.status >= 500) return `answered ${a.status}`;
  const pathname = r.path.split('?')[0]!;
  // An answer to HEAD has no body, whatever its status.
  if (r.method === 'HEAD') return a.body.length === 0 ? null : 'HEAD answered with a body';
  if (a.status >= 400) {
    const parsed = StrictHubErrorBody.safeParse(jsonOf(a.body));
    return parsed.success ? null : `error ${a.status} is not the hub's error shape: ${a.body.toString('utf8').slice(0, 300)}`;
  }
  if (r.stream && pathname === HUB_PATHS.events) {
    return String(a.headers['content-type']).startsWith('text/event-stream') ? null : `event stream answered ${a.headers['content-type']}`;
  }
  const route = ANSWERS.find(([m, p]) => m === r.method && p.test(pathname));
  if (!route) return `${a.status} from no route of the hub's contract`;
  const parsed = route[2].safeParse(jsonOf(a.body));
  if (!parsed.success) return `${a.status} answer does not parse as the contract says: ${parsed.error.message.slice(0, 300)}`;
  // A write the hub accepted must have been a valid request: the body parses as the hub's schema.
  const sent = r.body === undefined ? undefined : jsonOf(r.body);
  if (r.method === 'POST' && pathname === HUB_PATHS.ingest && !OutboxPayload.safeParse(sent).success) return `accepted an ingest body that is not a valid OutboxPayload`;
  if (r.method === 'PUT' && !DraftSnapshot.safeParse(sent).success) return `accepted a draft snapshot that is not valid`;
  if (r.method === 'POST' && pathname.endsWith('/acknowledge') && !AcknowledgeRequest.safeParse(sent).success) return `accepted an acknowledgement that is not valid`;
  if (r.method === 'POST' && pathname.endsWith('/phone-calls') && !AlertPhoneCalls.safeParse(sent).success) return `accepted phone calls that are not valid`;
  return null;
}

// ---- the target ---------------------------------------------------------------------------------------

export interface HubFuzzTarget {
  url: string;
  port: number;
  db: HubDb;
  ctx: HubFuzzContext;
  close(): Promise<void>;
}

/** A hub on PostgreSQL (a schema of its own, dropped by close) with a logged-in user of every role and some records to refer to. */
export async function openHubFuzzTarget(label: string, spareSessions = 40): Promise<HubFuzzTarget> {
  const opened = await openTestHub('postgres', label);
  try {
    const users = {} as Record<Role, FuzzUser>;
    for (const role of ROLES) {
      const user = await addUser(opened.db, role);
      users[role] = { ...user, token: await loginAs(opened.url, user) };
    }
    const store = async (token: string, payload: SignedReportPayload): Promise<SignedReportPayload> => {
      const r = await post(opened.url, token, payload);
      if (r.status !== 201) throw new Error(`seed report: ${r.status} ${r.text}`);
      return payload;
    };
    const finals = await Promise.all(Array.from({ length: 5 }, () => store(users.radiologist.token, signedReport(users.radiologist))));
    const provisionals = await Promise.all(Array.from({ length: 20 }, () => store(users.trainee.token, signedReport(users.trainee, { meaning: 'provisional' }))));
    const draftIds: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = `fuzz-draft-${i}`;
      const r = await http(opened.url, 'PUT', HUB_PATHS.draft(id), {
        token: users.radiologist.token,
        body: { study: { patientId: `FZD-${i}`, studyUid: `1.2.3.${i}` }, content: signableContent(), revision: 1, lastActivity: new Date().toISOString() },
      });
      if (r.status !== 200) throw new Error(`seed draft: ${r.status} ${r.text}`);
      draftIds.push(id);
    }
    const spare = users['safety-lead'];
    // One after another: parallel logins of one account count as attempts in flight (server/auth.ts reserve()).
    const spareTokens: string[] = [];
    for (let i = 0; i < spareSessions; i++) spareTokens.push(await loginAs(opened.url, spare));
    const port = Number(new URL(opened.url).port);
    return { url: opened.url, port, db: opened.db, ctx: { users, finals, provisionals, draftIds, spareTokens, now: opened.t.clock.now }, close: opened.close };
  } catch (err) {
    await opened.close();
    throw err;
  }
}

export interface HubFuzzReport extends FuzzReport {
  /** Signed reports (report ids) the hub answered 201 for. */
  storedReportIds: Set<string>;
  addenda201: number;
  verifications201: number;
}

/** Sends `count` fuzz requests (seeded) to the target and checks each answer. */
export async function runHubFuzz(t: HubFuzzTarget, opts: { count: number; seed: number; concurrency?: number }): Promise<HubFuzzReport> {
  const rng = new Rng(opts.seed);
  const state = newHubFuzzState();
  const stored = { storedReportIds: new Set<string>(), addenda201: 0, verifications201: 0 };
  const observe = (e: Exchange): void => {
    if (e.answer.status !== 201 || e.request.method !== 'POST' || e.request.path.split('?')[0] !== HUB_PATHS.ingest) return;
    const receipt = IngestReceipt.safeParse(jsonOf(e.answer.body));
    if (!receipt.success) return;
    if (receipt.data.kind === 'report') stored.storedReportIds.add(receipt.data.reportId);
    if (receipt.data.kind === 'addendum') stored.addenda201++;
    if (receipt.data.kind === 'verification') stored.verifications201++;
  };
  const report = await runFuzz({
    port: t.port, count: opts.count, seed: opts.seed, concurrency: opts.concurrency ?? 8, make: () => hubRequest(rng, t.ctx, state), problem: hubAnswerProblem, observe,
  });
  return { ...report, ...stored };
}

/** What the hub's tables hold that the fuzz could have written. */
export async function hubHoldings(db: HubDb): Promise<{ reportIds: Set<string>; addenda: number; verifications: number }> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM signed_reports');
  return {
    reportIds: new Set(rows.map((r) => r.id)),
    addenda: await count(db, 'addenda'),
    verifications: await count(db, "signatures WHERE meaning = 'verification'"),
  };
}
