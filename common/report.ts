// The report model: what a reporter writes, what a signature records. Pure data + zod schemas.
import { z } from 'zod';
import { Role, ReportState, SignatureMeaning } from './lifecycle.ts';
import { unstorableTextReason } from './text.ts';

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

/** The longest short text (a name, a role, a site, a reason): forms cap their inputs at it too. */
export const SHORT_TEXT_MAX = 500;
const shortText = z.string().max(SHORT_TEXT_MAX);
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
  /**
   * "No prior imaging available" while a prior of the same patient identity is in the library:
   * why none applies (e.g. "prior is a different body part"). Signed with the report; absent
   * otherwise (so hashes of reports signed before it existed are unchanged).
   */
  noPriorReason: shortText.optional(),
});
export type Comparison = z.infer<typeof Comparison>;

export const VerbalCommunication = z.object({
  clinician: shortText,
  role: shortText,
  /** ISO date-time of the conversation. */
  time: shortText,
});
export type VerbalCommunication = z.infer<typeof VerbalCommunication>;

/**
 * One piece of "Other text from the previous template": a field's text, labelled with the field's
 * label and the template it was written in, editable by the reporter and signed with the report.
 */
export const CarriedText = z.object({
  fieldId: z.string().min(1).max(64),
  label: shortText,
  templateId: z.string().min(1).max(64),
  templateTitle: shortText,
  text: longText,
});
export type CarriedText = z.infer<typeof CarriedText>;

/** Everything the reporter writes. Free-text fields are keyed by template field id. */
export const ReportContent = z.object({
  templateId: z.string().min(1).max(64),
  fields: z.record(z.string().max(64), longText),
  comparison: Comparison,
  unexpected: UnexpectedFindings,
  alertCode: AlertCategory.nullable(),
  cancerPrimarySite: shortText.optional(),
  verbal: VerbalCommunication.optional(),
  /**
   * "Other text from the previous template": text written in fields that the current template
   * lacks, carried over when the template was switched (common/templates.ts switchTemplate), so
   * nothing written is dropped or signed unseen. Absent when there is none (hashes of reports
   * signed before it existed are unchanged).
   */
  carriedOver: z.array(CarriedText).max(200).optional(),
});
export type ReportContent = z.infer<typeof ReportContent>;

/**
 * Every string in `value` (object keys too) can be stored as written by every store the report
 * goes to (common/text.ts): otherwise one issue naming where and why. Used on what comes in
 * (the contract's inputs, the hub's bodies), so text the hub cannot store is refused at the
 * workstation's input with a clear message and never becomes a signed record.
 */
export function refuseUnstorable(value: unknown, ctx: z.core.$RefinementCtx<unknown>, path: (string | number)[] = []): void {
  if (typeof value === 'string') {
    const why = unstorableTextReason(value);
    if (why) ctx.addIssue({ code: 'custom', path, message: `This text ${why}: remove that character and try again.`, input: value });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => refuseUnstorable(v, ctx, [...path, i]));
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const why = unstorableTextReason(k);
      if (why) ctx.addIssue({ code: 'custom', path, message: `A field name ${why}.`, input: k });
      refuseUnstorable(v, ctx, [...path, k]);
    }
  }
}

/** ReportContent as accepted at input (IPC, the hub): also storable text throughout. */
export const StorableReportContent = ReportContent.superRefine((c, ctx) => refuseUnstorable(c, ctx));

/** A string accepted at input (e.g. an addendum's text): at most `max` characters of storable text. */
export const storableString = (max: number) => z.string().max(max).superRefine((s, ctx) => refuseUnstorable(s, ctx));

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

export { Role, ReportState, SignatureMeaning } from './lifecycle.ts';

/** The local signer profile (issue 2); the hub replaces it with a login (issue 3). */
export const Profile = z.object({
  name: z.string().trim().min(1).max(200),
  role: Role,
  registration: z.string().trim().min(1).max(64),
});
export type Profile = z.infer<typeof Profile>;

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

/**
 * One electronic signature as a record of its own (stored in its own table locally and on the
 * hub, immutable): who, when, what it means, and the SHA-256 of exactly the text that was signed
 * (`signedPayload` for provisional / final-report / verification, `addendumSignedPayload` for an
 * addendum), so each can be verified alone.
 */
export const SignatureRecord = Signature.extend({
  id: z.string().min(1).max(64),
  reportId: z.string().min(1).max(64),
  /** The addendum this signature signs (meaning `addendum`), else null. */
  addendumId: z.string().min(1).max(64).nullable(),
});
export type SignatureRecord = z.infer<typeof SignatureRecord>;

