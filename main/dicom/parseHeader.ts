// Reads the header of one DICOM file into the fields the index caches. First a bounded
// structural walk (layout.ts) checks every declared length against the bytes that remain (for a
// deflated file: after a bounded inflate), then dicom-parser parses only the bytes before the
// pixel data. Anything that cannot be indexed
// throws DicomReadError with a reason a person can act on.
import { TextDecoder } from 'node:util';
import dicomParser from 'dicom-parser';
import { DicomReadError, memorySource, walkLayout, type ByteSource, type Layout } from './layout.ts';

export { DicomReadError } from './layout.ts';

const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';

export interface DicomHeader {
  transferSyntaxUid: string;
  /** No Part-10 meta header: the transfer syntax was inferred from the bytes. */
  inferredTransferSyntax: boolean;
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  patientId: string;
  /** Issuer of Patient ID (0010,0021): the register the Patient ID belongs to ('' when absent). */
  issuerOfPatientId: string;
  patientName: string;
  birthDate: string;
  sex: string;
  studyDate: string;
  studyTime: string;
  studyDescription: string;
  accession: string;
  /** Referring Physician's Name (0008,0090), PN as written ('' when absent). */
  referringPhysician: string;
  /** Requesting Service (0032,1033) ('' when absent). */
  requestingService: string;
  modality: string;
  seriesNumber: number | null;
  seriesDescription: string;
  instanceNumber: number | null;
  /** True when the instance has top-level Pixel Data (7FE0,0010) with content and a size. */
  hasPixelData: boolean;
  pixelDataEncapsulated: boolean;
  rows: number | null;
  columns: number | null;
  /** NumberOfFrames, 1 when absent; null for instances without pixel data. */
  frames: number | null;
  samplesPerPixel: number | null;
  bitsAllocated: number | null;
  bitsStored: number | null;
  pixelRepresentation: number | null;
  photometric: string;
  imagePosition: [number, number, number] | null;
  imageOrientation: [number, number, number, number, number, number] | null;
  sliceLocation: number | null;
  sliceThickness: number | null;
  pixelSpacing: [number, number] | null;
  windowCenter: number | null;
  windowWidth: number | null;
  rescaleSlope: number | null;
  rescaleIntercept: number | null;
}

