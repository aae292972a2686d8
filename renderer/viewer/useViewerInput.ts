// The viewer's input: keyboard actions (keymap.ts), the wheel (scroll; Ctrl zooms) and pointer
// drags (window/level with the left button, pan with the middle or Shift, zoom with the right or
// Ctrl), all applied through one `act`.
import { useCallback, useEffect, useState, type KeyboardEvent, type RefObject } from 'react';
import { cornerstone } from './engine.ts';
import { actionForKey, type ViewerAction } from './keymap.ts';
import { INITIAL_VIEW, type ViewerControl, type ViewState } from './viewState.ts';

export interface ViewerInputTarget {
  ctl: RefObject<ViewerControl>;
  elementRef: RefObject<HTMLDivElement | null>;
  rootRef: RefObject<HTMLDivElement | null>;
  setView(update: (v: ViewState) => ViewState): void;
  showIndex(i: number): void;
}

const clampZoom = (z: number): number => Math.min(40, Math.max(0.05, z));

export function useViewerInput({ ctl, elementRef, rootRef, setView, showIndex }: ViewerInputTarget) {
  const [help, setHelp] = useState(false);

  const currentVoi = useCallback((): { windowWidth: number; windowCenter: number } | null => {
    const el = elementRef.current;
    if (!el || !ctl.current.image) return null;
    const vp = cornerstone.getViewport(el);
    return vp ? { windowWidth: vp.voi.windowWidth, windowCenter: vp.voi.windowCenter } : null;
  }, [ctl, elementRef]);

  /** A sensible W/L step for the image on screen (1/256 of its stored value range, at least 1). */
  const wlStep = useCallback((): number => {
    const img = ctl.current.image;
    if (!img) return 1;
    const range = Math.abs((img.maxPixelValue - img.minPixelValue) * (img.slope || 1));
    return Math.max(1, range / 256);
  }, [ctl]);

  /** Move the window by (dWidth, dCenter) steps of `step`. */
  const windowBy = useCallback(
    (dWidth: number, dCenter: number, step: number) => {
      const cur = currentVoi();
      if (!cur) return;
      setView((v) => ({ ...v, presetId: null, voi: { windowWidth: Math.max(1, cur.windowWidth + dWidth * step), windowCenter: cur.windowCenter + dCenter * step } }));
    },
    [currentVoi, setView],
  );

  /** Pan by screen pixels. */
  const panBy = useCallback(
    (dx: number, dy: number) => {
      const c = ctl.current;
      const scale = Math.max(1e-6, c.fitScale * c.view.zoom);
      setView((v) => ({ ...v, pan: { x: v.pan.x + dx / scale, y: v.pan.y + dy / scale } }));
    },
    [ctl, setView],
  );

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
        case 'window':
          windowBy(a.dWidth, a.dCenter, wlStep() * 8);
          break;
        case 'invert':
          setView((v) => ({ ...v, invert: !v.invert }));
          break;
        case 'reset':
          setView(() => INITIAL_VIEW);
          break;
        case 'zoom':
          setView((v) => ({ ...v, zoom: clampZoom(v.zoom * a.factor) }));
          break;
        case 'pan':
          panBy(a.dx, a.dy);
          break;
        case 'help':
          setHelp((h) => !h);
          break;
      }
    },
    [ctl, panBy, setView, showIndex, windowBy, wlStep],
  );

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
      if (drag.mode === 'wl') windowBy(dx, dy, wlStep());
      else if (drag.mode === 'pan') panBy(dx, dy);
      else setView((v) => ({ ...v, zoom: clampZoom(v.zoom * Math.exp(-dy / 200)) }));
    };
    const onUp = (e: PointerEvent): void => {
      if (drag && e.pointerId === drag.id) {
        drag = null;
        if (el.hasPointerCapture(e.pointerId)) el.releasePointerCapture(e.pointerId);
      }
    };
    const onContext = (e: MouseEvent): void => e.preventDefault();
    const listeners: [string, (e: never) => void, AddEventListenerOptions?][] = [
      ['wheel', onWheel, { passive: false }],
      ['pointerdown', onDown],
      ['pointermove', onMove],
      ['pointerup', onUp],
      ['pointercancel', onUp],
      ['contextmenu', onContext],
    ];
    for (const [type, fn, opts] of listeners) el.addEventListener(type, fn as EventListener, opts);
    return () => {
      for (const [type, fn] of listeners) el.removeEventListener(type, fn as EventListener);
    };
  }, [act, elementRef, panBy, rootRef, setView, windowBy, wlStep]);

  return { help, setHelp, onKeyDown };
}
