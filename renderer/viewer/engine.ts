// The one place that wires cornerstone-core, cornerstone-wado-image-loader and dicom-parser
// together: loader configuration (auth header on every file request), the decode workers, the
// image cache bound, and a per-viewer load queue that can be cancelled when the stack changes.
import cornerstone, { type CsImage } from 'cornerstone-core';
import dicomParser from 'dicom-parser';
import wado from 'cornerstone-wado-image-loader';
import type { ImageRef } from '../../common/contract.ts';
import { patchEmbindEval, type CodecPatchResult } from './codecPatch.ts';

export { cornerstone };
export type { CsImage };

/** Default bound for cornerstone's decoded-image cache. */
export const DEFAULT_CACHE_BYTES = 512 * 1024 * 1024;
let cacheBytes = DEFAULT_CACHE_BYTES;
let initialized = false;
let patchStatus: Omit<CodecPatchResult, 'source'> | null = null;

/** How many embind eval helpers were rewritten in the decode worker (diagnostics, tests). */
export function codecPatchStatus(): Omit<CodecPatchResult, 'source'> | null {
  return patchStatus;
}

/** Auth header per file URL prefix (one per fileBaseUrl in use). */
const authByPrefix = new Map<string, { name: string; value: string }>();
/** In-flight XHRs per file URL, so a cancelled stack can abort its downloads. */
const inflight = new Map<string, XMLHttpRequest>();
/** Which load queues still want each file URL (a shared file is aborted only when nobody does). */
const wantedBy = new Map<string, Set<object>>();

function urlOfImageId(imageId: string): string {
  let url = imageId.slice(imageId.indexOf(':') + 1);
  const f = url.indexOf('frame=');
  if (f > 0) url = url.slice(0, f - 1);
  return url;
}

export function ensureEngine(): void {
  if (initialized) return;
  initialized = true;
  wado.external.cornerstone = cornerstone;
  wado.external.dicomParser = dicomParser;
  wado.configure({
    beforeSend(xhr: XMLHttpRequest, imageId: string): Record<string, string> {
      const url = urlOfImageId(imageId);
      inflight.set(url, xhr);
      xhr.addEventListener('loadend', () => {
        if (inflight.get(url) === xhr) inflight.delete(url);
      });
      let best: { name: string; value: string } | null = null;
      let bestLen = -1;
      for (const [prefix, header] of authByPrefix) {
        if (url.startsWith(prefix) && prefix.length > bestLen) {
          best = header;
          bestLen = prefix.length;
        }
      }
      return best ? { [best.name]: best.value } : {};
    },
    strict: false,
  });
  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 2;
  // The loader builds its decode workers from a Blob of their source (blob: workers, allowed by
  // worker-src). Start them all now, synchronously, while Blob is wrapped to rewrite embind's
  // `new Function` helpers (see codecPatch.ts): the codecs then run under the app's CSP.
  const NativeBlob = globalThis.Blob;
  class PatchingBlob extends NativeBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(
        parts?.map((p) => {
          if (typeof p !== 'string' || !p.includes('argTypes array size mismatch')) return p;
          const r = patchEmbindEval(p);
          patchStatus = { namedFunctions: r.namedFunctions, invokers: r.invokers, allocators: r.allocators, wasmInline: r.wasmInline };
          return r.source;
        }),
        options,
      );
    }
  }
  globalThis.Blob = PatchingBlob;
  try {
    wado.webWorkerManager.initialize({
      maxWebWorkers: Math.max(1, Math.min(4, cores - 1)),
      startWebWorkersOnDemand: false,
      taskConfiguration: { decodeTask: { initializeCodecsOnStartup: false, strict: false } },
    });
  } finally {
    globalThis.Blob = NativeBlob;
  }
  if (!patchStatus || patchStatus.invokers === 0) {
    console.warn('viewer: the decode worker source was not patched; JPEG 2000, JPEG-LS and 8-bit JPEG need CSP unsafe-eval', patchStatus);
  }
  cornerstone.imageCache.setMaximumSizeBytes(cacheBytes);
  // The loader's metadata provider throws on some valid files (e.g. imagePlaneModule of a file
  // without Modality: `modality.includes` on undefined), inside a promise callback, so the load
  // would never settle. Ask it through a guard that turns a throw into "no such metadata".
  const wadoProvider = wado.wadouri.metaData.metaDataProvider;
  cornerstone.metaData.addProvider((type: string, imageId: string) => {
    if (!imageId.startsWith('wadouri:')) return undefined;
    try {
      return wadoProvider(type, imageId);
    } catch {
      return {};
    }
  }, 1000);
}

