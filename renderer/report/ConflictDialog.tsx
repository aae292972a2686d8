// The draft was changed elsewhere: keep mine, or load the stored version; if it was signed
// meanwhile, show the signed report (our unsaved text shown to copy into an addendum).
import { isSigned } from '../../common/lifecycle.ts';
import type { ReportContent } from '../../common/report.ts';
import { Dialog } from '../Dialog.tsx';
import { formatDateTime } from '../../common/format.ts';
import { stateLabel } from './reportActions.ts';
import type { Conflict } from './useDraftSaver.ts';

export interface ConflictDialogProps {
  conflict: Conflict | null;
  open: boolean;
  content: ReportContent;
  onKeepMine(): void;
  onTakeTheirs(): void;
}

export function ConflictDialog({ conflict, open, content, onKeepMine, onTakeTheirs }: ConflictDialogProps) {
  const latest = conflict?.latest ?? null;
  const signed = latest !== null && isSigned(latest.state);
  return (
    <Dialog open={open} title="This draft was changed elsewhere" onCancel={() => undefined} role="alertdialog" testId="conflict-dialog">
      <p>{conflict?.message}</p>
      {latest ? (
        <>
          <p>
            The stored version is revision {latest.revision}, saved {formatDateTime(latest.updatedAt)} by {latest.author}
            {signed ? ` and it has been SIGNED (${stateLabel(latest.state)})` : ''}. Your latest changes are not saved yet.
          </p>
          {signed ? (
            <>
              <label htmlFor="conflict-mine">Your unsaved text (copy what you need into an addendum)</label>
              <textarea id="conflict-mine" readOnly rows={8} value={JSON.stringify(conflict?.mine ?? content, null, 2)} />
              <div className="form-actions">
                <button type="button" className="primary" autoFocus onClick={onTakeTheirs}>
                  Show the signed report
                </button>
              </div>
            </>
          ) : (
            <div className="form-actions">
              <button type="button" className="primary" autoFocus onClick={onKeepMine}>
                Keep my version (save it over revision {latest.revision})
              </button>
              <button type="button" onClick={onTakeTheirs}>
                Load the stored version (discard my unsaved changes)
              </button>
            </div>
          )}
        </>
      ) : (
        <p>Loading the stored version…</p>
      )}
    </Dialog>
  );
}
