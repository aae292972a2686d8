// Whose study is being reported, always on screen above the images and the report. When another
// patient in the library shares this one's Patient ID (an identity conflict), it says so first.
import type { PatientSummary, StudySummary } from '../common/contract.ts';
import type { ReportState } from '../common/lifecycle.ts';
import { stateClass, stateLabel } from './report/reportActions.ts';
import { Facts } from './Layout.tsx';
import { ageInYears, formatDicomDate } from '../common/format.ts';
import { formatPersonName, formatSex } from './format.ts';

export interface PatientBannerProps {
  patient: PatientSummary | null;
  study: StudySummary;
  reportState: ReportState | null;
}

export function PatientBanner({ patient, study, reportState }: PatientBannerProps) {
  const birthDate = patient?.birthDate ?? '';
  const age = ageInYears(birthDate, study.studyDate);
  const missing = [study.patientId.trim() ? null : 'patient ID', study.patientName.trim() ? null : 'patient name'].filter(Boolean);
  return (
    <section className="patient-banner" aria-label="Patient and study being reported" data-testid="patient-banner">
      {study.identityConflict !== null && (
        <p className="banner-warning identity-conflict" role="alert" data-testid="identity-conflict">
          {study.identityConflict}
        </p>
      )}
      {missing.length > 0 && (
        <p className="banner-warning" role="alert">
          The images carry no {missing.join(' and no ')}: confirm the patient's identity from the request before reporting.
        </p>
      )}
      <div className="banner-patient">
        <span className="banner-name">{formatPersonName(study.patientName)}</span>
        <Facts
          facts={[
            { label: 'Patient ID', value: study.patientId || 'unknown' },
            { label: 'Born', value: `${formatDicomDate(birthDate, 'unknown')}${age !== null ? ` (${age} y at study)` : ''}` },
            { label: 'Sex', value: formatSex(patient?.sex ?? '') },
          ]}
        />
      </div>
      <div className="banner-study">
        <span className="banner-description">{study.description || 'No study description'}</span>
        <Facts
          facts={[
            { label: 'Study date', value: formatDicomDate(study.studyDate) },
            { label: 'Accession', value: study.accession || 'none' },
            { label: 'Modality', value: study.modalities.join(', ') || 'unknown' },
            reportState !== null && { label: 'Report', value: stateLabel(reportState), className: stateClass(reportState), testId: 'banner-report-state' },
          ]}
        />
      </div>
    </section>
  );
}
