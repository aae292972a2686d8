// The append-only audit trail of one report, in a dialog.
import { useEffect, useState } from 'react';
import type { AuditEntry } from '../../common/contract.ts';
import type { Client } from '../api.ts';
import { Dialog } from '../Dialog.tsx';
import { formatDateTime } from '../format.ts';

const ACTION_LABELS: Record<AuditEntry['action'], string> = {
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
export function AuditTrail({ client, reportId, onClose }: { client: Client; reportId: string; onClose(): void }) {
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void client.api['reports:audit']({ reportId }).then((r) => {
      if (!live) return;
      if (r.ok) setEntries(r.value);
      else setError(r.error.message);
    });
    return () => {
      live = false;
    };
  }, [client, reportId]);

  return (
    <Dialog open title="Audit trail" onCancel={onClose} wide testId="audit-dialog">
      {error && <p className="error-text">Could not load the audit trail: {error}</p>}
      {!error && entries === null && <p>Loading…</p>}
      {entries && entries.length === 0 && <p>No entries.</p>}
      {entries && entries.length > 0 && (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="sr-only">Audit trail, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Time</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
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
      <div className="form-actions">
        <button type="button" autoFocus onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
