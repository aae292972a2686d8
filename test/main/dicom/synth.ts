// Builds small synthetic DICOM Part-10 files for malformed-input tests. Real-file behaviour is
// tested against the corpus in ../shared/dicom; these cover what the corpus cannot (a 1.3 GB
// length claim, garbage after the preamble, runaway nesting, a deflated file).
import zlib from 'node:zlib';

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT']);

export interface El {
  tag: number;
  vr: string;
  value?: Uint8Array | string;
  /** Override the declared length (e.g. a lie), or 0xffffffff for undefined. */
  length?: number;
}

function pad(v: Uint8Array | string, vr: string): Uint8Array {
  let b = typeof v === 'string' ? new TextEncoder().encode(v) : v;
  if (b.length % 2 === 1) {
    const p = new Uint8Array(b.length + 1);
    p.set(b);
    p[b.length] = vr === 'UI' || vr === 'OB' ? 0 : 0x20;
    b = p;
  }
  return b;
}

export function element(e: El): Uint8Array {
  const value = e.value === undefined ? new Uint8Array(0) : pad(e.value, e.vr);
  const long = LONG.has(e.vr);
  const head = new Uint8Array(long ? 12 : 8);
  const dv = new DataView(head.buffer);
  dv.setUint16(0, e.tag >>> 16, true);
  dv.setUint16(2, e.tag & 0xffff, true);
  head[4] = e.vr.charCodeAt(0);
  head[5] = e.vr.charCodeAt(1);
  const len = e.length ?? value.length;
  if (long) dv.setUint32(8, len, true);
  else dv.setUint16(6, len, true);
  return concat([head, value]);
}

export function u16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, v, true);
  return b;
}

export function tagOnly(tag: number, length: number): Uint8Array {
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, tag >>> 16, true);
  dv.setUint16(2, tag & 0xffff, true);
  dv.setUint32(4, length, true);
  return b;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function preamble(ts = '1.2.840.10008.1.2.1'): Uint8Array {
  const pre = new Uint8Array(132);
  pre.set([0x44, 0x49, 0x43, 0x4d], 128);
  const meta = concat([element({ tag: 0x00020010, vr: 'UI', value: ts })]);
  return concat([pre, element({ tag: 0x00020000, vr: 'UL', value: new Uint8Array(new Uint32Array([meta.length]).buffer) }), meta]);
}

export interface ImageOptions {
  sop?: string;
  study?: string;
  series?: string;
  patientId?: string;
  rows?: number;
  cols?: number;
  frames?: number;
  instanceNumber?: number;
  position?: [number, number, number];
  orientation?: number[];
  /** Extra encoded elements (any tags below pixel data: the data set is written in tag order). */
  extra?: Uint8Array[];
  /** Elements added to the data set, each replacing a default element with the same tag. */
  elements?: El[];
  /** Pixel data declared length override. */
  pixelLength?: number;
  /** Bytes of pixel data actually written (default rows*cols*2*frames). */
  pixelBytes?: number;
}

