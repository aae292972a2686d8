// The viewer on the real 108-slice CT (derived-invesalius/current) in Chromium under the app's
// CSP: rendering, W/L drag, presets, scrolling (wheel, arrows, page keys), invert, zoom, reset,
// load progress, per-image errors inside a usable stack, auth header, and cancel on stack change.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRef } from '../../common/contract.ts';
import { WINDOW_PRESETS } from '../../common/windowPresets.ts';
import { FILE_HEADER } from './fixtures/viewer-page/server.ts';
import { canvasStats, corpusDir, errorAttr, errorText, imageRef, mountViewer, overlayText, startViewerHarness, waitSettled, type ViewerHarness } from './fixtures/viewer-page/support.ts';

function series(folder: string): ImageRef[] {
  return fs
    .readdirSync(path.join(corpusDir, folder))
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .map((f, i) => imageRef(`${folder}/${f}`, 1, { instanceNumber: i + 1, rows: 256, columns: 256 }));
}

const current = series('derived-invesalius/current');
const prior = series('derived-invesalius/prior');

describe('viewer: 108-slice CT', () => {
  let h: ViewerHarness;
  beforeAll(async () => {
    h = await startViewerHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('has the whole series', () => {
    expect(current).toHaveLength(108);
    expect(prior).toHaveLength(54);
  });

  it('renders, and W/L drag, presets, scrolling, invert, zoom and reset all act on the image', async () => {
    const { page } = h;
    await mountViewer(page, h.server, current, { seriesDescription: 'CT head' });
    expect(await waitSettled(page, 0)).toBe('image');
    expect(await overlayText(page, 'viewer-slice')).toBe('1/108');
    // Go to the middle of the head, where there is anatomy (PageDown = 11 slices).
    await page.keyboard.press('PageDown');
    await page.keyboard.press('PageDown');
    await page.keyboard.press('PageDown');
    await page.keyboard.press('PageDown');
    await page.keyboard.press('PageDown');
    expect(await waitSettled(page, 55)).toBe('image');
    expect(await overlayText(page, 'viewer-slice')).toBe('56/108');
    const base = await canvasStats(page, true);
    const baseFull = await canvasStats(page);
    expect(base.distinct).toBeGreaterThan(10);
    const fileWl = await overlayText(page, 'viewer-wl');
    expect(fileWl).toBe('W: 400 L: 40'); // the header's first window

    // Overlay: patient, ID, date, series.
    const overlayAll = (await page.locator('[data-testid="viewer"]').textContent()) ?? '';
    expect(overlayAll).toContain('TEST, PATIENT');
    expect(overlayAll).toContain('ID P1');
    expect(overlayAll).toContain('15 Mar 2024');
    expect(overlayAll).toContain('CT head');

    // W/L drag with the left button.
    const box = (await page.locator('[data-testid="viewer"] [data-testid="viewer-canvas"]').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2 + 30, { steps: 5 });
    await page.mouse.up();
    await waitSettled(page, 55);
    const dragged = await canvasStats(page, true);
    const draggedWl = await overlayText(page, 'viewer-wl');
    expect(draggedWl).not.toBe(fileWl);
    expect(dragged.hash).not.toBe(base.hash);

    // Presets on number keys; 0 = the file's own.
    for (const p of WINDOW_PRESETS) {
      await page.keyboard.press(p.key);
      expect(await overlayText(page, 'viewer-wl')).toBe(`W: ${p.width} L: ${p.center}`);
    }
    await page.keyboard.press('1');
    await waitSettled(page, 55);
    const brain = await canvasStats(page, true);
    expect(brain.hash).not.toBe(base.hash);
    await page.keyboard.press('0');
    await waitSettled(page, 55);
    expect(await overlayText(page, 'viewer-wl')).toBe(fileWl);
    expect((await canvasStats(page, true)).hash).toBe(base.hash);

    // Keyboard W/L steps.
    await page.keyboard.press(']');
    expect(await overlayText(page, 'viewer-wl')).not.toBe(fileWl);
    await page.keyboard.press('0');

    // Invert, and back.
    await page.keyboard.press('i');
    await waitSettled(page, 55);
    const inverted = await canvasStats(page, true);
    expect(inverted.hash).not.toBe(base.hash);
    await page.keyboard.press('i');
    await waitSettled(page, 55);
    expect((await canvasStats(page, true)).hash).toBe(base.hash);

    // Zoom and pan change the picture; reset restores it.
    await page.keyboard.press('+');
    await waitSettled(page, 55);
    const zoomed = await canvasStats(page);
    expect(zoomed.hash).not.toBe(baseFull.hash);
    await page.keyboard.press('Shift+ArrowLeft');
    await page.keyboard.press('i');
    await page.keyboard.press('4');
    await waitSettled(page, 55);
    expect((await canvasStats(page)).hash).not.toBe(zoomed.hash);
    await page.keyboard.press('r');
    await waitSettled(page, 55);
    expect(await overlayText(page, 'viewer-wl')).toBe(fileWl);
    expect((await canvasStats(page, true)).hash).toBe(base.hash);

    // Scrolling: wheel, arrows, page keys, Home/End.
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.wheel(0, 120);
    expect(await waitSettled(page, 56)).toBe('image');
    expect(await overlayText(page, 'viewer-slice')).toBe('57/108');
    expect((await canvasStats(page, true)).hash).not.toBe(base.hash);
    await page.mouse.wheel(0, -120);
    await waitSettled(page, 55);
    expect(await overlayText(page, 'viewer-slice')).toBe('56/108');
    await page.keyboard.press('ArrowDown');
    await waitSettled(page, 56);
    expect(await overlayText(page, 'viewer-slice')).toBe('57/108');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowUp');
    await waitSettled(page, 54);
    expect(await overlayText(page, 'viewer-slice')).toBe('55/108');
    await page.keyboard.press('PageUp');
    await waitSettled(page, 43);
    expect(await overlayText(page, 'viewer-slice')).toBe('44/108');
    await page.keyboard.press('End');
    expect(await waitSettled(page, 107)).toBe('image');
    expect(await overlayText(page, 'viewer-slice')).toBe('108/108');
    await page.keyboard.press('ArrowDown'); // stays at the end
    expect(await overlayText(page, 'viewer-slice')).toBe('108/108');
    await page.keyboard.press('Home');
    expect(await waitSettled(page, 0)).toBe('image');
    expect(await overlayText(page, 'viewer-slice')).toBe('1/108');

    // A W/L choice holds while scrolling.
    await page.keyboard.press('8');
    await page.keyboard.press('ArrowDown');
    await waitSettled(page, 1);
    expect(await overlayText(page, 'viewer-wl')).toBe('W: 1800 L: 400');

    // Key help.
    await page.keyboard.press('?');
    await expect.poll(() => page.locator('[data-testid="viewer-help"]').count()).toBe(1);
    expect(await page.locator('[data-testid="viewer-help"]').textContent()).toContain('Bone');
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[data-testid="viewer-help"]').count()).toBe(0);

    // The whole series ends up cached: no progress bar, no errors.
    await expect.poll(() => page.locator('[data-testid="viewer-progress"]').count(), { timeout: 30_000 }).toBe(0);
    expect(await errorText(page)).toBeNull();
    expect(h.problems).toEqual([]);
    expect(h.server.stats.refused).toBe(0);
  });

  it('shows progress while a series loads, and cancels pending loads when the stack changes', async () => {
    const { page } = h;
    const requested: string[] = [];
    await page.route('**/files/**', async (route) => {
      requested.push(new URL(route.request().url()).pathname);
      await new Promise((r) => setTimeout(r, 60));
      await route.continue();
    });
    try {
      // A fresh page cache: use the prior first so current's files are not cached by cornerstone.
      await page.evaluate(() => (window as unknown as { viewerTest: { configureViewerCache(n: number): void } }).viewerTest.configureViewerCache(64 * 1024 * 1024));
      await mountViewer(page, h.server, current.slice(0, 60).map((r) => ({ ...r, fileId: `${r.fileId}?p=1` })));
      await expect.poll(() => page.locator('[data-testid="viewer"] [data-testid="viewer-progress"]').count(), { timeout: 5_000 }).toBe(1);
      expect(await page.locator('[data-testid="viewer-progress"]').textContent()).toMatch(/Loading \d+\/60/);
      await page.keyboard.press('1'); // a brain window on this series…
      await expect.poll(() => overlayText(page, 'viewer-wl')).toBe('W: 80 L: 40');
      // Switch to another series at once: the first one's queued loads are dropped.
      await mountViewer(page, h.server, prior, { seriesDescription: 'Prior' }, { fresh: false });
      expect(await waitSettled(page, 0)).toBe('image');
      expect(await overlayText(page, 'viewer-slice')).toBe('1/54');
      expect(await overlayText(page, 'viewer-wl')).toBe('W: 400 L: 40'); // …and the next series starts with its own
      await expect.poll(() => page.locator('[data-testid="viewer-progress"]').count(), { timeout: 30_000 }).toBe(0);
      const firstSeries = requested.filter((p) => p.includes('/current/')).length;
      expect(firstSeries).toBeLessThan(30);
      expect(requested.filter((p) => p.includes('/prior/')).length).toBe(54);
    } finally {
      await page.unroute('**/files/**');
      await page.evaluate(() => (window as unknown as { viewerTest: { configureViewerCache(n: number): void } }).viewerTest.configureViewerCache(512 * 1024 * 1024));
    }
  });

  it('shows a per-image error naming the file and keeps the rest of the stack usable', async () => {
    const { page } = h;
    const stack = [current[50]!, imageRef('python3-pydicom/test_files/MR_truncated.dcm'), imageRef('no/such/file.dcm'), current[51]!];
    await mountViewer(page, h.server, stack);
    expect(await waitSettled(page, 0)).toBe('image');
    await page.keyboard.press('ArrowDown');
    expect(await waitSettled(page, 1)).toBe('error');
    // A sentence, on an element naming the failed file (the loader's text kept in data-detail).
    expect(await errorText(page)).toMatch(/^Image 2 of 4 cannot be shown\. The file is damaged or cut short/);
    expect(await errorAttr(page, 'data-file-id')).toBe(stack[1]!.fileId);
    expect(await overlayText(page, 'viewer-slice')).toBe('2/4');
    await page.keyboard.press('ArrowDown');
    expect(await waitSettled(page, 2)).toBe('error');
    expect(await errorText(page)).toMatch(/^Image 3 of 4 cannot be shown\. The file is no longer where it was/);
    expect(await errorAttr(page, 'data-detail')).toMatch(/HTTP 404/);
    await page.keyboard.press('ArrowDown');
    expect(await waitSettled(page, 3)).toBe('image');
    expect((await canvasStats(page, true)).distinct).toBeGreaterThan(10);
    expect(await errorText(page)).toBeNull();
    expect(h.crashed()).toBe(false);
  });

  it('sends the file auth header on every request (and says so when the server refuses)', async () => {
    const { page, server } = h;
    const before = server.stats.refused;
    await page.evaluate(
      ([props]) => {
        const t = (window as unknown as { viewerTest: { mount(p: unknown): void; unmount(): void } }).viewerTest;
        t.unmount();
        t.mount(props);
      },
      [
        {
          images: [imageRef('derived-invesalius/current/CT_010.dcm?auth=wrong')],
          fileBaseUrl: `${server.origin}/files/`,
          fileAuthHeader: { name: FILE_HEADER.name, value: 'wrong-secret' },
          overlay: { patientName: 'X', patientId: 'X', studyDate: '', seriesDescription: '' },
          testId: 'viewer',
        },
      ] as const,
    );
    expect(await waitSettled(page, 0)).toBe('error');
    expect(await errorText(page)).toContain('The workstation refused to send the file');
    expect(await errorAttr(page, 'data-detail')).toContain('HTTP 401');
    expect(server.stats.refused).toBe(before + 1);
  });
});
