// The append-only audit trail of one report, in a dialog.
import type { AuditEntry } from '../../common/contract.ts';
import { useQuery } from '../data/useQuery.ts';
import { Dialog } from '../Dialog.tsx';
import { CloseAction, TableHead } from '../Layout.tsx';
import { formatDateTime } from '../../common/format.ts';

const ACTION_LABELS: Partial<Record<AuditEntry['action'], string>> = {
  create: 'Created',
  edit: 'Edited',
  sign: 'Signed',
  addendum: 'Addendum signed',
  'view-signed': 'Viewed (signed)',
  'template-change': 'Template changed',
  'take-over': 'Taken over (adopted here)',
  'taken-over': 'Taken over by a colleague',
};

/** Mount it when it should show: it loads the trail once, on mount. */
export function AuditTrail({ reportId, onClose }: { reportId: string; onClose(): void }) {
  const q = useQuery(`reports:audit:${reportId}`, (api) => api['reports:audit']({ reportId }));
  const entries = q.data ?? null;
  const error = entries ? null : q.error;

  return (
    <Dialog open title="Audit trail" onCancel={onClose} wide testId="audit-dialog">
      {error && <p className="error-text">Could not load the audit trail: {error}</p>}
      {!error && entries === null && <p>Loading…</p>}
      {entries && entries.length === 0 && <p>No entries.</p>}
      {entries && entries.length > 0 && (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="sr-only">Audit trail, oldest first</caption>
            <TableHead columns={['#', 'Time', 'Who', 'What', 'Detail']} />
            <tbody>
              {entries.map((e) => (
                <tr key={e.seq}>
                  <td>{e.seq}</td>
                  <td>
                    <time dateTime={e.at}>{formatDateTime(e.at)}</time>
                  </td>
                  <td>{e.actor}</td>
                  <td>{ACTION_LABELS[e.action] ?? e.action}</td>
                  <td>{e.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CloseAction onClose={onClose} />
    </Dialog>
  );
}