/**
 * The exam a report is about, as the DICOM index knows it (issue 6 line 3). Bound into every
 * signed payload made since the life-cycle change and stored on the hub, so alerts can be
 * addressed and HL7/FHIR/SR messages written. DICOM dates stay YYYYMMDD, times HHMMSS(.frac),
 * names as written (PN with ^); '' when the file has none.
 */
export const ExamDetails = z.object({
  patientName: z.string().max(500),
  birthDate: z.string().max(32),
  sex: z.string().max(16),
  accession: z.string().max(64),
  /** Modalities in the study, joined with '\\' (e.g. "CT" or "CT\\SR"). */
  modality: z.string().max(200),
  studyDescription: z.string().max(500),
  studyDate: z.string().max(32),
  studyTime: z.string().max(32),
  /** Referring Physician's Name (0008,0090). */
  referringPhysician: z.string().max(500),
  /** Requesting Service (0032,1033), where present. */
  requestingService: z.string().max(500),
});
export type ExamDetails = z.infer<typeof ExamDetails>;

/** No requester to address an alert to: neither a referring physician nor a requesting service. */
export function requesterUnknown(exam: ExamDetails | null | undefined): boolean {
  if (!exam) return true;
  const meaningful = (s: string): boolean => s.replace(/[\s^=]/g, '').length > 0;
  return !meaningful(exam.referringPhysician) && !meaningful(exam.requestingService);
}

export const Addendum = z.object({
  id: z.string(),
  text: z.string(),
  signature: Signature,
});
export type Addendum = z.infer<typeof Addendum>;

/**
 * The fields every copy of a report carries: the workstation's (Report) and the hub's signed
 * record (common/hub.ts HubSignedReport). Written once so that the two copies of one report
 * cannot come to disagree about what a field holds.
 */
export const ReportRecordFields = {
  id: z.string(),
  study: StudyRef,
  /**
   * A signed report: the exam bound into its signatures (null only for reports signed before exams
   * were recorded, or sent by a workstation that did not yet record them). A draft: the exam as the
   * image index knows it now (null when it does not).
   */
  exam: ExamDetails.nullable(),
  /** The life-cycle state (common/lifecycle.ts); at the hub: provisional, final or appended. */
  state: ReportState,
  content: ReportContent,
  createdAt: z.string(),
  author: z.string(),
  /** Every signature on the report, oldest first (provisional, final-report or verification, addenda). */
  signatures: z.array(SignatureRecord),
};

export const Report = z.object({
  ...ReportRecordFields,
  revision: z.number().int().nonnegative(),
  updatedAt: z.string(),
  /** Newest first: addenda are shown above the original. */
  addenda: z.array(Addendum),
  /** Set when a colleague took this draft over: the local copy is read-only. */
  takenOverBy: z.string().nullable().optional(),
  /** A corrected report: the id of the report the hub refused for good that this one replaces (bound into its signature). */
  replaces: z.string().nullable().optional(),
  /** A report refused for good and replaced by a signed corrected report: that report and when it was signed. */
  replacedBy: z.object({ reportId: z.string(), signedAt: z.string() }).nullable().optional(),
  /**
   * Signed means verified: each signature that does not match the report as stored, in words
   * (the report was changed after signing). Absent or empty when every signature verifies.
   */
  tampering: z.array(z.string()).optional(),
});
export type Report = z.infer<typeof Report>;

/** Canonical JSON: keys sorted, no whitespace. The signed hash is taken over this text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  // Loops and one string rather than entries, filter, map and join: the hub computes this for every
  // record it ingests (bench/hub-ingest.bench.ts). The text is the same: keys in UTF-16 code-unit
  // order (the default sort), undefined members left out, an array's holes empty as join() made them.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (i in value ? canonicalJson(value[i]) : '');
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/**
 * What a provisional, final-report or verification signature covers: the content, the study and
 * exam it is bound to, the signer, the time and the meaning. `exam` is absent only when verifying a
 * signature made before exams were recorded (canonicalJson drops undefined keys, so those hashes
 * are unchanged). A verification also names the provisional signature it verifies.
 */
export function signedPayload(
  content: ReportContent,
  study: StudyRef,
  signer: Profile,
  signedAt: string,
  meaning: SignatureMeaning,
  exam?: ExamDetails,
  verifies?: { provisionalHash: string },
  /** A corrected report names the refused report it replaces (absent otherwise: older hashes unchanged). */
  replaces?: string,
): string {
  return canonicalJson({ content, study, exam, signer, signedAt, meaning, verifies, replaces });
}
