// One study being reported: whose it is (banner), its images and priors, and its report.
import { useEffect, useId, useState } from 'react';
import type { AppInfo, ImageRef, PatientSummary, SeriesSummary, StudySummary } from '../common/contract.ts';
import type { Profile } from '../common/report.ts';
import type { Client } from './api.ts';
import { formatDicomDate, seriesLabel } from './format.ts';
import { PatientBanner } from './PatientBanner.tsx';
import { ReportEditor, type EditorControl } from './report/ReportEditor.tsx';
import { Viewer } from './viewer/index.ts';

export interface StudyScreenProps {
  client: Client;
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

function useSeriesImages(client: Client, seriesUid: string | null): { images: ImageRef[] | null; error: string | null } {
  const [state, setState] = useState<{ uid: string | null; images: ImageRef[] | null; error: string | null }>({ uid: null, images: null, error: null });
  useEffect(() => {
    if (!seriesUid) return;
    let live = true;
    void client.api['series:images']({ seriesUid }).then((r) => {
      if (!live) return;
      setState(r.ok ? { uid: seriesUid, images: r.value, error: null } : { uid: seriesUid, images: null, error: r.error.message });
    });
    return () => {
      live = false;
    };
  }, [client, seriesUid]);
  if (state.uid !== seriesUid) return { images: null, error: null };
  return { images: state.images, error: state.error };
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

function StudyViewer({ client, appInfo, study, seriesUid, label, testId }: { client: Client; appInfo: AppInfo; study: StudySummary; seriesUid: string | null; label: string; testId: string }) {
  const { images, error } = useSeriesImages(client, seriesUid);
  const series = study.series.find((s) => s.seriesUid === seriesUid);
  if (!seriesUid) return <p className="viewer-message">This study has no series.</p>;
  if (error) return <p className="viewer-message error-text">Could not load the images: {error}</p>;
  if (!images) return <p className="viewer-message">Loading images…</p>;
  return (
    <Viewer
      images={images}
      fileBaseUrl={appInfo.fileBaseUrl}
      fileAuthHeader={appInfo.fileAuthHeader}
      overlay={{ patientName: study.patientName, patientId: study.patientId, studyDate: formatDicomDate(study.studyDate), seriesDescription: series?.description ?? '' }}
      label={label}
      testId={testId}
    />
  );
}

export function StudyScreen({ client, appInfo, study, patient, profile, register, onReportsChanged }: StudyScreenProps) {
  const [seriesUid, setSeriesUid] = useState<string | null>(() => defaultSeries(study.series)?.seriesUid ?? null);
  const [priors, setPriors] = useState<StudySummary[] | null>(null);
  const [priorsError, setPriorsError] = useState<string | null>(null);
  const [prior, setPrior] = useState<StudySummary | null>(null);
  const [priorSeriesUid, setPriorSeriesUid] = useState<string | null>(null);
  const [status, setStatus] = useState<'draft' | 'signed' | null>(null);

  useEffect(() => {
    let live = true;
    void client.api['study:priors']({ patientId: study.patientId, studyUid: study.studyUid }).then((r) => {
      if (!live) return;
      if (r.ok) setPriors(r.value.filter((p) => p.studyUid !== study.studyUid));
      else setPriorsError(r.error.message);
    });
    return () => {
      live = false;
    };
  }, [client, study.patientId, study.studyUid]);

  const showPrior = (p: StudySummary | null) => {
    setPrior(p);
    const current = study.series.find((s) => s.seriesUid === seriesUid);
    setPriorSeriesUid(p ? (defaultSeries(p.series, current)?.seriesUid ?? null) : null);
  };

  const currentLabel = `Current study, ${formatDicomDate(study.studyDate)}: ${study.description}`;
  const priorLabel = prior ? `Prior study, ${formatDicomDate(prior.studyDate)}: ${prior.description}` : '';

  return (
    <div className="study-screen">
      <PatientBanner patient={patient} study={study} reportStatus={status} />
      <div className="study-layout">
        <section className="images-pane" aria-label="Images" id="images-pane" tabIndex={-1}>
          <div className="images-toolbar">
            <SeriesPicker series={study.series} value={seriesUid} onChange={setSeriesUid} label="Series" />
            {prior && <SeriesPicker series={prior.series} value={priorSeriesUid} onChange={setPriorSeriesUid} label={`Prior series (${formatDicomDate(prior.studyDate)})`} />}
          </div>
          <div className={prior ? 'viewers viewers-two' : 'viewers'}>
            <figure className="viewer-frame">
              <figcaption className="viewer-caption">{currentLabel}</figcaption>
              <StudyViewer client={client} appInfo={appInfo} study={study} seriesUid={seriesUid} label={currentLabel} testId="viewer-current" />
            </figure>
            {prior && (
              <figure className="viewer-frame prior-frame">
                <figcaption className="viewer-caption prior-caption">
                  PRIOR {formatDicomDate(prior.studyDate)}: {prior.description}
                </figcaption>
                <StudyViewer client={client} appInfo={appInfo} study={prior} seriesUid={priorSeriesUid} label={priorLabel} testId="viewer-prior" />
              </figure>
            )}
          </div>
          <div className="priors" aria-labelledby="priors-title">
            <h2 id="priors-title" className="small-heading">
              Prior studies of this patient
            </h2>
            {priorsError && <p className="error-text">Could not list priors: {priorsError}</p>}
            {priors === null && !priorsError && <p className="muted">Looking for priors…</p>}
            {priors?.length === 0 && <p className="muted">None in the library.</p>}
            {priors && priors.length > 0 && (
              <ul className="prior-list">
                {priors.map((p) => {
                  const shown = prior?.studyUid === p.studyUid;
                  return (
                    <li key={p.studyUid}>
                      <span className="study-date">{formatDicomDate(p.studyDate)}</span> <span>{p.description || 'No description'}</span>{' '}
                      <span className="muted">({p.modalities.join(', ')})</span>{' '}
                      <button type="button" className="small" aria-pressed={shown} onClick={() => showPrior(shown ? null : p)}>
                        {shown ? `Hide prior of ${formatDicomDate(p.studyDate)}` : `Show prior of ${formatDicomDate(p.studyDate)} side by side`}
                      </button>
                    </li>
                  );
                })}
              </ul>
            )}
          </div>
        </section>
        <ReportEditor
          client={client}
          study={study}
          priors={priors ?? []}
          profile={profile}
          register={register}
          onStatus={setStatus}
          onReportsChanged={onReportsChanged}
        />
      </div>
    </div>
  );
}
