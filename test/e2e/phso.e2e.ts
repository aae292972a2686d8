// Issue 9 line 9: the ombudsman's cases, end to end. A hub in this process (PGlite) running its
// escalation scheduler and its e-mail notifications (to a real local SMTP server) on a clock the
// test moves; the built app (browser mode) and the hub's own referrer page in Chromium.
// - case 1, the faxed critical finding: signed → the team is e-mailed a link and nobody acts →
//   at the deadline it escalates to the requester's consultant (e-mailed, shown on the page) →
//   a team member acknowledges on the page → escalation stops for good;
// - case 2, the emergency-department X-rays nobody knew were theirs: the study names no requester
//   → signed on the workstation, the alert goes at once to the duty radiologist with the reason
//   → the duty radiologist acknowledges on the page → the radiologist's workstation shows it;
// - case 3, a cancer alert signed on a Friday: due after two working days, on Tuesday, not at the
//   weekend; it escalates to the cancer pathway lead then and not before.
// Case 4 (a critical report signed while the hub is down, the phone record on the alert's
// timeline) is test/e2e/hub.e2e.ts "PHSO case 4: …", which kills and restarts a real hub.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { isoToLocalInput } from '../../common/format.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { importDirectory, setDuty, setEmail } from '../../server/directory.ts';
import { contentWithAlert } from '../support/syncWorkstation.ts';
import { decodeQp, smtpReceiver, type Mail } from '../support/smtp.ts';
import { addUser, examFor, loginAs, openTestHub, post, signedReport, studyFor, type TestHub, type TestUser } from '../server/support.ts';
import { copyHubWeb, enterSignPassword, launchChromium, startApp, writeCriticalReport, type RunningApp } from './harness.ts';