/** Bounds cornerstone's decoded-image cache (least recently used images are evicted past it). */
export function configureViewerCache(maxBytes: number): void {
  if (!Number.isFinite(maxBytes) || maxBytes < 16 * 1024 * 1024) {
    throw new Error(`configureViewerCache: ${maxBytes} is not a usable cache size (at least 16 MiB)`);
  }
  cacheBytes = Math.floor(maxBytes);
  if (initialized) cornerstone.imageCache.setMaximumSizeBytes(cacheBytes);
}

export function cacheLimitBytes(): number {
  return cacheBytes;
}

export function setFileAuth(fileBaseUrl: string, header: { name: string; value: string } | null): void {
  if (header) authByPrefix.set(fileBaseUrl, header);
  else authByPrefix.delete(fileBaseUrl);
}

export interface StackEntry {
  imageId: string;
  /** The file id (for messages). */
  fileId: string;
  /** 0-based frame within a multi-frame file, or null. */
  frame: number | null;
  frames: number;
  /** Estimated decoded size, for the prefetch budget. */
  estimatedBytes: number;
}

/** One stack entry per frame, in order: `wadouri:<base><fileId>` (+ `&frame=k`, 0-based, for multi-frame). */
export function stackEntries(images: readonly ImageRef[], fileBaseUrl: string): StackEntry[] {
  const out: StackEntry[] = [];
  for (const ref of images) {
    const url = `${fileBaseUrl}${ref.fileId}`;
    const px = (ref.rows ?? 512) * (ref.columns ?? 512);
    // Decoded pixels are at most 16-bit grey or 8-bit RGB(A); 4 bytes/pixel is the safe estimate.
    const estimatedBytes = px * 4;
    if (ref.frames <= 1) {
      out.push({ imageId: `wadouri:${url}`, fileId: ref.fileId, frame: null, frames: 1, estimatedBytes });
    } else {
      const sep = url.includes('?') ? '&' : '?';
      for (let k = 0; k < ref.frames; k++) {
        out.push({ imageId: `wadouri:${url}${sep}frame=${k}`, fileId: ref.fileId, frame: k, frames: ref.frames, estimatedBytes });
      }
    }
  }
  return out;
}

