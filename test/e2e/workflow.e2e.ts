// The radiologist's workflow end to end, in Chromium against the built app in browser mode
// (with the embedded hub `npm start` runs): first start → log in as the demo radiologist → the
// bundled CT head opens → the image renders and window/level changes it →
// a report is written → signing is blocked until unexpected findings and the alert code are
// recorded (the reasons are shown) → signed → the hub confirms it (synced) → the app is restarted on the same data folder →
// the signed report is intact and read-only → an addendum appears above it. Also: leaving an
// unsigned draft for another study asks first, and typed text survives a reload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bridge, enterSignPassword, launchChromium, startApp, tempDataDir, type RunningApp } from './harness.ts';

interface CanvasStats {
  width: number;
  height: number;
  distinct: number;
  mean: number;
  hash: number;
}

async function canvasStats(page: Page, viewerTestId: string): Promise<CanvasStats> {
  return page.evaluate((id) => {
    const canvas = document.querySelector<HTMLCanvasElement>(`[data-testid="${id}"] canvas`);
    if (!canvas || canvas.width === 0 || canvas.height === 0) return { width: 0, height: 0, distinct: 0, mean: 0, hash: 0 };
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    const seen = new Set<number>();
    let hash = 2166136261;
    let sum = 0;
    for (let i = 0; i < data.length; i += 4) {
      const v = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
      if (seen.size < 4096) seen.add(v);
      sum += data[i]!;
      hash = Math.imul(hash ^ v, 16777619) >>> 0;
    }
    return { width: canvas.width, height: canvas.height, distinct: seen.size, mean: sum / (data.length / 4), hash };
  }, viewerTestId);
}

/** Waits until the viewer shows an image (not loading, not an error) and it has been painted. */
async function waitForImage(page: Page, viewerTestId: string): Promise<void> {
  await page.waitForFunction((id) => document.querySelector(`[data-testid="${id}"]`)?.getAttribute('data-state') === 'image', viewerTestId, {
    timeout: 60_000,
  });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(null)))));
}

async function waitForRepaint(page: Page, viewerTestId: string, before: number): Promise<CanvasStats> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await canvasStats(page, viewerTestId);
    if (s.hash !== before || Date.now() > deadline) return s;
    await page.waitForTimeout(100);
  }
}

