// Issue 9 line 6 end to end: the built app (browser mode) in Chromium and a hub in this process
// (PGlite) with a duty radiologist (the sample CT names no requester, so its alerts go to the duty
// radiologist's queue, with the reason):
// - a radiologist signs a critical report: its signed view shows the alert (open, who is
//   responsible, deadline with time left, routing and reason) and its timeline with times;
// - "My outstanding alerts" in the library lists it with time left; Open opens the report;
// - the duty radiologist acknowledges it on the hub: both update live (no reload), naming the
//   acknowledger, and the list empties.
// The embedded demo hub has no site directory or duties, so this uses a hub of its own (as
// claims.e2e.ts does) rather than the demo accounts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { buildHub, type Hub } from '../../server/app.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { setDuty } from '../../server/directory.ts';
import { isoToLocalInput } from '../../common/format.ts';
import { addTrialUser, openTrialDb, TRIAL_PASSWORD } from '../support/realHub.ts';
import { enterSignPassword, launchChromium, startApp, writeCriticalReport, type RunningApp } from './harness.ts';

const ADA = { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist' as const, registration: 'GMC 1234567' };
const DUTY = { username: 'duty', name: 'Dr Eve Duty', role: 'radiologist' as const, registration: 'GMC 7000001' };

describe('a signed critical report shows its alert, live', () => {
  let db: HubDb;
  let drop: () => Promise<void>;
  let hub: Hub;
  let hubUrl = '';
  let browser: Browser;
  let app: RunningApp;
  let page: Page;
  let reportId = '';
  const errors: string[] = [];

  beforeAll(async () => {
    ({ db, drop } = await openTrialDb('pglite'));
    hub = await buildHub({ db, ownsDb: false });
    hubUrl = await hub.listen(0, '127.0.0.1');
    await addTrialUser(db, ADA);
    await addTrialUser(db, DUTY);
    await setDuty(db, 'duty-radiologist', DUTY.username);
    app = await startApp({ env: { FAILSAFE_TEST_TIMINGS: '1' }, args: ['--hub', hubUrl], demo: false });
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await hub?.close();
    await drop?.();
  });

  it('signed: the alert panel shows state, responsibility, deadline, routing and the timeline', async () => {
    page = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(await app.pageUrl());
    const form = page.getByTestId('login-form');
    await form.waitFor();
    await page.getByLabel('User name', { exact: true }).fill(ADA.username);
    await page.getByLabel('Password', { exact: true }).fill(TRIAL_PASSWORD);
    await form.getByRole('button', { name: 'Log in', exact: true }).click();
    await expect.poll(() => page.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain(ADA.name);
    await page.getByTestId('patient-banner').waitFor();

    await writeCriticalReport(page, isoToLocalInput(new Date(Date.now() - 5 * 60_000).toISOString()));
    await expect.poll(() => page.getByTestId('sign-button').textContent()).toBe('Sign report');
    await page.getByTestId('sign-button').click();
    await enterSignPassword(page, TRIAL_PASSWORD);
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    await expect.poll(() => signed.getByTestId('sync-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('synced');

    const panel = signed.getByTestId('alert-panel');
    await expect.poll(() => panel.getAttribute('data-state'), { timeout: 15_000 }).toBe('open');
    expect(await panel.getByRole('heading', { name: 'Alert', exact: true }).count()).toBe(1);
    expect(await panel.getByTestId('alert-state').textContent()).toBe('Open: not acknowledged yet');
    expect(await panel.getByTestId('alert-responsible').textContent()).toContain('duty radiologist');
    expect(await panel.getByTestId('alert-deadline').textContent()).toMatch(/\d{1,2} \w{3} \d{4} \d\d:\d\d \((\d+ (min|h)|under a minute) left\)/);
    expect(await panel.getByTestId('alert-routing').textContent()).toMatch(/^The duty radiologist's queue: Requester unknown/);
    const items = panel.getByTestId('alert-timeline').getByRole('listitem');
    await expect.poll(() => items.count()).toBeGreaterThanOrEqual(2);
    expect(await items.nth(0).textContent()).toMatch(/^\d{1,2} \w{3} \d{4} \d\d:\d\d: Alert created; due by/);
    expect(await items.nth(1).textContent()).toMatch(/Routed to the duty radiologist: Requester unknown/);
    const row = await db.query<{ report_id: string }>("SELECT report_id FROM alerts WHERE signed_at IS NOT NULL");
    reportId = row.rows[0]!.report_id;
    expect(await signed.getAttribute('data-state')).toBe('final');
  });

  it('My outstanding alerts lists it with time left; Open opens the report', async () => {
    await page.getByRole('button', { name: /^Library/ }).click();
    const mine = page.getByTestId('my-alerts');
    await mine.waitFor();
    expect(await mine.getByRole('heading', { name: /^My outstanding alerts \(1\)$/ }).count()).toBe(1);
    const item = mine.getByTestId('my-alert');
    await expect.poll(() => item.getAttribute('data-report-id')).toBe(reportId);
    const text = (await item.textContent()) ?? '';
    expect(text).toContain('Critical');
    expect(text).toMatch(/(\d+ (min|h)|under a minute) left/);
    await item.getByRole('button', { name: /^Open the report: Cranium, InVesalius/ }).click();
    await page.getByTestId('signed-report').getByTestId('alert-panel').waitFor();
  });

  it('acknowledged on the hub: the signed view and the list update live, naming who acknowledged', async () => {
    const login = await fetch(`${hubUrl}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: DUTY.username, password: TRIAL_PASSWORD }) });
    const { token } = (await login.json()) as { token: string };
    const ack = await fetch(`${hubUrl}/api/alerts/${reportId}/acknowledge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ actionPlan: 'Neurosurgery called; transfer arranged.' }),
    });
    expect(ack.status).toBe(200);
    const panel = page.getByTestId('signed-report').getByTestId('alert-panel');
    await expect.poll(() => panel.getByTestId('alert-state').textContent(), { timeout: 5_000 }).toMatch(/^Acknowledged by Dr Eve Duty at /);
    const last = panel.getByTestId('alert-timeline').getByRole('listitem').last();
    expect(await last.textContent()).toContain('Acknowledged by Dr Eve Duty: Neurosurgery called; transfer arranged.');
    expect(await panel.getByTestId('alert-live').textContent()).toContain('Acknowledged by Dr Eve Duty');

    await page.getByRole('button', { name: /^Library/ }).click();
    const mine = page.getByTestId('my-alerts');
    await expect.poll(() => mine.getByTestId('my-alert').count(), { timeout: 5_000 }).toBe(0);
    expect(await mine.textContent()).toContain('No outstanding alerts.');
    expect(errors).toEqual([]);
  });
});
