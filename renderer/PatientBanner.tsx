// Whose study is being reported, always on screen above the images and the report.
import type { PatientSummary, StudySummary } from '../common/contract.ts';
import { ageInYears, formatDicomDate, formatPersonName, formatSex } from './format.ts';

export interface PatientBannerProps {
  patient: PatientSummary | null;
  study: StudySummary;
  reportStatus: 'draft' | 'signed' | null;
}

export function PatientBanner({ patient, study, reportStatus }: PatientBannerProps) {
  const birthDate = patient?.birthDate ?? '';
  const age = ageInYears(birthDate, study.studyDate);
  const missing = [study.patientId.trim() ? null : 'patient ID', study.patientName.trim() ? null : 'patient name'].filter(Boolean);
  return (
    <section className="patient-banner" aria-label="Patient and study being reported" data-testid="patient-banner">
      {missing.length > 0 && (
        <p className="banner-warning" role="alert">
          The images carry no {missing.join(' and no ')}: confirm the patient's identity from the request before reporting.
        </p>
      )}
      <div className="banner-patient">
        <span className="banner-name">{formatPersonName(study.patientName)}</span>
        <dl className="banner-facts">
          <div>
            <dt>Patient ID</dt>
            <dd>{study.patientId || 'unknown'}</dd>
          </div>
          <div>
            <dt>Born</dt>
            <dd>
              {formatDicomDate(birthDate, 'unknown')}
              {age !== null ? ` (${age} y at study)` : ''}
            </dd>
          </div>
          <div>
            <dt>Sex</dt>
            <dd>{formatSex(patient?.sex ?? '')}</dd>
          </div>
        </dl>
      </div>
      <div className="banner-study">
        <span className="banner-description">{study.description || 'No study description'}</span>
        <dl className="banner-facts">
          <div>
            <dt>Study date</dt>
            <dd>{formatDicomDate(study.studyDate)}</dd>
          </div>
          <div>
            <dt>Accession</dt>
            <dd>{study.accession || 'none'}</dd>
          </div>
          <div>
            <dt>Modality</dt>
            <dd>{study.modalities.join(', ') || 'unknown'}</dd>
          </div>
          {reportStatus && (
            <div>
              <dt>Report</dt>
              <dd className={reportStatus === 'signed' ? 'status-final' : 'status-draft'}>{reportStatus === 'signed' ? 'FINAL' : 'Draft (unsigned)'}</dd>
            </div>
          )}
        </dl>
      </div>
    </section>
  );
}
