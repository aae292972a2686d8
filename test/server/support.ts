// Hub test support: a database per test file (a unique PostgreSQL schema, dropped afterwards, or
// one in-memory PGlite), users with a cheap scrypt cost, signed payloads hashed exactly as the
// workstation hashes them, a JSON HTTP client and a server-sent-events client.
import crypto from 'node:crypto';
import type { HubEvent, HubHello, LoginResponse } from '../../common/hub.ts';
import { SseParser } from '../../common/sse.ts';
import { addendumSignedPayload, type AddendumPayload, type SignedReportPayload, type VerificationPayload } from '../../common/hubPayload.ts';
import { signedPayload, type ExamDetails, type Profile, type ReportContent, type Role, type StudyRef } from '../../common/report.ts';
import { buildHub, type BuildHubOptions, type Hub } from '../../server/app.ts';
import { createUser } from '../../server/auth.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { migrate, MIGRATIONS, type Migration } from '../../server/db/migrations.ts';
import { dropPgSchema, openPg } from '../../server/db/pg.ts';
import { openPglite } from '../../server/db/pglite.ts';

export type DbKind = 'postgres' | 'pglite';

export const PG_URL = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';

/** Cheap scrypt for test users (the stored parameters are used to verify, so logins stay correct). */
export const TEST_COST = { N: 1024, r: 8, p: 1 };

export interface TestDb {
  kind: DbKind;
  schema: string | null;
  open(): Promise<HubDb>;
  cleanup(): Promise<void>;
}

/**
 * A fresh database for one test file. PostgreSQL: a unique schema; PGlite: one in-memory instance.
 * Migrated by `migrations` (default: all of them; fewer for a test of a later migration).
 */
