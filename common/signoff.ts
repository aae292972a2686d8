// Sign-off rules of domain.md §3, as one pure function. The editor shows its result live; the
// store and the hub run the same function before they accept a signature. Text counts as written
// only when common/text.ts isMeaningfulText says so (zero-width spaces or "." are not a conclusion).
import { formatDateTime, formatDicomDate, parseDicomDate } from './format.ts';
import { ALERT_LABELS, severityRank, type AlertCategory, type ExamDetails, type ReportContent } from './report.ts';
import { CARRIED_OVER_TITLE, CARRIED_SECTION_ID, getTemplate, hiddenFieldIds, type Template } from './templates.ts';
import { isMeaningfulText } from './text.ts';

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

/**
 * What the rules need besides the content. Every field is optional: a rule whose context is
 * missing is not applied (the hub has no image library, so `priorsInLibrary` is the
 * workstation's alone; the workstation and the hub both know the signature time and the exam).
 */
export interface SignOffContext {
  /** When the report is (being) signed: the editor passes now, the store its signature time, the hub the signature's `signedAt`. Default: now. */
  signedAt?: string | Date;
  /** The exam the report is about (its study date bounds the verbal-communication time from below). */
  exam?: ExamDetails | null;
  /** How many earlier studies of the same patient identity the library holds (the study:priors list). */
  priorsInLibrary?: number;
}

/**
 * A verbal communication may be recorded up to this long after the signature time. The time is
 * often read off another clock than the workstation's (a phone, the wall) and typed to the minute,
 * and the workstation's clock may be minutes off the hub's; 5 minutes still refuses a wrong hour,
 * day or year. (The release 865b120 fixture's critical report records its call 4 min 41 s after
 * its signature: such a report, signed before issue 7, is still delivered.)
 */
export const VERBAL_CLOCK_SKEW_MS = 5 * 60_000;
/**
 * DICOM study dates and times carry no time zone: the conversation may not be before the study's
 * date and time read in the earliest time zone on Earth (UTC+14), so no true time is ever refused.
 */
export const STUDY_TIME_ZONE_SLACK_MS = 14 * 3_600_000;
/**
 * Without a study date, the conversation may be at most this long before the signature: it
 * catches a wrong year or month (1900, last year) without blocking a report finished after a
 * weekend or a bank holiday.
 */
export const VERBAL_WITHOUT_STUDY_DATE_MS = 7 * 24 * 3_600_000;

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * An ISO 8601 date-time with its time zone ("2026-11-28T10:42:00.000Z", "2026-11-28T11:42+01:00"),
 * as an instant; null for anything else: no zone (ambiguous between the workstation and the hub),
 * an impossible day ("2026-02-30"), hour or offset, or not a date at all ("banana").
 * The editor writes UTC ("Z", from the user's local time).
 */
export function parseIsoDateTime(s: string): Date | null {
  const m = ISO_DATE_TIME.exec(s.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  const offsetMin = m[7] === 'Z' ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10]));
  if (Math.abs(offsetMin) > 14 * 60 || Number(m[10] ?? 0) > 59) return null;
  const local = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (local.getUTCFullYear() !== year || local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day
    || local.getUTCHours() !== hour || local.getUTCMinutes() !== minute || local.getUTCSeconds() !== second) return null;
  const d = new Date(s.trim());
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The earliest instant the study can have been performed: its DICOM date (and time, when given) read at UTC+14; null without a valid date. */
export function studyEarliest(exam: ExamDetails | null | undefined): Date | null {
  const date = parseDicomDate(exam?.studyDate ?? '');
  if (!date) return null;
  const { year, month, day } = date;
  const tm = /^(\d{2})(\d{2})?(\d{2})?/.exec(exam?.studyTime.trim() ?? '');
  const [h, mi, se] = tm ? [Number(tm[1]), Number(tm[2] ?? 0), Number(tm[3] ?? 0)] : [0, 0, 0];
  const t = new Date(Date.UTC(year, month - 1, day, h <= 23 ? h : 0, mi <= 59 ? mi : 0, se <= 59 ? se : 0));
  // A day that does not exist (20260230) rolls over in Date.UTC: not a date to bound a time with.
  if (t.getUTCFullYear() !== year || t.getUTCMonth() !== month - 1 || t.getUTCDate() !== day) return null;
  return new Date(t.getTime() - STUDY_TIME_ZONE_SLACK_MS);
}

