// What the viewer shows and how: the view (window, zoom, pan, invert) kept across slices, what is
// on screen (an image, loading, an error), and the cornerstone viewport for an image and a view.
import type { ImageRef } from '../../common/contract.ts';
import { cacheLimitBytes, prefetchOrder, stackEntries, type CsImage, type StackEntry, type StackLoader } from './engine.ts';
import { imageErrorText, NO_IMAGES_TEXT } from './errorText.ts';

export interface ViewState {
  /** null = each image's own window. */
  voi: { windowWidth: number; windowCenter: number } | null;
  presetId: string | null;
  invert: boolean;
  /** Multiplier on the fit-to-window scale. */
  zoom: number;
  /** Translation in image pixels. */
  pan: { x: number; y: number };
}

export const INITIAL_VIEW: ViewState = { voi: null, presetId: null, invert: false, zoom: 1, pan: { x: 0, y: 0 } };

export interface Shown {
  kind: 'none' | 'loading' | 'image' | 'error' | 'empty';
  /** For 'error' and 'empty': a sentence for the reader (errorText.ts). */
  message?: string;
  /** For 'error': the loader's technical text, kept for support (data-detail), never the message. */
  detail?: string;
  /** For 'error': the file id of the image that failed. */
  fileId?: string;
  ww?: number;
  wc?: number;
  /** Displayed image size, columns × rows. */
  size?: string;
}

/** Imperative state the event handlers read without re-subscribing. */
export interface ViewerControl {
  index: number;
  view: ViewState;
  entries: StackEntry[];
  loader: StackLoader | null;
  errors: Map<number, string>;
  image: CsImage | null;
  showToken: number;
  fitScale: number;
}

export function newControl(): ViewerControl {
  return { index: 0, view: INITIAL_VIEW, entries: [], loader: null, errors: new Map(), image: null, showToken: 0, fitScale: 1 };
}

export interface Stack {
  key: string;
  entries: StackEntry[];
  prefetch: number[];
}

export function stackKeyOf(images: readonly ImageRef[], base: string): string {
  return `${base}\n${images.map((i) => `${i.fileId}#${i.frames}`).join('\n')}`;
}

export function makeStack(key: string, images: readonly ImageRef[], fileBaseUrl: string): Stack {
  const entries = stackEntries(images, fileBaseUrl);
  // Prefetch as much of the stack as fits in (most of) the cache, nearest to the first image first.
  return { key, entries, prefetch: prefetchOrder(entries, 0, cacheLimitBytes() * 0.8) };
}

export function initialShown(entries: readonly StackEntry[]): Shown {
  return entries.length > 0 ? { kind: 'loading' } : { kind: 'empty', message: NO_IMAGES_TEXT };
}

/** What is shown when entry `index` of `entries` failed to load with the loader's `detail`. */
export function errorShown(entries: readonly StackEntry[], index: number, detail: string): Shown {
  const e = entries[index]!;
  return { kind: 'error', message: imageErrorText({ index, count: entries.length, frame: e.frame, frames: e.frames }, detail), detail, fileId: e.fileId };
}

interface DefaultViewport {
  voi: { windowWidth: number; windowCenter: number };
  invert: boolean;
  scale: number;
}

/** The window to show: the view's, else the image's own (never zero wide, never NaN). */
export function voiFor(def: DefaultViewport, view: ViewState): { windowWidth: number; windowCenter: number } {
  return (
    view.voi ?? {
      windowWidth: Math.max(1, def.voi.windowWidth || 1),
      windowCenter: Number.isFinite(def.voi.windowCenter) ? def.voi.windowCenter : 0,
    }
  );
}

/** The viewport settings for an image's default viewport and the view. */
export function viewportFor(def: DefaultViewport, view: ViewState) {
  return {
    voi: { ...voiFor(def, view) },
    invert: def.invert !== view.invert,
    scale: def.scale * view.zoom,
    translation: { ...view.pan },
  };
}
