// What is drawn over the image: patient and study (top left), label and series (top right), slice
// and zoom (bottom left), window (bottom right), loading and errors, load progress, and the key help.
import { WINDOW_PRESETS } from '../../common/windowPresets.ts';
import { formatDicomDate } from '../../common/format.ts';
import { formatPersonName } from '../../common/dicomText.ts';
import { KEY_HELP } from './keymap.ts';
import type { Shown, ViewState } from './viewState.ts';

export interface OverlayText {
  patientName: string;
  patientId: string;
  /** DICOM DA (YYYYMMDD). */
  studyDate: string;
  seriesDescription: string;
}

export interface ViewerOverlaysProps {
  overlay: OverlayText;
  label: string | undefined;
  shown: Shown;
  view: ViewState;
  index: number;
  count: number;
  progress: { done: number; failed: number };
  /** How many images are prefetched. */
  target: number;
}

export function ViewerOverlays({ overlay, label, shown, view, index, count, progress, target }: ViewerOverlaysProps) {
  const loading = target > 0 && progress.done + progress.failed < target;
  const preset = view.presetId ? WINDOW_PRESETS.find((p) => p.id === view.presetId) : undefined;
  const wlText = shown.kind === 'image' && shown.ww !== undefined && shown.wc !== undefined ? `W: ${Math.round(shown.ww)} L: ${Math.round(shown.wc)}` : 'W: – L: –';
  return (
    <>
      {shown.kind !== 'image' && <div className="fs-viewer-cover" />}
      {shown.kind === 'loading' && (
        <div className="fs-viewer-message" role="status">
          Loading image {index + 1}…
        </div>
      )}
      {(shown.kind === 'error' || shown.kind === 'empty') && (
        <div className="fs-viewer-message fs-viewer-error" role="alert" data-testid="viewer-error" data-detail={shown.detail} data-file-id={shown.fileId}>
          {shown.message}
        </div>
      )}
      <div className="fs-viewer-overlay fs-viewer-tl">
        <div>{formatPersonName(overlay.patientName)}</div>
        <div>ID {overlay.patientId}</div>
        <div>{formatDicomDate(overlay.studyDate)}</div>
      </div>
      <div className="fs-viewer-overlay fs-viewer-tr">
        {label && <div className="fs-viewer-label">{label}</div>}
        <div>{overlay.seriesDescription}</div>
      </div>
      <div className="fs-viewer-overlay fs-viewer-bl">
        <div data-testid="viewer-slice">{count ? `${index + 1}/${count}` : '0/0'}</div>
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
      {progress.failed > 0 && !loading && <div className="fs-viewer-overlay fs-viewer-failed">{progress.failed === 1 ? '1 image of this series cannot be shown.' : `${progress.failed} images of this series cannot be shown.`}</div>}
    </>
  );
}

export function KeyHelp() {
  return (
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
  );
}
