// The priors of the study being reported (study:priors: the same patient identity, strictly
// earlier), each to be shown side by side. When the patient's identity is in conflict (another
// patient in the library has the same Patient ID), it says that the other patient's studies are
// not offered.
import type { StudySummary } from '../common/contract.ts';
import { formatDicomDate } from '../common/format.ts';

export interface PriorListProps {
  study: StudySummary;
  /** null while loading. */
  priors: readonly StudySummary[] | null;
  error: string | null;
  shownUid: string | null;
  onShow(prior: StudySummary | null): void;
}

export function PriorList({ study, priors, error, shownUid, onShow }: PriorListProps) {
  return (
    <div className="priors" aria-labelledby="priors-title">
      <h2 id="priors-title" className="small-heading">
        Prior studies of this patient
      </h2>
      {study.identityConflict !== null && (
        <p className="banner-warning identity-conflict" data-testid="priors-identity-conflict">
          Identity conflict: only earlier studies of this exact patient (issuer, Patient ID, name and birth date) are listed; the studies of the other patient with this Patient ID are not
          offered as priors.
        </p>
      )}
      {error && <p className="error-text">Could not list priors: {error}</p>}
      {priors === null && !error && <p className="muted">Looking for priors…</p>}
      {priors?.length === 0 && <p className="muted">None in the library.</p>}
      {priors && priors.length > 0 && (
        <ul className="prior-list">
          {priors.map((p) => {
            const shown = shownUid === p.studyUid;
            return (
              <li key={p.studyUid}>
                <span className="study-date">{formatDicomDate(p.studyDate)}</span> <span>{p.description || 'No description'}</span>{' '}
                <span className="muted">({p.modalities.join(', ')})</span>{' '}
                <button type="button" className="small" aria-pressed={shown} onClick={() => onShow(shown ? null : p)}>
                  {shown ? `Hide prior of ${formatDicomDate(p.studyDate)}` : `Show prior of ${formatDicomDate(p.studyDate)} side by side`}
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}
