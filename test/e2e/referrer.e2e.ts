// The hub's own page in Chromium (issue 9 lines 3 and 7): a real hub (PGlite, the built page from
// dist/hub-web/) with a site directory, alert-coded reports signed through the ingest route, and:
// - a referrer logs in and works by keyboard only: sees their team's alerts (not another team's),
//   soonest deadline first with OVERDUE in words, opens one, reads the finding and the signed
//   report, is refused a too-short action plan in words, acknowledges, and is named;
// - a page already open shows a newly signed alert without a reload (live, P7: within 1 s);
// - the safety lead's dashboard shows the seeded numbers, and the CSV downloads;
// - axe-core finds no serious or critical violation on the login, list, detail and dashboard
//   pages; the page runs under the strict CSP the hub sends, without a single CSP violation.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ReportContent } from '../../common/report.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { importDirectory, setDuty } from '../../server/directory.ts';
import { runEscalationPass } from '../../server/escalation.ts';
import { HUB_WEB_CSP } from '../../server/web/serve.ts';
import { contentWithAlert } from '../support/syncWorkstation.ts';
import { addUser, examFor, http, loginAs, openTestHub, post, signedReport, studyFor, type TestHub, type TestUser } from '../server/support.ts';
import { copyHubWeb, launchChromium } from './harness.ts';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

type Category = 'critical' | 'urgent' | 'cancer' | 'significant';

