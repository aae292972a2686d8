// One CT head report that passes every sign-off rule, shared by the store, hub and sync tests and
// the benchmarks. `findings` replaces the brain-parenchyma text (e.g. a report being typed).
import type { ReportContent } from '../../common/report.ts';

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
