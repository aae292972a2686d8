// One study being reported: whose it is (banner), its images and priors, and its report.
import { useId, useState } from 'react';
import type { AppInfo, PatientSummary, SeriesSummary, StudySummary } from '../common/contract.ts';
import type { ReportState } from '../common/lifecycle.ts';
import type { Profile } from '../common/report.ts';
import { formatDicomDate } from '../common/format.ts';
import { seriesLabel } from './format.ts';
import { ClaimLine } from './hub/claims.tsx';
import { PatientBanner } from './PatientBanner.tsx';
import { PriorList } from './PriorList.tsx';
import { useQuery } from './data/useQuery.ts';
import type { EditorControl } from './report/editorControl.ts';
import { ReportEditor } from './report/ReportEditor.tsx';
import { Viewer } from './viewer/index.ts';

export interface StudyScreenProps {
  appInfo: AppInfo;
  study: StudySummary;
  patient: PatientSummary | null;
  profile: Profile;
  register(control: EditorControl | null): void;
  onReportsChanged(): void;
}

/** The series to show first: the one with most images (the diagnostic stack, not a scout). */
export function defaultSeries(series: readonly SeriesSummary[], like?: SeriesSummary): SeriesSummary | null {
  if (like) {
    const same = series.find((s) => s.description.trim().toLowerCase() === like.description.trim().toLowerCase() && s.modality === like.modality);
    if (same) return same;
  }
  let best: SeriesSummary | null = null;
  for (const s of series) if (!best || s.instanceCount > best.instanceCount) best = s;
  return best;
}


function SeriesPicker({ series, value, onChange, label }: { series: readonly SeriesSummary[]; value: string | null; onChange(uid: string): void; label: string }) {
  const id = useId();
  return (
    <div className="field inline series-picker">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value ?? ''} onChange={(e) => onChange(e.target.value)}>
        {series.map((s) => (
          <option key={s.seriesUid} value={s.seriesUid}>
            {seriesLabel(s)}
          </option>
        ))}
      </select>
    </div>
  );
}

function StudyViewer({ appInfo, study, seriesUid, label, testId }: { appInfo: AppInfo; study: StudySummary; seriesUid: string | null; label: string; testId: string }) {
  // Slices added to the open series by an import come in with the library's change event.
  const q = useQuery(`series:images:${seriesUid ?? ''}`, (api) => api['series:images']({ seriesUid: seriesUid ?? '' }), {
    enabled: seriesUid !== null,
    refetchOn: (e) => e.type === 'library-changed',
  });
  const images = q.data ?? null;
  const error = images ? null : q.error;
  const series = study.series.find((s) => s.seriesUid === seriesUid);
  if (!seriesUid) return <p className="viewer-message">This study has no series.</p>;
  if (error) return <p className="viewer-message error-text">Could not load the images: {error}</p>;
  if (!images) return <p className="viewer-message">Loading images…</p>;
  return (
    <Viewer
      images={images}
      fileBaseUrl={appInfo.fileBaseUrl}
      fileAuthHeader={appInfo.fileAuthHeader}
      overlay={{ patientName: study.patientName, patientId: study.patientId, studyDate: study.studyDate, seriesDescription: series?.description ?? '' }}
      label={label}
      testId={testId}
    />
  );
}

export function StudyScreen({ appInfo, study, patient, profile, register, onReportsChanged }: StudyScreenProps) {
  const [seriesUid, setSeriesUid] = useState<string | null>(() => defaultSeries(study.series)?.seriesUid ?? null);
  const priorsQuery = useQuery(`study:priors:${study.studyUid}`, (api) => api['study:priors']({ patientId: study.patientId, studyUid: study.studyUid }));
  const priors = priorsQuery.data?.filter((p) => p.studyUid !== study.studyUid) ?? null;
  const priorsError = priors ? null : priorsQuery.error;
  const [prior, setPrior] = useState<StudySummary | null>(null);
  const [priorSeriesUid, setPriorSeriesUid] = useState<string | null>(null);
  const [state, setState] = useState<ReportState | null>(null);

  const showPrior = (p: StudySummary | null) => {
    setPrior(p);
    const current = study.series.find((s) => s.seriesUid === seriesUid);
    setPriorSeriesUid(p ? (defaultSeries(p.series, current)?.seriesUid ?? null) : null);
  };

  const currentLabel = `Current study, ${formatDicomDate(study.studyDate)}: ${study.description}`;
  const priorLabel = prior ? `Prior study, ${formatDicomDate(prior.studyDate)}: ${prior.description}` : '';

  return (
    <div className="study-screen">
      <PatientBanner patient={patient} study={study} reportState={state} />
      <ClaimLine studyUid={study.studyUid} othersOnly />
      <div className="study-layout">
        <section className="images-pane" aria-label="Images" id="images-pane" tabIndex={-1}>
          <div className="images-toolbar">
            <SeriesPicker series={study.series} value={seriesUid} onChange={setSeriesUid} label="Series" />
            {prior && <SeriesPicker series={prior.series} value={priorSeriesUid} onChange={setPriorSeriesUid} label={`Prior series (${formatDicomDate(prior.studyDate)})`} />}
          </div>
          <div className={prior ? 'viewers viewers-two' : 'viewers'}>
            <figure className="viewer-frame">
              <figcaption className="viewer-caption">{currentLabel}</figcaption>
              <StudyViewer appInfo={appInfo} study={study} seriesUid={seriesUid} label={currentLabel} testId="viewer-current" />
            </figure>
            {prior && (
              <figure className="viewer-frame prior-frame">
                <figcaption className="viewer-caption prior-caption">
                  PRIOR {formatDicomDate(prior.studyDate)}: {prior.description}
                </figcaption>
                <StudyViewer appInfo={appInfo} study={prior} seriesUid={priorSeriesUid} label={priorLabel} testId="viewer-prior" />
              </figure>
            )}
          </div>
          <PriorList study={study} priors={priors} error={priorsError} shownUid={prior?.studyUid ?? null} onShow={showPrior} />
        </section>
        <ReportEditor
          study={study}
          priors={priors ?? []}
          profile={profile}
          register={register}
          onState={setState}
          onReportsChanged={onReportsChanged}
        />
      </div>
    </div>
  );
}