/** A small, valid explicit-VR-LE 16-bit monochrome image. */
export function image(o: ImageOptions = {}): Uint8Array {
  const rows = o.rows ?? 4;
  const cols = o.cols ?? 4;
  const frames = o.frames ?? 1;
  const n = o.pixelBytes ?? rows * cols * 2 * frames;
  const defaults: El[] = [
    { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.7' },
    { tag: 0x00080018, vr: 'UI', value: o.sop ?? '1.2.3.4.5.6.1' },
    { tag: 0x00080020, vr: 'DA', value: '20240102' },
    { tag: 0x00080060, vr: 'CS', value: 'OT' },
    { tag: 0x00100010, vr: 'PN', value: 'Synth^Patient' },
    { tag: 0x00100020, vr: 'LO', value: o.patientId ?? 'SYN-1' },
    { tag: 0x0020000d, vr: 'UI', value: o.study ?? '1.2.3.4.5.1' },
    { tag: 0x0020000e, vr: 'UI', value: o.series ?? '1.2.3.4.5.2' },
    ...(o.instanceNumber !== undefined ? [{ tag: 0x00200013, vr: 'IS', value: String(o.instanceNumber) }] : []),
    ...(o.position ? [{ tag: 0x00200032, vr: 'DS', value: o.position.join('\\') }] : []),
    ...(o.orientation ? [{ tag: 0x00200037, vr: 'DS', value: o.orientation.join('\\') }] : []),
    { tag: 0x00280002, vr: 'US', value: u16(1) },
    { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
    ...(frames > 1 ? [{ tag: 0x00280008, vr: 'IS', value: String(frames) }] : []),
    { tag: 0x00280010, vr: 'US', value: u16(rows) },
    { tag: 0x00280011, vr: 'US', value: u16(cols) },
    { tag: 0x00280100, vr: 'US', value: u16(16) },
    { tag: 0x00280101, vr: 'US', value: u16(16) },
    { tag: 0x00280103, vr: 'US', value: u16(0) },
  ];
  const added = o.elements ?? [];
  const encoded = [...defaults.filter((d) => !added.some((e) => e.tag === d.tag)), ...added].map((e) => element(e));
  // A data set is in ascending tag order (PS3.5 7.1); unsigned, so group 0x8000+ sorts after 0x0008.
  const tagOf = (b: Uint8Array): number => ((b[0]! | (b[1]! << 8)) * 0x10000) + (b[2]! | (b[3]! << 8));
  const dataSet = [...encoded, ...(o.extra ?? [])].sort((a, b) => tagOf(a) - tagOf(b));
  return concat([preamble(), ...dataSet, element({ tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(n), length: o.pixelLength ?? n })]);
}

export const DEFLATED_TS = '1.2.840.10008.1.2.1.99';

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** The 128-byte preamble, "DICM" and the File Meta elements of a Part-10 file, and where its data set starts. */
export function splitPart10(file: Uint8Array): { meta: El[]; dataSet: Uint8Array } {
  if (String.fromCharCode(...file.subarray(128, 132)) !== 'DICM') throw new Error('not a Part 10 file');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const meta: El[] = [];
  let pos = 132;
  while (pos + 8 <= file.length && dv.getUint16(pos, true) === 0x0002) {
    const tag = (0x0002 << 16) | dv.getUint16(pos + 2, true);
    const vr = String.fromCharCode(file[pos + 4]!, file[pos + 5]!);
    const long = LONG.has(vr);
    const len = long ? dv.getUint32(pos + 8, true) : dv.getUint16(pos + 6, true);
    const at = pos + (long ? 12 : 8);
    meta.push({ tag, vr, value: file.subarray(at, at + len) });
    pos = at + len;
  }
  return { meta, dataSet: file.subarray(pos) };
}

/**
 * Part-10 file under Deflated Explicit VR Little Endian: the File Meta elements of `meta` with the
 * transfer syntax set to deflate and the group length recomputed, then `compressed` as the data
 * set, padded with a NUL to an even length as PS3.5 A.5 asks.
 */
export function deflatedFile(meta: El[], compressed: Uint8Array): Uint8Array {
  const rest = meta.filter((e) => e.tag !== 0x00020000).map((e) => (e.tag === 0x00020010 ? { ...e, value: DEFLATED_TS } : e));
  const restBytes = concat(rest.map(element));
  const pre = new Uint8Array(132);
  pre.set([0x44, 0x49, 0x43, 0x4d], 128);
  const body = compressed.length % 2 === 1 ? concat([compressed, new Uint8Array(1)]) : compressed;
  return concat([pre, element({ tag: 0x00020000, vr: 'UL', value: u32(restBytes.length) }), restBytes, body]);
}

/** Rewrites an explicit-VR-LE Part-10 file (e.g. from the corpus) as Deflated Explicit VR Little Endian. */
export function deflatePart10(file: Uint8Array): Uint8Array {
  const { meta, dataSet } = splitPart10(file);
  const ts = meta.find((e) => e.tag === 0x00020010)?.value;
  const tsText = typeof ts === 'string' ? ts : new TextDecoder().decode(ts).replace(/[\0 ]+$/, '');
  if (tsText !== '1.2.840.10008.1.2.1') throw new Error(`expected explicit VR little endian, got ${tsText}`);
  return deflatedFile(meta, new Uint8Array(zlib.deflateRawSync(dataSet)));
}
