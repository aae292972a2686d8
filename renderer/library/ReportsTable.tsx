// The reports on this workstation: drafts first, then provisional (awaiting verification), then
// final; each row its state (a provisional report never reads FINAL), its delivery to the hub
// (all rows' statuses in one request), author, last change, and Open. A report on a study whose
// patient identity is in conflict (another patient with the same Patient ID) says so beside the name.
import { formatAge, formatDateTime } from '../../common/format.ts';
import { isSigned, REPORT_STATES } from '../../common/lifecycle.ts';
import type { PatientSummary, ReportListItem } from '../../common/contract.ts';
import { formatPersonName } from '../format.ts';
import { TableHead } from '../Layout.tsx';
import { SyncStatusView } from '../hub/SyncStatus.tsx';
import type { SyncStatuses } from '../hub/useSyncStatuses.ts';
import { stateClass, stateLabel } from '../report/reportActions.ts';

/** Drafts first, then in life-cycle order; newest change first within a state. */
export function orderReports(reports: readonly ReportListItem[]): ReportListItem[] {
  const rank = (r: ReportListItem) => REPORT_STATES.indexOf(r.state);
  return [...reports].sort((a, b) => rank(a) - rank(b) || (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0));
}

/** Study UID → identity-conflict sentence, for every study of the library whose patient has one. */
export function identityConflictsByStudy(patients: readonly PatientSummary[]): Map<string, string> {
  return new Map(patients.flatMap((p) => p.studies.flatMap((s) => (s.identityConflict === null ? [] : [[s.studyUid, s.identityConflict] as const]))));
}

export interface ReportsTableProps {
  reports: readonly ReportListItem[];
  currentStudyUid: string | null;
  /** Null without a hub (no Hub column). */
  statuses: SyncStatuses | null;
  onOpenStudy(studyUid: string): void;
  /** Study UID → the index's identity-conflict sentence, for the studies whose patient has one. */
  identityConflicts?: ReadonlyMap<string, string>;
}

export function ReportsTable({ reports, currentStudyUid, statuses, onOpenStudy, identityConflicts }: ReportsTableProps) {
  const rows = orderReports(reports);
  const signed = rows.filter((r) => isSigned(r.state)).length;
  return (
    <table className="data-table" data-testid="reports-table">
      <caption className="sr-only">
        Reports: {rows.length - signed} unsigned, {signed} signed
      </caption>
      <TableHead columns={['Patient', 'Study', 'Status', statuses !== null && 'Hub', 'Author', 'Last change', null]} />
      <tbody>
        {rows.map((r) => (
          <tr key={r.id} className={r.study.studyUid === currentStudyUid ? 'current-row' : undefined} data-state={r.state}>
            <td>
              {formatPersonName(r.patientName)} <span className="muted">({r.study.patientId})</span>
              {identityConflicts?.has(r.study.studyUid) && (
                <span className="banner-warning identity-conflict" data-testid="identity-conflict" title={identityConflicts.get(r.study.studyUid)}>
                  {' '}
                  Identity conflict: another patient has this Patient ID
                </span>
              )}
            </td>
            <td>{r.studyDescription || r.study.studyUid}</td>
            <td>
              <span className={stateClass(r.state)}>{stateLabel(r.state)}</span>
            </td>
            {statuses && (
              <td>
                {isSigned(r.state) ? (
                  <SyncStatusView status={statuses.get(r.id)} error={statuses.error} onRetry={() => statuses.retry(r.id)} compact />
                ) : (
                  <span className="muted">Unsigned</span>
                )}
              </td>
            )}
            <td>{r.author}</td>
            <td>
              <time dateTime={r.updatedAt}>{formatDateTime(r.updatedAt)}</time> <span className="muted">({formatAge(r.updatedAt)})</span>
            </td>
            <td>
              <button type="button" onClick={() => onOpenStudy(r.study.studyUid)} aria-label={`Open report: ${formatPersonName(r.patientName)}, ${r.studyDescription}`}>
                Open
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