/**
 * The report puts the patient on the cancer pathway: the alert code is "suspected cancer", or any
 * unexpected finding is categorised as a suspected cancer, whatever alert code was chosen (a
 * cancer finding under an "urgent" alert is urgent AND on the cancer pathway). Derived from the
 * signed content by this one function wherever it is needed (the signed view, the hub's stored
 * record and events), so the two can never disagree.
 */
export function cancerPathway(content: ReportContent): boolean {
  if (content.alertCode === 'cancer') return true;
  return content.unexpected.kind === 'findings' && content.unexpected.items.some((it) => it.category === 'cancer');
}

/** The suspected primary sites the report names (alert and findings), meaningful ones only, in order, without repeats. */
export function cancerPrimarySites(content: ReportContent): string[] {
  const sites: string[] = [];
  if (content.alertCode === 'cancer' && content.cancerPrimarySite) sites.push(content.cancerPrimarySite.trim());
  if (content.unexpected.kind === 'findings') {
    for (const it of content.unexpected.items) if (it.category === 'cancer' && it.primarySite) sites.push(it.primarySite.trim());
  }
  return [...new Set(sites.filter(isMeaningfulText))];
}

const blank = (s: string | undefined): boolean => !isMeaningfulText(s);
/** Why a field that has characters still counts as empty. */
const notWords = (s: string | undefined): string =>
  s && s.trim() !== '' ? ' (spaces, punctuation, symbols or invisible characters alone do not count as text)' : '';

function asInstant(t: string | Date | undefined): Date {
  if (t === undefined) return new Date();
  return typeof t === 'string' ? (parseIsoDateTime(t) ?? new Date(Number.NaN)) : t;
}

/** Problems with the verbal-communication record (who, role, when), or [] when it is complete and plausible. */
function verbalProblems(v: ReportContent['verbal'], context: SignOffContext): string[] {
  if (!v) return ['A critical alert needs the verbal communication recorded: clinician, role and time.'];
  const out: string[] = [];
  if (blank(v.clinician)) out.push(`Name the clinician the finding was communicated to${notWords(v.clinician)}.`);
  if (blank(v.role)) out.push(`Give the clinician's role${notWords(v.role)}.`);
  if (v.time.trim() === '') {
    out.push('Give the time of the verbal communication (the Now button records the present time).');
    return out;
  }
  const at = parseIsoDateTime(v.time);
  if (!at) {
    out.push('The time of the verbal communication is not a date and time with its time zone (e.g. 2026-11-28T10:42Z): enter it again.');
    return out;
  }
  const signedAt = asInstant(context.signedAt);
  if (!Number.isNaN(signedAt.getTime())) {
    if (at.getTime() > signedAt.getTime() + VERBAL_CLOCK_SKEW_MS) {
      out.push(`The verbal communication is recorded at ${formatDateTime(at.toISOString())}, after the report is signed: correct the time.`);
    }
  }
  const earliest = studyEarliest(context.exam);
  if (earliest) {
    if (at.getTime() < earliest.getTime()) {
      out.push(`The verbal communication is recorded at ${formatDateTime(at.toISOString())}, before the study was performed (${formatDicomDate(context.exam!.studyDate)}): correct the date.`);
    }
  } else if (!Number.isNaN(signedAt.getTime()) && at.getTime() < signedAt.getTime() - VERBAL_WITHOUT_STUDY_DATE_MS) {
    out.push(`The verbal communication is recorded at ${formatDateTime(at.toISOString())}, more than 7 days before signing, and the study has no date to check it against: correct the date.`);
  }
  return out;
}

/**
 * Every problem that stops (or should give pause to) signing this report. Empty means signable.
 * `context` adds what the content alone cannot tell (see SignOffContext).
 */
