// The department hub end to end, in Chromium against the built app (browser mode) and the built
// hub (dist/node/hub.mjs on embedded PGlite), with shortened test timings:
// - the locum case: a locum drafts and closes → a colleague sees it in Unfinished with author and
//   age → takes it over → the draft text is there → signs → synced → the hub holds it exactly
//   once → the locum's copy is read-only and a further edit is refused, naming the new owner;
// - offline: the workstation shows the offline banner; a critical report signed while the hub is
//   down raises the blocking phone-it-through dialog; the call is recorded, the report stays
//   pending, and reaches the hub once it is back, the call on its alert's timeline (the ombudsman's
//   case 4 of issue 9: test/e2e/phso.e2e.ts has the other three).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bridge, enterSignPassword, launchChromium, repoRoot, startApp, tempDataDir, writeCriticalReport, type RunningApp } from './harness.ts';

const HUB_CLI = path.join(repoRoot, 'dist', 'node', 'hub.mjs');
/** The hub runs on PGlite in its data folder, whatever the environment says. */
const HUB_ENV: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: '', FAILSAFE_HUB_PORT: '', PORT: '', FAILSAFE_HUB_POLICY: '', FAILSAFE_HUB_DB_SCHEMA: '' };

interface TestUser {
  username: string;
  name: string;
  role: 'locum' | 'radiologist';
  registration: string;
  password: string;
}

const LOCUM: TestUser = { username: 'mlocum', name: 'Dr Mary Locum', role: 'locum', registration: 'GMC 2000001', password: 'locum-password-1' };
const COLLEAGUE: TestUser = { username: 'akhan', name: 'Dr Aisha Khan', role: 'radiologist', registration: 'GMC 3000002', password: 'radiologist-password-2' };

