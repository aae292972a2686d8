// The image viewer: one cornerstone viewport showing a stack (every frame of every ImageRef), with
// scroll, window/level (drag, keys, presets), zoom, pan, invert, reset, an overlay, load progress
// and per-image errors shown in the viewport. Keyboard-first; see keymap.ts.
import { useCallback, useEffect, useLayoutEffect, useRef, useState, type JSX, type KeyboardEvent } from 'react';
import type { ImageRef } from '../../common/contract.ts';
import { WINDOW_PRESETS } from '../../common/windowPresets.ts';
import { actionForKey, KEY_HELP, type ViewerAction } from './keymap.ts';
import { cacheLimitBytes, cornerstone, describeLoadError, ensureEngine, prefetchOrder, setFileAuth, stackEntries, StackLoader, type CsImage, type StackEntry } from './engine.ts';
import viewerCssUrl from './viewer.css?url';

export interface ViewerProps {
  /** The stack in order; a multi-frame ImageRef contributes `frames` entries. */
  images: ImageRef[];
  /** Image URL = fileBaseUrl + fileId. */
  fileBaseUrl: string;
  /** Sent on every file request. */
  fileAuthHeader: { name: string; value: string } | null;
  overlay: { patientName: string; patientId: string; studyDate: string; seriesDescription: string };
  /** e.g. 'Current' or 'Prior 2023-03-15'. */
  label?: string;
  autoFocus?: boolean;
  /** data-testid of the root (default 'viewer'). */
  testId?: string;
}

interface ViewState {
  /** null = each image's own window. */
  voi: { windowWidth: number; windowCenter: number } | null;
  presetId: string | null;
  invert: boolean;
  /** Multiplier on the fit-to-window scale. */
  zoom: number;
  /** Translation in image pixels. */
  pan: { x: number; y: number };
}

const INITIAL_VIEW: ViewState = { voi: null, presetId: null, invert: false, zoom: 1, pan: { x: 0, y: 0 } };

interface Shown {
  kind: 'none' | 'loading' | 'image' | 'error' | 'empty';
  message?: string;
  ww?: number;
  wc?: number;
  /** Displayed image size, columns × rows. */
  size?: string;
}

function formatStudyDate(d: string): string {
  return /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d;
}

function formatName(n: string): string {
  return n.replace(/\^+/g, ' ').trim();
}

function describeEntry(e: StackEntry): string {
  return e.frame === null ? e.fileId : `${e.fileId} (frame ${e.frame + 1} of ${e.frames})`;
}

function stackKeyOf(images: readonly ImageRef[], base: string): string {
  return `${base}\n${images.map((i) => `${i.fileId}#${i.frames}`).join('\n')}`;
}

function makeStack(key: string, images: readonly ImageRef[], fileBaseUrl: string): { key: string; entries: StackEntry[]; prefetch: number[] } {
  const entries = stackEntries(images, fileBaseUrl);
  // Prefetch as much of the stack as fits in (most of) the cache, nearest to the first image first.
  return { key, entries, prefetch: prefetchOrder(entries, 0, cacheLimitBytes() * 0.8) };
}

function initialShown(entries: readonly StackEntry[]): Shown {
  return entries.length > 0 ? { kind: 'loading' } : { kind: 'empty', message: 'No images in this series' };
}

