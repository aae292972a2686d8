// A bounded structural walk over a DICOM file: finds the transfer syntax and where the pixel
// data starts, and checks every declared length (elements, sequence items, pixel-data fragments)
// against the bytes that actually remain before anything trusts it. It reads only element
// headers (a few bytes each) through a ByteSource, so a file claiming a 1.3 GB element in 4 KB
// is refused after reading a dozen bytes, and pixel data is never read at all.
//
// The one exception is Deflated Explicit VR Little Endian (PS3.5 A.5): everything after the File
// Meta group is one raw deflate stream, so nothing (not even where the pixel data starts) is known
// before inflating it. Such a file is read whole (at most MAX_DEFLATED_FILE_BYTES) and inflated
// in one bounded step (inflateBound: the output may never exceed it, so a deflate bomb is refused
// after producing at most that much), then walked exactly like an explicit-VR-LE file.
import zlib from 'node:zlib';

/** Random access to a file's bytes. `bytes` may return a view into a shared buffer. */
export interface ByteSource {
  readonly size: number;
  bytes(offset: number, length: number): Uint8Array;
}

/** Why a file was not indexed. `message` is written for people. */
export class DicomReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomReadError';
  }
}

export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
} as const;

/** Everything before the pixel data must fit in this (it is read into memory and parsed). */
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;
/** Sequences nested deeper than this are refused (real files nest a handful of levels). */
export const MAX_DEPTH = 32;

/**
 * Deflated files are read whole and inflated in memory, so they get a lower size limit than the
 * 2 GiB of other files (whose pixel data is never read): 256 MiB of compressed data.
 */
export const MAX_DEFLATED_FILE_BYTES = 256 * 1024 * 1024;
/** The inflated data set of any deflated file may never be larger than this. */
export const MAX_INFLATED_BYTES = 512 * 1024 * 1024;
/** Every deflated file may inflate to at least this much (small files of blank or mask images legitimately compress 100–1000×). */
export const MIN_INFLATE_BOUND = 64 * 1024 * 1024;
/** Beyond MIN_INFLATE_BOUND, a data set may inflate to at most this many times its compressed size. */
export const MAX_INFLATE_RATIO = 64;

/**
 * The most bytes the data set of a deflated file with `compressedBytes` after its meta header may
 * inflate to: 64× its compressed size, but at least 64 MiB and never more than 512 MiB.
 *
 * Why: real images deflate 1.5–10×; blank frames and segmentation masks far more (deflate tops out
 * near 1032:1), which the 64 MiB floor allows for any small file at a memory cost that does not
 * matter (files are indexed one at a time). The ratio caps what a few-MiB file can make the index
 * allocate, and the 512 MiB ceiling caps a single file outright, so the worst case is one 256 MiB
 * compressed file plus 512 MiB inflated, released before the next file is read.
 */
export function inflateBound(compressedBytes: number): number {
  return Math.min(MAX_INFLATED_BYTES, Math.max(MIN_INFLATE_BOUND, MAX_INFLATE_RATIO * compressedBytes));
}

const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIM = 0xfffee00d;
const SEQ_DELIM = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
/** Float Pixel Data (7FE0,0008) and Double Float Pixel Data (7FE0,0009): the pixels of a float image instead of (7FE0,0010). */
const FLOAT_PIXEL_DATA = 0x7fe00008;
const DOUBLE_FLOAT_PIXEL_DATA = 0x7fe00009;
/** The top-level elements that hold an image's pixels: where the header a parser needs ends. */
const PIXEL_TAGS = new Set([PIXEL_DATA, FLOAT_PIXEL_DATA, DOUBLE_FLOAT_PIXEL_DATA]);

