// Asked before leaving unsigned work (a draft, or an addendum being written) for another study.
import type { StudySummary } from '../../common/contract.ts';
import { Dialog } from '../Dialog.tsx';
import { ErrorText } from '../ErrorText.tsx';
import { formatDicomDate } from '../../common/format.ts';
import { formatPersonName } from '../format.ts';
import type { PendingSwitch } from './useStudyNavigation.ts';

function studyName(s: StudySummary): string {
  return `${formatPersonName(s.patientName)} (ID ${s.patientId}), ${s.description || 'study'} of ${formatDicomDate(s.studyDate)}`;
}

export function SwitchDialog({ pending, current, onStay, onLeave }: { pending: PendingSwitch | null; current: StudySummary | null; onStay(): void; onLeave(): void }) {
  return (
    <Dialog open={pending !== null} title="Leave unsigned work?" onCancel={onStay} role="alertdialog" testId="unsigned-switch-dialog">
      {pending && current && (
        <>
          {pending.work === 'draft' ? (
            <p>
              The report for <strong>{studyName(current)}</strong> is an <strong>unsigned draft</strong>. It stays saved as a draft under “Reports in progress”, but
              nothing reaches the referrer, and no alert is raised, until it is signed.
            </p>
          ) : (
            <p>
              You are writing an addendum to the report for <strong>{studyName(current)}</strong> that is <strong>not signed</strong>. Leaving discards its text.
            </p>
          )}
          <p>
            Open <strong>{studyName(pending.target)}</strong> instead?
          </p>
          <ErrorText error={pending.error} />
          <div className="form-actions">
            <button type="button" className="primary" autoFocus onClick={onStay}>
              Stay with the current report
            </button>
            <button type="button" onClick={onLeave}>
              {pending.work === 'draft' ? 'Leave it unsigned and open the other study' : 'Discard the addendum and open the other study'}
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}