export async function testDb(kind: DbKind, label: string, migrations: readonly Migration[] = MIGRATIONS): Promise<TestDb & { db: HubDb }> {
  if (kind === 'postgres') {
    const schema = `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
    const opened: HubDb[] = [];
    const open = async (): Promise<HubDb> => {
      const db = await openPg({ connectionString: PG_URL, schema, max: 40 });
      opened.push(db);
      return db;
    };
    const db = await open();
    await migrate(db, migrations);
    return {
      kind, schema, db, open,
      async cleanup() {
        for (const d of opened) await d.close().catch(() => {});
        await dropPgSchema(PG_URL, schema);
      },
    };
  }
  const db = await openPglite();
  await migrate(db, migrations);
  return {
    kind, schema: null, db,
    open: async () => db,
    async cleanup() { await db.close(); },
  };
}

/** A test clock: real time plus an offset the test can move. */
export class TestClock {
  offset = 0;
  now = (): number => Date.now() + this.offset;
  advanceHours(h: number): void { this.offset += h * 3600_000; }
}

export interface TestHub {
  hub: Hub;
  url: string;
  clock: TestClock;
  close(): Promise<void>;
}

export async function startTestHub(db: HubDb, opts: Partial<BuildHubOptions> = {}): Promise<TestHub> {
  const clock = new TestClock();
  // No escalation scheduler unless a test asks for one: tests move this clock by hours (stale
  // drafts, expired sessions) and would otherwise escalate their alerts as a side effect.
  const hub = await buildHub({ db, clock: clock.now, escalation: false, ...opts });
  const url = await hub.listen(0, '127.0.0.1');
  return { hub, url, clock, close: () => hub.close() };
}

let userCounter = 0;
export const uniq = (p: string): string => `${p}-${process.pid}-${++userCounter}-${crypto.randomBytes(3).toString('hex')}`;

export interface TestUser extends Profile {
  username: string;
  password: string;
}

export async function addUser(db: HubDb, role: Role, name?: string): Promise<TestUser> {
  const username = uniq(role);
  const u = {
    username,
    name: name ?? `Dr ${role} ${username.slice(-6)}`,
    role,
    registration: `REG ${username.slice(-10)}`,
    password: `pw-${crypto.randomBytes(8).toString('hex')}`,
  };
  await createUser(db, u, { cost: TEST_COST });
  return u;
}

export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export async function http<T = unknown>(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  let body: string | Buffer | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: body as BodyInit } : {}) });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export async function loginAs(base: string, u: TestUser): Promise<string> {
  const r = await http<LoginResponse>(base, 'POST', '/api/session', { body: { username: u.username, password: u.password } });
  if (r.status !== 200) throw new Error(`login ${u.username}: ${r.status} ${r.text}`);
  return r.body.token;
}

export const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

export const studyFor = (n: string): StudyRef => ({ patientId: `PAT-${n}`.slice(0, 64), studyUid: `1.2.826.0.1.3680043.8.498.${crypto.randomInt(1e9)}` });

export { signableContent } from '../support/reportFixtures.ts';
import { signableContent } from '../support/reportFixtures.ts';

/** The exam a workstation reads from the DICOM index; `requester` '' makes a study with no requester. */
export function examFor(study: StudyRef, requester = 'SMITH^Jane^^Dr', service = 'Emergency Department'): ExamDetails {
  return {
    patientName: 'DOE^John', birthDate: '19600101', sex: 'M', accession: `ACC${study.studyUid.slice(-8)}`, modality: 'CT',
    studyDescription: 'CT head without contrast', studyDate: '20261128', studyTime: '093000', referringPhysician: requester, requestingService: service,
  };
}

/**
 * A signed report payload exactly as the workstation's ReportStore produces it: a final report,
 * or (meaning 'provisional') a trainee's; with the exam bound in unless `exam: null` (an outbox row
 * written before exams were recorded).
 */
export function signedReport(signer: Profile, opts: {
  id?: string; study?: StudyRef; content?: ReportContent; signedAt?: string; meaning?: 'final-report' | 'provisional'; exam?: ExamDetails | null;
} = {}): SignedReportPayload {
  const id = opts.id ?? crypto.randomUUID();
  const study = opts.study ?? studyFor(id.slice(0, 8));
  const content = opts.content ?? signableContent();
  const signedAt = opts.signedAt ?? new Date().toISOString();
  const meaning = opts.meaning ?? 'final-report';
  const exam = opts.exam === null ? undefined : opts.exam ?? examFor(study);
  const who = { name: signer.name, role: signer.role, registration: signer.registration };
  const contentHash = sha256(signedPayload(content, study, who, signedAt, meaning, exam));
  return {
    kind: 'report',
    report: { id, study, ...(exam ? { exam } : {}), content, signature: { ...who, signedAt, meaning, contentHash }, author: signer.name, createdAt: signedAt },
  };
}

/** A trainer's verification of a provisional report payload, hashed as the workstation hashes it. */
export function verificationOf(trainer: Profile, provisional: SignedReportPayload, opts: { provisionalHash?: string; signedAt?: string } = {}): VerificationPayload {
  const r = provisional.report;
  const who = { name: trainer.name, role: trainer.role, registration: trainer.registration };
  const signedAt = opts.signedAt ?? new Date().toISOString();
  const provisionalHash = opts.provisionalHash ?? r.signature.contentHash;
  const contentHash = sha256(signedPayload(r.content, r.study, who, signedAt, 'verification', r.exam, { provisionalHash }));
  return { kind: 'verification', reportId: r.id, provisionalHash, signature: { ...who, signedAt, meaning: 'verification', contentHash } };
}

export function signedAddendum(signer: Profile, report: SignedReportPayload, text = 'Addendum: comparison with outside CT shows no change.', originalHash = report.report.signature.contentHash, signedAt = new Date().toISOString()): AddendumPayload {
  const who = { name: signer.name, role: signer.role, registration: signer.registration };
  const contentHash = sha256(addendumSignedPayload({ reportId: report.report.id, originalHash, text, signer: who, signedAt }));
  return { kind: 'addendum', reportId: report.report.id, originalHash, addendum: { id: crypto.randomUUID(), text, signature: { ...who, signedAt, meaning: 'addendum', contentHash } } };
}

export function post(base: string, token: string, payload: unknown, key: string = crypto.randomUUID()): Promise<HttpResult> {
  return http(base, 'POST', '/api/ingest', { token, body: payload, headers: { 'idempotency-key': key } });
}

// ---- server-sent events ----------------------------------------------------------------------

export interface SseClient {
  hello: Promise<HubHello>;
  events: HubEvent[];
  /** Resolves with the first event (already received or future) matching `pred`. */
  waitFor(pred: (e: HubEvent) => boolean, timeoutMs?: number): Promise<HubEvent>;
  ended: Promise<string>;
  close(): void;
}

export function openSse(base: string, token: string, opts: { since?: number; lastEventId?: number } = {}): SseClient {
  const ac = new AbortController();
  const events: HubEvent[] = [];
  const waiters: { pred: (e: HubEvent) => boolean; resolve: (e: HubEvent) => void }[] = [];
  let resolveHello!: (h: HubHello) => void;
  let rejectHello!: (e: unknown) => void;
  const hello = new Promise<HubHello>((res, rej) => { resolveHello = res; rejectHello = rej; });
  const qs = opts.since !== undefined ? `?since=${opts.since}` : '';
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  if (opts.lastEventId !== undefined) headers['last-event-id'] = String(opts.lastEventId);
  const ended = (async (): Promise<string> => {
    try {
      const res = await fetch(`${base}/api/events${qs}`, { headers, signal: ac.signal });
      if (res.status !== 200 || !res.body) {
        rejectHello(new Error(`events: ${res.status} ${await res.text()}`));
        return `status ${res.status}`;
      }
      const decoder = new TextDecoder();
      const parser = new SseParser();
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const { event: name, data } of parser.push(decoder.decode(chunk, { stream: true }))) {
          const json = JSON.parse(data) as unknown;
          if (name === 'hello') resolveHello(json as HubHello);
          else if (name === 'message') {
            const e = json as HubEvent;
            events.push(e);
            for (const w of [...waiters]) {
              if (w.pred(e)) {
                waiters.splice(waiters.indexOf(w), 1);
                w.resolve(e);
              }
            }
          } else if (name === 'session-ended') return 'session-ended';
        }
      }
      return 'eof';
    } catch (err) {
      rejectHello(err);
      return ac.signal.aborted ? 'closed' : `error ${(err as Error).message}`;
    }
  })();
  return {
    hello,
    events,
    ended,
    waitFor(pred, timeoutMs = 10_000) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => [e.seq, e.type]))}`)), timeoutMs);
        waiters.push({ pred, resolve: (e) => { clearTimeout(t); resolve(e); } });
      });
    },
    close() { ac.abort(); },
  };
}

