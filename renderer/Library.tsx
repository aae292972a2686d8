// The local library: the department's unfinished reports (given as `top`), adding images
// (library/AddImages), the reports on this workstation (library/ReportsTable, with every row's hub
// delivery in one request), patients → studies → series, and the files that could not be indexed.
import { useEffect, useRef, type ReactNode, type RefObject } from 'react';
import type { AppInfo, PatientSummary } from '../common/contract.ts';
import { formatDicomDate } from '../common/format.ts';
import { isSigned } from '../common/lifecycle.ts';
import { useQuery } from './data/useQuery.ts';
import { formatPersonName, formatSex, seriesLabel } from './format.ts';
import { ClaimLine } from './hub/claims.tsx';
import { useHubStatus } from './hub/HubContext.ts';
import { useSyncStatuses } from './hub/useSyncStatuses.ts';
import { AddImages } from './library/AddImages.tsx';
import { identityConflictsByStudy, ReportsTable } from './library/ReportsTable.tsx';

export interface LibraryProps {
  appInfo: AppInfo;
  patients: PatientSummary[];
  currentStudyUid: string | null;
  folderInputRef: RefObject<HTMLInputElement | null>;
  /** Bumped by the app when reports changed (signed, opened, taken over). */
  refreshKey: number;
  /** Whether the library is on screen (hidden, it fetches nothing). */
  visible: boolean;
  onOpenStudy(studyUid: string): void;
  onLibraryChanged(): void;
  /** Shown first (the department's unfinished reports). */
  top?: ReactNode;
}

export function Library({ appInfo, patients, currentStudyUid, folderInputRef, refreshKey, visible, onOpenStudy, onLibraryChanged, top }: LibraryProps) {
  const hub = useHubStatus();
  const reportsQ = useQuery('reports:list', (api) => api['reports:list']({}), { enabled: visible });
  const errorsQ = useQuery('library:errors', (api) => api['library:errors']({}), { enabled: visible });
  const { reload: reloadReports } = reportsQ;
  const { reload: reloadErrors } = errorsQ;
  // Reloaded when the app says reports changed (the first render's load is the query's own).
  const seen = useRef(refreshKey);
  useEffect(() => {
    if (seen.current === refreshKey) return;
    seen.current = refreshKey;
    reloadReports();
    reloadErrors();
  }, [refreshKey, reloadReports, reloadErrors]);

  const reports = reportsQ.data ?? null;
  const errors = errorsQ.data ?? [];
  const loadError = reportsQ.error ?? errorsQ.error;
  const signedIds = (reports ?? []).filter((r) => isSigned(r.state)).map((r) => r.id);
  const identityConflicts = identityConflictsByStudy(patients);
  const statuses = useSyncStatuses(signedIds, visible);

  return (
    <div className="library">
      {top}
      <AddImages
        appInfo={appInfo}
        folderInputRef={folderInputRef}
        onIndexed={() => {
          onLibraryChanged();
          reloadErrors();
          reloadReports();
        }}
      />

      <section className="panel" aria-labelledby="lib-reports">
        <h2 id="lib-reports">Reports in progress and signed</h2>
        {loadError && <p className="error-text">Could not load: {loadError}</p>}
        {reports === null ? (
          <p>Loading…</p>
        ) : reports.length === 0 ? (
          <p>No reports yet.</p>
        ) : (
          <ReportsTable reports={reports} currentStudyUid={currentStudyUid} statuses={hub?.configured ? statuses : null} onOpenStudy={onOpenStudy} identityConflicts={identityConflicts} />
        )}
      </section>

      <section className="panel" aria-labelledby="lib-patients">
        <h2 id="lib-patients">Patients</h2>
        {patients.length === 0 ? (
          <p>No images yet. Open a folder or import files.</p>
        ) : (
          <ul className="patient-list">
            {patients.map((p) => (
              <li key={p.identityKey} className="patient-item">
                <h3 className="patient-heading">
                  {formatPersonName(p.patientName)}{' '}
                  <span className="muted">
                    ID {p.patientId || 'unknown'}
                    {p.issuer ? ` (issuer ${p.issuer})` : ''} · born {formatDicomDate(p.birthDate, 'unknown')} · {formatSex(p.sex)}
                  </span>
                </h3>
                {p.identityConflict !== null && (
                  <p className="banner-warning identity-conflict" role="note" data-testid="identity-conflict">
                    {p.identityConflict}
                  </p>
                )}
                <ul className="study-list">
                  {p.studies.map((s) => (
                    <li key={s.studyUid} className={s.studyUid === currentStudyUid ? 'study-item current-row' : 'study-item'}>
                      <div className="study-line">
                        <button
                          type="button"
                          onClick={() => onOpenStudy(s.studyUid)}
                          aria-label={`Open study ${s.description || 'without description'}, ${formatDicomDate(s.studyDate)}, ${formatPersonName(p.patientName)}`}
                        >
                          Open
                        </button>
                        <span className="study-date">{formatDicomDate(s.studyDate)}</span>
                        <span className="study-desc">{s.description || 'No description'}</span>
                        <span className="muted">
                          {[s.modalities.join(', '), `accession ${s.accession || 'none'}`].filter((x) => x !== '').join(' · ')}
                        </span>
                        <ClaimLine studyUid={s.studyUid} />
                      </div>
                      <ul className="series-list" aria-label={`Series of ${s.description || 'study'}`}>
                        {s.series.map((se) => (
                          <li key={se.seriesUid}>
                            {seriesLabel(se)}
                          </li>
                        ))}
                      </ul>
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section className="panel" aria-labelledby="lib-errors">
        <h2 id="lib-errors">Files that could not be indexed ({errors.length})</h2>
        {errors.length === 0 ? (
          <p>None.</p>
        ) : (
          <ul className="error-list">
            {errors.map((e, i) => (
              <li key={`${e.path}-${i}`}>
                <code>{e.path}</code>: {e.reason}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