export function checkSignOff(content: ReportContent, template: Template = getTemplate(content.templateId), context: SignOffContext = {}): SignOffProblem[] {
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
      if (blank(item.text)) block('unexpected-findings', 'unexpected', `unexpected.${item.id}.text`, `Unexpected finding ${n} has no description${notWords(item.text)}.`);
      if (item.category === null) {
        block('unexpected-findings', 'unexpected', `unexpected.${item.id}.category`, `Unexpected finding ${n} has no category.`);
      } else {
        if (worstFinding === null || severityRank(item.category) > severityRank(worstFinding)) worstFinding = item.category;
        if (item.category === 'cancer' && blank(item.primarySite)) {
          block('cancer-site', 'unexpected', `unexpected.${item.id}.primarySite`, `Unexpected finding ${n} is a suspected cancer: give the suspected primary site${notWords(item.primarySite)}.`);
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

  // Rule 3: critical needs the record of the verbal communication: who (name and role are
  // meaningful text) and when (a real date-time, not after the signature, not before the study).
  // A record present under another alert code is signed too, so it is held to the same rule.
  if (alert === 'critical' || content.verbal) {
    for (const message of verbalProblems(content.verbal, context)) block('critical-verbal', 'alert', 'verbal', message);
  }

  // Rule 4: cancer needs the suspected primary site.
  if (alert === 'cancer' && blank(content.cancerPrimarySite)) {
    block('cancer-site', 'alert', 'cancerPrimarySite', `A cancer alert needs the suspected primary site${notWords(content.cancerPrimarySite)}.`);
  }

  // Rule 5: comparison is filled: priors compared, or none available.
  const c = content.comparison;
  if (c.kind === 'unset') {
    block('comparison', 'comparison', 'comparison', 'State the comparison: prior studies compared, or "no prior imaging available".');
  } else if (c.kind === 'compared' && blank(c.text)) {
    block('comparison', 'comparison', 'comparison', `Name the prior studies compared${notWords(c.text)}.`);
  } else if (c.kind === 'none-available' && (context.priorsInLibrary ?? 0) > 0 && blank(c.noPriorReason)) {
    const n = context.priorsInLibrary!;
    block('comparison', 'comparison', 'comparison.noPriorReason',
      `"No prior imaging available", but ${n} earlier ${n === 1 ? 'study' : 'studies'} of this patient ${n === 1 ? 'is' : 'are'} in the library: compare with ${n === 1 ? 'it' : 'them'}, or give the reason none can be used${notWords(c.noPriorReason)}.`);
  }

  // Rule 6: the conclusion is not empty.
  if (blank(content.fields['conclusion'])) {
    block('conclusion', 'conclusion', 'conclusion', `Write the conclusion${notWords(content.fields['conclusion'])}.`);
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
        message: `${field.label} is empty${notWords(content.fields[field.id])}.`,
      });
    }
  }
  carriedOverProblems(content, template, problems);
  return problems;
}

/**
 * Nothing is signed unseen (issue 7 line 2): text the template does not lay out blocks; text
 * carried over from the previous template is shown and signed, so the reporter is asked to check it.
 */
function carriedOverProblems(content: ReportContent, template: Template, problems: SignOffProblem[]): void {
  for (const id of hiddenFieldIds(content, template)) {
    problems.push({
      rule: 'template-field',
      severity: 'block',
      sectionId: CARRIED_SECTION_ID,
      fieldId: id,
      message: `Text written in "${id}" is not part of the ${template.title} template and would be signed unseen: reopen the report to move it to "${CARRIED_OVER_TITLE}".`,
    });
  }
  const n = (content.carriedOver ?? []).length;
  if (n > 0) {
    problems.push({
      rule: 'template-field',
      severity: 'warn',
      sectionId: CARRIED_SECTION_ID,
      fieldId: 'carriedOver',
      message: `${n === 1 ? 'One piece' : `${n} pieces`} of "${CARRIED_OVER_TITLE}" will be signed and shown with the report: check ${n === 1 ? 'it belongs' : 'they belong'} in it.`,
    });
  }
}

export function canSign(problems: readonly SignOffProblem[]): boolean {
  return !problems.some((p) => p.severity === 'block');
}