describe('the hub page: referrer alerts and the safety dashboard, in Chromium', () => {
  let db: HubDb;
  let t: TestHub;
  let url = '';
  let close: () => Promise<void> = async () => {};
  let browser: Browser;
  let rad: TestUser; let edA: TestUser; let edB: TestUser; let wardDoc: TestUser; let duty: TestUser; let lead: TestUser;
  const cspViolations: string[] = [];
  const contexts: BrowserContext[] = [];

  /** Signs an alert-coded report as the radiologist, at the hub's clock; returns its id. */
  const sign = async (category: Category, finding: string, requester = 'SMITH^Jane^^Dr', service = 'Emergency Department'): Promise<string> => {
    const study = studyFor(`ref${crypto.randomInt(1e9)}`);
    const base = contentWithAlert(category);
    const items = base.unexpected.kind === 'findings' ? base.unexpected.items.map((i) => ({ ...i, text: finding })) : [];
    const content: ReportContent = { ...base, unexpected: { kind: 'findings', items } };
    const p = signedReport(rad, { study, content, exam: examFor(study, requester, service), signedAt: new Date(t.clock.now()).toISOString() });
    const r = await post(url, await loginAs(url, rad), p);
    expect(r.status, r.text).toBe(201);
    return p.report.id;
  };

  const newPage = async (): Promise<Page> => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on('pageerror', (e) => cspViolations.push(`page error: ${e.message}`));
    return page;
  };

  /** axe-core in the page (evaluated over the DevTools protocol, which the page's CSP does not govern): no serious or critical violation. */
  const axe = async (page: Page, label: string): Promise<void> => {
    if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
    const result = await page.evaluate(async () => {
      const r = await (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[]; passes: unknown[] }> } }).axe.run(document, { resultTypes: ['violations'] });
      return { violations: r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) })) };
    });
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(bad.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.join(', ')}`), `axe on ${label}`).toEqual([]);
  };

  /** Presses Tab until the focused element matches `selector` (keyboard only); fails after `max` presses. */
  const tabTo = async (page: Page, selector: string, max = 40): Promise<void> => {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) {
        // Focus is visible: the focused element is drawn with an outline.
        expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle), `focus ring on ${selector}`).not.toBe('none');
        return;
      }
    }
    throw new Error(`${selector} was not reached with ${max} presses of Tab`);
  };

  const logInByKeyboard = async (page: Page, u: TestUser): Promise<void> => {
    await page.getByTestId('login-form').waitFor();
    // The username field has focus when the login page opens.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('login-username');
    await page.keyboard.type(u.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(u.password);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('hub-user').textContent().catch(() => ''), { timeout: 15_000 }).toContain(u.name);
  };

  let web: ReturnType<typeof copyHubWeb> | undefined;
  let a1 = ''; let a2 = ''; let a3 = ''; let w1 = ''; let u1 = '';

  beforeAll(async () => {
    web = copyHubWeb();
    const opened = await openTestHub('pglite', 'referrer_e2e', { webDir: web.dir });
    ({ db, t, url, close } = opened);
    rad = await addUser(db, 'radiologist', 'Dr Rita Radiologist');
    edA = await addUser(db, 'referrer', 'Dr Ada ED');
    edB = await addUser(db, 'referrer', 'Dr Ben ED');
    wardDoc = await addUser(db, 'referrer', 'Dr Cara Ward');
    duty = await addUser(db, 'radiologist', 'Dr Eve Duty');
    lead = await addUser(db, 'safety-lead', 'Dr Flo Lead');
    await importDirectory(db, [
      'team,team name,referring physician,requesting service,consultant,members',
      `ED,Emergency Department,SMITH^JANE^^DR,Emergency Department,,${edA.username};${edB.username}`,
      `WARD7,Ward 7,JONES^Tom,,,${wardDoc.username}`,
    ].join('\n'));
    await setDuty(db, 'duty-radiologist', duty.username);
    await setDuty(db, 'imaging-safety-lead', lead.username);
    // Day 1: two ED alerts and a ward alert; 30 hours later (the hub's clock), two more.
    a1 = await sign('critical', 'Large acute subdural haematoma with midline shift.');
    a2 = await sign('urgent', 'Small pneumothorax, right apex.');
    w1 = await sign('significant', 'Incidental 6 mm renal lesion (ward patient).', 'JONES^Tom', '');
    t.clock.advanceHours(30);
    // The scheduler's pass at the new time: the critical (1 h) and the urgent (24 h) alerts climb their ladders.
    const escalation = await runEscalationPass(db, t.clock.now());
    expect(escalation.reportIds.sort()).toEqual([a1, a2].sort());
    a3 = await sign('cancer', 'Spiculated 2 cm lung mass, right upper lobe.');
    u1 = await sign('urgent', 'Rib fracture, requester unknown.', '', '');
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await close();
    web?.remove();
  });

  it('a referrer, by keyboard only: logs in, sees their team\'s alerts by deadline, opens one, reads it, acknowledges it with a plan and is named', async () => {
    const page = await newPage();
    const res = await page.goto(`${url}/`);
    // The page is served with the strict policy.
    expect(res!.headers()['content-security-policy']).toBe(HUB_WEB_CSP);
    expect(res!.headers()['x-content-type-options']).toBe('nosniff');
    await page.getByTestId('login-form').waitFor();
    await axe(page, 'login');

    // A wrong password: refused in words, still on the login.
    await page.keyboard.type(edA.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not-the-password');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Not logged in: Unknown username or wrong password.');
    await page.reload();
    await logInByKeyboard(page, edA);

    // My alerts: the team's three, soonest (or longest-missed) deadline first: the critical and the
    // urgent are overdue and escalated after 30 h (escalation adds people, the team stays
    // responsible), the cancer alert has two working days; never the ward's, never the duty radiologist's.
    const rows = page.getByTestId('alert-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-report-id')));
    expect(ids).toEqual([a1, a2, a3]);
    expect(ids).not.toContain(w1);
    expect(ids).not.toContain(u1);
    const first = await rows.nth(0).textContent();
    expect(first).toMatch(/OVERDUE by 29 h/);
    expect(first).toContain('Critical');
    expect(first).toContain('Escalated to');
    expect(await rows.nth(1).textContent()).toMatch(/OVERDUE by 6 h/);
    expect(first).toContain('Emergency Department');
    expect(first).toMatch(/smith/i); // the requester
    expect(await rows.nth(2).textContent()).toMatch(/\d+ (h|days) left/);
    expect(await page.getByTestId('alert-count').textContent()).toContain('2 overdue');
    await axe(page, 'My alerts');

    // Open the critical alert by keyboard: Tab from the page heading to its link, Enter.
    await tabTo(page, `a[href="/alerts/${a1}"]`);
    await page.keyboard.press('Enter');
    await page.getByTestId('alert-finding').waitFor();
    expect(page.url()).toBe(`${url}/alerts/${a1}`);
    expect(await page.getByTestId('alert-finding').textContent()).toBe('Large acute subdural haematoma with midline shift.');
    // The whole signed report: its sections, the finding, the verbal record, the exam and the signature.
    const report = page.getByTestId('signed-report');
    const reportText = await report.textContent();
    expect(reportText).toContain('Large acute subdural haematoma with midline shift.');
    expect(reportText).toContain('Communicated verbally to Dr Who');
    expect(reportText).toContain('Signed by Dr Rita Radiologist');
    expect(await report.locator('[data-signed="unexpected.items.0.text"]').textContent()).toBe('Large acute subdural haematoma with midline shift.');
    expect(await page.getByTestId('time-left').textContent()).toMatch(/^OVERDUE by/);
    // Opening it is on the timeline, under the referrer's name.
    await expect.poll(async () => (await page.getByTestId('timeline').textContent()) ?? '', { timeout: 5000 }).toContain('Opened by Dr Ada ED');
    await axe(page, 'alert detail');

    // Acknowledge by keyboard: a plan too short is refused by the hub, in words.
    await tabTo(page, '#action-plan');
    await page.keyboard.type('ok');
    await tabTo(page, 'button[type="submit"]', 3);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('ack-form').getByRole('alert').textContent().catch(() => '')).toContain('Not acknowledged');
    expect(await page.getByTestId('ack-form').getByRole('alert').textContent()).toContain('at least 10 characters');
    // The field keeps the text and has focus again: the plan is written out and sent.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('action-plan');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('Patient recalled; neurosurgery informed, CT angiogram at 14:00.');
    await tabTo(page, 'button[type="submit"]', 3);
    await page.keyboard.press('Enter');
    const ack = page.getByTestId('acknowledged');
    await ack.waitFor();
    expect(await ack.textContent()).toContain('Acknowledged by Dr Ada ED');
    expect(await ack.textContent()).toContain('Patient recalled; neurosurgery informed');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('acknowledged');
    expect(await page.getByTestId('ack-form').count()).toBe(0);
    // The hub holds it under her name.
    const row = (await db.query<{ state: string; name: string }>('SELECT a.state, u.name FROM alerts a JOIN users u ON u.id = a.acknowledged_by WHERE a.report_id = $1', [a1])).rows[0];
    expect(row).toEqual({ state: 'acknowledged', name: 'Dr Ada ED' });
    await axe(page, 'acknowledged alert');

    // Back to the list (a link, by keyboard): the acknowledged alert has left the open list.
    await page.goBack();
    await expect.poll(() => rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-report-id'))), { timeout: 10_000 }).toEqual([a2, a3]);
  });

  it('another team\'s alert is not there by deep link either', async () => {
    const page = await newPage();
    await page.goto(`${url}/alerts/${w1}`);
    await logInByKeyboard(page, edB);
    await expect.poll(() => page.getByRole('alert').first().textContent().catch(() => ''), { timeout: 10_000 }).toContain(`No alert ${w1} is routed to you`);
    expect(await page.locator('body').textContent()).not.toContain('renal lesion');
  });

  it('live: an alert signed while the list is open appears without a reload, within 1 s', async () => {
    const page = await newPage();
    await page.goto(`${url}/`);
    await logInByKeyboard(page, edB);
    const rows = page.getByTestId('alert-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(2);
    await expect.poll(() => page.getByTestId('live-state').getAttribute('data-live'), { timeout: 10_000 }).toBe('live');
    await page.evaluate(() => ((window as unknown as { stillThisPage: boolean }).stillThisPage = true));
    const id = await sign('critical', 'Tension pneumothorax, left.');
    const signed = Date.now();
    await page.locator(`[data-report-id="${id}"]`).waitFor({ timeout: 5000 });
    const ms = Date.now() - signed;
    console.log(`referrer page: a signed alert appeared on the open page ${ms} ms after the hub stored it`);
    expect(ms).toBeLessThan(1000);
    expect(await page.evaluate(() => (window as unknown as { stillThisPage?: boolean }).stillThisPage)).toBe(true);
    expect(await rows.count()).toBe(3);
  });

  it('the safety lead: the dashboard shows the seeded numbers, escalated first, the plot and its table; the CSV downloads', async () => {
    // One more acknowledgement, in time (the cancer alert), so the plot has an in-time and a late mark.
    const ackA3 = await http(url, 'POST', `/api/alerts/${a3}/acknowledge`, { token: await loginAs(url, edB), body: { actionPlan: 'Referred to the lung cancer MDT this week.' } });
    expect(ackA3.status, ackA3.text).toBe(200);
    const page = await newPage();
    await page.goto(`${url}/dashboard`);
    await logInByKeyboard(page, lead);
    const table = page.getByTestId('by-age');
    await table.waitFor();
    const expected = (await db.query<{ category: string; n: number; esc: number; fresh: number; day: number; week: number; old: number }>(
      `SELECT category, count(*)::int AS n, count(*) FILTER (WHERE rung > 0)::int AS esc FROM alerts WHERE state = 'open' GROUP BY category`)).rows;
    const shown = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => ({
      category: tr.getAttribute('data-category'),
      open: Number(tr.querySelector('[data-col="open"]')!.textContent),
      escalated: Number(tr.querySelector('[data-col="escalated"]')!.textContent),
      byAge: [0, 1, 2, 3].map((i) => Number(tr.querySelector(`[data-col="age-${i}"]`)!.textContent)),
    })));
    for (const s of shown) {
      const e = expected.find((x) => x.category === s.category);
      expect([s.category, s.open, s.escalated], JSON.stringify(s)).toEqual([s.category, e?.n ?? 0, e?.esc ?? 0]);
      expect(s.byAge.reduce((a, b) => a + b, 0)).toBe(s.open);
    }
    // Seeded: open now are the urgent a2 (30 h old) and u1 (new), the ward's significant w1
    // (30 h old) and the live test's critical (new); a1 and a3 are acknowledged.
    const byCat = Object.fromEntries(shown.map((s) => [s.category, s]));
    expect(byCat['urgent']).toMatchObject({ open: 2, byAge: [1, 0, 1, 0] });
    expect(byCat['significant']).toMatchObject({ open: 1, byAge: [0, 0, 1, 0] });
    expect(byCat['critical']).toMatchObject({ open: 1, byAge: [1, 0, 0, 0] });
    expect(byCat['cancer']).toMatchObject({ open: 0 });
    expect(await table.locator('tfoot [data-col="open"]').textContent()).toBe('4');
    // Open alerts, escalated ones first: the order is the hub's.
    const listed = await page.getByTestId('open-alerts').locator('li').evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-report-id'), li.getAttribute('data-escalated')]));
    expect(listed.map(([id]) => id).sort()).toEqual([a2, u1, w1, (await db.query<{ report_id: string }>(`SELECT report_id FROM alerts WHERE state = 'open' AND category = 'critical'`)).rows[0]!.report_id].sort());
    // a2 is the one escalated alert still open: it leads.
    expect(listed[0]).toEqual([a2, 'true']);
    expect(listed.slice(1).every(([, e]) => e === 'false')).toBe(true);
    expect(byCat['urgent']).toMatchObject({ escalated: 1 });
    // The plot: one late cross (a1, 30 h for a 1 h deadline) and one in-time circle (a3), and its table.
    const plot = page.getByTestId('ack-plot');
    expect(await plot.locator(`svg path.plot-late[data-report-id="${a1}"]`).count()).toBe(1);
    expect(await plot.locator(`svg circle.plot-in-time[data-report-id="${a3}"]`).count()).toBe(1);
    expect(await plot.locator('svg desc').textContent()).toContain('2 acknowledged alerts: 1 in time, 1 late.');
    expect(await page.getByTestId('ack-table').locator(`tr[data-report-id="${a1}"]`).textContent()).toContain('No: late');
    await axe(page, 'safety dashboard');

    // CSV: by keyboard, the same file the hub exports.
    await tabTo(page, '[data-testid="csv-download"]', 15);
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    expect(download.suggestedFilename()).toBe('failsafe-alerts.csv');
    const file = fs.readFileSync((await download.path())!, 'utf8');
    const direct = await http(url, 'GET', '/api/safety/alerts.csv', { token: await loginAs(url, lead) });
    expect(file).toBe(direct.text);
    expect(file.trim().split('\r\n')).toHaveLength(1 + Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts')).rows[0]!.n));
  });

  it('a referrer has no dashboard, and the page ran without a single CSP violation', async () => {
    const page = await newPage();
    await page.goto(`${url}/dashboard`);
    await logInByKeyboard(page, edA);
    expect(await page.locator('main').textContent()).toContain('The safety dashboard is for the imaging safety lead.');
    expect(await page.getByRole('link', { name: 'Safety dashboard' }).count()).toBe(0);
    expect(cspViolations).toEqual([]);
  });
});
