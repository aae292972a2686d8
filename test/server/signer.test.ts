// The signer is the person logged in (issue 7 finding 5), at the hub, on PGlite: a signature time
// the hub could not have seen honestly ("not a date", 1999, 2099, more than 5 minutes ahead of its
// clock, before the signer's account existed) is refused for good; a report signed offline and
// delivered late is accepted with the hub's own receipt time beside its signature time; the
// stored author is the authenticated user whatever the client claims; the password asked again
// before signing is checked by the hub and a wrong one counts towards lockout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfirmSignerResponse, HUB_PATHS, SIGNED_AT_SKEW_MS, SitePolicy, type HubSignedReport, type IngestReceipt } from '../../common/hub.ts';
import type { Role } from '../../common/report.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import {
  addUser, http, loginAs, post, signedAddendum, signedReport, verificationOf, type TestHub, type TestUser, errorCode as code, openTestHub, type ErrorBody,
} from './support.ts';


describe('the signer at the hub (PGlite)', () => {
  let db: HubDb;
  let t: TestHub;
  let url: string;
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    ({ db, t, url, close } = await openTestHub('pglite', 'signer', { policy: { lockout: { maxFailures: 3, baseSeconds: 60, maxSeconds: 600 }, signConfirmIdleMinutes: 10 } }));
  }, 180_000);
  afterAll(async () => close());

  const session = async (role: Role = 'radiologist'): Promise<{ u: TestUser; token: string }> => {
    const u = await addUser(db, role);
    return { u, token: await loginAs(url, u) };
  };
  const storedCount = async (id: string): Promise<number> =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM signed_reports WHERE id = $1', [id])).rows[0]!.n;

  describe('signedAt', () => {
    it.each([
      ['not a date', 'not a date'],
      ['1999', '1999-01-01T09:00:00Z'],
      ['2099', '2099-01-01T09:00:00Z'],
      ['6 minutes ahead of the hub', new Date(Date.now() + SIGNED_AT_SKEW_MS + 60_000).toISOString()],
      ['a date without its time zone', '2026-11-28T10:00:00'],
      ['an impossible date', '2026-02-30T10:00:00Z'],
    ])('refuses a report signed at %s (422 signed-at-implausible, permanent: replayed for the key)', async (_label, signedAt) => {
      const { u, token } = await session();
      const p = signedReport(u, { signedAt });
      const key = crypto.randomUUID();
      const r = await post(url, token, p, key);
      expect(r.status).toBe(422);
      expect(code(r)).toBe('signed-at-implausible');
      expect((r.body as ErrorBody).error.message).toContain(signedAt);
      expect(await storedCount(p.report.id)).toBe(0);
      const again = await post(url, token, p, key);
      expect(again.status).toBe(422);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    });

    it('refuses a signature time before the signer\'s account existed', async () => {
      const { u, token } = await session();
      const p = signedReport(u, { signedAt: new Date(Date.now() - 3600_000).toISOString() });
      const r = await post(url, token, p);
      expect(r.status).toBe(422);
      expect(code(r)).toBe('signed-at-implausible');
      expect((r.body as ErrorBody).error.message).toMatch(/before .* account existed/);
    });

    it('accepts up to 5 minutes of clock skew ahead, and a report signed offline delivered hours later, recording the hub\'s own receipt time', async () => {
      const { u, token } = await session();
      const ahead = signedReport(u, { signedAt: new Date(Date.now() + SIGNED_AT_SKEW_MS - 30_000).toISOString() });
      expect((await post(url, token, ahead)).status).toBe(201);

      const signedAt = new Date().toISOString();
      const late = signedReport(u, { signedAt });
      t.clock.advanceHours(6); // delivered six hours after signing (the hub was unreachable)
      try {
        const r = await post(url, token, late);
        expect(r.status).toBe(201);
        const receipt = r.body as IngestReceipt;
        const got = await http<HubSignedReport>(url, 'GET', `/api/reports/${late.report.id}`, { token });
        expect(got.body.signatures[0]!.signedAt).toBe(signedAt);
        expect(Date.parse(receipt.storedAt) - Date.parse(signedAt)).toBeGreaterThanOrEqual(6 * 3600_000 - 1000);
        expect((await db.query<{ stored_at: string }>('SELECT stored_at FROM signed_reports WHERE id = $1', [late.report.id])).rows[0]!.stored_at).toBe(receipt.storedAt);
      } finally {
        t.clock.advanceHours(-6);
      }
    });

    it('checks the verification\'s and the addendum\'s signature time too', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const prov = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, prov)).status).toBe(201);
      const v = await post(url, trainer.token, verificationOf(trainer.u, prov, { signedAt: '2099-01-01T00:00:00Z' }));
      expect(v.status).toBe(422);
      expect(code(v)).toBe('signed-at-implausible');

      const final = signedReport(trainer.u);
      expect((await post(url, trainer.token, final)).status).toBe(201);
      const a = signedAddendum(trainer.u, final);
      a.addendum.signature.signedAt = 'banana';
      const r = await post(url, trainer.token, a);
      expect(r.status).toBe(422);
      expect(code(r)).toBe('signed-at-implausible');
    });
  });

  describe('author', () => {
    it('stores the authenticated user as the author, whatever the client claims', async () => {
      const { u, token } = await session();
      const p = signedReport(u);
      p.report.author = 'Dr Someone Else';
      expect((await post(url, token, p)).status).toBe(201);
      const got = await http<HubSignedReport>(url, 'GET', `/api/reports/${p.report.id}`, { token });
      expect(got.body.author).toBe(u.name);
      expect((await db.query<{ author: string }>('SELECT author FROM signed_reports WHERE id = $1', [p.report.id])).rows[0]!.author).toBe(u.name);
    });

    it('refuses a signature in another person\'s name (signer-mismatch), whoever sends it', async () => {
      const trainee = await session('trainee');
      const radiologist = await addUser(db, 'radiologist');
      const forged = signedReport(radiologist);
      const r = await post(url, trainee.token, forged);
      expect([403, 422]).toContain(r.status);
      expect(await storedCount(forged.report.id)).toBe(0);
    });
  });

  describe('confirming the password before signing', () => {
    const confirm = (token: string, password: unknown) => http(url, 'POST', HUB_PATHS.sessionConfirm, { token, body: { password } });

    it('confirms the session user\'s password and answers the site\'s idle limit; the secret is not in the audit', async () => {
      const { u, token } = await session();
      const r = await confirm(token, u.password);
      expect(r.status).toBe(200);
      const body = ConfirmSignerResponse.parse(r.body);
      expect(body.idleMinutes).toBe(10);
      expect(Math.abs(Date.parse(body.confirmedAt) - t.clock.now())).toBeLessThan(60_000);
      const audit = await db.query<{ action: string; detail: unknown }>(
        'SELECT a.action, a.detail FROM audit a JOIN users x ON x.id = a.actor_id WHERE x.username = $1 ORDER BY seq', [u.username]);
      expect(audit.rows.map((a) => a.action)).toEqual(['login', 'signer-confirmed']);
      expect(JSON.stringify(audit.rows)).not.toContain(u.password);
    });

    it('the default idle limit is 15 minutes', () => {
      expect(SitePolicy.parse({}).signConfirmIdleMinutes).toBe(15);
    });

    it('refuses a wrong password (403), counts it towards lockout, and a locked account cannot confirm or log in', async () => {
      const { u, token } = await session();
      for (let i = 0; i < 2; i++) {
        const r = await confirm(token, 'wrong-password');
        expect(r.status).toBe(403);
        expect((r.body as ErrorBody).error.message).toMatch(/Wrong password/);
      }
      const third = await confirm(token, 'wrong-password');
      expect(third.status).toBe(429);
      expect(code(third)).toBe('locked-out');
      // Locked: even the right password is not checked now, and logging in is refused too.
      expect((await confirm(token, u.password)).status).toBe(429);
      expect((await http(url, 'POST', '/api/session', { body: { username: u.username, password: u.password } })).status).toBe(429);
      const failures = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM audit a JOIN users x ON x.id = a.actor_id WHERE x.username = $1 AND a.action = 'signer-confirm-failed'`, [u.username]);
      expect(failures.rows[0]!.n).toBe(3);
    });

    it('needs a live session: none, or a logged-out one, is 401', async () => {
      const { u, token } = await session();
      expect((await http(url, 'POST', HUB_PATHS.sessionConfirm, { body: { password: u.password } })).status).toBe(401);
      expect((await http(url, 'DELETE', '/api/session', { token })).status).toBe(200);
      expect((await confirm(token, u.password)).status).toBe(401);
    });

    it('refuses a malformed body (400) without counting it', async () => {
      const { u, token } = await session();
      expect((await confirm(token, '')).status).toBe(400);
      expect((await http(url, 'POST', HUB_PATHS.sessionConfirm, { token, body: { password: u.password, username: 'other' } })).status).toBe(400);
      const row = await db.query<{ failed_logins: number }>('SELECT failed_logins FROM users WHERE username = $1', [u.username]);
      expect(row.rows[0]!.failed_logins).toBe(0);
    });
  });
});
