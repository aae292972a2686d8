// Reads the header of one DICOM file into the fields the index caches. First a bounded
// structural walk (layout.ts) checks every declared length against the bytes that remain (for a
// deflated file: after a bounded inflate), then dicom-parser parses only the bytes before the
// pixel data. Anything that cannot be indexed
// throws DicomReadError with a reason a person can act on.
import dicomParser from 'dicom-parser';
import { characterSets, type CharacterSets } from './charset.ts';
import { DicomReadError, memorySource, walkLayout, type ByteSource, type Layout } from './layout.ts';

export { DicomReadError } from './layout.ts';

const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';

export interface DicomHeader {
  transferSyntaxUid: string;
  /** No Part-10 meta header: the transfer syntax was inferred from the bytes. */
  inferredTransferSyntax: boolean;
  /** Specific Character Set (0008,0005) as written ('' when absent): how the text values were decoded. */
  specificCharacterSet: string;
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

const MAX_TEXT = 1024;

type DataSet = ReturnType<typeof dicomParser.parseDicom>;

class Fields {
  private readonly charsets: CharacterSets;
  constructor(
    private readonly ds: DataSet,
    private readonly bytes: Uint8Array,
  ) {
    const cs = this.raw('x00080005');
    this.charsets = characterSets(cs === null ? null : latin1(cs));
  }

  private raw(tag: string): Uint8Array | null {
    const el = this.ds.elements[tag];
    if (!el || el.length === undefined || el.length === 0xffffffff || el.length <= 0) return null;
    if (el.dataOffset + el.length > this.bytes.length) return null;
    return this.bytes.subarray(el.dataOffset, el.dataOffset + el.length);
  }

