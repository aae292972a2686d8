// Keyboard-first and the rough edges of the workflow, in Chromium against the built app:
// a report written, signed and amended without the mouse; shortcuts help; opening a folder
// from the keyboard with the files that could not be indexed listed with reasons; and two tabs
// editing one draft: the second is told of the conflict and nothing is lost silently.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { corpusDir, launchChromium, startApp, type RunningApp } from './harness.ts';

const focusedId = (page: Page) => page.evaluate(() => document.activeElement?.id ?? '');

/** Logs in to the embedded hub as the demo radiologist, from the keyboard. */
async function logIn(page: Page): Promise<void> {
  await page.getByTestId('login-form').waitFor();
  expect(await focusedId(page)).toBe('login-username');
  await page.keyboard.type('radiologist');
  await page.keyboard.press('Tab');
  await page.keyboard.type('demo');
  await page.keyboard.press('Enter');
  await page.getByTestId('patient-banner').waitFor();
  await page.getByTestId('sign-button').waitFor();
}

describe('keyboard-first workflow and edge cases (browser mode)', () => {
  let browser: Browser;
  let app: RunningApp;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
    app = await startApp();
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(await app.pageUrl());
    await logIn(page);
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('writes, signs and amends a report with the keyboard only', async () => {
    const kb = page.keyboard;
    await kb.press('Alt+1');
    expect(await focusedId(page)).toBe('field-clinicalQuestion');
    await kb.type('Headache.');

    // Comparison: arrow keys move within the choice (and select).
    await kb.press('Alt+3');
    expect(await focusedId(page)).toBe('field-comparison');
    await kb.press('ArrowDown');
    expect(await page.getByLabel('No prior imaging available').isChecked()).toBe(true);
    // The sample has a prior in the library: the reason none is used comes next (issue 7).
    await kb.press('Tab');
    expect(await focusedId(page)).toBe('field-comparison.noPriorReason');
    await kb.type('Prior degraded by motion.');

    await kb.press('Alt+4');
    expect(await focusedId(page)).toBe('field-brainParenchyma');
    await kb.type('Normal.');

    await kb.press('Alt+5');
    expect(await focusedId(page)).toBe('field-unexpected');
    await kb.press('Space');
    expect(await page.getByLabel('No clinically significant unexpected findings').isChecked()).toBe(true);

    await kb.press('Alt+6');
    expect(await focusedId(page)).toBe('field-conclusion');
    await kb.type('Normal CT head.');

    // Still blocked (no alert code): Ctrl+Enter moves focus to the problems instead of signing.
    await kb.press('Control+Enter');
    expect(await focusedId(page)).toBe('signoff-summary');
    expect(await page.getByTestId('signoff-problems').textContent()).toContain('Choose the alert code explicitly');
    expect(await page.getByTestId('signed-report').count()).toBe(0);

    await kb.press('Alt+7');
    expect(await focusedId(page)).toBe('field-alertCode');
    await kb.press('Space');
    // Critical asks for the verbal communication record.
    await expect.poll(() => page.getByTestId('signoff-problems').textContent()).toContain('verbal communication');
    for (let i = 0; i < 4; i++) await kb.press('ArrowDown');
    expect(await page.getByRole('radio', { name: 'No alert', exact: true }).isChecked()).toBe(true);
    await expect.poll(() => page.getByTestId('sign-button').textContent()).toBe('Sign report');

    await kb.press('Control+Enter');
    // The first signature of the session asks for the password again: typed, Enter confirms.
    await page.getByTestId('confirm-signer').waitFor();
    await expect.poll(() => focusedId(page)).toBe('confirm-signer-password');
    await kb.type('demo');
    await kb.press('Enter');
    const signed = page.getByTestId('signed-report');
    await signed.waitFor();
    expect(await signed.textContent()).toContain('Normal CT head.');
    expect(await signed.textContent()).toContain('No prior imaging available.');

    await kb.press('Control+Shift+A');
    await expect.poll(() => focusedId(page)).toBe('addendum-text');
    await kb.type('Addendum typed without a mouse.');
    await kb.press('Control+Enter');
    await expect.poll(() => page.getByTestId('addendum-list').textContent()).toContain('Addendum typed without a mouse.');
  });

  it('shows the shortcuts with ? and closes with Escape', async () => {
    await page.getByRole('button', { name: /^Add addendum/ }).focus();
    await page.keyboard.press('?');
    const help = page.getByTestId('help-dialog');
    await help.waitFor();
    const text = (await help.textContent()) ?? '';
    for (const keys of ['Ctrl+Enter', 'Alt+1 … Alt+7', 'Ctrl+O', 'Ctrl+Shift+A']) expect(text).toContain(keys);
    await page.keyboard.press('Escape');
    await expect.poll(() => help.count()).toBe(0);
  });

  it('Ctrl+O opens a folder; files that could not be indexed are listed with reasons', async () => {
    await page.keyboard.press('Control+O');
    await expect.poll(() => focusedId(page)).toBe('folder-path');
    await page.keyboard.type(path.join(corpusDir, 'python3-pydicom', 'test_files'));
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('add-images-status').textContent(), { timeout: 60_000 }).toMatch(/^Read \d+ files: \d+ images indexed/);
    const errorsPanel = page.locator('section', { has: page.locator('#lib-errors') });
    // The list is re-read after indexing: wait for it.
    await expect.poll(async () => Number(/\((\d+)\)/.exec((await page.locator('#lib-errors').textContent()) ?? '')?.[1])).toBeGreaterThan(0);
    // The deliberately malformed file of the corpus is among them, with a reason.
    const listed = (await errorsPanel.textContent()) ?? '';
    expect(listed).toMatch(/\.dcm: \S+/);

    // A folder that does not exist: a clear message, nothing else changes.
    await page.getByLabel('Folder path').fill('/no/such/folder');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('add-images-status').textContent()).toContain('Could not open the folder: Folder not found');
  });

  it('two tabs on one draft: the second is told of the conflict and chooses; nothing is lost silently', async () => {
    // Open the prior study (a new draft) in this tab and in a second one.
    await page.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2023/ }).click();
    await page.getByLabel('Brain parenchyma').waitFor();
    const other = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await other.goto(await app.pageUrl());
    await other.getByRole('button', { name: /^Open study CT HEAD, 15 Mar 2023/ }).click();
    await other.getByLabel('Brain parenchyma').waitFor();

    await page.getByLabel('Brain parenchyma').fill('Text from tab A.');
    await expect.poll(() => page.getByTestId('save-status').textContent(), { timeout: 5000 }).toMatch(/^Saved /);

    await other.getByLabel('Brain parenchyma').fill('Text from tab B.');
    const dialog = other.getByTestId('conflict-dialog');
    await dialog.waitFor({ timeout: 5000 });
    await expect.poll(() => dialog.textContent()).toContain('Your latest changes are not saved yet');
    expect(await other.getByTestId('save-status').textContent()).toMatch(/^Not saved/);
    // Signing waits for the conflict to be resolved.
    expect(await other.getByTestId('sign-button').isDisabled()).toBe(true);

    // Tab B keeps its version: it is saved over A's revision.
    await other.getByRole('button', { name: /^Keep my version/ }).click();
    await expect.poll(() => other.getByTestId('save-status').textContent(), { timeout: 5000 }).toMatch(/^Saved /);
    await other.close();

    // Tab A, editing again, now meets B's revision and loads it.
    await page.getByLabel('Brain parenchyma').fill('Text from tab A, again.');
    const dialogA = page.getByTestId('conflict-dialog');
    await dialogA.waitFor({ timeout: 5000 });
    await page.getByRole('button', { name: /^Load the stored version/ }).click();
    await expect.poll(() => page.getByLabel('Brain parenchyma').inputValue()).toBe('Text from tab B.');
    expect(errors).toEqual([]);
  });
});
