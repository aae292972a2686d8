// Hazard "another person's name on a patient's studies / wrong-patient prior" (issue 7, line 1),
// in Chromium against the built app (browser mode, embedded hub): two people share a Patient ID.
// The library lists both, each under their own name and flagged "Identity conflict"; Bob's study
// shows the conflict first in the banner, and its priors are his own earlier study with the note
// that the other patient's studies are not offered (Ann's is earlier, and was offered before).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { image, type El } from '../main/dicom/synth.ts';
import { bridge, launchChromium, logInAsDemoRadiologist, startApp, tempDataDir, type RunningApp } from './harness.ts';

const who = (name: string, birth: string, date: string, description: string): El[] => [
  { tag: 0x00080020, vr: 'DA', value: date },
  { tag: 0x00081030, vr: 'LO', value: description },
  { tag: 0x00100010, vr: 'PN', value: name },
  { tag: 0x00100030, vr: 'DA', value: birth },
];

describe('identity conflict on screen (browser mode)', () => {
  let browser: Browser;
  let app: RunningApp;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const dataDir = tempDataDir('failsafe-identity-e2e-');
    // Beside the data folder: the workstation never reads its own data folder as images.
    const images = path.join(tempDataDir('failsafe-identity-e2e-images-'), 'shared-id');
    fs.mkdirSync(images);
    const files: [string, Parameters<typeof image>[0]][] = [
      ['ann.dcm', { sop: '2.25.901.1.1', study: '2.25.901.1', series: '2.25.901.1.9', patientId: 'SHARED-E2E', elements: who('Able^Ann', '19500101', '20230601', 'MR KNEE ANN') }],
      ['bob.dcm', { sop: '2.25.901.2.1', study: '2.25.901.2', series: '2.25.901.2.9', patientId: 'SHARED-E2E', elements: who('Baker^Bob', '19600202', '20240601', 'CT CHEST BOB') }],
      ['bob-old.dcm', { sop: '2.25.901.3.1', study: '2.25.901.3', series: '2.25.901.3.9', patientId: 'SHARED-E2E', elements: who('Baker^Bob', '19600202', '20220601', 'CT CHEST BOB OLD') }],
    ];
    for (const [name, o] of files) fs.writeFileSync(path.join(images, name), image(o));
    browser = await launchChromium();
    app = await startApp({ dataDir });
    const indexed = await bridge(app, 'library:openFolder', { path: images });
    expect(indexed.ok, JSON.stringify(indexed)).toBe(true);
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(await app.pageUrl());
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('the library lists both people under their own names, each flagged', async () => {
    await logInAsDemoRadiologist(page);
    await page.getByRole('button', { name: /^Library/ }).click();
    const flags = page.locator('.patient-list').getByTestId('identity-conflict');
    await expect.poll(() => flags.count(), { timeout: 15_000 }).toBe(2);
    const list = (await page.locator('.patient-list').textContent()) ?? '';
    expect(list).toContain('Able, Ann');
    expect(list).toContain('Baker, Bob');
    expect(list).toContain('Patient ID "SHARED-E2E" (no issuer) is also used in this library for "Baker^Bob", born 19600202');
    expect(list).toContain('Patient ID "SHARED-E2E" (no issuer) is also used in this library for "Able^Ann", born 19500101');
  });

  it("Bob's study: the banner says it first; the priors are his own earlier study, never Ann's, with the note", async () => {
    await page.getByRole('button', { name: /^Open study CT CHEST BOB, .*2024, Baker, Bob/ }).click();
    const banner = page.getByTestId('patient-banner');
    await expect.poll(() => banner.textContent(), { timeout: 15_000 }).toContain('Baker, Bob');
    expect((await banner.getByTestId('identity-conflict').textContent()) ?? '').toMatch(/^Identity conflict: Patient ID "SHARED-E2E" .*"Able\^Ann"/);
    const priors = page.locator('.priors');
    await expect.poll(() => priors.textContent(), { timeout: 15_000 }).toContain('CT CHEST BOB OLD');
    const text = (await priors.textContent()) ?? '';
    expect(text).not.toContain('MR KNEE ANN');
    expect(await page.getByTestId('priors-identity-conflict').count()).toBe(1);
    expect(errors).toEqual([]);
  });
});
