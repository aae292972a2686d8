// One CT head report that passes every sign-off rule, shared by the store, hub and sync tests and
// the benchmarks. `findings` replaces the brain-parenchyma text (e.g. a report being typed).
import type { ExamDetails, ReportContent } from '../../common/report.ts';

const FINDINGS = 'No intracranial haemorrhage. Grey-white differentiation preserved.';

export function signableContent(extra = '', findings = FINDINGS): ReportContent {
  return {
    templateId: 'ct-head',
    fields: {
      clinicalQuestion: 'Fall with head injury, on anticoagulants.',
      technique: 'Non-contrast axial CT of the head.',
      brainParenchyma: `${findings}${extra}`,
      ventricles: 'Normal size and configuration.',
      bonesSinuses: 'No skull fracture.',
      conclusion: 'No acute intracranial abnormality.',
    },
    comparison: { kind: 'none-available', text: '' },
    unexpected: { kind: 'none' },
    alertCode: 'none',
  };
}

/**
 * The exam the DICOM index gives for a test study (any study UID): a CT head with a requester.
 * Stores in tests use it as `examFor`, as main/services.ts uses DicomIndexService.exam.
 */
export function fixtureExam(studyUid: string): ExamDetails {
  return {
    patientName: 'DOE^JANE',
    birthDate: '19600214',
    sex: 'F',
    accession: `ACC${studyUid.replace(/\D/g, '').slice(-8)}`,
    modality: 'CT',
    studyDescription: 'CT HEAD WITHOUT CONTRAST',
    studyDate: '20250301',
    studyTime: '084500',
    referringPhysician: 'LISTER^JOSEPH^^DR',
    requestingService: 'Emergency Department',
  };
}