describe('PHSO cases: every alert reaches a named person, is acknowledged, or escalates until someone does', () => {
  let db: HubDb;
  let t: TestHub;
  let url = '';
  let close: () => Promise<void> = async () => {};
  let browser: Browser;
  let smtp: Awaited<ReturnType<typeof smtpReceiver>>;
  /** The mails received, as their readers see them. */
  const mails = (): Mail[] => smtp.mails.map((m) => ({ ...m, raw: decodeQp(m.raw) }));
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let web: ReturnType<typeof copyHubWeb> | undefined;
  let rad: TestUser; let edReg: TestUser; let edSho: TestUser; let edCons: TestUser; let duty: TestUser; let cancerLead: TestUser; let lead: TestUser;

  /** Moves the hub's clock to an instant (the scheduler and the deadlines run on it). */
  const clockTo = (iso: string): void => {
    t.clock.offset = Date.parse(iso) - Date.now();
  };
  /** Waits for the scheduler (every 200 ms on the hub's clock) to have passed at least once after now. */
  const schedulerPass = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 700));
  };
  const events = async (reportId: string): Promise<{ type: string; rung: number | null; actor: string | null }[]> =>
    (await db.query<{ type: string; rung: number | null; actor: string | null }>(
      'SELECT e.type, e.rung, u.name AS actor FROM alert_events e LEFT JOIN users u ON u.id = e.actor_id WHERE e.report_id = $1 ORDER BY e.seq', [reportId])).rows;

  /** Signs an alert-coded report through the hub's ingest route, as a workstation's outbox does, at the hub's clock. */
  const signAtHub = async (category: 'critical' | 'cancer', requester: string, at?: string): Promise<string> => {
    const study = studyFor(`phso${crypto.randomInt(1e9)}`);
    const content = contentWithAlert(category);
    // The hub's clock has moved on by a few ms since clockTo: an exact signature time is given where it matters.
    const signedAt = at ?? new Date(t.clock.now()).toISOString();
    const withVerbal = content.verbal ? { ...content, verbal: { ...content.verbal, time: signedAt } } : content;
    const p = signedReport(rad, { study, content: withVerbal, exam: examFor(study, requester, ''), signedAt });
    const r = await post(url, await loginAs(url, rad), p);
    expect(r.status, r.text).toBe(201);
    return p.report.id;
  };

  const newPage = async (): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return page;
  };
  /** Logs in on the hub's page (opened at `where`). */
  const openHubPage = async (u: TestUser, where = '/'): Promise<Page> => {
    const page = await newPage();
    await page.goto(`${url}${where}`);
    await page.getByTestId('login-form').waitFor();
    await page.locator('#login-username').fill(u.username);
    await page.locator('#login-password').fill(u.password);
    await page.locator('#login-password').press('Enter');
    await expect.poll(() => page.getByTestId('hub-user').textContent().catch(() => ''), { timeout: 15_000 }).toContain(u.name);
    return page;
  };
  const acknowledgeOnPage = async (page: Page, plan: string): Promise<void> => {
    await page.locator('#action-plan').fill(plan);
    await page.getByTestId('ack-form').locator('button[type="submit"]').click();
    await page.getByTestId('acknowledged').waitFor({ timeout: 10_000 });
  };
  const mailsTo = (u: TestUser): Mail[] => mails().filter((m) => m.to.includes(`${u.username}@hospital.example`));

  beforeAll(async () => {
    web = copyHubWeb('failsafe-phso-web-');
    smtp = await smtpReceiver();
    ({ db, t, url, close } = await openTestHub('pglite', 'phso_e2e', {
      webDir: web.dir,
      escalation: { intervalMs: 200 },
      notifications: { publicUrl: 'https://failsafe.hospital.example', webhook: null, mail: { smtpUrl: smtp.url, from: 'failsafe@hospital.example' } },
    }));
    rad = await addUser(db, 'radiologist', 'Dr Rita Radiologist');
    edReg = await addUser(db, 'referrer', 'Dr Ed Registrar');
    edSho = await addUser(db, 'referrer', 'Dr Sue House-Officer');
    edCons = await addUser(db, 'referrer', 'Dr Con Consultant');
    duty = await addUser(db, 'radiologist', 'Dr Dee Duty');
    cancerLead = await addUser(db, 'referrer', 'Dr Cass Cancer-Lead');
    lead = await addUser(db, 'safety-lead', 'Dr Flo Lead');
    for (const u of [edReg, edSho, edCons, duty, cancerLead]) await setEmail(db, u.username, `${u.username}@hospital.example`);
    await importDirectory(db, [
      'team,team name,referring physician,requesting service,consultant,members',
      `MED,Acute medicine,FAX^Requester^^DR,,${edCons.username},${edReg.username};${edSho.username}`,
      `CHEST,Chest clinic,CLINIC^Chest,,,${edReg.username}`,
    ].join('\n'));
    await setDuty(db, 'duty-radiologist', duty.username);
    await setDuty(db, 'cancer-pathway-lead', cancerLead.username);
    await setDuty(db, 'imaging-safety-lead', lead.username);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await close();
    await smtp?.close();
    web?.remove();
  });

  it('PHSO case 1, the faxed critical finding: not acknowledged, escalated at the deadline, acknowledged by a team member, escalation stops', async () => {
    clockTo('2026-12-01T09:00:00Z');
    const id = await signAtHub('critical', 'FAX^Requester^^DR');
    // The team (and its consultant, who is on it) is e-mailed a link: no patient, no finding.
    await expect.poll(() => mailsTo(edReg).length + mailsTo(edSho).length, { timeout: 15_000 }).toBe(2);
    const first = mailsTo(edReg)[0]!.raw;
    expect(first).toContain(`https://failsafe.hospital.example/alerts/${encodeURIComponent(id)}`);
    expect(first).not.toMatch(/subdural|DOE|haematoma/i);
    // Nobody acts: 59 minutes later nothing has moved.
    clockTo('2026-12-01T09:59:00Z');
    await schedulerPass();
    expect((await events(id)).filter((e) => e.type === 'escalated')).toEqual([]);
    // The deadline passes: the requester's consultant becomes responsible, is e-mailed, and sees it.
    const consultantMails = mailsTo(edCons).length;
    clockTo('2026-12-01T10:00:30Z');
    await expect.poll(async () => (await events(id)).filter((e) => e.type === 'escalated').map((e) => e.rung), { timeout: 10_000 }).toEqual([1]);
    await expect.poll(() => mailsTo(edCons).length, { timeout: 15_000 }).toBeGreaterThan(consultantMails);
    const consultantPage = await openHubPage(edCons, `/alerts/${encodeURIComponent(id)}`);
    await expect.poll(() => consultantPage.getByTestId('timeline').textContent().catch(() => ''), { timeout: 10_000 }).toContain("Escalated to requester's consultant");
    // A team member (not the consultant) acknowledges on the page: escalation adds people, it removes none.
    const sho = await openHubPage(edSho, `/alerts/${encodeURIComponent(id)}`);
    await sho.getByTestId('alert-finding').waitFor();
    await acknowledgeOnPage(sho, 'Patient recalled to ED; CT reviewed with neurosurgery, transfer arranged.');
    expect(await sho.getByTestId('acknowledged').textContent()).toContain('Acknowledged by Dr Sue House-Officer');
    // The consultant's open page learns of it live.
    await expect.poll(() => consultantPage.getByTestId('timeline').textContent().catch(() => ''), { timeout: 5000 }).toContain('Acknowledged by Dr Sue House-Officer');
    // Escalation stops: hours later, no second rung, no more mail.
    const mailCount = smtp.mails.length;
    clockTo('2026-12-01T14:00:00Z');
    await schedulerPass();
    await schedulerPass();
    const after = await events(id);
    expect(after.filter((e) => e.type === 'escalated').map((e) => e.rung)).toEqual([1]);
    expect(after.filter((e) => e.type === 'acknowledged')).toEqual([{ type: 'acknowledged', rung: 1, actor: 'Dr Sue House-Officer' }]);
    expect(smtp.mails.length).toBe(mailCount);
    const row = (await db.query<{ state: string; rung: number; next_due: Date | null }>('SELECT state, rung, next_due FROM alerts WHERE report_id = $1', [id])).rows[0]!;
    expect(row).toMatchObject({ state: 'acknowledged', rung: 1 });
  });

  it('PHSO case 2, the emergency-department X-rays nobody knew were theirs: requester unknown, at once to the duty radiologist, who acknowledges', async () => {
    t.clock.offset = 0;
    const app: RunningApp = await startApp({ env: { FAILSAFE_TEST_TIMINGS: '1' }, args: ['--hub', url], demo: false });
    try {
      const ws = await newPage();
      await ws.goto(await app.pageUrl());
      const form = ws.getByTestId('login-form');
      await form.waitFor();
      await ws.getByLabel('User name', { exact: true }).fill(rad.username);
      await ws.getByLabel('Password', { exact: true }).fill(rad.password);
      await form.getByRole('button', { name: 'Log in', exact: true }).click();
      await expect.poll(() => ws.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain(rad.name);
      await ws.getByTestId('patient-banner').waitFor();
      // The sample study names no referring physician and no requesting service.
      await writeCriticalReport(ws, isoToLocalInput(new Date(Date.now() - 2 * 60_000).toISOString()));
      await expect.poll(() => ws.getByTestId('sign-button').textContent()).toBe('Sign report');
      await ws.getByTestId('sign-button').click();
      await enterSignPassword(ws, rad.password);
      const signed = ws.getByTestId('signed-report');
      await signed.waitFor();
      await expect.poll(() => signed.getByTestId('sync-status').getAttribute('data-state'), { timeout: 30_000 }).toBe('synced');
      const panel = signed.getByTestId('alert-panel');
      await expect.poll(() => panel.getByTestId('alert-routing').textContent().catch(() => ''), { timeout: 15_000 }).toMatch(/duty radiologist's queue: Requester unknown/);
      const { rows } = await db.query<{ report_id: string; routing_reason: string }>(`SELECT report_id, routing_reason FROM alerts WHERE team_id IS NULL AND signed_at > $1`, [new Date(Date.now() - 10 * 60_000).toISOString()]);
      expect(rows).toHaveLength(1);
      const id = rows[0]!.report_id;
      // At once: the duty radiologist is e-mailed and finds it in "My alerts" with the reason.
      await expect.poll(() => mailsTo(duty).some((m) => m.raw.includes(encodeURIComponent(id))), { timeout: 15_000 }).toBe(true);
      const dutyPage = await openHubPage(duty);
      const row = dutyPage.locator(`[data-report-id="${id}"]`);
      await row.waitFor({ timeout: 10_000 });
      expect(await row.textContent()).toContain('Requester unknown');
      await row.getByRole('link').first().click();
      await dutyPage.getByTestId('alert-finding').waitFor();
      await acknowledgeOnPage(dutyPage, 'No requester on the order: ED consultant phoned, patient found and recalled.');
      // The radiologist's workstation shows who acknowledged, live.
      await expect.poll(() => panel.getByTestId('alert-state').textContent(), { timeout: 15_000 }).toContain('Acknowledged');
      expect(await panel.textContent()).toContain('Dr Dee Duty');
    } finally {
      await app.stop();
    }
  });

  it('PHSO case 3, a cancer alert signed on a Friday: due after two working days (Tuesday), escalated to the cancer pathway lead then, not at the weekend', async () => {
    // Friday 4 December 2026, 15:00 in London (GMT): two working days later is Tuesday 15:00.
    clockTo('2026-12-04T15:00:00Z');
    const id = await signAtHub('cancer', 'CLINIC^Chest', '2026-12-04T15:00:00.000Z');
    const due = (await db.query<{ due_by: Date }>('SELECT due_by FROM alerts WHERE report_id = $1', [id])).rows[0]!.due_by;
    expect(new Date(due).toISOString()).toBe('2026-12-08T15:00:00.000Z');
    // 48 hours later (Sunday), and on Monday afternoon: nothing has escalated.
    for (const at of ['2026-12-06T15:00:30Z', '2026-12-07T16:00:00Z', '2026-12-08T14:59:00Z']) {
      clockTo(at);
      await schedulerPass();
      expect((await events(id)).filter((e) => e.type === 'escalated'), at).toEqual([]);
    }
    // The referrer page counts the time left on the hub's clock: a minute before the deadline.
    const reg = await openHubPage(edReg);
    const row = reg.locator(`[data-report-id="${id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.textContent()).toMatch(/1 min left|under a minute left/);
    // Tuesday 15:00 passes: the cancer pathway lead is responsible, e-mailed, and sees it.
    clockTo('2026-12-08T15:00:30Z');
    await expect.poll(async () => (await events(id)).filter((e) => e.type === 'escalated').map((e) => e.rung), { timeout: 10_000 }).toEqual([1]);
    await expect.poll(() => mailsTo(cancerLead).some((m) => m.raw.includes(encodeURIComponent(id))), { timeout: 15_000 }).toBe(true);
    const leadPage = await openHubPage(cancerLead);
    await leadPage.locator(`[data-report-id="${id}"]`).waitFor({ timeout: 10_000 });
    await leadPage.locator(`[data-report-id="${id}"]`).getByRole('link').first().click();
    await leadPage.getByTestId('alert-finding').waitFor();
    await acknowledgeOnPage(leadPage, 'Booked onto the lung cancer pathway; MDT Thursday.');
    expect(pageErrors).toEqual([]);
  });
});
