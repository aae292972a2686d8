// Issue 9 line 4: the escalation scheduler. A critical alert not acknowledged climbs its ladder
// (requester's team, 1 h → the team's consultant, 1 h → the duty radiologist, who holds it) at
// each deadline and never again after the last rung; acknowledgement stops it; a hub down across
// several deadlines climbs every rung due when it starts again (state is all in the database);
// several hub instances passing at once escalate each alert once per rung; a deadline of kind
// 'none' never escalates. Times come from a fake clock or are given to the pass. PGlite and PostgreSQL.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDetail } from '../../common/alerts.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { importDirectory, setDuty } from '../../server/directory.ts';
import { runEscalationPass, startEscalationScheduler, type EscalationResult } from '../../server/escalation.ts';
import { ManualClock } from '../support/manualClock.ts';
import { contentWithAlert } from '../support/syncWorkstation.ts';
import {
  addUser, count, examFor, http, loginAs, post, signedReport, startTestHub, studyFor, testDb,
  type DbKind, type TestHub, type TestUser,
} from './support.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;

interface Escalation { rung: number; at: string; detail: { to?: string; dueBy?: string } }

for (const kind of ['pglite', 'postgres'] as DbKind[]) {
  describe(`alert escalation (${kind})`, () => {
    let d: Awaited<ReturnType<typeof testDb>>;
    let db: HubDb;
    let hub: TestHub;
    let url = '';
    let rad: TestUser; let radToken = '';
    let edA: TestUser; let consultant: TestUser; let duty: TestUser; let lead: TestUser;
    const tokens = new Map<string, string>();
    const tokenOf = async (u: TestUser): Promise<string> => {
      if (!tokens.has(u.username)) tokens.set(u.username, await loginAs(url, u));
      return tokens.get(u.username)!;
    };
    const idOf = async (u: TestUser): Promise<number> => Number((await db.query<{ id: string }>('SELECT id FROM users WHERE username = $1', [u.username])).rows[0]!.id);

    /** Signs an alert-coded report now (real time, as the workstation would) on `base`; its id and signature time. */
    const sign = async (category: 'critical' | 'urgent', base = url): Promise<{ id: string; t0: number }> => {
      const study = studyFor(`es${crypto.randomInt(1e9)}`);
      const p = signedReport(rad, { study, content: contentWithAlert(category), exam: examFor(study) });
      const r = await post(base, radToken, p);
      expect(r.status, r.text).toBe(201);
      return { id: p.report.id, t0: Date.parse(p.report.signature.signedAt) };
    };
    const alertRow = async (id: string) => (await db.query<{ rung: number; next_due: string | null; state: string }>(
      'SELECT rung, next_due, state FROM alerts WHERE report_id = $1', [id])).rows[0]!;
    const escalations = async (id: string): Promise<Escalation[]> => (await db.query<Escalation>(
      `SELECT rung, at, detail FROM alert_events WHERE report_id = $1 AND type = 'escalated' ORDER BY seq`, [id])).rows;
    const notifiedUsers = async (id: string, rung: number): Promise<number[]> => (await db.query<{ user_id: number }>(
      'SELECT DISTINCT user_id FROM notifications WHERE report_id = $1 AND rung = $2 ORDER BY user_id', [id, rung])).rows.map((r) => Number(r.user_id));
    const get = async <T>(u: TestUser, path: string) => http<T>(url, 'GET', path, { token: await tokenOf(u) });
    const ack = async (u: TestUser, id: string) =>
      http<AlertDetail>(url, 'POST', `/api/alerts/${id}/acknowledge`, { token: await tokenOf(u), body: { actionPlan: 'Seen; patient recalled for CT today.' } });
    const iso = (t: number): string => new Date(t).toISOString();

    beforeAll(async () => {
      d = await testDb(kind, `escalation_${kind}`);
      db = d.db;
      hub = await startTestHub(db);
      url = hub.url;
      rad = await addUser(db, 'radiologist');
      radToken = await loginAs(url, rad);
      edA = await addUser(db, 'referrer', 'Dr Ada ED');
      consultant = await addUser(db, 'referrer', 'Dr Dan Consultant');
      duty = await addUser(db, 'radiologist', 'Dr Eve Duty');
      lead = await addUser(db, 'safety-lead', 'Dr Flo Lead');
      const csv = [
        'team,team name,referring physician,requesting service,consultant,members',
        `ED,Emergency Department,SMITH^JANE^^DR,Emergency Department,${consultant.username},${edA.username}`,
      ].join('\n');
      await importDirectory(db, csv);
      await setDuty(db, 'duty-radiologist', duty.username);
      await setDuty(db, 'imaging-safety-lead', lead.username);
    }, 60_000);
    afterAll(async () => {
      await hub?.close();
      await d?.cleanup();
    });

    it('a critical alert climbs requester → consultant → duty radiologist at each deadline, then holds; an earlier rung may still acknowledge', async () => {
      const { id, t0 } = await sign('critical');
      expect(await alertRow(id)).toEqual({ rung: 0, next_due: iso(t0 + HOUR), state: 'open' });
      expect((await get<AlertDetail>(duty, `/api/alerts/${id}`)).body.mayAcknowledge).toBe(false);

      // 59 minutes: the requester's team still has a minute.
      await runEscalationPass(db, t0 + 59 * MIN);
      expect((await alertRow(id)).rung).toBe(0);
      expect(await escalations(id)).toEqual([]);

      // The deadline itself: missed, the consultant is responsible and is notified.
      const first = await runEscalationPass(db, t0 + HOUR);
      expect(first.reportIds).toContain(id);
      expect(await alertRow(id)).toEqual({ rung: 1, next_due: iso(t0 + 2 * HOUR), state: 'open' });
      expect(await escalations(id)).toEqual([{ rung: 1, at: iso(t0 + HOUR), detail: { to: 'Dr Dan Consultant', dueBy: iso(t0 + HOUR) } }]);
      expect(await notifiedUsers(id, 1)).toEqual([await idOf(consultant)]);
      // Pushed to workstations and referrer pages as an alert-changed event carrying the new rung.
      const pushed = (await db.query<{ body: { change: string; rung: number } }>(`SELECT body FROM events WHERE report_id = $1 AND type = 'alert-changed' ORDER BY seq DESC LIMIT 1`, [id])).rows[0]!;
      expect(pushed.body).toMatchObject({ change: 'escalated', rung: 1 });

      // A second pass at the same moment finds nothing more to do for it.
      await runEscalationPass(db, t0 + HOUR + 1);
      expect(await escalations(id)).toHaveLength(1);

      // Two hours: the duty radiologist, who holds it (no further deadline).
      await runEscalationPass(db, t0 + 2 * HOUR);
      expect(await alertRow(id)).toEqual({ rung: 2, next_due: null, state: 'open' });
      expect(await notifiedUsers(id, 2)).toEqual([await idOf(duty)]);
      const detail = (await get<AlertDetail>(duty, `/api/alerts/${id}`)).body;
      expect(detail.mayAcknowledge).toBe(true);
      expect(detail.responsible.to).toBe('duty-radiologist');
      expect(detail.timeline.filter((e) => e.type === 'escalated').map((e) => [e.rung, e.actor, e.text])).toEqual([
        [1, null, "Escalated to requester's consultant: Dr Dan Consultant"],
        [2, null, "Escalated to site's duty radiologist: Dr Eve Duty"],
      ]);

      // Then never again, however long it stays open.
      await runEscalationPass(db, t0 + 10_000 * HOUR);
      expect((await escalations(id)).map((e) => e.rung)).toEqual([1, 2]);
      expect((await alertRow(id)).rung).toBe(2);

      // Escalation adds people, removes nobody: the requester's team member may still acknowledge.
      expect((await get<AlertDetail>(edA, `/api/alerts/${id}`)).body.mayAcknowledge).toBe(true);
      const r = await ack(edA, id);
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ state: 'acknowledged', rung: 2, acknowledgement: { by: { name: 'Dr Ada ED' } } });
      await runEscalationPass(db, t0 + 20_000 * HOUR);
      expect((await escalations(id)).map((e) => e.rung)).toEqual([1, 2]);
    });

    it('acknowledgement stops escalation: before the first deadline, and between rungs', async () => {
      const early = await sign('critical');
      const between = await sign('critical');
      expect((await ack(edA, early.id)).status).toBe(200);
      await runEscalationPass(db, between.t0 + 61 * MIN);
      expect((await alertRow(between.id)).rung).toBe(1);
      // The consultant, now responsible, acknowledges; the duty radiologist is never told.
      expect((await ack(consultant, between.id)).status).toBe(200);
      await runEscalationPass(db, between.t0 + 5 * HOUR);
      expect(await alertRow(early.id)).toMatchObject({ rung: 0, state: 'acknowledged' });
      expect(await alertRow(between.id)).toMatchObject({ rung: 1, state: 'acknowledged' });
      expect(await escalations(early.id)).toEqual([]);
      expect((await escalations(between.id)).map((e) => e.rung)).toEqual([1]);
      expect(await notifiedUsers(between.id, 2)).toEqual([]);
    });

    it('the scheduler escalates on its interval, and after a restart catches up at once with the deadline missed while the hub was down', async () => {
      const { id, t0 } = await sign('critical');
      const clock = new ManualClock(t0 + MIN);
      const seen: EscalationResult[] = [];
      const first = startEscalationScheduler(db, { clock: () => clock.now(), timers: clock, intervalMs: 15_000, onEscalated: (r) => seen.push(r) });
      await first.idle();
      // Running: the deadline passes, the next pass (15 s later) escalates, without a restart.
      clock.jump(59 * MIN);
      expect((await alertRow(id)).rung).toBe(0);
      await clock.advance(15_000);
      await first.idle();
      expect((await alertRow(id)).rung).toBe(1);
      expect(seen.some((r) => r.reportIds.includes(id))).toBe(true);
      // The hub stops; no timer is left behind.
      await first.stop();
      expect(clock.pending).toBe(0);
      await clock.advance(4 * HOUR);
      expect((await alertRow(id)).rung).toBe(1);

      // Another hub process starts (a new connection pool on the same database) long after.
      const restartedDb = await d.open();
      const restartAt = clock.now();
      seen.length = 0;
      const second = startEscalationScheduler(restartedDb, { clock: () => clock.now(), timers: clock, intervalMs: 15_000, onEscalated: (r) => seen.push(r) });
      await second.idle();
      expect(await alertRow(id)).toEqual({ rung: 2, next_due: null, state: 'open' });
      // Each rung its own entry: done now, naming the deadline that was missed.
      expect((await escalations(id)).slice(1)).toEqual([{ rung: 2, at: iso(restartAt), detail: { to: 'Dr Eve Duty', dueBy: iso(t0 + 2 * HOUR) } }]);
      expect(seen.flatMap((r) => r.reportIds)).toContain(id);
      await clock.advance(60_000);
      await second.idle();
      await second.stop();
      expect((await escalations(id)).map((e) => e.rung)).toEqual([1, 2]);
    });

    it('downtime across several deadlines: both rungs at once, each with its own entry and notifications', async () => {
      const { id, t0 } = await sign('critical');
      const result = await runEscalationPass(db, t0 + 3 * HOUR);
      expect(result.reportIds.filter((x) => x === id)).toHaveLength(1);
      expect(await escalations(id)).toEqual([
        { rung: 1, at: iso(t0 + 3 * HOUR), detail: { to: 'Dr Dan Consultant', dueBy: iso(t0 + HOUR) } },
        { rung: 2, at: iso(t0 + 3 * HOUR), detail: { to: 'Dr Eve Duty', dueBy: iso(t0 + 2 * HOUR) } },
      ]);
      expect(await notifiedUsers(id, 1)).toEqual([await idOf(consultant)]);
      expect(await notifiedUsers(id, 2)).toEqual([await idOf(duty)]);
    });

    it('several hub instances passing at the same moment escalate each alert exactly once per rung', async () => {
      const signed = await Promise.all(Array.from({ length: 24 }, () => sign('critical')));
      const ids = signed.map((s) => s.id);
      const t0 = Math.max(...signed.map((s) => s.t0));
      // Four hubs (on PostgreSQL four connection pools; PGlite has one connection, so the passes interleave on it).
      const instances = kind === 'postgres' ? [db, await d.open(), await d.open(), await d.open()] : [db, db, db, db];
      // Small batches, so the passes claim rows in many interleaved transactions.
      const passAll = (at: number) => Promise.all(instances.map((inst) => runEscalationPass(inst, at, { batch: 5 })));
      for (const at of [t0 + HOUR, t0 + HOUR, t0 + 5 * HOUR, t0 + 5 * HOUR]) {
        const results = await passAll(at);
        expect(results.every((r) => new Set(r.reportIds).size === r.reportIds.length)).toBe(true);
      }
      const perRung = (await db.query<{ report_id: string; rung: number; n: number }>(
        `SELECT report_id, rung, count(*)::int AS n FROM alert_events WHERE type = 'escalated' AND report_id = ANY($1) GROUP BY 1, 2 ORDER BY 1, 2`, [ids])).rows;
      expect(perRung).toHaveLength(ids.length * 2);
      expect(perRung.every((r) => r.n === 1)).toBe(true);
      // Each rung climbed once in the hash-chained audit trail too.
      const audited = (await db.query<{ report_id: string; rung: string; n: number }>(
        `SELECT report_id, detail->>'rung' AS rung, count(*)::int AS n FROM audit WHERE action = 'alert-escalated' AND report_id = ANY($1) GROUP BY 1, 2`, [ids])).rows;
      expect(audited).toHaveLength(ids.length * 2);
      expect(audited.every((r) => r.n === 1)).toBe(true);
      expect(await count(db, `alerts WHERE report_id = ANY($1) AND rung = 2 AND next_due IS NULL`, [ids])).toBe(ids.length);
      // One notification per person, channel and rung: the consultant's and the duty radiologist's webhooks, once each.
      expect(await count(db, `notifications WHERE report_id = ANY($1) AND rung > 0`, [ids])).toBe(ids.length * 2);
      // The same, with all four passes started together at a time when both rungs are due at once.
      const more = await Promise.all(Array.from({ length: 12 }, () => sign('critical')));
      const moreIds = more.map((s) => s.id);
      const results = await passAll(Math.max(...more.map((s) => s.t0)) + 3 * HOUR);
      expect(results.reduce((n, r) => n + r.reportIds.filter((x) => moreIds.includes(x)).length, 0)).toBeGreaterThanOrEqual(moreIds.length);
      const counts = (await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM alert_events WHERE type = 'escalated' AND report_id = ANY($1) GROUP BY report_id, rung`, [moreIds])).rows;
      expect(counts).toHaveLength(moreIds.length * 2);
      expect(counts.every((r) => r.n === 1)).toBe(true);
    });

    it("a deadline of kind 'none' never escalates: the requester holds the alert until acknowledged", async () => {
      const noDeadline = await startTestHub(db, { policy: { alertDeadlines: { urgent: { kind: 'none' } } }, migrate: false });
      try {
        const { id, t0 } = await sign('urgent', noDeadline.url);
        expect(await alertRow(id)).toEqual({ rung: 0, next_due: null, state: 'open' });
        await runEscalationPass(db, t0 + 10 * 365 * 24 * HOUR);
        expect((await alertRow(id)).rung).toBe(0);
        expect(await escalations(id)).toEqual([]);
      } finally {
        await noDeadline.close();
      }
      // The default urgent ladder (24 h, then the consultant, who holds it) escalates once.
      const { id, t0 } = await sign('urgent');
      await runEscalationPass(db, t0 + 24 * HOUR - 1);
      expect((await alertRow(id)).rung).toBe(0);
      await runEscalationPass(db, t0 + 1000 * HOUR);
      expect(await alertRow(id)).toEqual({ rung: 1, next_due: null, state: 'open' });
      expect((await escalations(id)).map((e) => e.detail.dueBy)).toEqual([iso(t0 + 24 * HOUR)]);
    });

    it('a failing pass is reported and counted, and the next pass tries again', async () => {
      const { id, t0 } = await sign('critical');
      let down = 2;
      // The database refuses the scheduler's transactions twice (a PostgreSQL restart), then answers.
      const flaky: HubDb = Object.create(db, {
        transaction: { value: <T>(fn: Parameters<HubDb['transaction']>[0]) => (down-- > 0 ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')) : db.transaction(fn)) as Promise<T> },
      });
      const clock = new ManualClock(t0 + 2 * HOUR);
      const errors: string[] = [];
      const s = startEscalationScheduler(flaky, { clock: () => clock.now(), timers: clock, intervalMs: 15_000, onError: (e) => errors.push((e as Error).message) });
      await s.idle();
      expect(s.health()).toEqual({ lastPassAt: null, consecutiveFailures: 1, lastError: 'connect ECONNREFUSED 127.0.0.1:5432' });
      await clock.advance(15_000);
      await s.idle();
      expect(s.health().consecutiveFailures).toBe(2);
      expect((await alertRow(id)).rung).toBe(0);
      await clock.advance(15_000);
      await s.idle();
      await s.stop();
      expect(errors).toHaveLength(2);
      expect(s.health()).toEqual({ lastPassAt: t0 + 2 * HOUR + 30_000, consecutiveFailures: 0, lastError: null });
      expect((await alertRow(id)).rung).toBe(2);
    });

    it('refuses a pass at no time, or a scheduler with no interval, in words', async () => {
      await expect(runEscalationPass(db, Number.NaN)).rejects.toThrow(/now must be a time in milliseconds/);
      await expect(runEscalationPass(db, Date.now(), { batch: 0 })).rejects.toThrow(/batch must be a whole number/);
      expect(() => startEscalationScheduler(db, { intervalMs: 0 })).toThrow(/intervalMs must be a positive number/);
    });
  });
}
