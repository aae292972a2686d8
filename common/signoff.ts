// Sign-off rules of domain.md §3, as one pure function. The editor shows its result live; the
// store and the hub run the same function before they accept a signature.
import { ALERT_LABELS, severityRank, type AlertCategory, type ReportContent } from './report.ts';
import { getTemplate, type Template } from './templates.ts';

export type SignOffRule =
  | 'unexpected-findings'
  | 'alert-code'
  | 'critical-verbal'
  | 'cancer-site'
  | 'comparison'
  | 'conclusion'
  | 'template-field';

export interface SignOffProblem {
  rule: SignOffRule;
  /** `block` stops signing; `warn` is shown but the reporter may sign. */
  severity: 'block' | 'warn';
  sectionId: string;
  fieldId: string;
  message: string;
}

const blank = (s: string | undefined): boolean => !s || s.trim() === '';

/** Every problem that stops (or should give pause to) signing this report. Empty means signable. */
export function checkSignOff(content: ReportContent, template: Template = getTemplate(content.templateId)): SignOffProblem[] {
  const problems: SignOffProblem[] = [];
  const block = (rule: SignOffRule, sectionId: string, fieldId: string, message: string): void => {
    problems.push({ rule, severity: 'block', sectionId, fieldId, message });
  };

  // Rule 1: unexpected findings are a list of categorised findings or an explicit attestation.
  const u = content.unexpected;
  let worstFinding: AlertCategory | null = null;
  if (u.kind === 'unset') {
    block('unexpected-findings', 'unexpected', 'unexpected',
      'Record the unexpected findings, or attest "no clinically significant unexpected findings".');
  } else if (u.kind === 'findings') {
    if (u.items.length === 0) {
      block('unexpected-findings', 'unexpected', 'unexpected',
        'Add at least one unexpected finding, or attest that there are none.');
    }
    u.items.forEach((item, i) => {
      const n = i + 1;
      if (blank(item.text)) block('unexpected-findings', 'unexpected', `unexpected.${item.id}.text`, `Unexpected finding ${n} has no description.`);
      if (item.category === null) {
        block('unexpected-findings', 'unexpected', `unexpected.${item.id}.category`, `Unexpected finding ${n} has no category.`);
      } else {
        if (worstFinding === null || severityRank(item.category) > severityRank(worstFinding)) worstFinding = item.category;
        if (item.category === 'cancer' && blank(item.primarySite)) {
          block('cancer-site', 'unexpected', `unexpected.${item.id}.primarySite`, `Unexpected finding ${n} is a suspected cancer: give the suspected primary site.`);
        }
      }
    });
  }

  // Rule 2: the alert code is explicit and at least as severe as the worst unexpected finding.
  const alert = content.alertCode;
  if (alert === null) {
    block('alert-code', 'alert', 'alertCode', 'Choose the alert code explicitly (there is no default).');
  } else if (worstFinding !== null && severityRank(alert) < severityRank(worstFinding)) {
    block('alert-code', 'alert', 'alertCode',
      `The alert code (${ALERT_LABELS[alert]}) is less severe than an unexpected finding (${ALERT_LABELS[worstFinding]}).`);
  }

  // Rule 3: critical needs the record of the verbal communication.
  if (alert === 'critical') {
    const v = content.verbal;
    if (!v || blank(v.clinician) || blank(v.role) || blank(v.time)) {
      block('critical-verbal', 'alert', 'verbal',
        'A critical alert needs the verbal communication recorded: clinician, role and time.');
    }
  }

  // Rule 4: cancer needs the suspected primary site.
  if (alert === 'cancer' && blank(content.cancerPrimarySite)) {
    block('cancer-site', 'alert', 'cancerPrimarySite', 'A cancer alert needs the suspected primary site.');
  }

  // Rule 5: comparison is filled: priors compared, or none available.
  const c = content.comparison;
  if (c.kind === 'unset') {
    block('comparison', 'comparison', 'comparison', 'State the comparison: prior studies compared, or "no prior imaging available".');
  } else if (c.kind === 'compared' && blank(c.text)) {
    block('comparison', 'comparison', 'comparison', 'Name the prior studies compared.');
  }

  // Rule 6: the conclusion is not empty.
  if (blank(content.fields['conclusion'])) {
    block('conclusion', 'conclusion', 'conclusion', 'Write the conclusion.');
  }

  // Template fields (MRRT-style prohibit / warn / silent when empty).
  for (const section of template.sections) {
    for (const field of section.fields) {
      if (field.kind !== 'text' || field.id === 'conclusion' || field.onEmpty === 'silent') continue;
      if (!blank(content.fields[field.id])) continue;
      problems.push({
        rule: 'template-field',
        severity: field.onEmpty === 'prohibit' ? 'block' : 'warn',
        sectionId: section.id,
        fieldId: field.id,
        message: `${field.label} is empty.`,
      });
    }
  }
  return problems;
}

export function canSign(problems: readonly SignOffProblem[]): boolean {
  return !problems.some((p) => p.severity === 'block');
}