export function Viewer(props: ViewerProps): JSX.Element {
  const { images, fileBaseUrl, fileAuthHeader, overlay, label, autoFocus } = props;
  const testId = props.testId ?? 'viewer';
  const rootRef = useRef<HTMLDivElement | null>(null);
  const elementRef = useRef<HTMLDivElement | null>(null);

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
  const [help, setHelp] = useState(false);
  const [enabled, setEnabled] = useState(false);

  // Imperative state the event handlers read without re-subscribing.
  const ctl = useRef({
    index: 0,
    view: INITIAL_VIEW,
    entries: [] as StackEntry[],
    loader: null as StackLoader | null,
    errors: new Map<number, string>(),
    image: null as CsImage | null,
    showToken: 0,
    fitScale: 1,
  });

  setFileAuth(fileBaseUrl, fileAuthHeader);

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
  }, []);

  const updateWlText = useCallback(() => {
    const el = elementRef.current;
    if (!el) return;
    const vp = cornerstone.getViewport(el);
    if (vp) setShown((s) => (s.kind === 'image' ? { ...s, ww: vp.voi.windowWidth, wc: vp.voi.windowCenter } : s));
  }, []);

  /** Draws `image` (entry i) with the current view state. */
  const display = useCallback((image: CsImage) => {
    const el = elementRef.current;
    if (!el) return;
    const c = ctl.current;
    const def = cornerstone.getDefaultViewportForImage(el, image);
    const voi = c.view.voi ?? {
      windowWidth: Math.max(1, def.voi.windowWidth || 1),
      windowCenter: Number.isFinite(def.voi.windowCenter) ? def.voi.windowCenter : 0,
    };
    c.fitScale = def.scale;
    c.image = image;
    cornerstone.displayImage(el, image, {
      ...def,
      voi: { ...voi },
      invert: def.invert !== c.view.invert,
      scale: def.scale * c.view.zoom,
      translation: { ...c.view.pan },
    });
    setShown({ kind: 'image', ww: voi.windowWidth, wc: voi.windowCenter, size: `${image.columns}x${image.rows}` });
    // For instrumentation (benchmarks): the image is handed to cornerstone; it draws on the next frame.
    el.dispatchEvent(new CustomEvent('fsviewerdisplay', { detail: { imageId: image.imageId } }));
  }, []);

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
      const entry = c.entries[target]!;
      if (err !== undefined) {
        setShown({ kind: 'error', message: `Cannot display ${describeEntry(entry)}: ${err}` });
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
          if (token === c.showToken) setShown({ kind: 'error', message: `Cannot display ${describeEntry(entry)}: ${message}` });
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
        if (i === c.index) setShown({ kind: 'error', message: `Cannot display ${describeEntry(entries[i]!)}: ${r.message}` });
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
      const voi = c.view.voi ?? { windowWidth: Math.max(1, def.voi.windowWidth || 1), windowCenter: def.voi.windowCenter || 0 };
      c.fitScale = def.scale;
      cornerstone.setViewport(el, {
        voi: { ...voi },
        invert: def.invert !== c.view.invert,
        scale: def.scale * c.view.zoom,
        translation: { ...c.view.pan },
      });
      updateWlText();
    },
    [updateWlText],
  );

  const currentVoi = useCallback((): { windowWidth: number; windowCenter: number } | null => {
    const el = elementRef.current;
    if (!el || !ctl.current.image) return null;
    const vp = cornerstone.getViewport(el);
    return vp ? { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter } : null;
  }, []);

  /** A sensible W/L step for the image on screen (1/256 of its stored value range, at least 1). */
  const wlStep = useCallback((): number => {
    const img = ctl.current.image;
    if (!img) return 1;
    const range = Math.abs((img.maxPixelValue - img.minPixelValue) * (img.slope || 1));
    return Math.max(1, range / 256);
  }, []);

  const act = useCallback(
    (a: ViewerAction) => {
      const c = ctl.current;
      const n = c.entries.length;
      switch (a.type) {
        case 'scroll':
          if (n > 0) showIndex(c.index + a.delta);
          break;
        case 'scrollPage':
          if (n > 0) showIndex(c.index + a.direction * Math.max(1, Math.round(n / 10)));
          break;
        case 'first':
          if (n > 0) showIndex(0);
          break;
        case 'last':
          if (n > 0) showIndex(n - 1);
          break;
        case 'preset':
          setView((v) => ({ ...v, voi: { windowWidth: a.width, windowCenter: a.center }, presetId: a.id }));
          break;
        case 'fileWindow':
          setView((v) => ({ ...v, voi: null, presetId: null }));
          break;
        case 'window': {
          const cur = currentVoi();
          if (!cur) break;
          const step = wlStep() * 8;
          setView((v) => ({
            ...v,
            presetId: null,
            voi: { windowWidth: Math.max(1, cur.windowWidth + a.dWidth * step), windowCenter: cur.windowCenter + a.dCenter * step },
          }));
          break;
        }
        case 'invert':
          setView((v) => ({ ...v, invert: !v.invert }));
          break;
        case 'reset':
          setView(() => INITIAL_VIEW);
          break;
        case 'zoom':
          setView((v) => ({ ...v, zoom: Math.min(40, Math.max(0.05, v.zoom * a.factor)) }));
          break;
        case 'pan': {
          const scale = Math.max(1e-6, c.fitScale * c.view.zoom);
          setView((v) => ({ ...v, pan: { x: v.pan.x + a.dx / scale, y: v.pan.y + a.dy / scale } }));
          break;
        }
        case 'help':
          setHelp((h) => !h);
          break;
      }
    },
    [currentVoi, setView, showIndex, wlStep],
  );

  // Keyboard.
  const onKeyDown = useCallback(
    (e: KeyboardEvent<HTMLDivElement>) => {
      if (e.key === 'Escape' && help) {
        setHelp(false);
        e.preventDefault();
        return;
      }
      const a = actionForKey(e);
      if (!a) return;
      e.preventDefault();
      e.stopPropagation();
      act(a);
    },
    [act, help],
  );

  // Wheel (non-passive, so the page does not scroll) and pointer drags.
  useEffect(() => {
    const el = elementRef.current;
    if (!el) return;
    let acc = 0;
    const onWheel = (e: WheelEvent): void => {
      e.preventDefault();
      const dy = e.deltaMode === 1 ? e.deltaY * 40 : e.deltaMode === 2 ? e.deltaY * 800 : e.deltaY;
      if (e.ctrlKey) {
        act({ type: 'zoom', factor: dy < 0 ? 1.1 : 1 / 1.1 });
        return;
      }
      acc += dy;
      if (Math.abs(dy) >= 40) acc = Math.sign(dy) * 40;
      while (Math.abs(acc) >= 40) {
        const s = Math.sign(acc);
        acc -= s * 40;
        act({ type: 'scroll', delta: s });
      }
    };
    type Mode = 'wl' | 'pan' | 'zoom';
    let drag: { mode: Mode; x: number; y: number; id: number } | null = null;
    const onDown = (e: PointerEvent): void => {
      rootRef.current?.focus({ preventScroll: true });
      const mode: Mode = e.button === 1 || (e.button === 0 && e.shiftKey) ? 'pan' : e.button === 2 || (e.button === 0 && e.ctrlKey) ? 'zoom' : 'wl';
      drag = { mode, x: e.clientX, y: e.clientY, id: e.pointerId };
      el.setPointerCapture(e.pointerId);
      e.preventDefault();
    };
    const onMove = (e: PointerEvent): void => {
      if (!drag || e.pointerId !== drag.id) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (dx === 0 && dy === 0) return;
      drag.x = e.clientX;
      drag.y = e.clientY;
      const c = ctl.current;
      if (drag.mode === 'wl') {
        const cur = currentVoi();
        if (!cur) return;
        const step = wlStep();
        setView((v) => ({
          ...v,
          presetId: null,
          voi: { windowWidth: Math.max(1, cur.windowWidth + dx * step), windowCenter: cur.windowCenter + dy * step },
        }));
      } else if (drag.mode === 'pan') {
        const scale = Math.max(1e-6, c.fitScale * c.view.zoom);
        setView((v) => ({ ...v, pan: { x: v.pan.x + dx / scale, y: v.pan.y + dy / scale } }));
      } else {
        setView((v) => ({ ...v, zoom: Math.min(40, Math.max(0.05, v.zoom * Math.exp(-dy / 200))) }));
      }
    };
    const onUp = (e: PointerEvent): void => {
      if (drag && e.pointerId === drag.id) {
        drag = null;
        if (el.hasPointerCapture(e.pointerId)) el.releasePointerCapture(e.pointerId);
      }
    };
    const onContext = (e: MouseEvent): void => e.preventDefault();
    el.addEventListener('wheel', onWheel, { passive: false });
    el.addEventListener('pointerdown', onDown);
    el.addEventListener('pointermove', onMove);
    el.addEventListener('pointerup', onUp);
    el.addEventListener('pointercancel', onUp);
    el.addEventListener('contextmenu', onContext);
    return () => {
      el.removeEventListener('wheel', onWheel);
      el.removeEventListener('pointerdown', onDown);
      el.removeEventListener('pointermove', onMove);
      el.removeEventListener('pointerup', onUp);
      el.removeEventListener('pointercancel', onUp);
      el.removeEventListener('contextmenu', onContext);
    };
  }, [act, currentVoi, setView, wlStep]);

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
  }, [display, enabled]);

  useEffect(() => {
    if (autoFocus) rootRef.current?.focus({ preventScroll: true });
  }, [autoFocus]);

  const n = entries.length;
  const target = stack.prefetch.length;
  const loading = target > 0 && progress.done + progress.failed < target;
  const preset = view.presetId ? WINDOW_PRESETS.find((p) => p.id === view.presetId) : undefined;
  const wlText = shown.kind === 'image' && shown.ww !== undefined && shown.wc !== undefined ? `W: ${Math.round(shown.ww)} L: ${Math.round(shown.wc)}` : 'W: – L: –';

  return (
    <div
      ref={rootRef}
      className="fs-viewer"
      data-testid={testId}
      data-state={shown.kind}
      data-index={index}
      data-image-size={shown.kind === 'image' ? shown.size : undefined}
      data-prefetch={target}
      tabIndex={0}
      role="application"
      aria-roledescription="image viewer"
      aria-label={`${label ? `${label}: ` : ''}${overlay.seriesDescription || 'series'}, image ${n ? index + 1 : 0} of ${n}. Press ? for keys.`}
      onKeyDown={onKeyDown}
    >
      <link rel="stylesheet" href={viewerCssUrl} precedence="default" />
      <div ref={elementRef} className="fs-viewer-element" />
      {shown.kind !== 'image' && <div className="fs-viewer-cover" />}
      {shown.kind === 'loading' && (
        <div className="fs-viewer-message" role="status">
          Loading image {index + 1}…
        </div>
      )}
      {(shown.kind === 'error' || shown.kind === 'empty') && (
        <div className="fs-viewer-message fs-viewer-error" role="alert" data-testid="viewer-error">
          {shown.message}
        </div>
      )}
      <div className="fs-viewer-overlay fs-viewer-tl">
        <div>{formatName(overlay.patientName)}</div>
        <div>ID {overlay.patientId}</div>
        <div>{formatStudyDate(overlay.studyDate)}</div>
      </div>
      <div className="fs-viewer-overlay fs-viewer-tr">
        {label && <div className="fs-viewer-label">{label}</div>}
        <div>{overlay.seriesDescription}</div>
      </div>
      <div className="fs-viewer-overlay fs-viewer-bl">
        <div data-testid="viewer-slice">{n ? `${index + 1}/${n}` : '0/0'}</div>
        {view.zoom !== 1 && <div>Zoom {Math.round(view.zoom * 100)}%</div>}
      </div>
      <div className="fs-viewer-overlay fs-viewer-br">
        <div data-testid="viewer-wl">{wlText}</div>
        <div>{preset ? preset.label : view.voi ? 'Custom window' : 'File window'}</div>
        {view.invert && <div>Inverted</div>}
      </div>
      {loading && (
        <div className="fs-viewer-progress" data-testid="viewer-progress" role="progressbar" aria-valuemin={0} aria-valuemax={target} aria-valuenow={progress.done + progress.failed}>
          <progress max={target} value={progress.done + progress.failed} />
          <span>
            Loading {progress.done + progress.failed}/{target}
          </span>
        </div>
      )}
      {progress.failed > 0 && !loading && (
        <div className="fs-viewer-overlay fs-viewer-failed">{progress.failed} image(s) could not be displayed</div>
      )}
      <button type="button" className="fs-viewer-help-button" aria-expanded={help} onClick={() => setHelp((h) => !h)} tabIndex={-1}>
        ? Keys
      </button>
      {help && (
        <div className="fs-viewer-help" data-testid="viewer-help" role="dialog" aria-label="Viewer keys">
          <table>
            <tbody>
              {KEY_HELP.map((k) => (
                <tr key={k.keys}>
                  <th scope="row">{k.keys}</th>
                  <td>{k.action}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