async function newPage(browser: Browser, url: string, errors: string[]): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} ${m.location().url}`);
  });
  page.on('dialog', (d) => void d.accept());
  await page.goto(url);
  return page;
}

const signButton = (page: Page) => page.getByTestId('sign-button');

describe('reporting workflow (browser mode)', () => {
  let browser: Browser;
  let app: RunningApp;
  let page: Page;
  const dataDir = tempDataDir('failsafe-workflow-');
  const errors: string[] = [];
  const conclusion = 'No acute intracranial abnormality. Incidental left parotid lesion.';
  const findingText = '2 cm well-defined left parotid lesion, not previously reported.';
  let hashPrefix = '';

  beforeAll(async () => {
    browser = await launchChromium();
    app = await startApp({ dataDir });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('first start asks to log in to the hub, then opens the bundled sample study', async () => {
    page = await newPage(browser, await app.pageUrl(), errors);
    // The token is taken out of the visible URL.
    const login = page.getByTestId('login-form');
    await login.waitFor();
    expect(page.url()).not.toContain('launch=');
    expect(page.url()).not.toContain(app.token);
    // The embedded hub lists its demo accounts with their roles.
    expect(await page.getByRole('button', { name: /^Log in as Dr Ada Lovelace, Radiologist/ }).count()).toBe(1);

    // The login form refuses an incomplete login with a clear message.
    await login.getByRole('button', { name: 'Log in', exact: true }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('your user name');

    await page.getByLabel('User name', { exact: true }).fill('radiologist');
    await page.getByLabel('Password', { exact: true }).fill('demo');
    await login.getByRole('button', { name: 'Log in', exact: true }).click();
    await expect.poll(() => page.getByTestId('hub-user').textContent()).toContain('Dr Ada Lovelace · Radiologist');

    const banner = page.getByTestId('patient-banner');
    await banner.waitFor();
    const text = (await banner.textContent()) ?? '';
    expect(text).toContain('InVesalius');
    expect(text).toContain('INV-CRANIUM-0051');
    expect(text).toContain('CT HEAD');
    expect(text).toContain('15 Mar 2024');
    await expect.poll(() => banner.textContent()).toMatch(/Report\s*Draft \(unsigned\)/);
  });

  it('a link opens one window: the same link in another window is refused in words and gets no access (issue 8 line 4)', async () => {
    const url = await app.pageUrl();
    const first = await browser.newPage();
    const second = await browser.newPage();
    try {
      await first.goto(url);
      await first.waitForFunction(() => sessionStorage.getItem('failsafe.token') !== null);
      await second.goto(url);
      await second.getByRole('alert').waitFor();
      expect(await second.getByRole('alert').innerText()).toContain('This link has been used already or has expired');
      expect(await second.evaluate(() => sessionStorage.getItem('failsafe.token'))).toBeNull();
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('shows a non-uniform CT image, and window/level changes its pixels (preset key and drag)', async () => {
    await waitForImage(page, 'viewer-current');
    const first = await canvasStats(page, 'viewer-current');
    expect(first.width).toBeGreaterThan(100);
    expect(first.distinct).toBeGreaterThan(50);

    // Keyboard: the bone window preset (key 8) on the focused viewer.
    await page.getByTestId('viewer-current').focus();
    await page.keyboard.press('8');
    const bone = await waitForRepaint(page, 'viewer-current', first.hash);
    expect(bone.hash).not.toBe(first.hash);
    await expect.poll(() => page.getByTestId('viewer-current').getByTestId('viewer-wl').textContent()).toContain('W: 1800');

    // Mouse: drag changes window/level again.
    const box = (await page.getByTestId('viewer-current').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 60, { steps: 8 });
    await page.mouse.up();
    const dragged = await waitForRepaint(page, 'viewer-current', bone.hash);
    expect(dragged.hash).not.toBe(bone.hash);
    expect(dragged.distinct).toBeGreaterThan(1);
  });

  it('opens the prior side by side, labelled with its date', async () => {
    await page.getByRole('button', { name: 'Show prior of 15 Mar 2023 side by side' }).click();
    const prior = page.getByTestId('viewer-prior');
    await prior.waitFor();
    expect(await page.locator('figcaption', { hasText: 'PRIOR 15 Mar 2023' }).count()).toBe(1);
    await waitForImage(page, 'viewer-prior');
    expect((await canvasStats(page, 'viewer-prior')).distinct).toBeGreaterThan(50);
    await page.getByRole('button', { name: 'Hide prior of 15 Mar 2023' }).click();
  });

  it('blocks signing until unexpected findings and the alert code are recorded, and says why', async () => {
    await page.getByLabel('Clinical question (from the request)').fill('Fall, on anticoagulants. ?Intracranial haemorrhage');
    // Comparison: quick fill from the listed prior.
    await page.getByRole('button', { name: 'Compared with CT HEAD of 15 Mar 2023' }).click();
    expect(await page.getByLabel('Prior studies compared').inputValue()).toBe('CT HEAD of 15 Mar 2023');
    await page.getByLabel('Brain parenchyma').fill('No intracranial haemorrhage, infarct or mass effect.');
    await page.getByLabel('Ventricles and extra-axial spaces').fill('Normal size. No extra-axial collection.');
    await page.getByLabel('Skull vault, skull base, sinuses and mastoids').fill('No fracture.');
    await page.getByLabel(/^Conclusion/).fill(conclusion);

    // Still blocked: exactly the two rules the reporter has not answered.
    await expect.poll(() => signButton(page).textContent()).toBe('Sign (blocked: 2 problems)');
    expect(await signButton(page).isDisabled()).toBe(true);
    const summary = (await page.getByTestId('signoff-problems').textContent()) ?? '';
    expect(summary).toContain('Record the unexpected findings');
    expect(summary).toContain('Choose the alert code explicitly');
    // The reasons are the button's accessible description, and shown beside their sections.
    const describedBy = await signButton(page).getAttribute('aria-describedby');
    const description = await page.locator(`#${describedBy}`).textContent();
    expect(description).toContain('unexpected findings');
    expect(description).toContain('alert code');
    expect(await page.locator('#section-unexpected').textContent()).toContain('Blocks signing: Record the unexpected findings');
    expect(await page.locator('#section-alert').textContent()).toContain('Blocks signing: Choose the alert code');
    // Ctrl+Enter does not sign a blocked report.
    await page.keyboard.press('Control+Enter');
    expect(await page.getByTestId('signed-report').count()).toBe(0);

    // An unexpected finding without a category still blocks.
    await page.getByLabel('Unexpected findings present').check();
    await page.getByLabel('Description of unexpected finding 1').fill(findingText);
    await expect.poll(() => page.getByTestId('signoff-problems').textContent()).toContain('Unexpected finding 1 has no category');
    await page.getByLabel('Category of unexpected finding 1').selectOption('significant');

    // An alert code less severe than the finding blocks; the deadline is shown beside each choice.
    expect(await page.locator('#section-alert').textContent()).toContain('acknowledge within 7 days');
    await page.getByRole('radio', { name: 'No alert', exact: true }).check();
    await expect.poll(() => page.getByTestId('signoff-problems').textContent()).toContain('less severe than an unexpected finding');
    expect(await signButton(page).textContent()).toBe('Sign (blocked: 1 problem)');

    await page.getByRole('radio', { name: 'Significant unexpected', exact: true }).check();
    await expect.poll(() => signButton(page).textContent()).toBe('Sign report');
    expect(await signButton(page).isEnabled()).toBe(true);
    await expect.poll(() => page.getByTestId('save-status').textContent(), { timeout: 5000 }).toMatch(/^Saved \d\d:\d\d:\d\d \(revision \d+\)$/);
  });

  it('signs: the report becomes FINAL and read-only, with the signature', async () => {
    // The first signature of the session asks for the password again (21 CFR 11.200(a)).
    await signButton(page).click();
    const confirm = page.getByTestId('confirm-signer');
    await confirm.waitFor();
    // Cancel signs nothing.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => page.locator('section.signoff').textContent()).toContain('Not signed: the password was not entered');
    expect(await page.getByTestId('signed-report').count()).toBe(0);
    // A wrong password says so and signs nothing.
    await signButton(page).click();
    await confirm.waitFor();
    await confirm.getByLabel('Password').fill('not-the-password');
    await confirm.getByRole('button', { name: 'Confirm and sign' }).click();
    await expect.poll(() => confirm.getByRole('alert').textContent()).toContain('Wrong password');
    // The one refusal this step expects (the bridge answers a wrong password 403; the browser logs it).
    await expect.poll(() => errors.findIndex((e) => /status of 403/.test(e))).toBeGreaterThanOrEqual(0);
    errors.splice(errors.findIndex((e) => /status of 403/.test(e)), 1);
    expect(await page.getByTestId('signed-report').count()).toBe(0);
    await confirm.getByLabel('Password').fill('demo');
    await confirm.getByRole('button', { name: 'Confirm and sign' }).click();
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    const text = (await signed.textContent()) ?? '';
    expect(text).toContain('FINAL');
    expect(text).toContain(conclusion);
    expect(text).toContain(findingText);
    expect(text).toContain('Signed by Dr Ada Lovelace, Radiologist, registration GMC 1234567');
    const hash = await signed.locator('.hash-full').first().textContent();
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    hashPrefix = hash!.slice(0, 12);
    expect(await signed.locator('textarea, input, select, [contenteditable="true"]').count()).toBe(0);
    expect((await page.getByTestId('patient-banner').textContent()) ?? '').toContain('FINAL');
    // The hub confirms it.
    await expect.poll(() => signed.getByTestId('sync-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('synced');
    expect(await signed.getByTestId('sync-status').textContent()).toContain('At the hub');

    // The audit trail records creation, edits and the signature.
    await signed.getByRole('button', { name: 'Audit trail' }).click();
    const audit = page.getByTestId('audit-dialog');
    await expect.poll(() => audit.textContent()).toContain('Signed');
    expect(await audit.textContent()).toContain('Created');
    await page.keyboard.press('Escape');
    await expect.poll(() => audit.count()).toBe(0);
  });

  it('asks before leaving an unsigned draft for another study; typed text survives a reload', async () => {
    // Open the prior (same patient) from the library and start a draft for it.
    await page.getByRole('button', { name: /^Library/ }).click();
    await page.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2023/ }).click();
    await expect.poll(() => page.getByTestId('patient-banner').textContent()).toContain('15 Mar 2023');
    const draftText = 'Draft for the prior: stable appearances.';
    await page.getByLabel('Brain parenchyma').fill(draftText);
    await expect.poll(() => page.getByTestId('save-status').textContent(), { timeout: 5000 }).toMatch(/^Saved /);

    // Switching to the other study asks first; staying keeps everything as it was.
    await page.getByRole('button', { name: /^Library/ }).click();
    await page.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2024/ }).click();
    const dialog = page.getByTestId('unsigned-switch-dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('unsigned draft');
    // Keyboard: the safe choice has focus; Escape also stays.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Stay with the current report');
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);
    await page.getByRole('button', { name: /^Reporting:/ }).click();
    expect((await page.getByTestId('patient-banner').textContent()) ?? '').toContain('15 Mar 2023');
    expect(await page.getByLabel('Brain parenchyma').inputValue()).toBe(draftText);

    // Text typed just before the page goes away is still there after a reload (keepalive save).
    const more = `${draftText} No new abnormality.`;
    await page.getByLabel('Brain parenchyma').fill(more);
    await page.reload();
    await page.getByRole('button', { name: /^Open report: .*15 Mar 2023|^Open study CT HEAD, 15 Mar 2023/ }).first().waitFor();
    await page.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2023/ }).click();
    await expect.poll(() => page.getByLabel('Brain parenchyma').inputValue()).toBe(more);

    // Now leave it: the question comes, and confirming switches; the draft stays listed as a draft.
    await page.getByRole('button', { name: /^Library/ }).click();
    await page.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2024/ }).click();
    await page.getByTestId('unsigned-switch-dialog').waitFor();
    await page.getByRole('button', { name: 'Leave it unsigned and open the other study' }).click();
    await expect.poll(() => page.getByTestId('patient-banner').textContent()).toContain('15 Mar 2024');
    await page.getByTestId('signed-report').waitFor();
    await page.getByRole('button', { name: /^Library/ }).click();
    const rows = page.locator('table.data-table tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    const table = (await page.locator('table.data-table').first().textContent()) ?? '';
    expect(table).toContain('Draft');
    expect(table).toContain('FINAL');
  });

  it('after a restart on the same data, the signed report is intact and read-only; an addendum goes above it', async () => {
    await page.close();
    await app.stop();
    app = await startApp({ dataDir });
    page = await newPage(browser, await app.pageUrl(), errors);

    // The login persisted: the library shows, with the signed report listed (and at the hub).
    await page.getByRole('button', { name: /^Open report: .*CT HEAD/ }).first().waitFor();
    expect(await page.getByTestId('hub-user').textContent()).toContain('Dr Ada Lovelace');
    await expect.poll(() => page.locator('table.data-table').first().getByTestId('sync-status').first().getAttribute('data-state')).toBe('synced');
    await page.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2024/ }).click();
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    const text = (await signed.textContent()) ?? '';
    expect(text).toContain(conclusion);
    expect(text).toContain(findingText);
    expect(text).toContain('Signed by Dr Ada Lovelace');
    expect(text).toContain(hashPrefix);
    expect(await signed.locator('textarea, input, select, [contenteditable="true"]').count()).toBe(0);
    expect(await page.getByTestId('sign-button').count()).toBe(0);

    // Add an addendum from the keyboard.
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('Control+Shift+A');
    const box = page.getByLabel('Addendum text');
    await box.waitFor();
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('addendum-text');
    const addendum = 'Addendum: parotid lesion discussed with the referrer; ultrasound advised.';
    await box.fill(addendum);
    await page.getByRole('button', { name: 'Sign addendum' }).click();
    // After a restart the session is restored, but its first signature asks for the password.
    await enterSignPassword(page);

    const list = page.getByTestId('addendum-list');
    await expect.poll(() => list.textContent()).toContain(addendum);
    expect(await list.textContent()).toContain('Signed by Dr Ada Lovelace');
    expect(await list.textContent()).toContain('Meaning: addendum');
    // Above the original, both on screen and in reading order.
    const listBox = (await list.boundingBox())!;
    const originalBox = (await page.getByRole('heading', { name: 'Original report' }).boundingBox())!;
    expect(listBox.y).toBeLessThan(originalBox.y);
    const order = await page.evaluate(() => {
      const l = document.querySelector('[data-testid="addendum-list"]')!;
      const o = document.getElementById('original-title')!;
      return l.compareDocumentPosition(o) & Node.DOCUMENT_POSITION_FOLLOWING;
    });
    expect(order).toBeTruthy();
    // The original text is unchanged and still read-only.
    expect((await signed.textContent()) ?? '').toContain(conclusion);
    expect(await signed.locator('textarea, input, select').count()).toBe(0);
    const heading = (await page.locator('#signed-title').textContent()) ?? '';
    expect(heading).toContain('FINAL (with addenda)');
    expect(heading).toContain('1 addendum');
  });

  it('raised no page errors', () => {
    expect(errors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });
});

