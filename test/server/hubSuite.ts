// The hub's behaviour, defined once and run against both storages: hub.postgres.test.ts (a
// unique schema on real PostgreSQL) and hub.pglite.test.ts (one in-memory PGlite per file).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DraftAck as DraftAckSchema, DraftWithHistory as DraftWithHistorySchema, EventLog, HubErrorBody, HubEvent, HubHealth, HubHello,
  HubSignedReport as HubSignedReportSchema, IngestReceipt as IngestReceiptSchema, LoginResponse as LoginResponseSchema, SessionInfo,
  SitePolicy, TakeOverResponse as TakeOverResponseSchema, UnfinishedList as UnfinishedListSchema,
  HUB_ACTIONS, ROLE_PERMISSIONS, type DraftAck, type DraftWithHistory, type HubAction, type HubSignedReport, type IngestReceipt,
  type LoginResponse, type TakeOverResponse, type UnfinishedList,
} from '../../common/hub.ts';
import { Role, type ReportContent, type StudyRef } from '../../common/report.ts';
import { OutboxPayload } from '../../common/hubPayload.ts';
import { changeAccount, lookupSession, UserNotFoundError } from '../../server/auth.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { IngestBatcher, ingest } from '../../server/ingest.ts';
import { addToTeam, importDirectory } from '../../server/directory.ts';
import { contentWithAlert } from '../support/syncWorkstation.ts';
import {
  addUser, examFor, http, loginAs, openSse, post, signableContent, signedAddendum, signedReport, startTestHub, studyFor, testDb, verificationOf, type DbKind, type TestHub, type TestUser, count, type ErrorBody,
} from './support.ts';

interface Ctx {
  db: HubDb;
  t: TestHub;
  url: string;
}


const snapshot = (study: StudyRef, revision: number, content: ReportContent = signableContent(), lastActivity = new Date().toISOString()) =>
  ({ study, content, revision, lastActivity });


