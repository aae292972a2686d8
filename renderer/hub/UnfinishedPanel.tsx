// Every unfinished report in the department (domain.md §6): author, patient and study, age, last
// activity; stale ones highlighted with the reason in words. A colleague allowed to may take one
// over: it moves here with its history and opens.
import { useState } from 'react';
import type { PatientSummary } from '../../common/contract.ts';
import type { UnfinishedItem } from '../../common/hub.ts';
import { ROLE_LABELS } from '../../common/lifecycle.ts';
import type { Report } from '../../common/report.ts';
import { useClient } from '../data/client.ts';
import { Dialog } from '../Dialog.tsx';
import { TableHead } from '../Layout.tsx';
import { formatDateTime, formatDicomDate, formatDuration } from '../../common/format.ts';
import { formatPersonName } from '../format.ts';
import { useClaims } from './claims.tsx';
import { useHubStatus } from './HubContext.ts';
import { may, staleText } from './hubText.ts';
import { ErrorText } from '../ErrorText.tsx';

export interface UnfinishedPanelProps {
  patients: readonly PatientSummary[];
  /** A draft was taken over here: open its study. */
  onTakenOver(report: Report): void;
  onOpenStudy(studyUid: string): void;
}

function describeStudy(item: UnfinishedItem, patients: readonly PatientSummary[]): { patient: string; study: string; local: boolean } {
  for (const p of patients) {
    const s = p.studies.find((x) => x.studyUid === item.study.studyUid);
    if (s) return { patient: `${formatPersonName(s.patientName)} (ID ${s.patientId})`, study: `${s.description || 'Study'} of ${formatDicomDate(s.studyDate)}`, local: true };
  }
  return { patient: `Patient ID ${item.study.patientId || 'unknown'}`, study: `Study ${item.study.studyUid} (not in this workstation's library)`, local: false };
}

export function UnfinishedPanel({ patients, onTakenOver, onOpenStudy }: UnfinishedPanelProps) {
  const client = useClient();
  const hub = useHubStatus();
  const user = hub?.user ?? null;
  const allowed = may(user, 'unfinished:list');
  const [confirm, setConfirm] = useState<{ item: UnfinishedItem; error?: string; busy?: boolean } | null>(null);
  // The app's one read of the list (hub/claims.tsx useClaimsSource: the study claims come from it
  // too), live on the hub's events within the site's floor, polled while this panel is shown.
  const { data: list, error, reload: refresh } = useClaims().list;

  if (!hub?.configured || !user) return null;
  if (!allowed) return null;

  const takeOver = async () => {
    if (!confirm) return;
    const item = confirm.item;
    setConfirm({ item, busy: true });
    const r = await client.api['unfinished:takeOver']({ reportId: item.reportId });
    if (!r.ok) {
      setConfirm({ item, error: `Not taken over: ${r.error.message}` });
      refresh();
      return;
    }
    setConfirm(null);
    refresh();
    onTakenOver(r.value);
  };

  const items = list?.items ?? [];
  const mayTakeOver = may(user, 'draft:take-over');
  const staleCount = items.filter((i) => i.stale).length;

  return (
    <section className="panel unfinished" data-testid="unfinished-panel" aria-labelledby="unfinished-title">
      <div className="panel-head">
        <h2 id="unfinished-title">
          Unfinished reports in the department ({items.length}
          {staleCount > 0 ? `, ${staleCount} stale` : ''})
        </h2>
        <button type="button" className="small" onClick={refresh}>
          Refresh
        </button>
      </div>
      <p className="muted">
        Drafts not yet signed, on any workstation. Highlighted: idle for more than {list ? `${list.staleAfterHours} h` : 'the site threshold'}, or the author's session has
        ended.
      </p>
      {error && <p className="error-text">Could not load the list: {error}</p>}
      {list === null ? (
        !error && <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>No unfinished reports.</p>
      ) : (
        <table className="list-table">
          <caption className="sr-only">Unfinished reports: {items.length}, of which {staleCount} stale</caption>
          <TableHead columns={['Author', 'Patient and study', 'Age', 'Last activity', 'State', null]} />
          <tbody>
            {items.map((item) => {
              const mine = item.owner.username === user.username;
              const what = describeStudy(item, patients);
              const stale = staleText(item);
              return (
                <tr key={item.reportId} data-testid="unfinished-item" data-report-id={item.reportId} data-stale={item.stale} className={item.stale ? 'stale-row' : undefined}>
                  <td>
                    <strong>{item.owner.name}</strong>
                    {mine ? ' (you)' : ''} <span className="muted">{ROLE_LABELS[item.owner.role]}</span>
                  </td>
                  <td>
                    {what.patient}
                    <br />
                    <span className="muted">{what.study}</span>
                  </td>
                  <td>{formatDuration(item.ageMs)}</td>
                  <td>
                    <time dateTime={item.lastActivity}>{formatDateTime(item.lastActivity)}</time> <span className="muted">({formatDuration(item.idleMs)} ago)</span>
                  </td>
                  <td>
                    {item.stale && <strong className="stale-text">Stale: {stale}</strong>}
                    {item.stale && <br />}
                    <span className="muted">{item.closed ? 'Closed by the author' : 'Open on the author’s workstation'}</span>
                    {item.takenOverFrom && <span className="muted"> · taken over from {item.takenOverFrom.name}</span>}
                  </td>
                  <td>
                    {mine ? (
                      <button type="button" disabled={!what.local} onClick={() => onOpenStudy(item.study.studyUid)} aria-label={`Open your draft: ${what.patient}`}>
                        Open
                      </button>
                    ) : (
                      mayTakeOver && (
                        <button type="button" onClick={() => setConfirm({ item })} aria-label={`Take over the draft by ${item.owner.name}: ${what.patient}`}>
                          Take over
                        </button>
                      )
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}

      <Dialog open={confirm !== null} title="Take over this draft?" onCancel={() => !confirm?.busy && setConfirm(null)} role="alertdialog" testId="take-over-dialog">
        {confirm && (
          <>
            <p>
              The draft by <strong>{confirm.item.owner.name}</strong> for <strong>{describeStudy(confirm.item, patients).patient}</strong>,{' '}
              {describeStudy(confirm.item, patients).study}, moves to you with its history. {confirm.item.owner.name} is told, and can no longer change it. The
              take-over is recorded in the audit trail.
            </p>
            {!describeStudy(confirm.item, patients).local && (
              <p className="error-text">This study's images are not in this workstation's library: open its folder first to report it here.</p>
            )}
            <ErrorText error={confirm.error} />
            <div className="form-actions">
              <button type="button" className="primary" disabled={confirm.busy} onClick={() => void takeOver()}>
                {confirm.busy ? 'Taking over…' : 'Take over and open it'}
              </button>
              <button type="button" autoFocus disabled={confirm.busy} onClick={() => setConfirm(null)}>
                Cancel
              </button>
            </div>
          </>
        )}
      </Dialog>
    </section>
  );
}