/** The value a contract call answers (the test fails with the refusal otherwise). */
async function call<T>(app: RunningApp, channel: string, input: unknown): Promise<T> {
  const r = await bridge(app, channel, input);
  if (!r.ok) throw new Error(`${channel}: ${r.error?.message}`);
  return r.value as T;
}

async function logInAs(page: Page, who: RegExp, name: string): Promise<void> {
  await page.getByTestId('login-form').waitFor();
  await page.getByRole('button', { name: who }).click();
  await expect.poll(() => page.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain(name);
}

describe('trainee and trainer (browser mode, embedded hub)', () => {
  let browser: Browser;
  let app: RunningApp;
  let page: Page;
  const errors: string[] = [];
  const TRAINEE = 'Dr Alan Turing';
  const TRAINER = 'Dr Grace Hopper';
  const conclusion = 'Small chronic left frontal infarct. No acute abnormality.';
  let reportId = '';

  beforeAll(async () => {
    browser = await launchChromium();
    app = await startApp({ dataDir: tempDataDir('failsafe-trainee-') });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it("a trainee's signature makes a provisional report, shown nowhere as final", async () => {
    page = await newPage(browser, await app.pageUrl(), errors);
    await logInAs(page, /^Log in as Dr Alan Turing, Trainee/, `${TRAINEE} · Trainee`);
    const banner = page.getByTestId('patient-banner');
    await expect.poll(() => banner.textContent()).toMatch(/Report\s*Draft \(unsigned\)/);

    await page.getByLabel('Clinical question (from the request)').fill('Headache.');
    await page.getByLabel('No prior imaging available').check();
    // The sample has a prior in the library: saying none is available needs a reason (issue 7).
    await page.getByLabel(/^Why none of the/).fill('Prior CT degraded by motion artefact; not comparable.');
    await page.getByLabel('Brain parenchyma').fill('Small established left frontal infarct.');
    await page.getByLabel('No clinically significant unexpected findings').check();
    await page.getByLabel(/^Conclusion/).fill(conclusion);
    await page.getByRole('radio', { name: 'No alert', exact: true }).check();
    // The trainee's button submits a provisional report; it never offers a final one.
    await expect.poll(() => signButton(page).textContent()).toBe('Submit provisional report');
    expect(await page.locator('.signer').textContent()).toContain('Meaning: provisional report (awaiting verification)');
    await signButton(page).click();
    await enterSignPassword(page);

    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    expect(await signed.getAttribute('data-state')).toBe('provisional');
    const text = (await signed.textContent()) ?? '';
    expect(text).toContain('PROVISIONAL: awaiting verification');
    expect(text).not.toContain('FINAL');
    expect(text).toContain(`Signed by ${TRAINEE}, Trainee`);
    expect(text).toContain(conclusion);
    // The exam it is bound to, from the DICOM index.
    expect(await signed.getByTestId('exam-details').textContent()).toContain('CT');
    // Not the trainee's to verify, and no addendum on a provisional report.
    expect(await page.getByTestId('verify-button').count()).toBe(0);
    expect(await page.getByRole('button', { name: /Add addendum/ }).count()).toBe(0);
    const bannerText = (await banner.textContent()) ?? '';
    expect(bannerText).toContain('PROVISIONAL');
    expect(bannerText).not.toContain('FINAL');
    // The hub takes it (as provisional).
    await expect.poll(() => signed.getByTestId('sync-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('synced');

    // The reports list says PROVISIONAL too.
    await page.getByRole('button', { name: /^Library/ }).click();
    const row = page.getByTestId('reports-table').locator('tbody tr[data-state="provisional"]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toContain('PROVISIONAL');
    expect(await row.textContent()).not.toContain('FINAL');
    const reports = await call<{ id: string; state: string }[]>(app, 'reports:list', {});
    expect(reports.map((r) => r.state)).toEqual(['provisional']);
    reportId = reports[0]!.id;
  });

  it('a trainer verifies it: it becomes final, naming both, at the workstation and at the hub', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await logInAs(page, /^Log in as Dr Grace Hopper, Trainer/, `${TRAINER} · Trainer`);
    await page.getByRole('button', { name: /^Open report: / }).first().click();
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    expect(await signed.getAttribute('data-state')).toBe('provisional');
    expect((await signed.textContent()) ?? '').not.toContain('FINAL');
    const verify = page.getByTestId('verify-button');
    expect(await verify.textContent()).toBe('Verify and issue final report');
    await verify.click();
    await enterSignPassword(page);

    await expect.poll(() => page.getByTestId('signed-report').getAttribute('data-state'), { timeout: 15_000 }).toBe('final');
    const done = page.getByTestId('signed-report');
    const text = (await done.textContent()) ?? '';
    expect(text).toContain('FINAL');
    expect(text).not.toContain('PROVISIONAL');
    const signatures = done.getByTestId('signature-list').getByTestId('signature');
    expect(await signatures.count()).toBe(2);
    expect(await signatures.nth(0).textContent()).toContain(`Signed by ${TRAINEE}, Trainee`);
    expect(await signatures.nth(0).getAttribute('data-meaning')).toBe('provisional');
    expect(await signatures.nth(1).textContent()).toContain(`Signed by ${TRAINER}, Trainer`);
    expect(await signatures.nth(1).textContent()).toContain('Meaning: verified (final report)');
    expect((await page.getByTestId('patient-banner').textContent()) ?? '').toContain('FINAL');
    expect(await page.getByTestId('verify-button').count()).toBe(0);
    await expect.poll(() => done.getByTestId('sync-status').getAttribute('data-state'), { timeout: 20_000 }).toBe('synced');

    // The hub holds it as final, with both signature records.
    const status = await call<{ url: string }>(app, 'hub:status', {});
    const login = await fetch(`${status.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'trainer', password: 'demo' }) });
    const token = ((await login.json()) as { token: string }).token;
    const res = await fetch(`${status.url}/api/reports/${encodeURIComponent(reportId)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const atHub = (await res.json()) as { state: string; signatures: { name: string; meaning: string }[] };
    expect(atHub.state).toBe('final');
    expect(atHub.signatures.map((s) => [s.name, s.meaning])).toEqual([
      [TRAINEE, 'provisional'],
      [TRAINER, 'verification'],
    ]);

    // And the list reads FINAL now.
    await page.getByRole('button', { name: /^Library/ }).click();
    await expect.poll(() => page.getByTestId('reports-table').locator('tbody tr[data-state="final"]').count()).toBe(1);
  });

  it('a referrer reads the final report and signs nothing: no sign, verify or addendum button, no draft', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await logInAs(page, /^Log in as .*, Referrer/, 'Referrer');
    await page.getByRole('button', { name: /^Open report: / }).first().click();
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    expect(await signed.getAttribute('data-state')).toBe('final');
    expect(await signed.getByTestId('signature').count()).toBe(2);
    for (const control of ['sign-button', 'verify-button']) expect(await page.getByTestId(control).count()).toBe(0);
    expect(await page.getByRole('button', { name: /Add addendum/ }).count()).toBe(0);
    // A study without a signed report: nothing to write.
    await page.getByRole('button', { name: /^Library/ }).click();
    await page.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2023/ }).click();
    await page.getByTestId('no-draft-role').waitFor();
    expect(await page.locator('.report-pane textarea').count()).toBe(0);
    expect(await page.getByTestId('sign-button').count()).toBe(0);
  });

  it('raised no page errors', () => {
    expect(errors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });
});
