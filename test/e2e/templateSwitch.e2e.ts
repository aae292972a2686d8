// Hazard "finding lost when the template is switched" (issue 7 finding 2), as a radiologist meets
// it, in Chromium against the built app (browser mode, embedded hub): on the bundled CT head,
// "Brain parenchyma" is written, then the template is switched to Generic. The editor asks first
// (Cancel changes nothing), the text moves to "Other text from the previous template", labelled
// and editable; switching back puts it back; after signing the signed view shows it, and the
// audit trail names the field moved.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { bridge, enterSignPassword, launchChromium, startApp, tempDataDir, type RunningApp } from './harness.ts';

const CARRIED = 'Other text from the previous template';
const FINDING = 'Small chronic infarct, left cerebellar hemisphere.';
const EDITED = ' Unchanged from the 2023 study.';

describe('switching the template keeps what was written (browser mode)', () => {
  let browser: Browser;
  let app: RunningApp;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    app = await startApp({ dataDir: tempDataDir('failsafe-template-switch-') });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    await page.goto(await app.pageUrl());
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const select = () => page.locator('#template-select');
  const dialog = () => page.getByTestId('template-switch-dialog');
  const carried = () => page.getByTestId('carried-over-editor');

  it('asks before moving text; Cancel changes nothing', async () => {
    await page.getByTestId('login-form').waitFor();
    await page.getByRole('button', { name: /^Log in as Dr Ada Lovelace, Radiologist/ }).click();
    await expect.poll(() => page.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain('Dr Ada Lovelace');
    await expect.poll(() => select().inputValue(), { timeout: 30_000 }).toBe('ct-head');
    await page.getByLabel('Brain parenchyma').fill(FINDING);
    await page.getByLabel('Ventricles and extra-axial spaces').fill('Normal size.');
    await select().selectOption('generic');
    await dialog().waitFor();
    const question = (await dialog().textContent()) ?? '';
    expect(question).toContain(`2 fields will move to "${CARRIED}"`);
    expect(question).toContain('Brain parenchyma (CT head)');
    await page.getByTestId('template-switch-cancel').click();
    await expect.poll(() => dialog().count()).toBe(0);
    expect(await select().inputValue()).toBe('ct-head');
    expect(await page.getByLabel('Brain parenchyma').inputValue()).toBe(FINDING);
    expect(await carried().count()).toBe(0);
  });

  it('after confirming, the text is in the labelled, editable section, and Generic\'s Findings still needs writing', async () => {
    await select().selectOption('generic');
    await page.getByTestId('template-switch-confirm').click();
    await expect.poll(() => select().inputValue(), { timeout: 15_000 }).toBe('generic');
    await carried().waitFor();
    expect(await carried().textContent()).toContain(CARRIED);
    const box = page.getByLabel('Brain parenchyma (from CT head)');
    expect(await box.inputValue()).toBe(FINDING);
    expect(await page.getByLabel('Ventricles and extra-axial spaces (from CT head)').inputValue()).toBe('Normal size.');
    expect(await page.getByTestId('signoff-problems').textContent()).toContain('Findings is empty');
    await box.fill(FINDING + EDITED);
  });

  it('switching back puts the (edited) text back into its field, without asking: nothing moves', async () => {
    await expect.poll(() => page.getByTestId('save-status').textContent(), { timeout: 10_000 }).toMatch(/^Saved/);
    await select().selectOption('ct-head');
    await expect.poll(() => select().inputValue(), { timeout: 15_000 }).toBe('ct-head');
    expect(await dialog().count()).toBe(0);
    expect(await page.getByLabel('Brain parenchyma').inputValue()).toBe(FINDING + EDITED);
    expect(await carried().count()).toBe(0);
  });

  it('signed on Generic, the signed view shows the carried text, and the audit trail names what moved', async () => {
    await select().selectOption('generic');
    await page.getByTestId('template-switch-confirm').click();
    await carried().waitFor();
    // A piece that does not belong is emptied, then removed (only an empty piece can be).
    expect(await page.getByTestId('carried-remove-1').count()).toBe(0);
    await page.getByLabel('Ventricles and extra-axial spaces (from CT head)').fill('');
    await page.getByTestId('carried-remove-1').click();
    await expect.poll(() => page.getByLabel('Ventricles and extra-axial spaces (from CT head)').count()).toBe(0);
    await page.getByLabel(/^Findings/).fill('See other text below.');
    await page.getByLabel(/^Conclusion/).fill('Old cerebellar infarct.');
    await page.getByRole('button', { name: /^Compared with / }).first().click();
    await page.getByLabel('No clinically significant unexpected findings').check();
    await page.getByRole('radio', { name: 'No alert', exact: true }).check();
    await expect.poll(() => page.getByTestId('sign-button').textContent()).toBe('Sign report');
    await page.getByTestId('sign-button').click();
    await enterSignPassword(page);
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    const view = page.getByTestId('carried-over-view');
    const text = (await view.textContent()) ?? '';
    expect(text).toContain(CARRIED);
    expect(text).toContain('Brain parenchyma');
    expect(text).toContain('CT head');
    expect(text).toContain(FINDING + EDITED);
    expect(text).not.toContain('Ventricles');

    const reports = await bridge(app, 'reports:list', {});
    const id = (reports.value as { id: string }[])[0]!.id;
    const audit = await bridge(app, 'reports:audit', { reportId: id });
    const details = (audit.value as { action: string; detail: string }[]).filter((a) => a.action === 'template-change').map((a) => a.detail);
    expect(details).toEqual([
      `ct-head → generic; moved to "${CARRIED}": Brain parenchyma (brainParenchyma, CT head), Ventricles and extra-axial spaces (ventricles, CT head)`,
      'generic → ct-head; put back into their fields: Brain parenchyma (brainParenchyma, CT head), Ventricles and extra-axial spaces (ventricles, CT head)',
      `ct-head → generic; moved to "${CARRIED}": Brain parenchyma (brainParenchyma, CT head), Ventricles and extra-axial spaces (ventricles, CT head)`,
    ]);
  });

  it('raised no page errors', () => {
    expect(errors).toEqual([]);
  });
});