/** One hub on its own PGlite database with a logged-in radiologist, for a test file; close() ends both. */
/** A test hub on a database of its own (`kind`, named by `label`); close() ends both. */
export async function openTestHub(kind: DbKind, label: string, opts: Partial<BuildHubOptions> = {}): Promise<{ db: HubDb; t: TestHub; url: string; close(): Promise<void> }> {
  const d = await testDb(kind, label);
  const t = await startTestHub(d.db, opts);
  return {
    db: d.db, t, url: t.url,
    close: async () => {
      await t.close();
      await d.cleanup();
    },
  };
}

export async function hubWithRadiologist(label: string): Promise<{ db: HubDb; hub: TestHub; rad: TestUser; token: string; close(): Promise<void> }> {
  const { db, t: hub, close } = await openTestHub('pglite', label);
  const rad = await addUser(db, 'radiologist');
  const token = await loginAs(hub.url, rad);
  return { db, hub, rad, token, close };
}

/** The hub's answer to a refused request. */
export type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

/** The error code of a refused request's answer (undefined when it was not refused). */
export const errorCode = (r: { body: unknown }): string => (r.body as ErrorBody).error?.code;

/** How many rows `sql` names: a table and its condition, e.g. `signatures WHERE report_id = $1`. */
export async function count(db: Pick<HubDb, 'query'>, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params);
  return rows[0]!.n;
}