const VRS = new Set('AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));
const LONG_VRS = new Set('OB OD OF OL OV OW SQ UC UN UR UT SV UV'.split(' '));

export interface PixelDataLayout {
  /** Which element holds the pixels: Pixel Data (7FE0,0010), Float (7FE0,0008) or Double Float Pixel Data (7FE0,0009). */
  tag: number;
  /** Offset of the first byte after the element header (value or first fragment item). */
  valueOffset: number;
  /** Declared length, or null when undefined (encapsulated). */
  length: number | null;
  encapsulated: boolean;
  /** Number of fragment items including the basic offset table (encapsulated only). */
  fragments: number;
  /** Total bytes of fragment data (encapsulated), or the declared length (native). */
  dataBytes: number;
  /** False when encapsulated pixel data ends at the end of the file without its sequence delimiter (the file may be cut short). */
  delimited: boolean;
}

export interface Layout {
  transferSyntaxUid: string;
  /** True when there is no Part-10 meta header and the syntax was inferred from the bytes. */
  inferredSyntax: boolean;
  explicit: boolean;
  littleEndian: boolean;
  hasMetaHeader: boolean;
  /** Bytes from offset 0 that a data-set parser needs: up to the pixel data value, or all. */
  headerEnd: number;
  pixelData: PixelDataLayout | null;
  /**
   * The bytes `headerEnd` and `pixelData` refer to. The file itself, except for a deflated file:
   * then its meta header (Transfer Syntax UID patched to explicit VR little endian, so a parser
   * reads the rest as it is) followed by the inflated data set, all in memory.
   */
  source: ByteSource;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}
export function tagName(tag: number): string {
  return `(${hex4(tag >>> 16)},${hex4(tag & 0xffff)})`;
}
function isPrintableVr(b0: number, b1: number): boolean {
  return b0 >= 0x41 && b0 <= 0x5a && b1 >= 0x41 && b1 <= 0x5a;
}

interface Ctx {
  src: ByteSource;
  explicit: boolean;
  le: boolean;
}

class Walker {
  constructor(private readonly src: ByteSource) {}

  private need(pos: number, n: number, limit: number, what: string): Uint8Array {
    if (pos + n > limit) {
      throw new DicomReadError(`${what} at byte ${pos} is cut off: it needs ${n} bytes but only ${Math.max(0, limit - pos)} remain (file truncated or corrupt).`);
    }
    return this.src.bytes(pos, n);
  }

  private u16(b: Uint8Array, i: number, le: boolean): number {
    return le ? b[i]! | (b[i + 1]! << 8) : (b[i]! << 8) | b[i + 1]!;
  }
  private u32(b: Uint8Array, i: number, le: boolean): number {
    return le ? (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0 : ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  }
  private tag(b: Uint8Array, le: boolean): number {
    return ((this.u16(b, 0, le) << 16) | this.u16(b, 2, le)) >>> 0;
  }

  private checkLength(tag: number, elementPos: number, valuePos: number, length: number, limit: number): void {
    const remaining = limit - valuePos;
    if (length > remaining) {
      const where = limit === this.src.size ? 'in the file' : 'in its enclosing item';
      throw new DicomReadError(
        `Element ${tagName(tag)} at byte ${elementPos} declares a length of ${length} bytes, but only ${Math.max(0, remaining)} bytes remain ${where}: the file is truncated or corrupt.`,
      );
    }
  }

  /** Walks data-set elements from `pos` to `limit`; returns the end position (after an item delimiter when `untilItemDelim`). */
  dataSet(ctx: Ctx, pos: number, limit: number, depth: number, untilItemDelim: boolean, onPixelData?: (tag: number, elementPos: number, valuePos: number, length: number) => void): number {
    if (depth > MAX_DEPTH) throw new DicomReadError(`Sequences are nested more than ${MAX_DEPTH} levels deep at byte ${pos}: refusing to read further.`);
    while (pos < limit) {
      if (pos > MAX_HEADER_BYTES) {
        throw new DicomReadError(`More than ${MAX_HEADER_BYTES / 1048576} MiB of header data before the pixel data: not indexed (is this an image file?).`);
      }
      const head = this.need(pos, 8, limit, 'An element header');
      const tag = this.tag(head, ctx.le);
      if (tag === ITEM_DELIM) {
        if (untilItemDelim) return pos + 8;
        throw new DicomReadError(`Unexpected item delimiter (FFFE,E00D) at byte ${pos} outside a sequence item.`);
      }
      if (tag >>> 16 === 0xfffe) {
        throw new DicomReadError(`Unexpected delimiter tag ${tagName(tag)} at byte ${pos} where a data element should start.`);
      }
      let vr: string | null = null;
      let length: number;
      let valuePos: number;
      if (ctx.explicit) {
        if (!isPrintableVr(head[4]!, head[5]!) || !VRS.has(String.fromCharCode(head[4]!, head[5]!))) {
          throw new DicomReadError(`Element ${tagName(tag)} at byte ${pos} has an invalid value representation (bytes ${head[4]}, ${head[5]}): not a valid explicit-VR data set.`);
        }
        vr = String.fromCharCode(head[4]!, head[5]!);
        if (LONG_VRS.has(vr)) {
          const h = this.need(pos, 12, limit, `The header of element ${tagName(tag)}`);
          length = this.u32(h, 8, ctx.le);
          valuePos = pos + 12;
        } else {
          length = this.u16(head, 6, ctx.le);
          valuePos = pos + 8;
        }
      } else {
        length = this.u32(head, 4, ctx.le);
        valuePos = pos + 8;
      }

      if (onPixelData && PIXEL_TAGS.has(tag)) {
        onPixelData(tag, pos, valuePos, length);
        // A parser reads up to Pixel Data's value; float pixel data it must not start to read.
        return tag === PIXEL_DATA ? valuePos : pos;
      }

      if (length === UNDEFINED) {
        if (vr === null || vr === 'SQ' || vr === 'UN') {
          // Explicit UN of undefined length is an implicit-VR little-endian sequence (PS3.5 6.2.2).
          const inner: Ctx = vr === 'UN' ? { ...ctx, explicit: false, le: true } : ctx;
          pos = this.sequence(inner, tag, valuePos, null, limit, depth + 1);
        } else if (tag === PIXEL_DATA) {
          pos = this.fragments(ctx, valuePos, limit).end;
        } else {
          throw new DicomReadError(`Element ${tagName(tag)} (VR ${vr}) at byte ${pos} has an undefined length, which only sequences and pixel data may have.`);
        }
        continue;
      }
      this.checkLength(tag, pos, valuePos, length, limit);
      const end = valuePos + length;
      if (vr === 'SQ') {
        this.sequence(ctx, tag, valuePos, end, end, depth + 1);
      } else if (vr === null && length >= 8 && (tag >>> 16) % 2 === 0) {
        // Implicit VR: no dictionary here; a value starting with an item tag is a sequence
        // (the same test dicom-parser uses), so its items are checked as well.
        const first = this.tag(this.src.bytes(valuePos, 4), ctx.le);
        if (first === ITEM || first === SEQ_DELIM) this.sequence(ctx, tag, valuePos, end, end, depth + 1);
      }
      pos = end;
    }
    if (untilItemDelim) throw new DicomReadError(`A sequence item of undefined length has no item delimiter before byte ${limit} (file truncated or corrupt).`);
    return pos;
  }

  /** Walks sequence items; `end` null means undefined length (ends at a sequence delimiter). Returns the position after the sequence. */
  sequence(ctx: Ctx, seqTag: number, pos: number, end: number | null, limit: number, depth: number): number {
    if (depth > MAX_DEPTH) throw new DicomReadError(`Sequences are nested more than ${MAX_DEPTH} levels deep at byte ${pos}: refusing to read further.`);
    for (;;) {
      if (end !== null && pos >= end) return end;
      if (end === null && pos >= limit) {
        throw new DicomReadError(`Sequence ${tagName(seqTag)} of undefined length has no sequence delimiter before byte ${limit} (file truncated or corrupt).`);
      }
      const h = this.need(pos, 8, end ?? limit, `An item header in sequence ${tagName(seqTag)}`);
      const tag = this.tag(h, ctx.le);
      const length = this.u32(h, 4, ctx.le);
      if (tag === SEQ_DELIM) {
        if (end === null) return pos + 8;
        // Tolerated inside a defined-length sequence: skip to its declared end.
        return end;
      }
      if (tag !== ITEM) {
        throw new DicomReadError(`Sequence ${tagName(seqTag)} at byte ${pos}: expected an item tag (FFFE,E000) but found ${tagName(tag)}.`);
      }
      const bound = end ?? limit;
      if (length === UNDEFINED) {
        pos = this.dataSet(ctx, pos + 8, bound, depth, true);
      } else {
        this.checkLength(tag, pos, pos + 8, length, bound);
        this.dataSet(ctx, pos + 8, pos + 8 + length, depth, false);
        pos = pos + 8 + length;
      }
    }
  }

  /** Walks encapsulated pixel-data fragments (items) up to the sequence delimiter. */
  fragments(ctx: Ctx, pos: number, limit: number): { end: number; count: number; bytes: number; delimited: boolean } {
    let count = 0;
    let bytes = 0;
    while (pos < limit) {
      const h = this.need(pos, 8, limit, 'A pixel-data fragment header');
      const tag = this.tag(h, ctx.le);
      const length = this.u32(h, 4, ctx.le);
      if (tag === SEQ_DELIM) return { end: pos + 8, count, bytes, delimited: true };
      if (tag !== ITEM) {
        throw new DicomReadError(`Encapsulated pixel data at byte ${pos}: expected a fragment item (FFFE,E000) but found ${tagName(tag)}.`);
      }
      if (length === UNDEFINED) throw new DicomReadError(`Encapsulated pixel data at byte ${pos}: a fragment has an undefined length.`);
      this.checkLength(tag, pos, pos + 8, length, limit);
      count += 1;
      bytes += length;
      pos += 8 + length;
    }
    // Every fragment was complete; only the closing delimiter is missing (parseHeader decides).
    return { end: pos, count, bytes, delimited: false };
  }

  u16At(pos: number, le: boolean): number {
    return this.u16(this.src.bytes(pos, 2), 0, le);
  }
  u32At(pos: number, le: boolean): number {
    return this.u32(this.src.bytes(pos, 4), 0, le);
  }
}

function ascii(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

/** Reads the Part-10 meta header (explicit VR LE, group 0002) and returns its end and transfer syntax (and where its value is). */
function readMeta(src: ByteSource, walker: Walker): { end: number; ts: string; tsValue: { offset: number; length: number } } {
  let ts: string | null = null;
  let tsValue = { offset: 0, length: 0 };
  // Walk group 0002 one element at a time so the walk stops where the data set begins.
  let pos = 132;
  while (pos + 8 <= src.size && walker.u16At(pos, true) === 0x0002) {
    const h = src.bytes(pos, 8);
    const elem = h[2]! | (h[3]! << 8);
    if (!isPrintableVr(h[4]!, h[5]!) || !VRS.has(String.fromCharCode(h[4]!, h[5]!))) {
      throw new DicomReadError(`The DICOM meta header is corrupt: element (0002,${hex4(elem)}) at byte ${pos} has no valid value representation.`);
    }
    const vr = String.fromCharCode(h[4]!, h[5]!);
    let length: number;
    let valuePos: number;
    if (LONG_VRS.has(vr)) {
      if (pos + 12 > src.size) throw new DicomReadError(`The DICOM meta header is cut off at byte ${pos} (file truncated).`);
      length = walker.u32At(pos + 8, true);
      valuePos = pos + 12;
    } else {
      length = h[6]! | (h[7]! << 8);
      valuePos = pos + 8;
    }
    if (length === UNDEFINED || length > src.size - valuePos) {
      throw new DicomReadError(
        `Meta header element (0002,${hex4(elem)}) at byte ${pos} declares a length of ${length === UNDEFINED ? 'undefined' : `${length} bytes`}, but only ${src.size - valuePos} bytes remain in the file: the file is truncated or corrupt.`,
      );
    }
    if (elem === 0x0010) {
      if (length > 64) throw new DicomReadError(`The Transfer Syntax UID (0002,0010) is ${length} bytes long; a UID has at most 64 characters.`);
      ts = ascii(src.bytes(valuePos, length)).replace(/[\0 ]+$/, '');
      tsValue = { offset: valuePos, length };
    }
    pos = valuePos + length;
  }
  if (ts === null) throw new DicomReadError('The DICOM meta header has no Transfer Syntax UID (0002,0010), so the data set cannot be read.');
  if (!/^[0-9]+(\.[0-9]+)*$/.test(ts)) throw new DicomReadError(`The Transfer Syntax UID "${ts.slice(0, 64)}" is not a valid UID.`);
  return { end: pos, ts, tsValue };
}

function mib(n: number): string {
  return (n / 1048576).toFixed(n < 1048576 ? 2 : 0);
}

/** A ByteSource over two byte arrays laid end to end (copies only for a read that spans both). */
function joinedSource(head: Uint8Array, tail: Uint8Array): ByteSource {
  const size = head.length + tail.length;
  return {
    size,
    bytes(offset, length) {
      if (offset < 0 || length < 0 || offset + length > size) throw new RangeError(`read ${offset}+${length} beyond ${size}`);
      if (offset >= head.length) return tail.subarray(offset - head.length, offset - head.length + length);
      if (offset + length <= head.length) return head.subarray(offset, offset + length);
      const out = new Uint8Array(length);
      out.set(head.subarray(offset));
      out.set(tail.subarray(0, offset + length - head.length), head.length - offset);
      return out;
    },
  };
}

/**
 * Inflates the data set of a deflated file (a raw deflate stream from `dataStart` to the end,
 * PS3.5 A.5) with its output bounded by inflateBound, and returns the meta header (transfer
 * syntax patched to explicit VR LE) followed by the inflated data set.
 */
function inflateDataSet(src: ByteSource, dataStart: number, tsValue: { offset: number; length: number }): ByteSource {
  if (src.size > MAX_DEFLATED_FILE_BYTES) {
    throw new DicomReadError(
      `This deflated file is ${mib(src.size)} MiB, larger than the ${mib(MAX_DEFLATED_FILE_BYTES)} MiB limit for deflated files (they are inflated whole in memory): not read.`,
    );
  }
  const compressed = src.size - dataStart;
  if (compressed <= 0) throw new DicomReadError('The deflated file has no data set after its meta header (file truncated).');
  const bound = inflateBound(compressed);
  let data: Uint8Array;
  try {
    data = zlib.inflateRawSync(src.bytes(dataStart, compressed), { maxOutputLength: bound });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DicomReadError(
        `The deflated data set (${mib(compressed)} MiB compressed) inflates to more than ${mib(bound)} MiB, the limit for this file (${MAX_INFLATE_RATIO}× its compressed size, at least ${mib(MIN_INFLATE_BOUND)} MiB, at most ${mib(MAX_INFLATED_BYTES)} MiB): refused as a possible deflate bomb.`,
      );
    }
    if (code === 'Z_BUF_ERROR') throw new DicomReadError('The deflated data set is cut off: its compressed stream ends before it is complete (file truncated or corrupt).');
    const detail = err instanceof Error ? err.message : String(err);
    throw new DicomReadError(`The deflated data set is corrupt and cannot be inflated (${detail}).`);
  }
  if (data.length === 0) throw new DicomReadError('The deflated data set is empty: the file holds no data set.');
  // A private copy of the meta header with the Transfer Syntax UID rewritten in place (same
  // length, NUL-padded: every offset stays valid) so dicom-parser reads the inflated bytes as
  // plain explicit VR little endian instead of trying to inflate them again, unbounded.
  const meta = new Uint8Array(dataStart);
  meta.set(src.bytes(0, dataStart));
  meta.fill(0, tsValue.offset, tsValue.offset + tsValue.length);
  meta.set(new TextEncoder().encode(TS.explicitLE), tsValue.offset);
  return joinedSource(meta, data);
}

/**
 * Walks the file's structure. Throws DicomReadError with a clear reason for anything that is
 * not a readable DICOM file: empty, not DICOM, a length that overruns the file, and so on.
 */
export function walkLayout(file: ByteSource): Layout {
  if (file.size === 0) throw new DicomReadError('The file is empty (0 bytes).');
  let src = file;
  let walker = new Walker(src);
  let hasMeta = false;
  let dataStart = 0;
  let ts: string;
  let inferred = false;
  if (src.size >= 132 && ascii(src.bytes(128, 4)) === 'DICM') {
    hasMeta = true;
    const meta = readMeta(src, walker);
    dataStart = meta.end;
    ts = meta.ts;
    if (ts === TS.deflatedLE) {
      src = inflateDataSet(file, dataStart, meta.tsValue);
      walker = new Walker(src);
    }
  } else {
    // No Part-10 preamble: accept a bare data set only if it starts like one, i.e. with a
    // group 0008 element, and infer explicit vs implicit VR from the bytes after the tag.
    if (src.size < 8) throw new DicomReadError(`Not a DICOM file: only ${src.size} bytes and no "DICM" marker.`);
    const b = src.bytes(0, 8);
    const group = b[0]! | (b[1]! << 8);
    if (group !== 0x0008) {
      throw new DicomReadError(src.size < 132 ? `Not a DICOM file: ${src.size} bytes, too short for a DICOM preamble, and no data set start.` : 'Not a DICOM file: no "DICM" marker at byte 128 and the file does not start with a DICOM data set.');
    }
    inferred = true;
    ts = isPrintableVr(b[4]!, b[5]!) && VRS.has(String.fromCharCode(b[4]!, b[5]!)) ? TS.explicitLE : TS.implicitLE;
  }
  const explicit = ts !== TS.implicitLE;
  const le = ts !== TS.explicitBE;
  const ctx: Ctx = { src, explicit, le };
  try {
    return walkDataSet(walker, ctx, src, dataStart, ts, inferred, hasMeta);
  } catch (err) {
    // Offsets in these messages count in the inflated data, not in the file: say so.
    if (src !== file && err instanceof DicomReadError) throw new DicomReadError(`In the inflated data set of this deflated file: ${err.message}`);
    throw err;
  }
}

function walkDataSet(walker: Walker, ctx: Ctx, src: ByteSource, dataStart: number, ts: string, inferred: boolean, hasMeta: boolean): Layout {
  const { explicit, le } = ctx;
  let pixelData: PixelDataLayout | null = null;
  const headerEnd = walker.dataSet(ctx, dataStart, src.size, 0, false, (tag, elementPos, valuePos, length) => {
    if (length === UNDEFINED) {
      const f = walker.fragments(ctx, valuePos, src.size);
      pixelData = { tag, valueOffset: valuePos, length: null, encapsulated: true, fragments: f.count, dataBytes: f.bytes, delimited: f.delimited };
    } else {
      const remaining = src.size - valuePos;
      if (length > remaining) {
        throw new DicomReadError(
          `Pixel Data ${tagName(tag)} at byte ${elementPos} declares ${length} bytes, but only ${Math.max(0, remaining)} bytes remain in the file: the file is truncated.`,
        );
      }
      pixelData = { tag, valueOffset: valuePos, length, encapsulated: false, fragments: 0, dataBytes: length, delimited: true };
    }
  });
  if (headerEnd > MAX_HEADER_BYTES) {
    throw new DicomReadError(`More than ${MAX_HEADER_BYTES / 1048576} MiB of header data before the pixel data: not indexed.`);
  }
  return { transferSyntaxUid: ts, inferredSyntax: inferred, explicit, littleEndian: le, hasMetaHeader: hasMeta, headerEnd, pixelData, source: src };
}

/** A ByteSource over bytes already in memory. */
export function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    bytes(offset, length) {
      if (offset < 0 || length < 0 || offset + length > bytes.length) throw new RangeError(`read ${offset}+${length} beyond ${bytes.length}`);
      return bytes.subarray(offset, offset + length);
    },
  };
}