/** A readable message for whatever the loader rejected with. */
export function describeLoadError(err: unknown): string {
  const seen = new Set<unknown>();
  const walk = (e: unknown): string => {
    if (e === null || e === undefined) return 'unknown error';
    if (seen.has(e)) return 'unknown error';
    seen.add(e);
    if (typeof e === 'string') return e;
    if (e instanceof Error) return e.message || e.name;
    if (typeof XMLHttpRequest !== 'undefined' && e instanceof XMLHttpRequest) {
      return e.status ? `HTTP ${e.status}${e.statusText ? ` ${e.statusText}` : ''}` : 'download failed or was cancelled';
    }
    if (typeof ProgressEvent !== 'undefined' && e instanceof ProgressEvent) return `download ${e.type}`;
    if (typeof e === 'object') {
      const o = e as Record<string, unknown>;
      if ('error' in o && o['error'] !== undefined) return walk(o['error']);
      // dicom-parser throws { exception, dataSet } when a file is truncated or malformed.
      if ('exception' in o && o['exception'] !== undefined) return walk(o['exception']);
      if ('result' in o && o['result'] !== undefined) return walk(o['result']);
      if (typeof o['message'] === 'string') return o['message'];
      if (typeof o['status'] === 'number') return `HTTP ${o['status']}`;
    }
    const text = String(e);
    return text === '[object Object]' ? 'the file could not be read' : text;
  };
  const text = walk(err);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Stack indices from `center` outwards, as many as fit in `budgetBytes` (at least one). */
export function prefetchOrder(entries: readonly StackEntry[], center: number, budgetBytes: number): number[] {
  const n = entries.length;
  const order: number[] = [];
  let used = 0;
  for (let d = 0; d < n && order.length < n; d++) {
    for (const i of d === 0 ? [center] : [center + d, center - d]) {
      if (i < 0 || i >= n) continue;
      used += entries[i]!.estimatedBytes;
      if (used > budgetBytes && order.length > 0) return order;
      order.push(i);
    }
  }
  return order;
}

/** A load that has not settled after this long is reported as failed (the loader can hang). */
export const LOAD_DEADLINE_MS = 60_000;

function loadWithDeadline(imageId: string): Promise<CsImage> {
  let promise: Promise<CsImage>;
  try {
    promise = cornerstone.loadAndCacheImage(imageId);
  } catch (err) {
    return Promise.reject(err);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no image after ${LOAD_DEADLINE_MS / 1000} s (download or decoding stalled)`)), LOAD_DEADLINE_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export type LoadResult = { ok: true; image: CsImage } | { ok: false; message: string };

/**
 * Loads a stack's images with bounded concurrency, nearest-to-the-current-slice first. `cancel()`
 * drops everything queued and aborts downloads no other queue still wants (OHIF-style purge on a
 * stack change). Results are reported once per entry.
 */
export class StackLoader {
  private readonly queue: number[] = [];
  private readonly state: ('idle' | 'queued' | 'loading' | 'done')[];
  private active = 0;
  private cancelled = false;
  private readonly urls = new Set<string>();

  constructor(
    private readonly entries: readonly StackEntry[],
    private readonly onResult: (index: number, result: LoadResult) => void,
    private readonly concurrency = 6,
  ) {
    this.state = entries.map(() => 'idle');
  }

  /** Queue (or move to the front) the given indices; the first one is the most urgent. */
  request(indices: readonly number[], urgent: boolean): void {
    if (this.cancelled) return;
    const fresh = indices.filter((i) => this.state[i] === 'idle' || this.state[i] === 'queued');
    for (const i of fresh) {
      const at = this.queue.indexOf(i);
      if (at >= 0) this.queue.splice(at, 1);
      this.state[i] = 'queued';
    }
    if (urgent) this.queue.unshift(...fresh);
    else this.queue.push(...fresh);
    this.pump();
  }

  isSettled(index: number): boolean {
    return this.state[index] === 'done';
  }

  private pump(): void {
    while (!this.cancelled && this.active < this.concurrency && this.queue.length > 0) {
      const i = this.queue.shift()!;
      if (this.state[i] !== 'queued') continue;
      this.state[i] = 'loading';
      this.active++;
      const entry = this.entries[i]!;
      this.track(urlOfImageId(entry.imageId));
      loadWithDeadline(entry.imageId).then(
        (image) => this.finish(i, { ok: true, image }),
        (err: unknown) => this.finish(i, { ok: false, message: describeLoadError(err) }),
      );
    }
  }

  private finish(i: number, result: LoadResult): void {
    this.active--;
    this.state[i] = 'done';
    if (!this.cancelled) {
      this.onResult(i, result);
      this.pump();
    }
  }

  /** Load one entry right now, outside the queue (the slice on screen); deduplicated by the cache. */
  loadNow(index: number): Promise<CsImage> {
    const entry = this.entries[index];
    if (!entry) return Promise.reject(new Error(`no image ${index + 1} in this stack`));
    this.track(urlOfImageId(entry.imageId));
    return loadWithDeadline(entry.imageId);
  }

  private track(url: string): void {
    this.urls.add(url);
    let wanted = wantedBy.get(url);
    if (!wanted) wantedBy.set(url, (wanted = new Set()));
    wanted.add(this);
  }

  /** Retry a failed entry (e.g. after a network error). */
  retry(index: number): void {
    if (this.state[index] === 'done') this.state[index] = 'idle';
    this.request([index], true);
  }

  cancel(): void {
    this.cancelled = true;
    this.queue.length = 0;
    for (const url of this.urls) {
      const wanted = wantedBy.get(url);
      wanted?.delete(this);
      if (wanted && wanted.size === 0) {
        wantedBy.delete(url);
        const xhr = inflight.get(url);
        if (xhr && xhr.readyState !== XMLHttpRequest.DONE) xhr.abort();
      }
    }
    this.urls.clear();
  }
}
