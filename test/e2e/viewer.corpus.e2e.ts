// Every file of the real DICOM corpus with pixel data, loaded in the viewer in Chromium under the
// app's CSP: each one either renders (a canvas with more than one distinct value) or shows a clear
// error in words on an element naming the file; the deliberately malformed file shows an error; the page never crashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusDir, canvasStats, errorText, imageRef, mountViewer, overlayText, startViewerHarness, waitSettled, type ViewerHarness } from './fixtures/viewer-page/support.ts';
import { readManifest } from './fixtures/viewer-page/server.ts';

const manifest = readManifest(corpusDir);
const withPixels = manifest.filter((r) => r.pixel_data === 'yes');

/** Files the manifest itself says have uniform pixels: the only ones allowed a one-value canvas. */
function uniformByManifest(note: string): boolean {
  return /all zeros|uniform|blank/i.test(note);
}

type Outcome = 'rendered' | 'uniform' | 'error';

describe('viewer: the whole DICOM corpus', () => {
  let h: ViewerHarness;
  beforeAll(async () => {
    h = await startViewerHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('renders every file with pixel data or shows a per-file error naming it', async () => {
    expect(withPixels.length).toBeGreaterThan(200);
    const results: { file: string; ts: string; photometric: string; outcome: Outcome; detail: string }[] = [];
    for (const row of withPixels) {
      const frames = Math.max(1, Number(row.frames) || 1);
      await mountViewer(h.page, h.server, [imageRef(row.file, frames)], { seriesDescription: row.file });
      // The first frame, and for multi-frame files the last one too (End).
      const checks = frames > 1 ? [0, frames - 1] : [0];
      for (const idx of checks) {
        if (idx > 0) await h.page.keyboard.press('End');
        const state = await waitSettled(h.page, idx);
        let outcome: Outcome;
        let detail = '';
        if (state === 'image') {
          const s = await canvasStats(h.page, true);
          expect(s.width, row.file).toBeGreaterThan(0);
          outcome = s.distinct > 1 ? 'rendered' : 'uniform';
          detail = `${s.distinct} values`;
          if (outcome === 'uniform') {
            // The file's own window can legitimately saturate (e.g. a slice of only air under a
            // soft-tissue window): the pixels are there if a wide preset (lung, bone) shows them.
            const wl = await overlayText(h.page, 'viewer-wl');
            for (const key of ['4', '8']) {
              await h.page.keyboard.press(key);
              await waitSettled(h.page, idx);
              const p = await canvasStats(h.page, true);
              if (p.distinct > 1) {
                outcome = 'rendered';
                detail = `uniform under the file's window (${wl}); ${p.distinct} values with preset ${key}`;
                break;
              }
            }
            await h.page.keyboard.press('0');
          }
        } else {
          outcome = 'error';
          detail = (await errorText(h.page)) ?? '';
          // A sentence for the reader that places the image in the stack (never the loader's
          // exception text, which is kept in data-detail), on an element naming the failed file.
          const shown = h.page.locator('[data-testid="viewer"] [data-testid="viewer-error"]');
          expect(await shown.getAttribute('data-file-id'), row.file).toBe(row.file);
          expect(detail, row.file).toMatch(/^Image \d+ of \d+( \(frame \d+ of \d+\))? cannot be shown\. [A-Z][^]*\.$/);
          expect(detail, row.file).not.toMatch(/dicomParser|undefined|TypeError|Error:|\[object/);
          detail = `${detail} [${(await shown.getAttribute('data-detail')) ?? ''}]`;
        }
        results.push({ file: idx > 0 ? `${row.file} [frame ${idx + 1}]` : row.file, ts: row.transfer_syntax, photometric: row.photometric, outcome, detail });
        expect(h.crashed(), `page crashed on ${row.file}`).toBe(false);
      }
    }

    // Per transfer syntax summary in the test output.
    const byTs = new Map<string, Record<Outcome, number>>();
    for (const r of results) {
      const t = byTs.get(r.ts) ?? { rendered: 0, uniform: 0, error: 0 };
      t[r.outcome]++;
      byTs.set(r.ts, t);
    }
    const lines = [...byTs].map(([ts, t]) => `  ${ts.padEnd(24)} rendered ${t.rendered}  uniform ${t.uniform}  error ${t.error}`);
    const notable = results.filter((r) => r.outcome !== 'rendered' || r.detail.startsWith('uniform')).map((r) => `  ${r.outcome}: ${r.file} (${r.ts}, ${r.photometric}) ${r.detail}`);
    console.log(`viewer corpus outcome per transfer syntax (${results.length} checks of ${withPixels.length} files):\n${lines.join('\n')}\n${notable.join('\n')}`);

    // The deliberately malformed file shows an error, not a picture and not a crash.
    for (const r of withPixels.filter((x) => /malformed/i.test(x.note))) {
      expect(results.find((x) => x.file === r.file)?.outcome, r.file).toBe('error');
    }
    // A uniform canvas only where the manifest says the pixels are uniform.
    for (const r of results.filter((x) => x.outcome === 'uniform')) {
      const row = withPixels.find((x) => r.file.startsWith(x.file))!;
      expect(uniformByManifest(row.note), `${r.file} rendered uniform: ${row.note}`).toBe(true);
    }
    // Every eval site of the codec worker was rewritten (JPEG 2000, JPEG-LS and 8-bit JPEG decode
    // under the app's CSP without 'unsafe-eval'); a loader upgrade that changes them fails here.
    const patch = await h.page.evaluate(() => (window as unknown as { viewerTest: { codecPatch(): unknown } }).viewerTest.codecPatch());
    expect(patch).toEqual({ namedFunctions: 4, invokers: 4, allocators: 3, wasmInline: 12 });
    expect(h.problems.filter((p) => /Content Security Policy|Refused to/i.test(p))).toEqual([]);
    expect(h.server.stats.refused).toBe(0);
  });
});
