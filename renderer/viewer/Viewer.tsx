// The image viewer: one cornerstone viewport showing a stack (every frame of every ImageRef), with
// scroll, window/level (drag, keys, presets), zoom, pan, invert, reset, an overlay, load progress
// and per-image errors shown in the viewport. Keyboard-first; see keymap.ts. The pieces:
// useStackDisplay (element, loading, what is shown, the view), useViewerInput (keys, wheel,
// drags), ViewerOverlays (text over the image, progress, key help), viewState (pure state).
import { useEffect, useRef, type JSX } from 'react';
import type { ImageRef } from '../../common/contract.ts';
import { setFileAuth } from './engine.ts';
import { useStackDisplay } from './useStackDisplay.ts';
import { useViewerInput } from './useViewerInput.ts';
import { KeyHelp, ViewerOverlays, type OverlayText } from './ViewerOverlays.tsx';
import viewerCssUrl from './viewer.css?url';

export interface ViewerProps {
  /** The stack in order; a multi-frame ImageRef contributes `frames` entries. */
  images: ImageRef[];
  /** Image URL = fileBaseUrl + fileId. */
  fileBaseUrl: string;
  /** Sent on every file request. */
  fileAuthHeader: { name: string; value: string } | null;
  /** As the DICOM files have them: PN, ID, DA (YYYYMMDD), series description; formatted here. */
  overlay: OverlayText;
  /** e.g. 'Current' or 'Prior 2023-03-15'. */
  label?: string;
  autoFocus?: boolean;
  /** data-testid of the root (default 'viewer'). */
  testId?: string;
}

export function Viewer(props: ViewerProps): JSX.Element {
  const { images, fileBaseUrl, fileAuthHeader, overlay, label, autoFocus } = props;
  const testId = props.testId ?? 'viewer';
  const rootRef = useRef<HTMLDivElement | null>(null);
  const elementRef = useRef<HTMLDivElement | null>(null);

  setFileAuth(fileBaseUrl, fileAuthHeader);
  const { ctl, stack, entries, index, shown, progress, view, setView, showIndex } = useStackDisplay(images, fileBaseUrl, elementRef);
  const { help, setHelp, onKeyDown } = useViewerInput({ ctl, elementRef, rootRef, setView, showIndex });

  useEffect(() => {
    if (autoFocus) rootRef.current?.focus({ preventScroll: true });
  }, [autoFocus]);

  const n = entries.length;
  const target = stack.prefetch.length;

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
      <ViewerOverlays overlay={overlay} label={label} shown={shown} view={view} index={index} count={n} progress={progress} target={target} />
      <button type="button" className="fs-viewer-help-button" aria-expanded={help} onClick={() => setHelp((h) => !h)} tabIndex={-1}>
        ? Keys
      </button>
      {help && <KeyHelp />}
    </div>
  );
}
