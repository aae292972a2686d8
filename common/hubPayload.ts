// What the workstation sends the hub: one outbox row's payload, written in the same transaction
// as the signature it carries. The hub parses with these schemas and recomputes the hashes with
// `signedPayload` (common/report.ts) and `addendumSignedPayload` (below).
import { z } from 'zod';
import { Addendum, canonicalJson, ExamDetails, Signature, storableString, StorableReportContent, StudyRef, type Profile } from './report.ts';

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

export const SignedReportPayload = z.object({
  kind: z.literal('report'),
  report: z.object({
    /** Every string the hub stores is storable text (no NUL, no lone surrogate): a 400, never a 500. */
    id: storableString(200).min(1),
    study: StudyRef,
    /** The exam, bound into the signed payload. Absent only in outbox rows written before exams were recorded. */
    exam: ExamDetails.optional(),
    /** Text the hub cannot store (NUL, a lone surrogate) is refused as invalid input (400), not a 500 retried for ever. */
    content: StorableReportContent,
    /** A final report, or a trainee's provisional report (which awaits a `verification`). */
    signature: Signature.extend({ meaning: z.enum(['final-report', 'provisional']) }),
    author: storableString(1000),
    createdAt: storableString(100),
    /** A corrected report: the id of the report the hub refused for good that it replaces; bound into the signed hash. */
    replaces: storableString(200).min(1).optional(),
  }),
});
export type SignedReportPayload = z.infer<typeof SignedReportPayload>;

export const AddendumPayload = z.object({
  kind: z.literal('addendum'),
  reportId: storableString(200).min(1),
  /** contentHash of the final-report signature this addendum is attached to. */
  originalHash: Sha256Hex,
  addendum: Addendum.extend({ text: storableString(100_000), signature: Signature.extend({ meaning: z.literal('addendum') }) }),
});
export type AddendumPayload = z.infer<typeof AddendumPayload>;

/** A trainer's verification of a provisional report the hub already holds: the report becomes final. */
export const VerificationPayload = z.object({
  kind: z.literal('verification'),
  reportId: storableString(200).min(1),
  /** contentHash of the provisional signature being verified. */
  provisionalHash: Sha256Hex,
  /** Hash: signedPayload(content, study, signer, signedAt, 'verification', exam, { provisionalHash }). */
  signature: Signature.extend({ meaning: z.literal('verification') }),
});
export type VerificationPayload = z.infer<typeof VerificationPayload>;

export const OutboxPayload = z.discriminatedUnion('kind', [SignedReportPayload, AddendumPayload, VerificationPayload]);
export type OutboxPayload = z.infer<typeof OutboxPayload>;

/** The text an addendum's SHA-256 is taken over. */
export function addendumSignedPayload(a: {
  reportId: string;
  originalHash: string;
  text: string;
  signer: Profile;
  signedAt: string;
}): string {
  const signer = { name: a.signer.name, role: a.signer.role, registration: a.signer.registration };
  return canonicalJson({ reportId: a.reportId, originalHash: a.originalHash, text: a.text, signer, signedAt: a.signedAt, meaning: 'addendum' });
}