  /**
   * A text value: decoded with the file's Specific Character Set (charset.ts; `personName` for VR
   * PN), trailing padding and control characters removed.
   */
  text(tag: string, personName = false): string {
    const b = this.raw(tag);
    if (b === null) return '';
    // eslint-disable-next-line no-control-regex
    return this.charsets.decode(b.subarray(0, MAX_TEXT * 4), personName).replace(/[\0-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '').trim().slice(0, MAX_TEXT);
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

const PIXEL_DATA_TAG = 0x7fe00010;
const FLOAT_PIXEL_DATA_TAG = 0x7fe00008;
/** Bits Allocated the viewer (cornerstone-wado-image-loader) decodes faithfully: it reads 32 as float, whatever the file holds. */
const DISPLAYABLE_BITS = new Set([1, 8, 16]);

/**
 * Number of Frames (0028,0008) of an image: null when absent (one frame). IS, one value, a whole
 * number of at least 1; anything else ("1A", "0", "2\\3", empty) cannot say how many images the file
 * holds, so the file is refused rather than shown as one frame.
 */
function frameCount(f: Fields, ds: DataSet, isImage: boolean): number | null {
  if (!isImage || ds.elements.x00280008 === undefined) return null;
  const text = f.ascii('x00280008').trim();
  const n = /^\+?\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 1)) {
    throw new DicomReadError(
      `Number of Frames (0028,0008) is ${text === '' ? 'empty' : `"${text.slice(0, 32)}"`}, not a whole number of at least 1: how many images the file holds cannot be known, so it is not indexed.`,
    );
  }
  return n;
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
  const nf = frameCount(f, ds, hasPixelData);
  const ipp = f.numbers('x00200032');
  const iop = f.numbers('x00200037');
  const ps = f.numbers('x00280030');

  const h: DicomHeader = {
    transferSyntaxUid: layout.transferSyntaxUid,
    inferredTransferSyntax: layout.inferredSyntax,
    specificCharacterSet: f.ascii('x00080005'),
    sopClassUid,
    sopInstanceUid,
    studyUid,
    seriesUid,
    patientId: f.text('x00100020'),
    issuerOfPatientId: f.text('x00100021'),
    patientName: f.text('x00100010', true),
    birthDate: f.ascii('x00100030'),
    sex: f.ascii('x00100040'),
    studyDate: f.ascii('x00080020'),
    studyTime: f.ascii('x00080030'),
    studyDescription: f.text('x00081030'),
    accession: f.text('x00080050'),
    referringPhysician: f.text('x00080090', true),
    requestingService: f.text('x00321033'),
    modality: f.ascii('x00080060'),
    seriesNumber: f.integer('x00200011'),
    seriesDescription: f.text('x0008103e'),
    instanceNumber: f.integer('x00200013'),
    hasPixelData,
    pixelDataEncapsulated: pd?.encapsulated ?? false,
    rows,
    columns,
    frames: hasPixelData ? (nf ?? 1) : null,
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

  if (pd !== null && pd.tag !== PIXEL_DATA_TAG) {
    const name = pd.tag === FLOAT_PIXEL_DATA_TAG ? 'Float Pixel Data (7FE0,0008)' : 'Double Float Pixel Data (7FE0,0009)';
    throw new DicomReadError(
      `The image's pixels are ${name}: floating-point values (e.g. a parametric map), which this viewer cannot display faithfully. Not indexed: open it in a viewer made for such maps.`,
    );
  }
  if (pd === null && rows && columns && h.bitsAllocated) {
    throw new DicomReadError(
      `The file ends before its pixel data: it describes a ${columns}×${rows} image (Rows, Columns, Bits Allocated) but holds no Pixel Data (7FE0,0010), so it was probably cut short while it was copied or sent. Not indexed: copy or send it again.`,
    );
  }
  if (pd !== null && pd.dataBytes === 0) {
    throw new DicomReadError('Pixel Data (7FE0,0010) is empty: the file holds no image although it has a pixel data element. Not indexed: copy or send it again.');
  }
  if (pixelPresent && (!rows || !columns)) {
    throw new DicomReadError('The file has pixel data but no image size (Rows/Columns missing or zero): it cannot be displayed.');
  }
  if (hasPixelData && h.bitsAllocated !== null && !DISPLAYABLE_BITS.has(h.bitsAllocated)) {
    throw new DicomReadError(
      h.bitsAllocated === 32
        ? `The image has 32-bit integer pixels (Bits Allocated 32${h.modality ? `, ${h.modality}` : ''}, e.g. an RT Dose grid), which this viewer cannot display faithfully: it would show a uniform grey square. Not indexed: open it in a dose or treatment-planning viewer.`
        : `The image has ${h.bitsAllocated}-bit pixels (Bits Allocated ${h.bitsAllocated}), which this viewer cannot display: it shows 1-, 8- and 16-bit images. Not indexed.`,
    );
  }
  if (hasPixelData && pd && !pd.encapsulated) {
    const expected = expectedNativeBytes(h);
    const describe = `${h.rows}×${h.columns}×${h.samplesPerPixel ?? 1} samples × ${h.bitsAllocated} bits × ${h.frames} frame(s)`;
    if (expected !== null && pd.dataBytes < expected) {
      throw new DicomReadError(`The pixel data holds ${pd.dataBytes} bytes, but ${describe} needs ${expected}: the image is incomplete.`);
    }
    // One byte of padding makes an odd length even (PS3.5 §7.1.1); anything more is pixels the header does not describe.
    if (expected !== null && pd.dataBytes > expected + (expected % 2)) {
      throw new DicomReadError(
        `The pixel data holds ${pd.dataBytes} bytes, but ${describe} needs ${expected}: the header does not describe all of it (a wrong image size or frame count), so it cannot be shown faithfully. Not indexed.`,
      );
    }
  }
  if (hasPixelData && pd && pd.encapsulated && !pd.delimited) {
    throw new DicomReadError(
      `The encapsulated pixel data ends at the end of the file after ${pd.fragments} item(s), without its sequence delimiter: the file was probably cut short, and frames may be missing. Not indexed: copy or send it again.`,
    );
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
