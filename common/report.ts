// The report model: what a reporter writes, what a signature records. Pure data + zod schemas.
import { z } from 'zod';

/** Alert categories of domain.md §2, from most to least severe. `none` means no alert. */
export const ALERT_CATEGORIES = ['critical', 'urgent', 'cancer', 'significant', 'none'] as const;
export const AlertCategory = z.enum(ALERT_CATEGORIES);
export type AlertCategory = z.infer<typeof AlertCategory>;

/** Categories a single unexpected finding can carry (a finding is never "none"). */
export const FindingCategory = z.enum(['critical', 'urgent', 'cancer', 'significant']);
export type FindingCategory = z.infer<typeof FindingCategory>;

export const ALERT_LABELS: Record<AlertCategory, string> = {
  critical: 'Critical',
  urgent: 'Urgent',
  cancer: 'Suspected cancer',
  significant: 'Significant unexpected',
  none: 'No alert',
};

/** Severity rank: higher is more severe. */
export function severityRank(c: AlertCategory): number {
  return ALERT_CATEGORIES.length - 1 - ALERT_CATEGORIES.indexOf(c);
}

const shortText = z.string().max(500);
const longText = z.string().max(100_000);

export const UnexpectedFinding = z.object({
  id: z.string().min(1).max(64),
  text: longText,
  category: FindingCategory.nullable(),
  /** Required when category is cancer. */
  primarySite: shortText.optional(),
});
export type UnexpectedFinding = z.infer<typeof UnexpectedFinding>;

/** Unexpected findings: unset (blank, never signable), an attestation of none, or a list. */
export const UnexpectedFindings = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('unset') }),
  z.object({ kind: z.literal('none') }),
  z.object({ kind: z.literal('findings'), items: z.array(UnexpectedFinding).max(50) }),
]);
export type UnexpectedFindings = z.infer<typeof UnexpectedFindings>;

export const Comparison = z.object({
  kind: z.enum(['unset', 'compared', 'none-available']),
  text: longText,
});
export type Comparison = z.infer<typeof Comparison>;

export const VerbalCommunication = z.object({
  clinician: shortText,
  role: shortText,
  /** ISO date-time of the conversation. */
  time: shortText,
});
export type VerbalCommunication = z.infer<typeof VerbalCommunication>;

/** Everything the reporter writes. Free-text fields are keyed by template field id. */
export const ReportContent = z.object({
  templateId: z.string().min(1).max(64),
  fields: z.record(z.string().max(64), longText),
  comparison: Comparison,
  unexpected: UnexpectedFindings,
  alertCode: AlertCategory.nullable(),
  cancerPrimarySite: shortText.optional(),
  verbal: VerbalCommunication.optional(),
});
export type ReportContent = z.infer<typeof ReportContent>;

export function emptyReport(templateId: string, clinicalQuestion = ''): ReportContent {
  return {
    templateId,
    fields: clinicalQuestion ? { clinicalQuestion } : {},
    comparison: { kind: 'unset', text: '' },
    unexpected: { kind: 'unset' },
    alertCode: null,
  };
}

/** The study a report is bound to: patient identity + study instance UID. */
export const StudyRef = z.object({
  patientId: z.string().max(64),
  studyUid: z.string().min(1).max(64),
});
export type StudyRef = z.infer<typeof StudyRef>;

export const Role = z.enum([
  'radiologist',
  'radiographer',
  'locum',
  'trainee',
  'trainer',
  'referrer',
  'safety-lead',
]);
export type Role = z.infer<typeof Role>;

/** The local signer profile (issue 2); the hub replaces it with a login (issue 3). */
export const Profile = z.object({
  name: z.string().trim().min(1).max(200),
  role: Role,
  registration: z.string().trim().min(1).max(64),
});
export type Profile = z.infer<typeof Profile>;

/** The meaning of an electronic signature (21 CFR 11.50). */
export const SignatureMeaning = z.enum(['final-report', 'addendum', 'provisional']);

export const Signature = z.object({
  name: z.string(),
  role: Role,
  registration: z.string(),
  signedAt: z.string(),
  meaning: SignatureMeaning,
  /** SHA-256 (hex) of the canonical signed payload. */
  contentHash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type Signature = z.infer<typeof Signature>;

export const ReportStatus = z.enum(['draft', 'signed']);

export const Addendum = z.object({
  id: z.string(),
  text: z.string(),
  signature: Signature,
});
export type Addendum = z.infer<typeof Addendum>;

export const Report = z.object({
  id: z.string(),
  study: StudyRef,
  status: ReportStatus,
  content: ReportContent,
  revision: z.number().int().nonnegative(),
  createdAt: z.string(),
  updatedAt: z.string(),
  author: z.string(),
  signature: Signature.nullable(),
  /** Newest first: addenda are shown above the original. */
  addenda: z.array(Addendum),
  /** Set when a colleague took this draft over: the local copy is read-only. */
  takenOverBy: z.string().nullable().optional(),
});
export type Report = z.infer<typeof Report>;

/** Canonical JSON: keys sorted, no whitespace. The signed hash is taken over this text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** What a final-report signature covers: the content, the study it is bound to, the signer and time. */
export function signedPayload(
  content: ReportContent,
  study: StudyRef,
  signer: Profile,
  signedAt: string,
  meaning: z.infer<typeof SignatureMeaning>,
): string {
  return canonicalJson({ content, study, signer, signedAt, meaning });
}
