// Reads one file's header with bounded memory: a ByteSource over a file descriptor that keeps
// one block in memory and reads larger ranges only when asked (the header before the pixel
// data, capped by layout.ts; or, for a deflated file, everything after the meta header, capped
// at MAX_DEFLATED_FILE_BYTES by layout.ts before it is read). Also the per-file guards: size
// limit, not a regular file, I/O errors.
import fs from 'node:fs';
import type { ByteSource } from './layout.ts';
import { DicomReadError, parseDicomSource, type DicomHeader } from './parseHeader.ts';

/** Files larger than this are refused without being read. */
export const MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024;
const BLOCK = 64 * 1024;

class FileSource implements ByteSource {
  private block: Uint8Array = new Uint8Array(0);
  private blockStart = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  private readAt(offset: number, length: number): Uint8Array {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = fs.readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) throw new DicomReadError(`The file became shorter while it was being read (expected ${this.size} bytes).`);
      done += n;
    }
    return buf;
  }

  bytes(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new DicomReadError(`Internal read outside the file (${offset}+${length} of ${this.size} bytes).`);
    }
    if (offset >= this.blockStart && offset + length <= this.blockStart + this.block.length) {
      return this.block.subarray(offset - this.blockStart, offset - this.blockStart + length);
    }
    if (length > BLOCK) return this.readAt(offset, length);
    // A fresh buffer each time, so views handed out earlier stay valid.
    this.blockStart = offset;
    this.block = this.readAt(offset, Math.min(BLOCK, this.size - offset));
    return this.block.subarray(0, length);
  }
}

export interface FileHeader {
  header: DicomHeader;
  size: number;
  mtimeMs: number;
}

function ioReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'The file no longer exists.';
    case 'EACCES':
    case 'EPERM':
      return 'Permission denied: the file cannot be read.';
    case 'EISDIR':
      return 'This is a folder, not a file.';
    case 'EMFILE':
    case 'ENFILE':
      return 'Too many open files; try again.';
    case 'EIO':
      return 'Read error (EIO): the disk or network share failed while reading the file.';
    default:
      return `The file could not be read (${code ?? (err instanceof Error ? err.message : String(err))}).`;
  }
}

/** Stats, guards and parses one file. Throws DicomReadError with a clear reason. */
export function readFileHeader(file: string): FileHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new DicomReadError(ioReason(err));
  }
  try {
    let st: fs.Stats;
    try {
      st = fs.fstatSync(fd);
    } catch (err) {
      throw new DicomReadError(ioReason(err));
    }
    if (!st.isFile()) throw new DicomReadError('Not a regular file.');
    if (st.size > MAX_FILE_BYTES) {
      throw new DicomReadError(`The file is ${(st.size / 1024 ** 3).toFixed(1)} GiB, larger than the ${MAX_FILE_BYTES / 1024 ** 3} GiB limit: not read.`);
    }
    try {
      const header = parseDicomSource(new FileSource(fd, st.size));
      return { header, size: st.size, mtimeMs: st.mtimeMs };
    } catch (err) {
      if (err instanceof DicomReadError) throw err;
      if ((err as NodeJS.ErrnoException | null)?.code) throw new DicomReadError(ioReason(err));
      throw new DicomReadError(`The file could not be parsed: ${err instanceof Error ? err.message : String(err)}`);
    }
  } finally {
    fs.closeSync(fd);
  }
}
