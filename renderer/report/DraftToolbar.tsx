// The draft's toolbar: heading with the audit trail, the template choice, and the save status
// (with the reason and Retry when a save failed).
import type { ReportState } from '../../common/lifecycle.ts';
import { TEMPLATES, type Template } from '../../common/templates.ts';
import { formatClock } from '../../common/format.ts';
import type { SaveState } from './autosave.ts';
import { ReportHeading } from './ReportHeading.tsx';
import { stateClass, stateLabel } from './reportActions.ts';

export function saveStatusText(s: SaveState): string {
  switch (s.kind) {
    case 'idle':
      return `Saved (revision ${s.revision})`;
    case 'pending':
      return 'Unsaved changes…';
    case 'saving':
      return 'Saving…';
    case 'saved':
      return `Saved ${formatClock(s.savedAt)} (revision ${s.revision})`;
    case 'error':
      return `Save failed: ${s.message}`;
    case 'conflict':
      return `Not saved: ${s.message}`;
  }
}

export interface DraftToolbarProps {
  reportId: string;
  state: ReportState;
  templateId: string;
  template: Template | null;
  saveState: SaveState;
  onTemplate(id: string): void;
  onRetry(): void;
}

export function DraftToolbar({ reportId, state, templateId, template, saveState, onTemplate, onRetry }: DraftToolbarProps) {
  const text = saveStatusText(saveState);
  return (
    <>
      <div className="report-toolbar">
        <ReportHeading titleId="report-title" reportId={reportId} status={stateLabel(state)} statusClass={stateClass(state)} />
        <div className="toolbar-row">
          <div className="field inline">
            <label htmlFor="template-select">Template</label>
            <select id="template-select" value={templateId} onChange={(e) => onTemplate(e.target.value)}>
              {!template && <option value={templateId}>Unknown template {templateId}</option>}
              {TEMPLATES.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.title}
                </option>
              ))}
            </select>
          </div>
          <p className={`save-status save-${saveState.kind}`} data-testid="save-status" role="status" aria-live="polite" title={text}>
            {text}
          </p>
        </div>
      </div>
      {(saveState.kind === 'error' || saveState.kind === 'conflict') && (
        <p className="save-alert" role="alert">
          {saveState.kind === 'error' ? 'Save failed' : 'Not saved'}: {saveState.message}. Your text is kept on this screen
          {saveState.kind === 'error' ? ' and saving is retried; do not close the app until it says Saved.' : '.'}{' '}
          {saveState.kind === 'error' && (
            <button type="button" className="small" onClick={onRetry}>
              Retry now
            </button>
          )}
        </p>
      )}
    </>
  );
}