export function defineHubSuite(kind: DbKind): void {
  const ctx = {} as Ctx;
  let cleanup: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const d = await testDb(kind, `hub_${kind}`);
    ctx.db = d.db;
    ctx.t = await startTestHub(d.db, { pingMs: 200 });
    ctx.url = ctx.t.url;
    cleanup = async () => {
      await ctx.t.close();
      await d.cleanup();
    };
  });
  afterAll(async () => cleanup());

  const user = (role: Role, name?: string): Promise<TestUser> => addUser(ctx.db, role, name);
  const session = async (role: Role, name?: string): Promise<{ u: TestUser; token: string }> => {
    const u = await user(role, name);
    return { u, token: await loginAs(ctx.url, u) };
  };

  // ---- identity -------------------------------------------------------------------------------

  describe(`identity (${kind})`, () => {
    it('logs in with scrypt-hashed passwords and stores only the token hash', async () => {
      const u = await user('radiologist');
      const r = await http<LoginResponse>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: u.password } });
      expect(r.status).toBe(200);
      expect(r.body.user).toEqual({ username: u.username, name: u.name, role: 'radiologist', registration: u.registration });
      expect(r.body.permissions).toEqual([...ROLE_PERMISSIONS.radiologist]);
      expect(Date.parse(r.body.expiresAt)).toBeGreaterThan(Date.now() + 11 * 3600_000);
      const { rows } = await ctx.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = $1', [u.username]);
      expect(rows[0]!.password_hash).toMatch(/^scrypt\$\d+\$8\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
      expect(rows[0]!.password_hash).not.toContain(u.password);
      expect(await count(ctx.db, 'sessions WHERE token_hash = $1', [r.body.token])).toBe(0);
      expect(await count(ctx.db, 'sessions WHERE token_hash = $1', [crypto.createHash('sha256').update(r.body.token).digest('hex')])).toBe(1);
      const me = await http<{ user: { username: string } }>(ctx.url, 'GET', '/api/session', { token: r.body.token });
      expect(me.status).toBe(200);
      expect(me.body.user.username).toBe(u.username);
    });

    it('answers a wrong password and an unknown user alike (401)', async () => {
      const u = await user('radiologist');
      const wrong = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: 'not-the-password' } });
      const unknown = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: 'nobody-here', password: 'whatever-it-is' } });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body).toEqual(unknown.body);
      expect(wrong.body.error.code).toBe('unauthenticated');
    });

    it('holds the lockout against 100 parallel guesses: 5 passwords are checked, the rest refused as locked, and the right one last gets no token (issue 8 finding 11)', async () => {
      const u = await user('radiologist');
      const guesses = [...Array.from({ length: 99 }, (_, i) => `wrong-guess-${i}`), u.password];
      const answers = await Promise.all(guesses.map((password) => http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password } })));
      const checked = answers.filter((r) => r.status === 401 || r.status === 200).length;
      const locked = answers.filter((r) => r.status === 429 && r.body.error.code === 'locked-out').length;
      // At most maxFailures (5) attempts got their password checked; every other one was refused.
      expect(checked).toBeLessThanOrEqual(5);
      expect(checked + locked).toBe(100);
      // The right password, sent after 99 wrong ones, got a token only if it was among the 5 checked.
      if (answers[99]!.status === 200) expect(answers.slice(0, 99).filter((r) => r.status === 401).length).toBeLessThanOrEqual(4);
      const { rows } = await ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit a JOIN users x ON x.id = a.actor_id WHERE x.username = $1 AND a.action = 'login-failed'`, [u.username]);
      expect(rows[0]!.n).toBeLessThanOrEqual(5);
      // After the lock, the account stays locked for the right password too.
      expect((await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: u.password } })).status).toBe(answers[99]!.status === 200 ? 200 : 429);
    });

    it('a name no account has is counted and locked like an account: the answers never tell whether the name exists (issue 8 finding 11)', async () => {
      const u = await user('radiologist');
      const unknown = `nobody-${crypto.randomUUID().slice(0, 8)}`;
      const answers = async (username: string): Promise<{ status: number; code: string; retryAfter: unknown }[]> => {
        const out: { status: number; code: string; retryAfter: unknown }[] = [];
        for (let i = 0; i < 7; i++) {
          const r = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username, password: `guess-${i}` } });
          // The seconds left (not compared: the two runs are moments apart) or none.
          const left = r.body.error.details?.['retryAfterSeconds'];
          out.push({ status: r.status, code: r.body.error.code, retryAfter: typeof left === 'number' && left > 0 && left <= 30 ? 'up to 30 s' : left ?? null });
        }
        return out;
      };
      const real = await answers(u.username);
      expect(real.map((a) => a.status)).toEqual([401, 401, 401, 401, 429, 429, 429]);
      expect(await answers(unknown)).toEqual(real);
      // Another unknown name has a count of its own.
      expect((await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: `${unknown}-2`, password: 'x-guess' } })).status).toBe(401);
    });

    it('locks an account out after 5 failures, even for the right password, with doubling backoff', async () => {
      const u = await user('locum');
      const before = ctx.t.clock.offset;
      for (let i = 0; i < 4; i++) {
        const r = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: `guess-${i}` } });
        expect(r.status).toBe(401);
      }
      const fifth = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: 'guess-5' } });
      expect(fifth.status).toBe(429);
      expect(fifth.body.error.code).toBe('locked-out');
      expect(fifth.body.error.details?.['retryAfterSeconds']).toBe(30);
      const right = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: u.password } });
      expect(right.status).toBe(429);
      expect(right.headers.get('retry-after')).toMatch(/^\d+$/);
      ctx.t.clock.offset += 31_000;
      const sixth = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: 'guess-6' } });
      expect(sixth.status).toBe(429);
      expect(sixth.body.error.details?.['retryAfterSeconds']).toBe(60);
      ctx.t.clock.offset += 61_000;
      const ok = await http<LoginResponse>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: u.password } });
      expect(ok.status).toBe(200);
      const { rows } = await ctx.db.query<{ failed_logins: number }>('SELECT failed_logins FROM users WHERE username = $1', [u.username]);
      expect(rows[0]!.failed_logins).toBe(0);
      ctx.t.clock.offset = before;
    });

    it('expires sessions and ends them on logout', async () => {
      const a = await session('radiologist');
      const b = await session('radiologist');
      const out = await http(ctx.url, 'DELETE', '/api/session', { token: a.token });
      expect(out.status).toBe(200);
      const after = await http<ErrorBody>(ctx.url, 'GET', '/api/unfinished', { token: a.token });
      expect(after.status).toBe(401);
      expect(after.body.error.code).toBe('session-expired');
      const before = ctx.t.clock.offset;
      ctx.t.clock.advanceHours(12.01);
      const expired = await http<ErrorBody>(ctx.url, 'GET', '/api/unfinished', { token: b.token });
      ctx.t.clock.offset = before;
      expect(expired.status).toBe(401);
      expect(expired.body.error.code).toBe('session-expired');
    });
  });

  describe(`accounts (${kind})`, () => {
    it('disable, enable, reset-password and revoke-sessions take effect at once on every instance: cached sessions forgotten, event streams ended (issue 8 line 9)', async () => {
      // A second instance with a long keep-alive and the default 2 s session cache: only the
      // account change's notice can end its sessions this quickly.
      const other = await startTestHub(ctx.db, { migrate: false, pingMs: 60_000 });
      try {
        const { u, token } = await session('radiologist');
        const unfinished = (t: string, url = other.url) => http<ErrorBody>(url, 'GET', '/api/unfinished', { token: t });
        expect((await unfinished(token)).status).toBe(200); // now cached on `other`
        const stream = openSse(other.url, token);
        await stream.hello;

        // The notice reaches the other instance over its LISTEN connection within milliseconds: far
        // sooner than its 2 s session cache would let the session go on its own.
        const within = { timeout: 1000, interval: 10 };
        const disabled = await changeAccount(ctx.db, u.username, 'disable');
        expect(disabled.sessionsEnded).toBe(1);
        await expect.poll(async () => (await unfinished(token)).status, within).toBe(401);
        expect(await Promise.race([stream.ended, new Promise((r) => setTimeout(() => r('still open'), 1500))])).toBe('session-ended');
        // A disabled account cannot log in, and is answered like an unknown name.
        const login = await http<ErrorBody>(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: u.password } });
        expect(login.status).toBe(401);
        expect(login.body.error.message).toBe('Unknown username or wrong password.');

        await changeAccount(ctx.db, u.username, 'enable');
        const again = await loginAs(ctx.url, u);
        expect((await unfinished(again)).status).toBe(200);

        // A new password: the old one and every open session stop working.
        const reset = await changeAccount(ctx.db, u.username, 'reset-password', { password: 'a brand new passphrase', cost: { N: 1 << 10, r: 8, p: 1 } });
        expect(reset.sessionsEnded).toBe(1);
        await expect.poll(async () => (await unfinished(again)).status, within).toBe(401);
        expect((await http(ctx.url, 'POST', '/api/session', { body: { username: u.username, password: u.password } })).status).toBe(401);
        const fresh = await loginAs(ctx.url, { ...u, password: 'a brand new passphrase' });
        expect((await unfinished(fresh)).status).toBe(200);

        // Revoked: logged out everywhere, may log in again.
        expect((await changeAccount(ctx.db, u.username, 'revoke-sessions')).sessionsEnded).toBe(1);
        await expect.poll(async () => (await unfinished(fresh)).status, within).toBe(401);
        expect((await unfinished(fresh)).body.error.code).toBe('session-expired');
        expect((await unfinished(await loginAs(ctx.url, { ...u, password: 'a brand new passphrase' }))).status).toBe(200);

        const { rows } = await ctx.db.query<{ action: string }>(`SELECT action FROM audit WHERE action LIKE 'user-%' AND detail->>'username' = $1 ORDER BY seq`, [u.username]);
        expect(rows.map((r) => r.action)).toEqual(['user-disable', 'user-enable', 'user-reset-password', 'user-revoke-sessions']);
        await expect(changeAccount(ctx.db, 'nobody-at-all', 'disable')).rejects.toThrow(UserNotFoundError);
        await expect(changeAccount(ctx.db, u.username, 'reset-password', { password: 'short' })).rejects.toThrow(/at least 10 characters/);
        stream.close();
      } finally {
        await other.close();
      }
    });
  });

  // ---- role × action --------------------------------------------------------------------------

  describe(`role × action matrix (${kind})`, () => {
    it('every role may do exactly what ROLE_PERMISSIONS says, on every route', async () => {
      const owner = await session('radiologist');
      // Every role is on the team the requester of these reports maps to: a referrer reads its
      // own team's reports and acknowledges its alerts (issue 9); other teams' are tested in alertLoop.test.ts.
      await importDirectory(ctx.db, 'team,team name,referring physician,requesting service,consultant,members\nMATRIX,Matrix team,MATRIX^Requester,,,\n');
      const matrixExam = (study: StudyRef) => examFor(study, 'MATRIX^Requester', '');
      const existingStudy = studyFor('matrix');
      const existing = signedReport(owner.u, { study: existingStudy, exam: matrixExam(existingStudy) });
      expect((await post(ctx.url, owner.token, existing)).status).toBe(201);
      const trainee = await session('trainee');
      const results: Record<string, Record<string, number>> = {};
      for (const role of Role.options) {
        const { u, token } = await session(role);
        await addToTeam(ctx.db, u.username, 'MATRIX');
        // A fresh draft by the owner for each role to read / take over.
        const draftId = crypto.randomUUID();
        expect((await http(ctx.url, 'PUT', `/api/drafts/${draftId}`, { token: owner.token, body: snapshot(studyFor('m'), 1) })).status).toBe(200);
        const requests: Record<HubAction, () => Promise<{ status: number }>> = {
          'report:sign-final': () => post(ctx.url, token, signedReport(u)),
          'report:sign-provisional': () => post(ctx.url, token, signedReport(u, { meaning: 'provisional' })),
          'report:verify': async () => {
            const provisional = signedReport(trainee.u, { meaning: 'provisional' });
            expect((await post(ctx.url, trainee.token, provisional)).status).toBe(201);
            return post(ctx.url, token, verificationOf(u, provisional));
          },
          'report:addendum': () => post(ctx.url, token, signedAddendum(u, existing)),
          'report:read': () => http(ctx.url, 'GET', `/api/reports/${existing.report.id}`, { token }),
          'draft:write': () => http(ctx.url, 'PUT', `/api/drafts/${crypto.randomUUID()}`, { token, body: snapshot(studyFor('w'), 1) }),
          'draft:read': () => http(ctx.url, 'GET', `/api/drafts/${draftId}`, { token }),
          'unfinished:list': () => http(ctx.url, 'GET', '/api/unfinished', { token }),
          'draft:take-over': () => http(ctx.url, 'POST', `/api/drafts/${draftId}/take-over`, { token, body: {} }),
          'events:subscribe': () => http(ctx.url, 'GET', '/api/events/log', { token }),
          'alert:read': () => http(ctx.url, 'GET', '/api/alerts', { token }),
          'alert:acknowledge': async () => {
            const study = studyFor('matrix-alert');
            const alerted = signedReport(owner.u, { study, exam: matrixExam(study), content: contentWithAlert('urgent') });
            expect((await post(ctx.url, owner.token, alerted)).status).toBe(201);
            return http(ctx.url, 'POST', `/api/alerts/${alerted.report.id}/acknowledge`, { token, body: { actionPlan: 'Reviewed; follow-up arranged.' } });
          },
          'safety:dashboard': () => http(ctx.url, 'GET', '/api/safety/dashboard', { token }),
        };
        results[role] = {};
        for (const action of HUB_ACTIONS) {
          const r = await requests[action]();
          results[role][action] = r.status;
          const allowed = ROLE_PERMISSIONS[role].includes(action);
          expect([role, action, allowed ? r.status < 300 : r.status]).toEqual([role, action, allowed ? true : 403]);
        }
      }
      // The two named in the issue, spelled out.
      expect(results['trainee']!['report:sign-final']).toBe(403);
      expect(results['referrer']!['draft:read']).toBe(403);
      expect(results['referrer']!['unfinished:list']).toBe(403);
    });

    it('a trainee cannot issue a final report, and is told why', async () => {
      const { u, token } = await session('trainee');
      const r = await post(ctx.url, token, signedReport(u));
      expect(r.status).toBe(403);
      expect((r.body as ErrorBody).error).toMatchObject({ code: 'forbidden', message: 'A trainee may not issue a final report.' });
      expect(await count(ctx.db, 'signed_reports WHERE signer_name = $1', [u.name])).toBe(0);
    });
  });

  // ---- exactly-once ingest -------------------------------------------------------------------

  describe(`exactly-once ingest (${kind})`, () => {
    it('stores a signed report, replays the first answer for the same key and body, and stores it once', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      const key = crypto.randomUUID();
      const first = await post(ctx.url, token, p, key);
      expect(first.status).toBe(201);
      const receipt = first.body as IngestReceipt;
      expect(receipt).toMatchObject({ kind: 'report', reportId: p.report.id, contentHash: p.report.signature.contentHash, alreadyStored: false });
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const again = await post(ctx.url, token, p, key);
      expect(again.status).toBe(201);
      expect(again.text).toBe(first.text);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(1);
      const got = await http<HubSignedReport>(ctx.url, 'GET', `/api/reports/${p.report.id}`, { token });
      expect(got.status).toBe(200);
      expect(got.body.content).toEqual(p.report.content);
      expect(got.body.signature).toEqual(p.report.signature);
    });

    it('refuses the same key with a different body (422) and keeps the first record', async () => {
      const { u, token } = await session('radiologist');
      const p1 = signedReport(u);
      const p2 = signedReport(u);
      const key = crypto.randomUUID();
      expect((await post(ctx.url, token, p1, key)).status).toBe(201);
      const r = await post(ctx.url, token, p2, key);
      expect(r.status).toBe(422);
      expect((r.body as ErrorBody).error.code).toBe('idempotency-key-reused');
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p2.report.id])).toBe(0);
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p1.report.id])).toBe(1);
    });

    it('keeps a key to its user: a colleague resending it, with the same body or another, gets no receipt of the first request', async () => {
      const a = await session('radiologist');
      const b = await session('radiologist');
      const p = signedReport(a.u);
      const key = crypto.randomUUID();
      const first = await post(ctx.url, a.token, p, key);
      expect(first.status).toBe(201);
      for (const body of [p, signedReport(b.u)]) {
        const r = await post(ctx.url, b.token, body, key);
        expect(r.status).toBe(422);
        expect((r.body as ErrorBody).error.code).toBe('idempotency-key-reused');
        expect(r.text).not.toContain(p.report.id);
        expect(r.headers.get('idempotent-replayed')).toBeNull();
      }
      // The owner still gets the first answer; the colleague's report stored nothing under the key.
      const again = await post(ctx.url, a.token, p, key);
      expect(again.text).toBe(first.text);
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(1);
    });

    it('treats the same signed report under a new key as already stored, and a different one for the same id as a conflict', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      expect((await post(ctx.url, token, p)).status).toBe(201);
      const dup = await post(ctx.url, token, p);
      expect(dup.status).toBe(200);
      expect((dup.body as IngestReceipt).alreadyStored).toBe(true);
      const other = signedReport(u, { id: p.report.id, study: p.report.study, content: signableContent(' Edited after signing.') });
      const conflict = await post(ctx.url, token, other);
      expect(conflict.status).toBe(409);
      expect((conflict.body as ErrorBody).error.code).toBe('report-conflict');
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(1);
      const { rows } = await ctx.db.query<{ content_hash: string }>('SELECT content_hash FROM signed_reports WHERE id = $1', [p.report.id]);
      expect(rows[0]!.content_hash).toBe(p.report.signature.contentHash);
    });

    it('concurrent deliveries of one key yield one row and one answer', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      const key = crypto.randomUUID();
      const results = await Promise.all(Array.from({ length: 16 }, () => post(ctx.url, token, p, key)));
      expect(results.map((r) => r.status)).toEqual(Array(16).fill(201));
      expect(new Set(results.map((r) => r.text)).size).toBe(1);
      expect(results.filter((r) => r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(1);
      expect(await count(ctx.db, 'idempotency WHERE key = $1', [key])).toBe(1);
      expect(await count(ctx.db, `events WHERE report_id = $1 AND type = 'report-signed'`, [p.report.id])).toBe(1);
    });

    it('concurrent deliveries of one report under different keys still store it once', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      const results = await Promise.all(Array.from({ length: 12 }, () => post(ctx.url, token, p)));
      expect(results.every((r) => r.status === 201 || r.status === 200)).toBe(true);
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(1);
    });

    // New reports that arrive together are stored by one statement with one commit (IngestBatcher);
    // every record that is not a plain new report must still get the answer it gets alone.
    const grouped = async (token: string, records: { payload: unknown; key?: string }[], failBatchWith?: string) => {
      const found = await lookupSession(ctx.db, token, Date.now());
      if (!found.ok) throw new Error('no session');
      const batches: number[] = [];
      const spy = {
        ...ctx.db,
        query: (sql: string, params?: readonly unknown[], opts?: { prepare?: boolean }) => {
          if (sql.includes('jsonb_to_recordset')) {
            batches.push((JSON.parse(String(params![0])) as unknown[]).length);
            if (failBatchWith && String(params![0]).includes(failBatchWith)) return Promise.reject(new Error('simulated: the batch statement failed'));
          }
          return ctx.db.query(sql, params, opts);
        },
      } as HubDb;
      // One group in flight at a time: the first record goes alone, all the others wait for it
      // and then go together.
      const batcher = new IngestBatcher(spy, 1, 64, 1);
      const send = (r: { payload: unknown; key?: string }) => {
        const raw = JSON.parse(JSON.stringify(r.payload)) as unknown;
        return ingest(spy, found.user, r.key ?? crypto.randomUUID(), raw, OutboxPayload.parse(raw), Date.now(), batcher)
          .then((x) => ({ ...x, body: JSON.parse(x.bodyText) as Record<string, unknown> & ErrorBody }), (e: unknown) => ({ error: e }));
      };
      const answers = await Promise.all(records.map(send));
      return { answers, batches };
    };

    it('reports arriving together share one statement, and each other record in their group is answered as if alone', async () => {
      const { u, token } = await session('radiologist');
      const other = await user('radiologist');
      const first = signedReport(u);
      const a = signedReport(u);
      const aKey = crypto.randomUUID();
      const b = signedReport(u);
      const c = signedReport(u, { study: b.report.study });
      const taken = signedReport(u);
      await ctx.db.query(
        `INSERT INTO drafts (report_id, patient_id, study_uid, content, revision, owner_id, created_at, last_activity, updated_at)
         VALUES ($1, $2, $3, $4, 1, (SELECT id FROM users WHERE username = $5), now(), now(), now())`,
        [taken.report.id, taken.report.study.patientId, taken.report.study.studyUid, JSON.stringify(taken.report.content), other.username]);
      const { answers, batches } = await grouped(token, [
        { payload: first },
        { payload: a, key: aKey }, { payload: a, key: aKey }, { payload: a }, { payload: b }, { payload: c }, { payload: taken },
        { payload: signedAddendum(u, first) },
      ]);
      const [f, a1, a2, a3, rb, rc, rt, add] = answers as { status: number; bodyText: string; replayed: boolean; body: Record<string, unknown> & ErrorBody }[];
      expect(answers.every((x) => !('error' in x))).toBe(true);
      expect(f!.status).toBe(201);
      // The same key twice: one answered, the other gets that answer byte for byte.
      expect(a1!.bodyText).toBe(a2!.bodyText);
      expect([a1!.replayed, a2!.replayed].sort()).toEqual([false, true]);
      // The same report under another key: whichever key came first stored it, the other is told
      // it is stored already (a group goes in key order).
      expect([a1!.status, a3!.status].sort()).toEqual([200, 201]);
      expect([a1!, a3!].find((x) => x.status === 200)!.body.alreadyStored).toBe(true);
      // Two reports of one study: one holds it, the other is refused.
      expect([rb!.status, rc!.status].sort()).toEqual([201, 409]);
      expect([rb!, rc!].find((x) => x.status === 409)!.body.error.code).toBe('study-already-reported');
      expect(rt!.status).toBe(409);
      expect(rt!.body.error.code).toBe('draft-taken-over');
      expect(add!.status).toBe(201);
      // The plain new reports went in one statement outside a transaction, after the first.
      expect(Math.max(...batches)).toBeGreaterThanOrEqual(3);
      for (const p of [first, a]) {
        expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(1);
        expect(await count(ctx.db, 'signatures WHERE report_id = $1 AND meaning = $2', [p.report.id, 'final-report'])).toBe(1);
        expect(await count(ctx.db, `events WHERE report_id = $1 AND type = 'report-signed' AND body->>'kind' = 'report'`, [p.report.id])).toBe(1);
        expect(await count(ctx.db, `audit WHERE report_id = $1 AND action = 'ingest-report'`, [p.report.id])).toBe(1);
      }
      expect(await count(ctx.db, 'signed_reports WHERE id = ANY($1)', [[b.report.id, c.report.id]])).toBe(1);
      expect(await count(ctx.db, 'study_reports WHERE study_key = $1', [`uid:${b.report.study.studyUid}`])).toBe(1);
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [taken.report.id])).toBe(0);
      // Refusals for good are remembered for their key like any answer.
      expect(await count(ctx.db, 'idempotency WHERE status = 409 AND response = $1', [rt!.bodyText])).toBe(1);
    });

    it('a batch statement that fails commits nothing of it: each of its reports is then stored once on the general path', async () => {
      const { u, token } = await session('radiologist');
      const reports = Array.from({ length: 5 }, () => signedReport(u));
      const { answers, batches } = await grouped(token, reports.map((payload) => ({ payload })), reports[3]!.report.id);
      expect(batches.filter((n) => n > 1).length).toBeGreaterThanOrEqual(1);
      for (const [i, r] of reports.entries()) {
        expect((answers[i] as { status: number }).status).toBe(201);
        expect(await count(ctx.db, 'signed_reports WHERE id = $1', [r.report.id])).toBe(1);
        expect(await count(ctx.db, 'signatures WHERE report_id = $1', [r.report.id])).toBe(1);
        expect(await count(ctx.db, `events WHERE report_id = $1 AND type = 'report-signed'`, [r.report.id])).toBe(1);
      }
    });

    it('re-validates with the sign-off rules: a report with blocking problems is refused (422) and not stored', async () => {
      const { u, token } = await session('radiologist');
      const content: ReportContent = { ...signableContent(), alertCode: null, unexpected: { kind: 'unset' } };
      const p = signedReport(u, { content });
      const r = await post(ctx.url, token, p);
      expect(r.status).toBe(422);
      const body = r.body as ErrorBody;
      expect(body.error.code).toBe('signoff-problems');
      expect(body.error.message).toContain('Choose the alert code explicitly');
      expect(body.error.message).toContain('unexpected findings');
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(0);
    });

    it('recomputes the content hash: content altered after signing is refused (422)', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      const tampered = structuredClone(p);
      tampered.report.content.fields['conclusion'] = 'Large subdural haematoma.';
      const r = await post(ctx.url, token, tampered);
      expect(r.status).toBe(422);
      expect((r.body as ErrorBody).error.code).toBe('hash-mismatch');
      const moved = structuredClone(p);
      moved.report.study = { ...p.report.study, patientId: 'PAT-OTHER' };
      expect(((await post(ctx.url, token, moved)).body as ErrorBody).error.code).toBe('hash-mismatch');
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(0);
    });

    it('requires the signer to be the logged-in user', async () => {
      const a = await session('radiologist');
      const b = await session('radiologist');
      const r = await post(ctx.url, b.token, signedReport(a.u));
      expect(r.status).toBe(422);
      expect((r.body as ErrorBody).error.code).toBe('signer-mismatch');
      expect((r.body as ErrorBody).error.message).toContain(a.u.name);
    });

    it('refuses an unknown template with a clear 422', async () => {
      const { u, token } = await session('radiologist');
      const r = await post(ctx.url, token, signedReport(u, { content: { ...signableContent(), templateId: 'no-such-template' } }));
      expect(r.status).toBe(422);
      expect((r.body as ErrorBody).error.code).toBe('unknown-template');
    });

    it('stores addenda as separate signed records; an addendum that arrives first is retried, not remembered', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      const a = signedAddendum(u, p);
      const key = crypto.randomUUID();
      const early = await post(ctx.url, token, a, key);
      expect(early.status).toBe(409);
      expect((early.body as ErrorBody).error.code).toBe('original-not-synced');
      expect((await post(ctx.url, token, p)).status).toBe(201);
      const later = await post(ctx.url, token, a, key);
      expect(later.status).toBe(201);
      expect(later.body).toMatchObject({ kind: 'addendum', reportId: p.report.id, addendumId: a.addendum.id, alreadyStored: false });
      expect((await post(ctx.url, token, a, key)).text).toBe(later.text);
      const got = await http<HubSignedReport>(ctx.url, 'GET', `/api/reports/${p.report.id}`, { token });
      expect(got.body.addenda).toHaveLength(1);
      expect(got.body.addenda[0]).toMatchObject({ id: a.addendum.id, text: a.addendum.text, originalHash: p.report.signature.contentHash });
      expect(got.body.signature.contentHash).toBe(p.report.signature.contentHash);
      // Wrong original hash, tampered text.
      const wrongOrig = signedAddendum(u, signedReport(u, { id: p.report.id, study: p.report.study, content: signableContent('x') }));
      expect(((await post(ctx.url, token, wrongOrig)).body as ErrorBody).error.code).toBe('original-hash-mismatch');
      const tampered = structuredClone(signedAddendum(u, p));
      tampered.addendum.text += ' (edited)';
      expect(((await post(ctx.url, token, tampered)).body as ErrorBody).error.code).toBe('hash-mismatch');
      expect(await count(ctx.db, 'addenda WHERE report_id = $1', [p.report.id])).toBe(1);
    });

    it('signed reports, signatures, addenda, revisions and the audit trail reject UPDATE, DELETE, TRUNCATE and UPSERT', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      await post(ctx.url, token, p);
      await post(ctx.url, token, signedAddendum(u, p));
      await http(ctx.url, 'PUT', `/api/drafts/${crypto.randomUUID()}`, { token, body: snapshot(studyFor('i'), 1) });
      const attempts = [
        ['UPDATE signed_reports SET content_hash = $1 WHERE id = $2', ['0'.repeat(64), p.report.id]],
        ['DELETE FROM signed_reports WHERE id = $1', [p.report.id]],
        ['UPDATE addenda SET text = $1 WHERE report_id = $2', ['changed', p.report.id]],
        ['DELETE FROM addenda WHERE report_id = $1', [p.report.id]],
        ['UPDATE audit SET action = $1', ['x']],
        ['DELETE FROM audit', []],
        ['UPDATE draft_revisions SET revision = revision + 100', []],
        ['DELETE FROM draft_revisions', []],
        ['TRUNCATE signed_reports CASCADE', []],
        ['TRUNCATE audit', []],
        // UPSERT: an INSERT that meets the stored row and updates it fires the UPDATE triggers.
        [`INSERT INTO signed_reports SELECT * FROM signed_reports WHERE id = $1 ON CONFLICT (id) DO UPDATE SET content = '{}'::jsonb`, [p.report.id]],
        [`INSERT INTO signatures SELECT * FROM signatures WHERE report_id = $1 ON CONFLICT (id) DO UPDATE SET content_hash = '0'`, [p.report.id]],
        // (A copy of a whole audit row, once sealed, carries its chain columns: refused before the
        // conflict as a row that would chain itself, below; without them the conflict's UPDATE is refused.)
        [`INSERT INTO audit (seq, at, actor_id, action, report_id, detail) SELECT seq, at, actor_id, action, report_id, detail FROM audit ORDER BY seq LIMIT 1 ON CONFLICT (seq) DO UPDATE SET action = 'rewritten'`, []],
        ['UPDATE signatures SET content_hash = $1 WHERE report_id = $2', ['0'.repeat(64), p.report.id]],
        ['DELETE FROM signatures WHERE report_id = $1', [p.report.id]],
      ] as const;
      for (const [sql, params] of attempts) {
        await expect(ctx.db.query(sql, params), sql).rejects.toThrow(/immutable/);
      }
      await expect(ctx.db.query(`INSERT INTO audit SELECT * FROM audit ORDER BY seq LIMIT 1 ON CONFLICT (seq) DO UPDATE SET action = 'rewritten'`))
        .rejects.toThrow(/written unsealed; only the sealer chains it|immutable/); // sealed yet or not
      expect(await count(ctx.db, 'signed_reports WHERE id = $1 AND content_hash = $2', [p.report.id, p.report.signature.contentHash])).toBe(1);
    });

    it('a crash inside the ingest transaction leaves nothing; a crash after COMMIT is replayed; retries store exactly once', async () => {
      const { u, token } = await session('radiologist');
      let mode: 'ok' | 'fail-in-tx' | 'fail-after-commit' = 'fail-in-tx';
      const crashy: HubDb = {
        ...ctx.db,
        // New reports are stored by one statement outside any transaction (its own commit): it
        // crashes the same way, before it runs or after its commit.
        query: async <T,>(sql: string, params?: readonly unknown[], opts?: { prepare?: boolean }) => {
          if (mode === 'fail-in-tx' && sql.includes('INSERT INTO events')) throw new Error('simulated crash');
          const out = await ctx.db.query<T>(sql, params, opts);
          if (mode === 'fail-after-commit' && sql.includes('INSERT INTO events')) throw new Error('simulated crash after COMMIT, before the answer');
          return out;
        },
        transaction: async (fn) => {
          const out = await ctx.db.transaction((tx) => fn({
            ...tx,
            // Crash after the key is claimed and the record written, before COMMIT.
            query: async (sql, params) => {
              if (mode === 'fail-in-tx' && sql.includes('INSERT INTO events')) throw new Error('simulated crash');
              return tx.query(sql, params);
            },
            exec: (sql) => tx.exec(sql),
          }));
          if (mode === 'fail-after-commit') throw new Error('simulated crash after COMMIT, before the answer');
          return out;
        },
      };
      const t2 = await startTestHub(crashy, { migrate: false });
      try {
        // A report and an addendum crash inside their transactions.
        const p = signedReport(u);
        const key = crypto.randomUUID();
        const r = await post(t2.url, token, p, key);
        expect(r.status).toBe(500);
        expect((r.body as ErrorBody).error.code).toBe('internal');
        expect(await count(ctx.db, 'idempotency WHERE key = $1', [key])).toBe(0);
        expect(await count(ctx.db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(0);
        mode = 'ok';
        expect((await post(t2.url, token, p, key)).status).toBe(201);
        const a = signedAddendum(u, p);
        const akey = crypto.randomUUID();
        mode = 'fail-in-tx';
        expect((await post(t2.url, token, a, akey)).status).toBe(500);
        expect(await count(ctx.db, 'idempotency WHERE key = $1', [akey])).toBe(0);
        expect(await count(ctx.db, 'addenda WHERE id = $1', [a.addendum.id])).toBe(0);
        mode = 'ok';
        expect((await post(t2.url, token, a, akey)).status).toBe(201);
        expect(await count(ctx.db, 'addenda WHERE id = $1', [a.addendum.id])).toBe(1);
        // The answer is lost after COMMIT: the retry with the same key gets the stored answer.
        const q = signedReport(u);
        const qkey = crypto.randomUUID();
        mode = 'fail-after-commit';
        expect((await post(t2.url, token, q, qkey)).status).toBe(500);
        mode = 'ok';
        const retry = await post(t2.url, token, q, qkey);
        expect(retry.status).toBe(201);
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
        expect(retry.body).toMatchObject({ reportId: q.report.id, alreadyStored: false });
        expect(await count(ctx.db, 'signed_reports WHERE id = $1', [q.report.id])).toBe(1);
      } finally {
        await t2.close();
      }
    });
  });

  // ---- unfinished reports --------------------------------------------------------------------

  describe(`unfinished reports (${kind})`, () => {
    const listFor = async (token: string): Promise<UnfinishedList> => {
      const r = await http<UnfinishedList>(ctx.url, 'GET', '/api/unfinished', { token });
      expect(r.status).toBe(200);
      return r.body;
    };

    it('lists every draft with author, study, age and last activity; stale when idle beyond the threshold', async () => {
      const locum = await session('locum');
      const colleague = await session('radiologist');
      const id = crypto.randomUUID();
      const study = studyFor('u1');
      const lastActivity = new Date(Date.now() - 60_000).toISOString();
      const ack = await http<DraftAck>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: locum.token, body: snapshot(study, 3, signableContent(), lastActivity) });
      expect(ack.status).toBe(200);
      expect(ack.body).toMatchObject({ reportId: id, revision: 3, applied: true, owner: { username: locum.u.username } });
      const list = await listFor(colleague.token);
      expect(list.staleAfterHours).toBe(4);
      const item = list.items.find((i) => i.reportId === id)!;
      expect(item).toMatchObject({ study, owner: { name: locum.u.name, role: 'locum' }, revision: 3, stale: false, staleReasons: [], takenOverFrom: null });
      expect(item.lastActivity).toBe(lastActivity);
      expect(item.idleMs).toBeGreaterThanOrEqual(60_000);
      const before = ctx.t.clock.offset;
      ctx.t.clock.advanceHours(4.1);
      try {
        const later = (await listFor(colleague.token)).items.find((i) => i.reportId === id)!;
        expect(later.stale).toBe(true);
        expect(later.staleReasons).toContain('idle');
        expect(later.ageMs).toBeGreaterThan(4 * 3600_000);
      } finally {
        ctx.t.clock.offset = before;
      }
    });

    it('highlights a draft whose author logged out, and never trusts a last activity in the future', async () => {
      const locum = await session('locum');
      const colleague = await session('radiologist');
      const id = crypto.randomUUID();
      const future = new Date(Date.now() + 48 * 3600_000).toISOString();
      await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: locum.token, body: snapshot(studyFor('u2'), 1, signableContent(), future) });
      let item = (await listFor(colleague.token)).items.find((i) => i.reportId === id)!;
      expect(Date.parse(item.lastActivity)).toBeLessThanOrEqual(ctx.t.clock.now());
      expect(item.stale).toBe(false);
      await http(ctx.url, 'DELETE', '/api/session', { token: locum.token });
      item = (await listFor(colleague.token)).items.find((i) => i.reportId === id)!;
      expect(item.stale).toBe(true);
      expect(item.staleReasons).toEqual(['session-ended']);
      // Stale drafts sort first.
      const items = (await listFor(colleague.token)).items;
      expect(items.findIndex((i) => !i.stale)).toBeGreaterThan(items.findIndex((i) => i.reportId === id));
    });

    it('ignores an older revision and refuses to move a draft to another study', async () => {
      const { token } = await session('radiologist');
      const id = crypto.randomUUID();
      const study = studyFor('u3');
      await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token, body: snapshot(study, 5, signableContent(' five')) });
      const old = await http<DraftAck>(ctx.url, 'PUT', `/api/drafts/${id}`, { token, body: snapshot(study, 4, signableContent(' four')) });
      expect(old.body).toMatchObject({ applied: false, revision: 5 });
      const d = await http<DraftWithHistory>(ctx.url, 'GET', `/api/drafts/${id}`, { token });
      expect(d.body.draft.content.fields['brainParenchyma']).toContain('five');
      const moved = await http<ErrorBody>(ctx.url, 'PUT', `/api/drafts/${id}`, { token, body: snapshot(studyFor('other'), 6) });
      expect(moved.status).toBe(422);
    });

    it('closing a draft with the same revision as its last snapshot marks it closed (once, with an event); an older closed revision is ignored', async () => {
      const owner = await session('radiologist');
      const colleague = await session('radiologist');
      const id = crypto.randomUUID();
      const study = studyFor('u-close');
      await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: owner.token, body: snapshot(study, 3, signableContent(' three')) });
      // An older revision, even closed, changes nothing.
      const older = await http<DraftAck>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: owner.token, body: { ...snapshot(study, 2, signableContent(' two')), closed: true } });
      expect(older.body).toMatchObject({ applied: false, revision: 3 });
      expect((await listFor(colleague.token)).items.find((i) => i.reportId === id)).toMatchObject({ revision: 3, closed: false });

      const sse = openSse(ctx.url, colleague.token);
      await sse.hello;
      try {
        const close = await http<DraftAck>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: owner.token, body: { ...snapshot(study, 3, signableContent(' three')), closed: true } });
        expect(close.status).toBe(200);
        expect(close.body).toMatchObject({ reportId: id, revision: 3, applied: true, owner: { username: owner.u.username } });
        await sse.waitFor((e) => e.type === 'unfinished-changed' && e.reportId === id);
        expect((await listFor(colleague.token)).items.find((i) => i.reportId === id)).toMatchObject({ revision: 3, closed: true });
        const d = await http<DraftWithHistory>(ctx.url, 'GET', `/api/drafts/${id}`, { token: colleague.token });
        expect(d.body.draft).toMatchObject({ revision: 3, closed: true });
        expect(d.body.draft.content.fields['brainParenchyma']).toContain('three');
        expect(d.body.revisions.map((r) => r.revision)).toEqual([3]);
        // Closing again is a no-op.
        const again = await http<DraftAck>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: owner.token, body: { ...snapshot(study, 3), closed: true } });
        expect(again.body).toMatchObject({ applied: false, revision: 3 });
        // Someone else cannot close it by replaying the revision: refused as not the owner (a
        // colleague who never wrote it: 403, nothing kept; its former owner would get 409).
        const other = await http<ErrorBody>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: colleague.token, body: { ...snapshot(study, 3), closed: true } });
        expect(other.status).toBe(403);
        expect(other.body.error.code).toBe('forbidden');
        // The next revision reopens it.
        const next = await http<DraftAck>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: owner.token, body: snapshot(study, 4) });
        expect(next.body).toMatchObject({ applied: true, revision: 4 });
        expect((await listFor(colleague.token)).items.find((i) => i.reportId === id)).toMatchObject({ revision: 4, closed: false });
        // Events arrive in order: the close, then revision 4; the repeated close and the refused one added none.
        await sse.waitFor((e) => e.type === 'unfinished-changed' && e.reportId === id && sse.events.filter((x) => x.reportId === id).length >= 2);
        await new Promise((r) => setTimeout(r, 100));
        expect(sse.events.filter((e) => e.reportId === id)).toHaveLength(2);
      } finally {
        sse.close();
      }
    });

    it('take-over moves the draft with its history, audits it, tells both, and refuses the former owner (naming the new one)', async () => {
      const locum = await session('locum', 'Dr Locum Lark');
      const colleague = await session('radiologist', 'Dr Colleague Crane');
      const id = crypto.randomUUID();
      const study = studyFor('t1');
      for (let rev = 1; rev <= 3; rev++) {
        await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: locum.token, body: snapshot(study, rev, signableContent(` rev ${rev}`)) });
      }
      const locumEvents = openSse(ctx.url, locum.token);
      const colleagueEvents = openSse(ctx.url, colleague.token);
      await Promise.all([locumEvents.hello, colleagueEvents.hello]);
      try {
        const r = await http<TakeOverResponse>(ctx.url, 'POST', `/api/drafts/${id}/take-over`, {
          token: colleague.token, body: { expectedOwner: locum.u.username, reason: 'locum left; patient waiting' },
        });
        expect(r.status).toBe(200);
        expect(r.body.previousOwner.username).toBe(locum.u.username);
        expect(r.body.draft.owner.username).toBe(colleague.u.username);
        expect(r.body.draft.content.fields['brainParenchyma']).toContain('rev 3');
        expect(r.body.revisions.map((v) => v.revision)).toEqual([1, 2, 3]);
        expect(r.body.revisions.map((v) => v.content.fields['brainParenchyma']!.slice(-5))).toEqual(['rev 1', 'rev 2', 'rev 3']);
        expect(r.body.takeOvers).toEqual([expect.objectContaining({ reason: 'locum left; patient waiting', from: expect.objectContaining({ username: locum.u.username }) })]);
        const audit = await ctx.db.query<{ action: string; detail: { from: { username: string }; to: { username: string } } }>(
          `SELECT action, detail FROM audit WHERE report_id = $1 AND action = 'take-over'`, [id]);
        expect(audit.rows).toHaveLength(1);
        expect(audit.rows[0]!.detail.to.username).toBe(colleague.u.username);
        // Both people are told.
        for (const c of [locumEvents, colleagueEvents]) {
          const e = await c.waitFor((x) => x.type === 'draft-taken-over' && x.reportId === id);
          expect(e).toMatchObject({ from: { username: locum.u.username }, to: { username: colleague.u.username } });
        }
      } finally {
        locumEvents.close();
        colleagueEvents.close();
      }
      // The list shows the new owner and where it came from.
      const item = (await listFor(colleague.token)).items.find((i) => i.reportId === id)!;
      expect(item.owner.username).toBe(colleague.u.username);
      expect(item.takenOverFrom?.username).toBe(locum.u.username);
      // The former owner's late edit is refused with the new owner's name, and kept.
      const late = await http<ErrorBody>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: locum.token, body: snapshot(study, 4, signableContent(' late words')) });
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('draft-taken-over');
      expect(late.body.error.message).toContain('Dr Colleague Crane');
      expect(late.body.error.details?.['newOwner']).toBe(colleague.u.username);
      const full = await http<DraftWithHistory & { lateSnapshots: { author: { username: string }; content: ReportContent }[] }>(ctx.url, 'GET', `/api/drafts/${id}`, { token: colleague.token });
      expect(full.body.lateSnapshots).toHaveLength(1);
      expect(full.body.lateSnapshots[0]!.content.fields['brainParenchyma']).toContain('late words');
      expect(full.body.draft.content.fields['brainParenchyma']).toContain('rev 3');
      // The former owner cannot sign it either; the new owner continues and signs.
      const formerSigns = await post(ctx.url, locum.token, signedReport(locum.u, { id, study }));
      expect(formerSigns.status).toBe(409);
      expect((formerSigns.body as ErrorBody).error.code).toBe('draft-taken-over');
      const next = await http<DraftAck>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: colleague.token, body: snapshot(study, 4, signableContent(' finished')) });
      expect(next.body.applied).toBe(true);
      expect((await post(ctx.url, colleague.token, signedReport(colleague.u, { id, study, content: signableContent(' finished') }))).status).toBe(201);
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [id])).toBe(1);
    });

    it('a colleague who never wrote a draft writes nothing into it: 403, no late snapshot kept, the draft unchanged (issue 8 finding 12)', async () => {
      const owner = await session('radiologist');
      const stranger = await session('radiologist');
      const id = crypto.randomUUID();
      const study = studyFor('stranger');
      expect((await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: owner.token, body: snapshot(study, 1, signableContent(' mine')) })).status).toBe(200);
      const r = await http<ErrorBody>(ctx.url, 'PUT', `/api/drafts/${id}`, { token: stranger.token, body: snapshot(study, 2, signableContent(' not yours')) });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
      expect(await count(ctx.db, 'late_snapshots WHERE report_id = $1', [id])).toBe(0);
      const full = await http<DraftWithHistory>(ctx.url, 'GET', `/api/drafts/${id}`, { token: owner.token });
      expect(full.body.draft.content.fields['brainParenchyma']).toContain('mine');
      expect(full.body.draft.revision).toBe(1);
    });

    it('take-over: own draft 409, unknown draft 404, stale expectedOwner 409', async () => {
      const a = await session('radiologist');
      const b = await session('radiologist');
      const c = await session('trainer');
      const id = crypto.randomUUID();
      await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: a.token, body: snapshot(studyFor('t2'), 1) });
      expect((await http<ErrorBody>(ctx.url, 'POST', `/api/drafts/${id}/take-over`, { token: a.token })).body.error.code).toBe('already-owner');
      expect((await http(ctx.url, 'POST', `/api/drafts/${crypto.randomUUID()}/take-over`, { token: b.token, body: {} })).status).toBe(404);
      expect((await http(ctx.url, 'POST', `/api/drafts/${id}/take-over`, { token: b.token, body: {} })).status).toBe(200);
      const raced = await http<ErrorBody>(ctx.url, 'POST', `/api/drafts/${id}/take-over`, { token: c.token, body: { expectedOwner: a.u.username } });
      expect(raced.status).toBe(409);
      expect(raced.body.error.message).toContain(b.u.name);
    });

    it('a signed report leaves the list at once; later snapshots and take-overs are refused', async () => {
      const { u, token } = await session('radiologist');
      const other = await session('radiologist');
      const id = crypto.randomUUID();
      const study = studyFor('s1');
      await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token, body: snapshot(study, 1) });
      expect((await listFor(token)).items.some((i) => i.reportId === id)).toBe(true);
      expect((await post(ctx.url, token, signedReport(u, { id, study }))).status).toBe(201);
      expect((await listFor(token)).items.some((i) => i.reportId === id)).toBe(false);
      const put = await http<ErrorBody>(ctx.url, 'PUT', `/api/drafts/${id}`, { token, body: snapshot(study, 2) });
      expect(put.status).toBe(409);
      expect(put.body.error.code).toBe('already-signed');
      const take = await http<ErrorBody>(ctx.url, 'POST', `/api/drafts/${id}/take-over`, { token: other.token, body: {} });
      expect(take.status).toBe(409);
    });
  });

  // ---- pushed events -------------------------------------------------------------------------

  describe(`live updates (${kind})`, () => {
    it('pushes report-signed and unfinished-changed with increasing seq; a reconnecting client catches up', async () => {
      const { u, token } = await session('radiologist');
      const sse = openSse(ctx.url, token);
      const hello = await sse.hello;
      const id = crypto.randomUUID();
      const study = studyFor('e1');
      await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token, body: snapshot(study, 1) });
      await post(ctx.url, token, signedReport(u, { id, study }));
      const signed = await sse.waitFor((e) => e.type === 'report-signed' && e.reportId === id);
      expect(signed).toMatchObject({ kind: 'report', study, signer: { name: u.name, registration: u.registration }, alertCode: 'none' });
      const mine = sse.events.filter((e) => e.reportId === id);
      expect(mine.map((e) => e.type)).toEqual(['unfinished-changed', 'report-signed', 'unfinished-changed']);
      const seqs = sse.events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(seqs[0]!).toBeGreaterThan(hello.head);
      const lastSeen = signed.seq;
      sse.close();
      // While disconnected: three more changes.
      const missed: string[] = [];
      for (let i = 0; i < 3; i++) {
        const p = signedReport(u);
        missed.push(p.report.id);
        await post(ctx.url, token, p);
      }
      const back = openSse(ctx.url, token, { since: lastSeen });
      try {
        expect((await back.hello).since).toBe(lastSeen);
        for (const m of missed) await back.waitFor((e) => e.type === 'report-signed' && e.reportId === m);
        const backSeqs = back.events.map((e) => e.seq);
        expect(backSeqs[0]).toBeGreaterThan(lastSeen);
        expect(new Set(backSeqs).size).toBe(backSeqs.length);
        expect(back.events.some((e) => e.reportId === id && e.type === 'unfinished-changed' && e.reason === 'signed')).toBe(true);
      } finally {
        back.close();
      }
      // Last-Event-ID works the same.
      const viaHeader = openSse(ctx.url, token, { lastEventId: lastSeen });
      try {
        await viaHeader.waitFor((e) => e.reportId === missed[2]);
      } finally {
        viaHeader.close();
      }
    });

    it("a referrer hears of their own team's alerts, never of drafts, of other teams' alerts or of every signed report", async () => {
      // Issue 9: report-signed events name every team's patients, so a referrer no longer gets them.
      const referrer = await session('referrer');
      const rad = await session('radiologist');
      await importDirectory(ctx.db, 'team,team name,referring physician,requesting service,consultant,members\nEVT,Events team,EVENTS^Requester,,,\nOTHER,Other team,OTHER^Requester,,,\n');
      await addToTeam(ctx.db, referrer.u.username, 'EVT');
      const sse = openSse(ctx.url, referrer.token);
      await sse.hello;
      try {
        const id = crypto.randomUUID();
        const study = studyFor('e2');
        await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: rad.token, body: snapshot(study, 1) });
        const otherStudy = studyFor('e3');
        const other = signedReport(rad.u, { study: otherStudy, exam: examFor(otherStudy, 'OTHER^Requester', ''), content: contentWithAlert('urgent') });
        expect((await post(ctx.url, rad.token, other)).status).toBe(201);
        const mine = signedReport(rad.u, { id, study, exam: examFor(study, 'EVENTS^Requester', ''), content: contentWithAlert('urgent') });
        expect((await post(ctx.url, rad.token, mine)).status).toBe(201);
        await sse.waitFor((e) => e.type === 'alert-changed' && e.reportId === id);
        expect(sse.events.every((e) => e.type === 'alert-changed' && e.teamId === 'EVT')).toBe(true);
        const log = await http<{ events: { type: string; reportId: string }[] }>(ctx.url, 'GET', '/api/events/log?since=0', { token: referrer.token });
        expect(log.body.events.length).toBeGreaterThan(0);
        expect(log.body.events.every((e) => e.type === 'alert-changed' && e.reportId !== other.report.id)).toBe(true);
      } finally {
        sse.close();
      }
    });

    it('ends the stream when the session is logged out', async () => {
      const { token } = await session('radiologist');
      const sse = openSse(ctx.url, token);
      await sse.hello;
      await http(ctx.url, 'DELETE', '/api/session', { token });
      expect(await sse.ended).toBe('session-ended');
    });
  });

  // ---- the contract --------------------------------------------------------------------------

  describe(`contract (${kind})`, () => {
    it('every answer parses with the common/hub.ts schema the workstation uses', async () => {
      const a = await session('locum');
      const b = await session('radiologist');
      const strict = <T,>(schema: { parse(v: unknown): T }, v: unknown): T => schema.parse(v);
      strict(HubHealth, (await http(ctx.url, 'GET', '/api/health')).body);
      strict(LoginResponseSchema, (await http(ctx.url, 'POST', '/api/session', { body: { username: a.u.username, password: a.u.password } })).body);
      strict(SessionInfo, (await http(ctx.url, 'GET', '/api/session', { token: a.token })).body);
      strict(SitePolicy, (await http(ctx.url, 'GET', '/api/policy', { token: a.token })).body);
      const id = crypto.randomUUID();
      const study = studyFor('c');
      strict(DraftAckSchema, (await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: a.token, body: snapshot(study, 1) })).body);
      strict(UnfinishedListSchema, (await http(ctx.url, 'GET', '/api/unfinished', { token: b.token })).body);
      const sse = openSse(ctx.url, b.token, { since: 0 });
      try {
        strict(HubHello, await sse.hello);
        strict(TakeOverResponseSchema, (await http(ctx.url, 'POST', `/api/drafts/${id}/take-over`, { token: b.token, body: {} })).body);
        strict(DraftWithHistorySchema, (await http(ctx.url, 'GET', `/api/drafts/${id}`, { token: b.token })).body);
        const p = signedReport(b.u, { id, study });
        strict(IngestReceiptSchema, (await post(ctx.url, b.token, p)).body);
        strict(IngestReceiptSchema, (await post(ctx.url, b.token, signedAddendum(b.u, p))).body);
        strict(HubSignedReportSchema, (await http(ctx.url, 'GET', `/api/reports/${id}`, { token: b.token })).body);
        // A provisional report, its verification, a legacy payload without exam: every answer parses.
        const trainee = await session('trainee');
        const trainer = await session('trainer');
        const provisional = signedReport(trainee.u, { meaning: 'provisional' });
        strict(IngestReceiptSchema, (await post(ctx.url, trainee.token, provisional)).body);
        expect(strict(HubSignedReportSchema, (await http(ctx.url, 'GET', `/api/reports/${provisional.report.id}`, { token: b.token })).body).state).toBe('provisional');
        strict(IngestReceiptSchema, (await post(ctx.url, trainer.token, verificationOf(trainer.u, provisional))).body);
        expect(strict(HubSignedReportSchema, (await http(ctx.url, 'GET', `/api/reports/${provisional.report.id}`, { token: b.token })).body).state).toBe('final');
        const legacy = signedReport(b.u, { exam: null });
        strict(IngestReceiptSchema, (await post(ctx.url, b.token, legacy)).body);
        expect(strict(HubSignedReportSchema, (await http(ctx.url, 'GET', `/api/reports/${legacy.report.id}`, { token: b.token })).body).requesterUnknown).toBe(true);
        strict(HubErrorBody, (await post(ctx.url, trainer.token, signedAddendum(trainer.u, signedReport(trainee.u, { meaning: 'provisional' })))).body);
        strict(EventLog, (await http(ctx.url, 'GET', '/api/events/log?since=0', { token: b.token })).body);
        strict(HubErrorBody, (await http(ctx.url, 'PUT', `/api/drafts/${id}`, { token: a.token, body: snapshot(study, 9) })).body);
        await sse.waitFor((e) => e.type === 'report-signed' && e.reportId === id && e.kind === 'addendum');
        for (const e of sse.events) strict(HubEvent, e);
      } finally {
        sse.close();
      }
    });
  });

  // ---- malformed and unauthorised requests --------------------------------------------------

  describe(`clear 4xx errors, never 5xx (${kind})`, () => {
    it('answers every malformed or unauthorised request with a JSON 4xx', async () => {
      const { u, token } = await session('radiologist');
      const trainee = await session('trainee');
      const good = signedReport(u);
      const cases: { name: string; req: () => Promise<{ status: number; body: unknown }>; status: number; code: string }[] = [
        { name: 'malformed JSON', req: () => http(ctx.url, 'POST', '/api/ingest', { token, rawBody: '{"kind":"report",', headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() } }), status: 400, code: 'invalid-json' },
        { name: 'empty JSON body', req: () => http(ctx.url, 'POST', '/api/ingest', { token, rawBody: '', headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() } }), status: 400, code: 'invalid-json' },
        { name: 'text/plain', req: () => http(ctx.url, 'POST', '/api/ingest', { token, rawBody: JSON.stringify(good), headers: { 'content-type': 'text/plain', 'idempotency-key': crypto.randomUUID() } }), status: 415, code: 'unsupported-media-type' },
        { name: 'form encoded login', req: () => http(ctx.url, 'POST', '/api/session', { rawBody: 'username=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), status: 415, code: 'unsupported-media-type' },
        { name: 'oversize body', req: () => http(ctx.url, 'POST', '/api/ingest', { token, rawBody: JSON.stringify({ pad: 'x'.repeat(3 * 1024 * 1024) }), headers: { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() } }), status: 413, code: 'payload-too-large' },
        { name: 'no token', req: () => http(ctx.url, 'POST', '/api/ingest', { body: good, headers: { 'idempotency-key': crypto.randomUUID() } }), status: 401, code: 'unauthenticated' },
        { name: 'invalid token', req: () => http(ctx.url, 'GET', '/api/unfinished', { token: 'fsh_not-a-real-token-at-all' }), status: 401, code: 'unauthenticated' },
        { name: 'garbage authorization', req: () => http(ctx.url, 'GET', '/api/unfinished', { headers: { authorization: 'Basic dXNlcjpwdw==' } }), status: 401, code: 'unauthenticated' },
        { name: 'events without token', req: () => http(ctx.url, 'GET', '/api/events'), status: 401, code: 'unauthenticated' },
        { name: 'wrong role', req: () => post(ctx.url, trainee.token, signedReport(trainee.u)), status: 403, code: 'forbidden' },
        { name: 'missing idempotency key', req: () => http(ctx.url, 'POST', '/api/ingest', { token, body: good }), status: 400, code: 'idempotency-key-missing' },
        { name: 'short idempotency key', req: () => post(ctx.url, token, good, 'abc'), status: 400, code: 'idempotency-key-invalid' },
        { name: 'idempotency key with spaces', req: () => post(ctx.url, token, good, 'has spaces in it'), status: 400, code: 'idempotency-key-invalid' },
        { name: 'schema violation', req: () => post(ctx.url, token, { kind: 'report', report: { id: 'x' } }), status: 400, code: 'invalid-input' },
        { name: 'unknown kind', req: () => post(ctx.url, token, { kind: 'shopping-list' }), status: 400, code: 'invalid-input' },
        { name: 'JSON array body', req: () => post(ctx.url, token, [1, 2, 3]), status: 400, code: 'invalid-input' },
        { name: 'prototype poisoning', req: () => http(ctx.url, 'POST', '/api/session', { rawBody: '{"username":"a","password":"b","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } }), status: 400, code: 'invalid-json' },
        { name: 'NUL in report text', req: () => post(ctx.url, token, signedReport(u, { content: signableContent(' \u0000 ') })), status: 400, code: 'invalid-input' },
        { name: 'over-long report id', req: () => http(ctx.url, 'PUT', `/api/drafts/${'x'.repeat(200)}`, { token, body: snapshot(studyFor('x'), 1) }), status: 400, code: 'invalid-input' },
        { name: 'absurdly long report id', req: () => http(ctx.url, 'GET', `/api/drafts/${'x'.repeat(5000)}`, { token }), status: 414, code: 'invalid-input' },
        { name: 'bad snapshot', req: () => http(ctx.url, 'PUT', `/api/drafts/${crypto.randomUUID()}`, { token, body: { revision: -1 } }), status: 400, code: 'invalid-input' },
        { name: 'bad since', req: () => http(ctx.url, 'GET', '/api/events/log?since=-4', { token }), status: 400, code: 'invalid-input' },
        { name: 'unknown report', req: () => http(ctx.url, 'GET', `/api/reports/${crypto.randomUUID()}`, { token }), status: 404, code: 'not-found' },
        { name: 'bad URL encoding', req: () => http(ctx.url, 'GET', '/api/reports/%E0%A4%A', { token }), status: 400, code: 'invalid-input' },
        { name: 'unknown route', req: () => http(ctx.url, 'GET', '/api/nothing-here', { token }), status: 404, code: 'not-found' },
        { name: 'login missing password', req: () => http(ctx.url, 'POST', '/api/session', { body: { username: 'x' } }), status: 400, code: 'invalid-input' },
      ];
      for (const c of cases) {
        const r = await c.req();
        expect([c.name, r.status]).toEqual([c.name, c.status]);
        const body = r.body as ErrorBody;
        expect([c.name, body.error?.code]).toEqual([c.name, c.code]);
        expect(typeof body.error.message).toBe('string');
        expect(body.error.message.length).toBeGreaterThan(5);
      }
      // Nothing stored from any of them.
      expect(await count(ctx.db, 'signed_reports WHERE id = $1', [good.report.id])).toBe(0);
    });
  });
}