function addUser(dataDir: string, u: TestUser): void {
  const r = spawnSync(
    process.execPath,
    [HUB_CLI, 'user', 'add', '--data', dataDir, '--username', u.username, '--name', u.name, '--role', u.role, '--registration', u.registration, '--password-stdin'],
    { cwd: repoRoot, env: HUB_ENV, input: `${u.password}\n`, encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`hub user add ${u.username} failed (${r.status}): ${r.stdout}${r.stderr}`);
  expect(r.stdout).toContain(`user ${u.username}`);
}

interface RunningHub {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startHub(dataDir: string, port = 0): Promise<RunningHub> {
  const child = spawn(process.execPath, [HUB_CLI, '--port', String(port), '--host', '127.0.0.1', '--data', dataDir], {
    cwd: repoRoot,
    env: HUB_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start within 60 s:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${code}) before starting:\n${out}`));
    });
  });
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function hubLogin(url: string, u: TestUser): Promise<string> {
  const res = await fetch(`${url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: u.username, password: u.password }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

async function hubGet(url: string, token: string, p: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}${p}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

async function openPage(browser: Browser, app: RunningApp, errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.goto(await app.pageUrl());
  return page;
}

async function logIn(page: Page, u: TestUser): Promise<void> {
  const form = page.getByTestId('login-form');
  await form.waitFor();
  await page.getByLabel('User name', { exact: true }).fill(u.username);
  await page.getByLabel('Password', { exact: true }).fill(u.password);
  await form.getByRole('button', { name: 'Log in', exact: true }).click();
  await expect.poll(() => page.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain(u.name);
}

/** Screenshots of the main screens, for a person to look at (FAILSAFE_E2E_SHOTS=dir keeps them there). */
const SHOTS = process.env['FAILSAFE_E2E_SHOTS'] || tempDataDir('failsafe-shots-');
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

describe('department hub: the locum case (two workstations, one hub)', () => {
  let browser: Browser;
  let hub: RunningHub;
  let locumApp: RunningApp;
  let colleagueApp: RunningApp;
  let locum: Page;
  let colleague: Page;
  const errors: string[] = [];
  const draftText = 'Locum draft: subtle hypodensity in the left insular cortex, ?early infarct.';
  let reportId = '';

  beforeAll(async () => {
    const hubData = tempDataDir('failsafe-hub-');
    addUser(hubData, LOCUM);
    addUser(hubData, COLLEAGUE);
    hub = await startHub(hubData);
    const env = { FAILSAFE_TEST_TIMINGS: '1' };
    [locumApp, colleagueApp] = await Promise.all([startApp({ env, args: ['--hub', hub.url], demo: false }), startApp({ env, args: ['--hub', hub.url], demo: false })]);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([locumApp?.stop(), colleagueApp?.stop()]);
    await hub?.stop();
  });

  it('the locum logs in (a department hub lists no demo accounts), drafts, and closes the draft', async () => {
    locum = await openPage(browser, locumApp, errors);
    await locum.getByTestId('login-form').waitFor();
    expect(await locum.getByText('Demo accounts').count()).toBe(0);
    // A wrong password: a clear message, still on the login screen.
    await locum.getByLabel('User name', { exact: true }).fill(LOCUM.username);
    await locum.getByLabel('Password', { exact: true }).fill('not-the-password');
    await locum.getByTestId('login-form').getByRole('button', { name: 'Log in', exact: true }).click();
    await expect.poll(() => locum.getByTestId('login-form').getByRole('alert').textContent()).toMatch(/^Not logged in: /);
    await logIn(locum, LOCUM);
    expect(await locum.getByTestId('hub-user').textContent()).toContain('Locum radiologist');

    // First start opens the sample study; the locum writes part of the report.
    await locum.getByTestId('patient-banner').waitFor();
    await locum.getByLabel('Brain parenchyma').fill(draftText);
    await expect.poll(() => locum.getByTestId('save-status').textContent(), { timeout: 5000 }).toMatch(/^Saved /);
    expect(await locum.locator('.signer').textContent()).toContain(`Signing as ${LOCUM.name}`);

    // The locum leaves it unsigned for another study: the editor closes the draft.
    await locum.getByRole('button', { name: /^Library/ }).click();
    await locum.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2023/ }).click();
    await locum.getByTestId('unsigned-switch-dialog').waitFor();
    await locum.getByRole('button', { name: 'Leave it unsigned and open the other study' }).click();
    await expect.poll(() => locum.getByTestId('patient-banner').textContent()).toContain('15 Mar 2023');

    // The locum's own draft is listed as unfinished, with Open (no Take over). The study just
    // opened is listed too (opening claims it, issue 7), still open on her workstation.
    await locum.getByRole('button', { name: /^Library/ }).click();
    await expect.poll(() => locum.getByTestId('unfinished-item').filter({ hasText: LOCUM.name }).filter({ hasText: 'Open on the author' }).count(), { timeout: 10_000 }).toBe(1);
    const own = locum.getByTestId('unfinished-item').filter({ hasText: LOCUM.name }).filter({ hasText: 'Closed by the author' });
    await expect.poll(() => own.count(), { timeout: 10_000 }).toBe(1);
    expect(await own.textContent()).toContain('(you)');
    expect(await own.getByRole('button', { name: /^Take over/ }).count()).toBe(0);
    expect(await own.getByRole('button', { name: /^Open your draft/ }).count()).toBe(1);
    reportId = (await own.getAttribute('data-report-id')) ?? '';
    expect(reportId).not.toBe('');
  });

  it('the colleague sees it in Unfinished with author and age, takes it over, and finds the text', async () => {
    colleague = await openPage(browser, colleagueApp, errors);
    await logIn(colleague, COLLEAGUE);
    // The first start's sample study is the one the locum left unfinished: asked first, not opened (issue 7).
    const claimed = colleague.getByTestId('claim-dialog');
    await claimed.waitFor({ timeout: 15_000 });
    expect(await claimed.textContent()).toContain(`Opened by ${LOCUM.name}`);
    await claimed.getByRole('button', { name: 'Cancel: do not open' }).click();
    await colleague.getByRole('button', { name: /^Library/ }).click();

    const panel = colleague.getByTestId('unfinished-panel');
    const item = panel.locator(`[data-testid="unfinished-item"][data-report-id="${reportId}"]`);
    await item.waitFor({ timeout: 15_000 });
    const row = (await item.textContent()) ?? '';
    expect(row).toContain(LOCUM.name);
    expect(row).toContain('Locum radiologist');
    expect(row).toContain('Cranium, InVesalius (ID INV-CRANIUM-0051)');
    expect(row).toContain('CT HEAD of 15 Mar 2024');
    expect(row).toContain('under a minute'); // age
    expect(await item.getAttribute('data-stale')).toBe('false');
    await shot(colleague, 'hub-unfinished');

    // Take over asks first; Cancel changes nothing.
    await item.getByRole('button', { name: /^Take over the draft by Dr Mary Locum/ }).click();
    const confirm = colleague.getByTestId('take-over-dialog');
    await confirm.waitFor();
    expect(await confirm.textContent()).toContain('moves to you with its history');
    await colleague.keyboard.press('Escape');
    await expect.poll(() => confirm.count()).toBe(0);
    await item.getByRole('button', { name: /^Take over/ }).click();
    await colleague.getByRole('button', { name: 'Take over and open it' }).click();

    // The adopted draft opens, with the locum's text.
    await expect.poll(() => colleague.getByLabel('Brain parenchyma').inputValue(), { timeout: 15_000 }).toBe(draftText);
    expect(await colleague.locator('.signer').textContent()).toContain(`Signing as ${COLLEAGUE.name}`);
  });

  it('the colleague completes and signs it; the hub confirms, and holds it exactly once', async () => {
    await colleague.getByLabel('Clinical question (from the request)').fill('Sudden left arm weakness.');
    await colleague.getByLabel('No prior imaging available').check();
    // The sample has a prior in the library: saying none is available needs a reason (issue 7).
    await colleague.getByLabel(/^Why none of the/).fill('Prior CT degraded by motion artefact; not comparable.');
    await colleague.getByLabel('Brain parenchyma').fill(`${draftText} Confirmed: early left MCA infarct.`);
    await colleague.getByLabel('No clinically significant unexpected findings').check();
    await colleague.getByLabel(/^Conclusion/).fill('Early left MCA territory infarct.');
    await colleague.getByRole('radio', { name: 'No alert', exact: true }).check();
    await expect.poll(() => colleague.getByTestId('sign-button').textContent()).toBe('Sign report');
    await colleague.getByTestId('sign-button').click();
    await enterSignPassword(colleague, COLLEAGUE.password);
    const signed = colleague.getByTestId('signed-report');
    await signed.waitFor();
    expect(await signed.textContent()).toContain(`Signed by ${COLLEAGUE.name}`);
    await expect.poll(() => signed.getByTestId('sync-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('synced');
    await shot(colleague, 'hub-signed-synced');

    // The audit trail records the take-over.
    await signed.getByRole('button', { name: 'Audit trail' }).click();
    await expect.poll(() => colleague.getByTestId('audit-dialog').textContent()).toContain('Taken over (adopted here)');
    await colleague.keyboard.press('Escape');

    // The hub: the signed report, once; no longer unfinished; exactly one report-signed event.
    const token = await hubLogin(hub.url, COLLEAGUE);
    const stored = await hubGet(hub.url, token, `/api/reports/${encodeURIComponent(reportId)}`);
    expect(stored.status).toBe(200);
    const body = stored.body as { id: string; signature: { name: string }; content: { fields: Record<string, string> } };
    expect(body.id).toBe(reportId);
    expect(body.signature.name).toBe(COLLEAGUE.name);
    expect(body.content.fields['brainParenchyma']).toContain(draftText);
    const unfinished = (await hubGet(hub.url, token, '/api/unfinished')).body as { items: { reportId: string }[] };
    expect(unfinished.items.map((i) => i.reportId)).not.toContain(reportId);
    const log = (await hubGet(hub.url, token, '/api/events/log?since=0&limit=1000')).body as { events: { type: string; reportId: string; kind?: string }[] };
    const signedEvents = log.events.filter((e) => e.type === 'report-signed' && e.reportId === reportId);
    expect(signedEvents).toHaveLength(1);
    expect(signedEvents[0]!.kind).toBe('report');
    expect(log.events.filter((e) => e.type === 'draft-taken-over' && e.reportId === reportId)).toHaveLength(1);

    // And it left the colleague's Unfinished panel at once.
    await colleague.getByRole('button', { name: /^Library/ }).click();
    await colleague.getByTestId('unfinished-panel').waitFor();
    await expect.poll(() => colleague.locator(`[data-testid="unfinished-item"][data-report-id="${reportId}"]`).count()).toBe(0);
  });

  it("the locum is told; their copy is read-only, names the new owner, and a further edit is refused", async () => {
    // The notice arrives on the locum's screen (pushed by the hub).
    await expect.poll(() => locum.locator('.notice').first().textContent(), { timeout: 15_000 }).toContain(`${COLLEAGUE.name} took over this draft`);
    await locum.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2024/ }).click();
    const banner = locum.getByTestId('taken-over-banner');
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toContain(COLLEAGUE.name);
    // The text stays on screen (to copy), with no field to edit and no Sign button.
    const pane = locum.locator('.report-pane');
    expect(await pane.textContent()).toContain(draftText);
    expect(await pane.locator('textarea, input, select').count()).toBe(0);
    expect(await locum.getByTestId('sign-button').count()).toBe(0);
    await shot(locum, 'hub-taken-over');

    // A further edit (straight through the contract, as a stale tab would) is refused, naming the new owner.
    const current = await bridge(locumApp, 'reports:get', { reportId });
    expect(current.ok).toBe(true);
    const r = current.value as { study: unknown; content: { fields: Record<string, string> }; revision: number; takenOverBy: string | null };
    expect(r.takenOverBy).toBe(COLLEAGUE.name);
    const edit = await bridge(locumApp, 'reports:save', {
      reportId,
      study: r.study,
      content: { ...r.content, fields: { ...r.content.fields, conclusion: 'Locum edit after the take-over.' } },
      baseRevision: r.revision,
    });
    expect(edit.ok).toBe(false);
    expect(edit.error?.code).toBe('conflict');
    expect(edit.error?.message).toContain(`taken over by ${COLLEAGUE.name}`);
    // Nothing of it reached the hub's copy.
    const token = await hubLogin(hub.url, COLLEAGUE);
    const stored = (await hubGet(hub.url, token, `/api/reports/${encodeURIComponent(reportId)}`)).body as { content: { fields: Record<string, string> } };
    expect(stored.content.fields['conclusion']).toBe('Early left MCA territory infarct.');
  });

  it('raised no page errors', () => {
    expect(errors).toEqual([]);
  });
});

describe('PHSO case 4, a critical report signed while the hub is down: offline banner, phoned through, the phone record on the alert timeline once the hub is back, nothing lost', () => {
  let browser: Browser;
  let hub: RunningHub | null = null;
  let app: RunningApp;
  let page: Page;
  let port = 0;
  let hubData = '';
  const errors: string[] = [];

  beforeAll(async () => {
    hubData = tempDataDir('failsafe-hub-offline-');
    addUser(hubData, COLLEAGUE);
    port = await closedPort();
    app = await startApp({ env: { FAILSAFE_TEST_TIMINGS: '1' }, args: ['--hub', `http://127.0.0.1:${port}`] });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await hub?.stop();
  });

  it('with nothing listening at the hub address, the offline banner shows and login says why', async () => {
    page = await openPage(browser, app, errors);
    const banner = page.getByTestId('offline-banner');
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.textContent()).toContain(`http://127.0.0.1:${port}`);
    expect(await banner.getAttribute('role')).toBe('status');
    await page.getByLabel('User name', { exact: true }).fill(COLLEAGUE.username);
    await page.getByLabel('Password', { exact: true }).fill(COLLEAGUE.password);
    await page.getByTestId('login-form').getByRole('button', { name: 'Log in', exact: true }).click();
    await expect.poll(() => page.getByTestId('login-form').getByRole('alert').textContent()).toContain('unreachable');
  });

  it('logged in while the hub was up, a critical report signed after it went down raises the blocking dialog', async () => {
    hub = await startHub(hubData, port);
    await logIn(page, COLLEAGUE);
    await page.getByTestId('patient-banner').waitFor();
    await expect.poll(() => page.getByTestId('offline-banner').count(), { timeout: 20_000 }).toBe(0);
    // Where the alert categories sit before the hub goes down: the offline banner that follows
    // must not move them under the reporter's pointer (hazard H34).
    const critical = page.getByRole('radio', { name: 'Critical', exact: true });
    const before = await critical.boundingBox();
    await hub.stop();
    hub = null;
    // The banner arrives on its own schedule; the reporter may be clicking at that moment.
    const banner = page.getByTestId('offline-banner');
    await banner.waitFor({ timeout: 45_000 });
    expect(await critical.boundingBox()).toEqual(before);

    await writeCriticalReport(page, '2026-01-01T10:00');
    await expect.poll(() => page.getByTestId('sign-button').textContent()).toBe('Sign report');
    await page.getByTestId('sign-button').click();
    await enterSignPassword(page, COLLEAGUE.password);
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    await expect.poll(() => signed.getByTestId('sync-status').getAttribute('data-state'), { timeout: 15_000 }).toBe('pending');

    // The banner now counts the report as waiting.
    await expect.poll(() => banner.textContent(), { timeout: 20_000 }).toContain('1 signed report is waiting');

    // The deadline (3 s under test timings) passes: the blocking dialog.
    const dialog = page.getByTestId('critical-dialog');
    await dialog.waitFor({ timeout: 30_000 });
    expect(await dialog.getAttribute('role')).toBe('alertdialog');
    const text = (await dialog.textContent()) ?? '';
    expect(text).toContain('Phone the finding to a responsible clinician now');
    expect(text).toContain('Critical finding for Cranium, InVesalius');
    await shot(page, 'hub-critical-dialog');
    // It cannot be dismissed without action.
    await page.keyboard.press('Escape');
    await page.waitForTimeout(300);
    expect(await dialog.isVisible()).toBe(true);
    // The time defaults to now; an incomplete record is refused with a reason.
    expect(await page.getByLabel('Time of the call').inputValue()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d$/);
    await dialog.getByRole('button', { name: /record the call/ }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent()).toContain('the clinician you spoke to');

    await page.getByLabel('Clinician spoken to').fill('Dr Sam Patel');
    await page.getByLabel('Their role').fill('ED registrar');
    await page.getByLabel('Note (optional)').fill('Read back confirmed; neurosurgery called.');
    await dialog.getByRole('button', { name: /record the call/ }).click();
    await expect.poll(() => dialog.count()).toBe(0);

    // Still pending (not lost), with the call on record.
    const sync = signed.getByTestId('sync-status');
    await expect.poll(() => sync.textContent()).toContain('Phone call recorded');
    expect(await sync.getAttribute('data-state')).toBe('pending');
    // The alert panel: the hub cannot be asked, said in words; the call recorded here shows, waiting to be sent.
    const alertPanel = signed.getByTestId('alert-panel');
    await expect.poll(() => alertPanel.getByTestId('alert-unavailable').textContent(), { timeout: 15_000 }).toContain('unreachable');
    expect(await alertPanel.getByTestId('alert-local-calls').textContent()).toContain('Dr Sam Patel (ED registrar)');
  });

  it('when the hub is back, the report reaches it', async () => {
    hub = await startHub(hubData, port);
    const sync = page.getByTestId('signed-report').getByTestId('sync-status');
    await expect.poll(() => sync.getAttribute('data-state'), { timeout: 60_000 }).toBe('synced');
    // The call follows its report onto the alert's timeline (issue 9 line 6), and leaves the waiting list.
    const alertPanel = page.getByTestId('signed-report').getByTestId('alert-panel');
    await expect.poll(() => alertPanel.getByTestId('alert-timeline').textContent(), { timeout: 30_000 }).toContain('Phone call to Dr Sam Patel (ED registrar)');
    expect(await alertPanel.getByTestId('alert-local-calls').count()).toBe(0);
    await expect.poll(() => page.getByTestId('offline-banner').count(), { timeout: 30_000 }).toBe(0);
    expect(await page.getByTestId('critical-dialog').count()).toBe(0);
    expect(errors).toEqual([]);
  });
});
