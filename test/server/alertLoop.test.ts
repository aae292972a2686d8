// Issue 9 lines 2, 3 (hub side) and 7: routing by the site directory, the unknown requester sent at
// once to the duty radiologist with the reason, acknowledgement only by a responsible person with
// an action plan, a referrer reads only their teams' reports and alerts (every route), the
// timeline, and the safety lead's dashboard and CSV checked against seeded data. PGlite and PostgreSQL.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDetail, AlertList, SafetyDashboard } from '../../common/alerts.ts';
import type { EventLog } from '../../common/hub.ts';
import { formatDateTimeIn } from '../../common/format.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { addToTeam, DirectoryError, importDirectory, setDuty } from '../../server/directory.ts';
import { runEscalationPass } from '../../server/escalation.ts';
import { contentWithAlert } from '../support/syncWorkstation.ts';
import { addUser, examFor, http, loginAs, openTestHub, post, signedReport, studyFor, verificationOf, type DbKind, type ErrorBody, type TestUser } from './support.ts';

for (const kind of ['pglite', 'postgres'] as DbKind[]) {
  describe(`closed-loop alerts at the hub (${kind})`, () => {
    let db: HubDb;
    let url = '';
    let close: () => Promise<void> = async () => {};
    let rad: TestUser; let radToken = '';
    let edA: TestUser; let edB: TestUser; let wardDoc: TestUser; let consultant: TestUser; let duty: TestUser; let lead: TestUser;
    const tokens = new Map<string, string>();
    const tokenOf = async (u: TestUser): Promise<string> => {
      if (!tokens.has(u.username)) tokens.set(u.username, await loginAs(url, u));
      return tokens.get(u.username)!;
    };
    const sign = async (category: 'critical' | 'urgent' | 'cancer' | 'significant' | 'none', requester = 'SMITH^Jane^^Dr', service = 'Emergency Department') => {
      const study = studyFor(`al${crypto.randomInt(1e9)}`);
      const p = signedReport(rad, { study, content: contentWithAlert(category), exam: examFor(study, requester, service) });
      const r = await post(url, radToken, p);
      expect(r.status).toBe(201);
      return p.report.id;
    };
    const idOf = async (u: TestUser): Promise<number> => Number((await db.query<{ id: string }>('SELECT id FROM users WHERE username = $1', [u.username])).rows[0]!.id);
    const get = async <T>(u: TestUser, path: string) => http<T>(url, 'GET', path, { token: await tokenOf(u) });
    const ack = async (u: TestUser, id: string, actionPlan = 'Seen; patient called back for CT today.') =>
      http<AlertDetail>(url, 'POST', `/api/alerts/${id}/acknowledge`, { token: await tokenOf(u), body: { actionPlan } });

    beforeAll(async () => {
      ({ db, url, close } = await openTestHub(kind, `alertloop_${kind}`));
      rad = await addUser(db, 'radiologist');
      radToken = await loginAs(url, rad);
      edA = await addUser(db, 'referrer', 'Dr Ada ED');
      edB = await addUser(db, 'referrer', 'Dr Ben ED');
      wardDoc = await addUser(db, 'referrer', 'Dr Cara Ward');
      consultant = await addUser(db, 'referrer', 'Dr Dan Consultant');
      duty = await addUser(db, 'radiologist', 'Dr Eve Duty');
      lead = await addUser(db, 'safety-lead', 'Dr Flo Lead');
      const csv = [
        'team,team name,referring physician,requesting service,consultant,members',
        `ED,Emergency Department,SMITH^JANE^^DR,Emergency Department,${consultant.username},${edA.username};${edB.username}`,
        `WARD7,Ward 7 (medicine),JONES^Tom,,,${wardDoc.username}`,
      ].join('\n');
      expect(await importDirectory(db, csv)).toEqual({ teams: 2, requesters: 3, members: 3 });
      await setDuty(db, 'duty-radiologist', duty.username);
      await setDuty(db, 'imaging-safety-lead', lead.username);
    }, 60_000);
    afterAll(async () => close());

    it('routes by the directory (name as DICOM writes it, case and ^ aside) and queues the first notifications', async () => {
      const id = await sign('critical', 'Smith^Jane^^Dr');
      const a = (await db.query<{ team_id: string; routing_reason: string | null }>('SELECT team_id, routing_reason FROM alerts WHERE report_id = $1', [id])).rows[0]!;
      expect(a).toEqual({ team_id: 'ED', routing_reason: null });
      const types = (await db.query<{ type: string }>('SELECT type FROM alert_events WHERE report_id = $1 ORDER BY seq', [id])).rows.map((r) => r.type);
      expect(types).toEqual(['created', 'routed']);
      // The team and its consultant each get the webhook (no e-mail address on file yet).
      const n = (await db.query<{ user_id: string; channel: string }>('SELECT user_id, channel FROM notifications WHERE report_id = $1 ORDER BY user_id', [id])).rows;
      expect(n.map((r) => Number(r.user_id)).sort()).toEqual([await idOf(edA), await idOf(edB), await idOf(consultant)].sort());
    });

    it('an unknown requester, and one not in the directory, go at once to the duty radiologist with the reason', async () => {
      const unknown = await sign('urgent', '', '');
      const unmapped = await sign('urgent', 'NOBODY^Known', 'Dermatology');
      const rows = (await db.query<{ report_id: string; team_id: string | null; routing_reason: string }>('SELECT report_id, team_id, routing_reason FROM alerts WHERE report_id = ANY($1)', [[unknown, unmapped]])).rows;
      const by = new Map(rows.map((r) => [r.report_id, r]));
      expect(by.get(unknown)).toMatchObject({ team_id: null, routing_reason: 'Requester unknown: the study names no referring physician and no requesting service.' });
      expect(by.get(unmapped)!.routing_reason).toBe('Requester not in the site directory: referring physician "NOBODY^Known", requesting service "Dermatology".');
      const list = await get<AlertList>(duty, '/api/alerts?scope=mine');
      expect(list.status, list.text).toBe(200);
      const mine = list.body.alerts.filter((x) => [unknown, unmapped].includes(x.reportId));
      expect(mine).toHaveLength(2);
      expect(mine.every((x) => x.mayAcknowledge && x.routingReason)).toBe(true);
      // The duty radiologist was queued a notification at once.
      expect(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM notifications WHERE report_id = $1 AND user_id = $2', [unknown, await idOf(duty)])).rows[0]!.n)).toBe(1);
      // Nobody on a team sees it as theirs.
      expect((await get<AlertList>(edA, '/api/alerts')).body.alerts.some((x) => x.reportId === unknown)).toBe(false);
      // The duty radiologist acknowledges it.
      expect((await ack(duty, unknown)).status).toBe(200);
    });

    it('a referrer sees only their teams\' alerts and reports, on every route', async () => {
      const edAlert = await sign('urgent');
      const wardAlert = await sign('significant', 'JONES^Tom', '');
      const plainEd = await sign('none');
      // Lists.
      const edList = (await get<AlertList>(edA, '/api/alerts')).body.alerts.map((x) => x.reportId);
      expect(edList).toContain(edAlert);
      expect(edList).not.toContain(wardAlert);
      expect((await get<AlertList>(wardDoc, '/api/alerts')).body.alerts.map((x) => x.reportId)).toEqual([wardAlert]);
      expect((await get(edA, '/api/alerts?scope=all')).status).toBe(403);
      // Detail and report: another team's is 404, exactly as a report the hub does not hold.
      expect((await get(edA, `/api/alerts/${wardAlert}`)).status).toBe(404);
      expect((await get(edA, `/api/reports/${wardAlert}`)).status).toBe(404);
      expect((await get(edA, `/api/reports/${crypto.randomUUID()}`)).status).toBe(404);
      expect((await get<AlertDetail>(edA, `/api/alerts/${edAlert}`)).body.report.id).toBe(edAlert);
      expect((await get(edA, `/api/reports/${edAlert}`)).status).toBe(200);
      // A report with no alert is still the team's report (its requester maps to ED).
      expect((await get(edA, `/api/reports/${plainEd}`)).status).toBe(200);
      expect((await get(wardDoc, `/api/reports/${plainEd}`)).status).toBe(404);
      // Acknowledging another team's alert: refused, and nothing changes.
      expect((await ack(edA, wardAlert)).status).toBe(404);
      // Events: a referrer's stream carries only their teams' alert events, never report-signed.
      const log = await get<EventLog>(edA, '/api/events/log');
      expect(log.status).toBe(200);
      expect(log.body.events.every((e) => e.type === 'alert-changed' && e.teamId === 'ED')).toBe(true);
      expect(log.body.events.some((e) => e.reportId === edAlert)).toBe(true);
      // The phone-call and dashboard routes are not a referrer's.
      expect((await http(url, 'POST', `/api/alerts/${edAlert}/phone-calls`, { token: await tokenOf(edA), body: { calls: [{ id: 'x', clinician: 'a', role: 'b', time: new Date().toISOString(), recordedBy: 'c', recordedAt: new Date().toISOString() }] } })).status).toBe(403);
      expect((await get(edA, '/api/safety/dashboard')).status).toBe(403);
      expect((await get(edA, '/api/safety/alerts.csv')).status).toBe(403);
    });

    it('acknowledgement: by anyone on the team, named, with an action plan; once; escalation and pending notifications stop', async () => {
      const id = await sign('critical');
      // Opening records "opened by" once per person.
      await get(edB, `/api/alerts/${id}`);
      await get(edB, `/api/alerts/${id}`);
      // Blank, zero-width and too-short plans are refused.
      for (const plan of ['', '\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200b', 'ok']) {
        const r = await ack(edB, id, plan);
        expect(r.status).toBe(400);
      }
      // A radiologist who signed it is not responsible for it.
      expect((await ack(rad, id)).status).toBe(403);
      expect(((await ack(rad, id)).body as unknown as ErrorBody).error.message).toMatch(/not responsible/);
      const r = await ack(edB, id, 'Called the patient back; CT angiogram booked for 14:00.');
      expect(r.status).toBe(200);
      expect(r.body.state).toBe('acknowledged');
      expect(r.body.acknowledgement).toMatchObject({ by: { name: 'Dr Ben ED', role: 'referrer' }, actionPlan: 'Called the patient back; CT angiogram booked for 14:00.' });
      expect(r.body.timeline.map((e) => e.type)).toEqual(['created', 'routed', 'opened', 'acknowledged']);
      expect(r.body.timeline[3]!.text).toMatch(/^Acknowledged by Dr Ben ED: Called the patient back/);
      // A second acknowledgement (another team member at the same moment) is refused, naming the first.
      const second = await ack(edA, id);
      expect(second.status).toBe(409);
      expect((second.body as unknown as ErrorBody).error.message).toMatch(/already acknowledged by Dr Ben ED/);
      expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM notifications WHERE report_id = $1 AND state = 'pending'`, [id])).rows[0]!.n)).toBe(0);
      // The database refuses to change an acknowledged alert, whatever the writer.
      await expect(db.query(`UPDATE alerts SET state = 'open', acknowledged_at = NULL, acknowledged_by = NULL, action_plan = NULL WHERE report_id = $1`, [id])).rejects.toThrow(/never changes/);
      await expect(db.query('DELETE FROM alerts WHERE report_id = $1', [id])).rejects.toThrow(/never removed/);
      await expect(db.query(`UPDATE alerts SET team_id = 'WARD7' WHERE report_id = $1`, [id])).rejects.toThrow(/never change/);
    });

    it('two team members acknowledging at the same moment: exactly one succeeds', async () => {
      const id = await sign('urgent');
      const [a, b] = await Promise.all([ack(edA, id, 'Will review in clinic today.'), ack(edB, id, 'Phoning the patient now.')]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM alert_events WHERE report_id = $1 AND type = 'acknowledged'`, [id])).rows[0]!.n)).toBe(1);
    });

    it('the directory import is all or nothing, and names the line at fault', async () => {
      const before = (await db.query<{ n: string }>('SELECT count(*) AS n FROM directory_requesters')).rows[0]!.n;
      await expect(importDirectory(db, 'team,team name,referring physician,requesting service,consultant,members\nED,,X^Y,,,no-such-user\n')).rejects.toThrow(/Line 2: no hub account "no-such-user"/);
      await expect(importDirectory(db, 'team,team name,referring physician,requesting service,consultant,members\nED,,X^Y,,,\nWARD7,,x y,,,\n')).rejects.toThrow(/Line 3: referring physician "x y" is mapped to team ED on line 2/);
      await expect(importDirectory(db, 'who,what\nED,x\n')).rejects.toThrow(DirectoryError);
      expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM directory_requesters')).rows[0]!.n).toBe(before);
      // user add --team: a new member acknowledges the team's alerts.
      const newcomer = await addUser(db, 'referrer', 'Dr Gus New');
      await addToTeam(db, newcomer.username, 'WARD7');
      const id = await sign('urgent', 'JONES^TOM', '');
      expect((await ack(newcomer, id)).status).toBe(200);
    });

    it('phone calls recorded on the workstation join the alert timeline once each', async () => {
      const id = await sign('critical');
      const call = { id: 'ws-1', clinician: 'Dr Who', role: 'ED registrar', time: new Date(Date.now() - 60_000).toISOString(), note: 'hub was down', recordedBy: rad.name, recordedAt: new Date().toISOString() };
      const send = () => http<{ added: number }>(url, 'POST', `/api/alerts/${id}/phone-calls`, { token: radToken, body: { calls: [call] } });
      expect((await send()).body.added).toBe(1);
      expect((await send()).body.added).toBe(0);
      // Once in the hash-chained audit trail too.
      expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit WHERE action = 'alert-phone-call' AND report_id = $1`, [id])).rows[0]!.n)).toBe(1);
      const d = await get<AlertDetail>(rad, `/api/alerts/${id}`);
      expect(d.body.timeline.filter((e) => e.type === 'phone-call').map((e) => e.text)).toEqual([`Phone call to Dr Who (ED registrar) at ${formatDateTimeIn(call.time, 'Europe/London')}, recorded by ${rad.name}: hub was down`]);
      // Malformed: refused, nothing stored.
      expect((await http(url, 'POST', `/api/alerts/${id}/phone-calls`, { token: radToken, body: { calls: [{ ...call, id: 'ws-2', clinician: 42 }] } })).status).toBe(400);
    });

    it('never parked: a requester written to dodge the directory, a team nobody can act for, a duty nobody holds', async () => {
      // Invisible characters in the requester do not match a team: the alert goes to the duty
      // radiologist with the reason, it is not lost.
      const dodged = await sign('urgent', 'SMI\u200bTH^JANE^^DR', '');
      const a = (await db.query<{ team_id: string | null; routing_reason: string }>('SELECT team_id, routing_reason FROM alerts WHERE report_id = $1', [dodged])).rows[0]!;
      expect(a.team_id).toBeNull();
      expect(a.routing_reason).toMatch(/^Requester not in the site directory/);
      const recipients = async (id: string, rung = 0) =>
        (await db.query<{ user_id: string }>('SELECT user_id FROM failsafe_rung_recipients($1, $2) ORDER BY 1', [id, rung])).rows.map((r) => Number(r.user_id));
      expect(await recipients(dodged)).toEqual([await idOf(duty)]);
      // Every member of a team disabled (and no consultant): the duty radiologist.
      const lonely = await addUser(db, 'referrer', 'Dr Hal Alone');
      await importDirectory(db, [
        'team,team name,referring physician,requesting service,consultant,members',
        `ED,Emergency Department,SMITH^JANE^^DR,Emergency Department,${consultant.username},${edA.username};${edB.username}`,
        `WARD7,Ward 7 (medicine),JONES^Tom,,,${wardDoc.username}`,
        `SOLO,Solo clinic,LONE^Hal,,,${lonely.username}`,
      ].join('\n'));
      await db.query('UPDATE users SET disabled = true WHERE username = $1', [lonely.username]);
      const solo = await sign('significant', 'LONE^Hal', '');
      expect(await recipients(solo)).toEqual([await idOf(duty)]);
      // …and it is in the duty radiologist's list, theirs to acknowledge; not in another radiologist's.
      const dutyList = (await get<AlertList>(duty, '/api/alerts')).body.alerts;
      expect(dutyList.find((x) => x.reportId === solo)?.mayAcknowledge).toBe(true);
      expect(dutyList.some((x) => x.reportId === dodged)).toBe(true);
      expect((await get<AlertList>(rad, '/api/alerts')).body.alerts.some((x) => x.reportId === solo)).toBe(false);
      // Nobody holds the duty radiologist's duty: the imaging safety lead; nobody holds that either:
      // every safety-lead account; and the timeline says so when there is nobody at all.
      await setDuty(db, 'duty-radiologist', duty.username, false);
      expect(await recipients(solo)).toEqual([await idOf(lead)]);
      expect((await get<AlertList>(lead, '/api/alerts')).body.alerts.find((x) => x.reportId === solo)?.mayAcknowledge).toBe(true);
      await setDuty(db, 'imaging-safety-lead', lead.username, false);
      const leads = (await db.query<{ id: string }>(`SELECT id FROM users WHERE role = 'safety-lead' AND NOT disabled ORDER BY id`)).rows.map((r) => Number(r.id));
      expect(await recipients(solo)).toEqual(leads);
      await setDuty(db, 'duty-radiologist', duty.username);
      await setDuty(db, 'imaging-safety-lead', lead.username);
      await db.query('UPDATE users SET disabled = false WHERE username = $1', [lonely.username]);
    });

    it("a trainee's provisional report raises its alert at once; the trainer's verification does not raise a second", async () => {
      const trainee = await addUser(db, 'trainee');
      const trainer = await addUser(db, 'trainer');
      const study = studyFor(`prov${crypto.randomInt(1e9)}`);
      const p = signedReport(trainee, { study, meaning: 'provisional', content: contentWithAlert('critical'), exam: examFor(study) });
      expect((await post(url, await tokenOf(trainee), p)).status).toBe(201);
      const before = (await db.query<{ team_id: string; state: string }>('SELECT team_id, state FROM alerts WHERE report_id = $1', [p.report.id])).rows;
      expect(before).toEqual([{ team_id: 'ED', state: 'open' }]);
      expect((await post(url, await tokenOf(trainer), verificationOf(trainer, p))).status).toBe(201);
      expect(Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM alerts WHERE report_id = $1', [p.report.id])).rows[0]!.n)).toBe(1);
      expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM alert_events WHERE report_id = $1 AND type = 'created'`, [p.report.id])).rows[0]!.n)).toBe(1);
    });

    it('the safety dashboard and CSV agree with the alerts seeded', async () => {
      const d = await get<SafetyDashboard>(lead, '/api/safety/dashboard');
      expect(d.status).toBe(200);
      const rows = (await db.query<{ category: string; state: string; n: string }>('SELECT category, state, count(*) AS n FROM alerts GROUP BY 1, 2')).rows;
      for (const c of d.body.open) {
        const expected = Number(rows.find((r) => r.category === c.category && r.state === 'open')?.n ?? 0);
        expect([c.category, c.open]).toEqual([c.category, expected]);
        expect(c.byAge.reduce((a, b) => a + b, 0)).toBe(c.open);
      }
      // Nobody notified: no open alert has a failed notification yet (no sender runs here).
      expect(d.body.notNotified).toEqual([]);
      const acked = Number(rows.filter((r) => r.state === 'acknowledged').reduce((a, r) => a + Number(r.n), 0));
      expect(d.body.acknowledged).toHaveLength(acked);
      expect(d.body.acknowledged.every((a) => a.inTime)).toBe(true);
      const csv = await http(url, 'GET', '/api/safety/alerts.csv', { token: await tokenOf(lead) });
      expect(csv.status).toBe(200);
      const lines = csv.text.trim().split('\r\n');
      expect(lines).toHaveLength(1 + rows.reduce((a, r) => a + Number(r.n), 0));
      // No patient identifier in the CSV.
      expect(csv.text).not.toMatch(/DOE\^John/);

      // Every notification of an alert's current rung failed, none delivered: the dashboard names it.
      const id = await sign('urgent');
      const failed = (to: string) => db.query(`INSERT INTO alert_events (report_id, at, type, rung, detail) VALUES ($1, now(), 'notify-failed', 0, $2)`, [id, JSON.stringify({ channel: 'email', to, error: 'mail server down' })]);
      await failed('Dr Ada ED');
      expect((await get<SafetyDashboard>(lead, '/api/safety/dashboard')).body.notNotified).toEqual([id]);
      await db.query(`INSERT INTO alert_events (report_id, at, type, rung, detail) VALUES ($1, now(), 'notified', 0, $2)`, [id, JSON.stringify({ channel: 'webhook', to: 'Dr Ben ED' })]);
      expect((await get<SafetyDashboard>(lead, '/api/safety/dashboard')).body.notNotified).toEqual([]);
    });

    it("an alert escalated to the duty radiologist is in their list, theirs to acknowledge; the consultant's list has it too", async () => {
      const id = await sign('critical');
      expect((await get<AlertList>(duty, '/api/alerts')).body.alerts.some((x) => x.reportId === id)).toBe(false);
      // Two hours on (critical: the team 1 h, then the consultant 1 h): the duty radiologist's rung.
      const { reportIds } = await runEscalationPass(db, Date.now() + 2 * 3600_000 + 60_000);
      expect(reportIds).toContain(id);
      const mine = (await get<AlertList>(duty, '/api/alerts')).body.alerts.find((x) => x.reportId === id);
      expect(mine).toMatchObject({ rung: 2, mayAcknowledge: true, escalated: true });
      expect((await get<AlertList>(consultant, '/api/alerts')).body.alerts.find((x) => x.reportId === id)?.mayAcknowledge).toBe(true);
      expect((await ack(duty, id, 'Phoned the ED consultant; patient recalled.')).status).toBe(200);
    });
  });
}
