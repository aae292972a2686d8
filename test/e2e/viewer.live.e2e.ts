// A series imported while its study is open appears in the open study at once, without a reload
// (issue 8 line 12, "new series appear live"): the study screen shows the library's latest reading
// of the open study, which is re-read on library-changed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { image, type El } from '../main/dicom/synth.ts';
import { bridge, launchChromium, logInAsDemoRadiologist, startApp, tempDataDir, type RunningApp } from './harness.ts';

const patient: El[] = [
  { tag: 0x00081030, vr: 'LO', value: 'CT LIVE SERIES' },
  { tag: 0x00100010, vr: 'PN', value: 'Live^Lena' },
  { tag: 0x00100030, vr: 'DA', value: '19700101' },
];
const series = (uid: string, description: string): El[] => [...patient, { tag: 0x0008103e, vr: 'LO', value: description }, { tag: 0x00200011, vr: 'IS', value: uid.slice(-1) }];

describe('a new series of the open study (browser mode)', () => {
  let browser: Browser;
  let app: RunningApp;
  let page: Page;
  const errors: string[] = [];
  const root = tempDataDir('failsafe-live-e2e-images-');
  const first = path.join(root, 'first');
  const later = path.join(root, 'later');

  beforeAll(async () => {
    fs.mkdirSync(first);
    fs.mkdirSync(later);
    fs.writeFileSync(path.join(first, 'a.dcm'), image({ sop: '2.25.902.1.1.1', study: '2.25.902.1', series: '2.25.902.1.1', patientId: 'LIVE-E2E', elements: series('2.25.902.1.1', 'AXIAL') }));
    fs.writeFileSync(path.join(later, 'b.dcm'), image({ sop: '2.25.902.1.2.1', study: '2.25.902.1', series: '2.25.902.1.2', patientId: 'LIVE-E2E', elements: series('2.25.902.1.2', 'CORONAL') }));
    browser = await launchChromium();
    app = await startApp({ dataDir: tempDataDir('failsafe-live-e2e-') });
    expect((await bridge(app, 'library:openFolder', { path: first })).ok).toBe(true);
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(await app.pageUrl());
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('is offered in the series picker as soon as it is imported, with no reload', async () => {
    await logInAsDemoRadiologist(page);
    await page.getByRole('button', { name: /^Library/ }).click();
    await page.getByRole('button', { name: /^Open study CT LIVE SERIES/ }).click();
    const options = page.getByLabel('Series', { exact: true }).locator('option');
    await expect.poll(() => options.allTextContents(), { timeout: 15_000 }).toEqual([expect.stringContaining('AXIAL')]);
    // Another folder with a new series of this study is imported (as by Ctrl+O on another window).
    expect((await bridge(app, 'library:openFolder', { path: later })).ok).toBe(true);
    await expect.poll(async () => (await options.allTextContents()).join(' | '), { timeout: 15_000 }).toMatch(/AXIAL.*\| .*CORONAL|CORONAL.*\| .*AXIAL/);
    expect(errors).toEqual([]);
  });
});