/** DICOM Specific Character Set defined terms → WHATWG encoding labels (first value wins). */
const CHARSETS: Record<string, string> = {
  '': 'latin1',
  'ISO_IR 6': 'latin1',
  'ISO 2022 IR 6': 'latin1',
  'ISO_IR 100': 'latin1',
  'ISO 2022 IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO 2022 IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO 2022 IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO 2022 IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO 2022 IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO 2022 IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO 2022 IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO 2022 IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO 2022 IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO 2022 IR 203': 'iso-8859-15',
  'ISO_IR 13': 'shift_jis',
  'ISO 2022 IR 13': 'shift_jis',
  'ISO 2022 IR 87': 'iso-2022-jp',
  'ISO_IR 166': 'windows-874',
  'ISO 2022 IR 166': 'windows-874',
  'ISO 2022 IR 149': 'euc-kr',
  'ISO 2022 IR 58': 'gbk',
  'ISO_IR 192': 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

const MAX_TEXT = 1024;

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

class Fields {
  private readonly decoder: TextDecoder;
  constructor(
    private readonly ds: DataSet,
    private readonly bytes: Uint8Array,
  ) {
    const cs = this.raw('x00080005');
    const first = cs === null ? '' : (latin1(cs).split('\\')[0] ?? '').trim();
    // Multi-valued sets (ISO 2022 code extensions) usually start with the ASCII default and switch
    // by escape sequences; the second value names the extension that non-ASCII text uses.
    const second = cs === null ? '' : (latin1(cs).split('\\')[1] ?? '').trim();
    const label = CHARSETS[first === '' && second ? second : first] ?? 'latin1';
    let decoder: TextDecoder;
    try {
      decoder = new TextDecoder(label);
    } catch {
      decoder = new TextDecoder('latin1');
    }
    this.decoder = decoder;
  }

  private raw(tag: string): Uint8Array | null {
    const el = this.ds.elements[tag];
    if (!el || el.length === undefined || el.length === 0xffffffff || el.length <= 0) return null;
    if (el.dataOffset + el.length > this.bytes.length) return null;
    return this.bytes.subarray(el.dataOffset, el.dataOffset + el.length);
  }

  /** A text value: decoded with the file's character set, trailing padding and control characters removed. */
  text(tag: string): string {
    const b = this.raw(tag);
    if (b === null) return '';
    // eslint-disable-next-line no-control-regex
    return this.decoder.decode(b.subarray(0, MAX_TEXT * 4)).replace(/[\0-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '').trim().slice(0, MAX_TEXT);
  }

  /** An ASCII value (UIDs, code strings, dates, numbers). */
  ascii(tag: string): string {
    const b = this.raw(tag);
    if (b === null) return '';
    return latin1(b.subarray(0, MAX_TEXT)).replace(/[\0 ]+$/, '').trim();
  }

  uid(tag: string): string {
    return this.ascii(tag).replace(/[^0-9.]/g, '');
  }

  /** Multi-valued DS/IS as numbers; null when absent or any value is not a finite number. */
  numbers(tag: string): number[] | null {
    const s = this.ascii(tag);
    if (!s) return null;
    const out = s.split('\\').map((v) => (v.trim() === '' ? Number.NaN : Number(v.trim())));
    return out.every(Number.isFinite) ? out : null;
  }

  number(tag: string): number | null {
    const s = this.ascii(tag).split('\\')[0]?.trim() ?? '';
    if (s === '') return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : null;
  }

  integer(tag: string): number | null {
    const n = this.number(tag);
    return n !== null && Number.isInteger(n) ? n : null;
  }

  us(tag: string): number | null {
    const el = this.ds.elements[tag];
    if (!el || el.length < 2 || el.dataOffset + 2 > this.bytes.length) return null;
    const v = this.ds.uint16(tag);
    return v === undefined ? null : v;
  }
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += String.fromCharCode(c);
  return s;
}

function parseWithDicomParser(prefix: Uint8Array, layout: Layout): DataSet {
  try {
    return dicomParser.parseDicom(prefix, {
      untilTag: 'x7fe00010',
      ...(layout.hasMetaHeader ? {} : { TransferSyntaxUID: layout.transferSyntaxUid }),
    });
  } catch (err) {
    const e = err as { exception?: unknown; message?: unknown } | string;
    const msg = typeof e === 'string' ? e : typeof e.exception === 'string' ? e.exception : e.exception instanceof Error ? e.exception.message : typeof e.message === 'string' ? e.message : String(err);
    throw new DicomReadError(`The DICOM data set could not be parsed: ${msg.replace(/^dicomParser[.:]\S*:?\s*/, '')}`);
  }
}

/** Bytes the native (uncompressed) pixel data must hold, or null when it cannot be computed. */
function expectedNativeBytes(h: DicomHeader): number | null {
  if (!h.rows || !h.columns || !h.bitsAllocated) return null;
  const spp = h.samplesPerPixel ?? 1;
  const frames = h.frames ?? 1;
  let samples = h.rows * h.columns * spp * frames;
  if (spp === 3 && /^YBR_(FULL|PARTIAL)_42[02]$/.test(h.photometric)) samples = (samples * 2) / 3;
  return Math.ceil((samples * h.bitsAllocated) / 8);
}

/** Extracts header fields from `prefix` (the first `layout.headerEnd` bytes of `layout.source`). */
export function headerFromPrefix(prefix: Uint8Array, layout: Layout): DicomHeader {
  const ds = parseWithDicomParser(prefix, layout);
  const f = new Fields(ds, prefix);
  const mediaClass = f.uid('x00020002');
  const sopClassUid = f.uid('x00080016') || mediaClass;
  if (mediaClass === MEDIA_STORAGE_DIRECTORY || sopClassUid === MEDIA_STORAGE_DIRECTORY || ds.elements.x00041220 !== undefined) {
    throw new DicomReadError('This is a DICOMDIR (a media directory), not an image: the files it lists are indexed on their own.');
  }
  const sopInstanceUid = f.uid('x00080018') || f.uid('x00020003');
  if (!sopInstanceUid) throw new DicomReadError('No SOP Instance UID (0008,0018): the object cannot be identified, so it is not indexed.');
  const studyUid = f.uid('x0020000d');
  if (!studyUid) throw new DicomReadError('No Study Instance UID (0020,000D): the object cannot be placed in a study, so it is not indexed.');
  const seriesUid = f.uid('x0020000e');
  if (!seriesUid) throw new DicomReadError('No Series Instance UID (0020,000E): the object cannot be placed in a series, so it is not indexed.');

  const pd = layout.pixelData;
  const rows = f.us('x00280010');
  const columns = f.us('x00280011');
  const pixelPresent = pd !== null && pd.dataBytes > 0;
  const hasPixelData = pixelPresent && !!rows && !!columns;
  const nf = f.integer('x00280008');
  const ipp = f.numbers('x00200032');
  const iop = f.numbers('x00200037');
  const ps = f.numbers('x00280030');

  const h: DicomHeader = {
    transferSyntaxUid: layout.transferSyntaxUid,
    inferredTransferSyntax: layout.inferredSyntax,
    sopClassUid,
    sopInstanceUid,
    studyUid,
    seriesUid,
    patientId: f.text('x00100020'),
    issuerOfPatientId: f.text('x00100021'),
    patientName: f.text('x00100010'),
    birthDate: f.ascii('x00100030'),
    sex: f.ascii('x00100040'),
    studyDate: f.ascii('x00080020'),
    studyTime: f.ascii('x00080030'),
    studyDescription: f.text('x00081030'),
    accession: f.text('x00080050'),
    referringPhysician: f.text('x00080090'),
    requestingService: f.text('x00321033'),
    modality: f.ascii('x00080060'),
    seriesNumber: f.integer('x00200011'),
    seriesDescription: f.text('x0008103e'),
    instanceNumber: f.integer('x00200013'),
    hasPixelData,
    pixelDataEncapsulated: pd?.encapsulated ?? false,
    rows,
    columns,
    frames: hasPixelData ? (nf !== null && nf > 0 ? nf : 1) : null,
    samplesPerPixel: f.us('x00280002'),
    bitsAllocated: f.us('x00280100'),
    bitsStored: f.us('x00280101'),
    pixelRepresentation: f.us('x00280103'),
    photometric: f.ascii('x00280004'),
    imagePosition: ipp && ipp.length === 3 ? [ipp[0]!, ipp[1]!, ipp[2]!] : null,
    imageOrientation: iop && iop.length === 6 ? [iop[0]!, iop[1]!, iop[2]!, iop[3]!, iop[4]!, iop[5]!] : null,
    sliceLocation: f.number('x00201041'),
    sliceThickness: f.number('x00180050'),
    pixelSpacing: ps && ps.length === 2 ? [ps[0]!, ps[1]!] : null,
    windowCenter: f.number('x00281050'),
    windowWidth: f.number('x00281051'),
    rescaleSlope: f.number('x00281053'),
    rescaleIntercept: f.number('x00281052'),
  };

  if (pixelPresent && (!rows || !columns)) {
    throw new DicomReadError('The file has pixel data but no image size (Rows/Columns missing or zero): it cannot be displayed.');
  }
  if (hasPixelData && pd && !pd.encapsulated) {
    const expected = expectedNativeBytes(h);
    if (expected !== null && pd.dataBytes < expected) {
      throw new DicomReadError(
        `The pixel data holds ${pd.dataBytes} bytes, but ${h.rows}×${h.columns}×${h.samplesPerPixel ?? 1} samples × ${h.bitsAllocated} bits × ${h.frames} frame(s) needs ${expected}: the image is incomplete.`,
      );
    }
  }
  if (hasPixelData && pd && pd.encapsulated) {
    // The first item is the basic offset table; every frame needs at least one fragment after it.
    const imageFragments = Math.max(0, pd.fragments - 1);
    if (imageFragments === 0) throw new DicomReadError('The encapsulated pixel data has no image fragments: there is nothing to display.');
    if (h.frames !== null && imageFragments < h.frames) {
      throw new DicomReadError(`The encapsulated pixel data has ${imageFragments} fragment(s) for ${h.frames} frames: frames are missing.`);
    }
  }
  return h;
}

/**
 * Reads the header from a ByteSource (a file), reading only the bytes before the pixel data;
 * a deflated file is read whole and inflated with bounded output (layout.ts).
 */
export function parseDicomSource(src: ByteSource): DicomHeader {
  try {
    const layout = walkLayout(src);
    return headerFromPrefix(layout.source.bytes(0, layout.headerEnd), layout);
  } catch (err) {
    if (err instanceof DicomReadError) throw err;
    // Anything else (a parser bug, a RangeError) still becomes a per-file reason, never a crash.
    throw new DicomReadError(`The file could not be parsed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Parses a whole file held in memory. Throws DicomReadError with a clear reason. */
export function parseDicomHeader(bytes: Uint8Array): DicomHeader {
  return parseDicomSource(memorySource(bytes));
}
