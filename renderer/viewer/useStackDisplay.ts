// The stack on screen: the cornerstone element (enabled once), the load queue restarted when the
// stack changes (the previous stack's pending loads cancelled), the image shown for an index
// (or its error), the view (window, zoom, pan, invert) applied across slices, load progress, and
// the element following its size.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type RefObject } from 'react';
import type { ImageRef } from '../../common/contract.ts';
import { cornerstone, describeLoadError, ensureEngine, StackLoader, type CsImage } from './engine.ts';
import { errorShown, INITIAL_VIEW, initialShown, makeStack, newControl, stackKeyOf, viewportFor, voiFor, type Shown, type ViewState } from './viewState.ts';

export function useStackDisplay(images: readonly ImageRef[], fileBaseUrl: string, elementRef: RefObject<HTMLDivElement | null>) {
  // The entries change only when the stack does (not on every parent render): React's
  // "adjust state when a prop changes" pattern, keyed by the stack's content.
  const stackKey = stackKeyOf(images, fileBaseUrl);
  const [stack, setStack] = useState(() => makeStack(stackKey, images, fileBaseUrl));
  const [index, setIndex] = useState(0);
  const [shown, setShown] = useState<Shown>(() => initialShown(stack.entries));
  const [progress, setProgress] = useState({ done: 0, failed: 0 });
  const [view, setViewState] = useState<ViewState>(INITIAL_VIEW);
  if (stack.key !== stackKey) {
    const next = makeStack(stackKey, images, fileBaseUrl);
    setStack(next);
    setIndex(0);
    setShown(initialShown(next.entries));
    setProgress({ done: 0, failed: 0 });
    setViewState(INITIAL_VIEW);
  }
  const entries = stack.entries;
  const [enabled, setEnabled] = useState(false);
  const ctl = useRef(newControl());

  // The view state is reset by a stack change (during render, above); handlers read the ref,
  // synced before any event can fire.
  useLayoutEffect(() => {
    ctl.current.view = view;
  }, [view]);

  // Enable the cornerstone element once.
  useEffect(() => {
    const el = elementRef.current;
    if (!el) return;
    ensureEngine();
    cornerstone.enable(el);
    const canvas = el.querySelector('canvas');
    if (canvas) {
      canvas.dataset['testid'] = 'viewer-canvas';
      canvas.setAttribute('aria-hidden', 'true');
    }
    setEnabled(true);
    const c = ctl.current;
    return () => {
      c.loader?.cancel();
      c.loader = null;
      c.image = null;
      setEnabled(false);
      try {
        cornerstone.disable(el);
      } catch {
        // already disabled
      }
    };
  }, [elementRef]);

  const updateWlText = useCallback(() => {
    const el = elementRef.current;
    if (!el) return;
    const vp = cornerstone.getViewport(el);
    if (vp) setShown((s) => (s.kind === 'image' ? { ...s, ww: vp.voi.windowWidth, wc: vp.voi.windowCenter } : s));
  }, [elementRef]);

  /** Draws `image` with the current view state. */
  const display = useCallback(
    (image: CsImage) => {
      const el = elementRef.current;
      if (!el) return;
      const c = ctl.current;
      const def = cornerstone.getDefaultViewportForImage(el, image);
      const voi = voiFor(def, c.view);
      c.fitScale = def.scale;
      c.image = image;
      cornerstone.displayImage(el, image, { ...def, ...viewportFor(def, c.view) });
      setShown({ kind: 'image', ww: voi.windowWidth, wc: voi.windowCenter, size: `${image.columns}x${image.rows}` });
      // For instrumentation (benchmarks): the image is handed to cornerstone; it draws on the next frame.
      el.dispatchEvent(new CustomEvent('fsviewerdisplay', { detail: { imageId: image.imageId } }));
    },
    [elementRef],
  );

  const showIndex = useCallback(
    (i: number) => {
      const c = ctl.current;
      const n = c.entries.length;
      if (n === 0) return;
      const target = Math.max(0, Math.min(n - 1, i));
      c.index = target;
      setIndex(target);
      const token = ++c.showToken;
      const err = c.errors.get(target);
      const shownEntries = c.entries;
      if (err !== undefined) {
        setShown(errorShown(shownEntries, target, err));
        return;
      }
      const loader = c.loader;
      if (!loader) return;
      let settled = false;
      loader.loadNow(target).then(
        (image) => {
          settled = true;
          if (token === c.showToken && c.loader === loader) display(image);
        },
        (e: unknown) => {
          settled = true;
          if (c.loader !== loader) return;
          const message = describeLoadError(e);
          c.errors.set(target, message);
          if (token === c.showToken) setShown(errorShown(shownEntries, target, message));
        },
      );
      // Cached images resolve within a microtask; only show "loading" for real loads.
      queueMicrotask(() => {
        queueMicrotask(() => {
          if (!settled && token === c.showToken) setShown({ kind: 'loading' });
        });
      });
    },
    [display],
  );

  // (Re)start loading whenever the stack changes; cancel the previous stack's pending loads.
  useEffect(() => {
    if (!enabled) return;
    const c = ctl.current;
    c.loader?.cancel();
    c.entries = entries;
    c.errors = new Map();
    c.index = 0;
    c.image = null;
    if (entries.length === 0) {
      c.loader = null;
      return;
    }
    let done = 0;
    let failed = 0;
    const loader = new StackLoader(entries, (i, r) => {
      if (r.ok) done++;
      else {
        failed++;
        c.errors.set(i, r.message);
        if (i === c.index) setShown(errorShown(entries, i, r.message));
      }
      setProgress({ done, failed });
    });
    c.loader = loader;
    showIndex(0);
    loader.request(stack.prefetch, false);
    return () => {
      loader.cancel();
      if (c.loader === loader) c.loader = null;
    };
  }, [entries, enabled, showIndex, stack.prefetch]);

  // Keep the view (W/L, zoom, pan, invert) across slices; apply it to the image on screen.
  const setView = useCallback(
    (update: (v: ViewState) => ViewState) => {
      const c = ctl.current;
      c.view = update(c.view);
      setViewState(c.view);
      const el = elementRef.current;
      if (!el || !c.image) return;
      const def = cornerstone.getDefaultViewportForImage(el, c.image);
      c.fitScale = def.scale;
      cornerstone.setViewport(el, viewportFor(def, c.view));
      updateWlText();
    },
    [elementRef, updateWlText],
  );

  // Follow the element's size.
  useEffect(() => {
    const el = elementRef.current;
    if (!el || !enabled || typeof ResizeObserver === 'undefined') return;
    let raf = 0;
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(raf);
      raf = requestAnimationFrame(() => {
        try {
          cornerstone.resize(el, false);
        } catch {
          return;
        }
        const img = ctl.current.image;
        if (img) display(img);
      });
    });
    ro.observe(el);
    return () => {
      cancelAnimationFrame(raf);
      ro.disconnect();
    };
  }, [display, enabled, elementRef]);

  return { ctl, stack, entries, index, shown, progress, view, setView, showIndex };
}
