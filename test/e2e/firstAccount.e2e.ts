// Demo accounts exist only in demo mode (issue 8 line 8): an installed app, or any explicit data
// folder, starts its embedded hub without them and asks the first user to create their own
// account; demo mode says "Demo: not for patient data" on every screen.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { bridge, launchChromium, startApp, type RunningApp } from './harness.ts';

describe('first start without demo accounts (browser mode, explicit data folder)', () => {
  let browser: Browser;
  let app: RunningApp;
  let demoApp: RunningApp;

  beforeAll(async () => {
    browser = await launchChromium();
    [app, demoApp] = await Promise.all([startApp({ demo: false }), startApp()]);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([app?.stop(), demoApp?.stop()]);
  });

  it('asks the first user to create their account, logs them in with it, and offers no demo account nor banner', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(await app.pageUrl());
    const form = page.getByTestId('first-account-form');
    await form.waitFor({ timeout: 30_000 });
    expect(await page.getByRole('button', { name: /^Log in as/ }).count()).toBe(0);
    expect(await page.getByTestId('demo-banner').count()).toBe(0);
    // A demo password does not work here.
    expect((await bridge(app, 'hub:login', { username: 'radiologist', password: 'demo' })).ok).toBe(false);
    await form.getByLabel('Name (as it appears on reports)').fill('Dr Ada Lovelace');
    await form.getByLabel('Role').selectOption('radiologist');
    await form.getByLabel('Professional registration (e.g. GMC 1234567)').fill('GMC 1234567');
    await form.getByLabel('User name').fill('ada');
    await form.getByLabel('Password (at least 10 characters)').fill('correct horse battery');
    await form.getByLabel('Password again').fill('correct horse battery');
    await form.getByRole('button', { name: 'Create account and log in' }).click();
    await expect.poll(() => page.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain('Dr Ada Lovelace');
    // Once: a second first account is refused.
    const again = await bridge(app, 'hub:createFirstUser', { username: 'eve', name: 'Eve', role: 'radiologist', registration: 'X 1', password: 'another long password' });
    expect(again.ok).toBe(false);
    expect(again.error?.message).toMatch(/first account already/);
    await page.close();
  });

  it('demo mode says "Demo: not for patient data" from the login screen on', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(await demoApp.pageUrl());
    await page.getByTestId('login-form').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('demo-banner').innerText()).toContain('Demo: not for patient data');
    await page.getByRole('button', { name: /^Log in as Dr Ada Lovelace, Radiologist/ }).click();
    await expect.poll(() => page.getByTestId('hub-user').textContent(), { timeout: 15_000 }).toContain('Dr Ada Lovelace');
    expect(await page.getByTestId('demo-banner').isVisible()).toBe(true);
    await page.close();
  });
});
