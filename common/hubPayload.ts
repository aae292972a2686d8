// What the workstation sends the hub: one outbox row's payload, written in the same transaction
// as the signature it carries. The hub parses with these schemas and recomputes the hashes with
// `signedPayload` (common/report.ts) and `addendumSignedPayload` (below).
import { z } from 'zod';
import { Addendum, canonicalJson, ReportContent, Signature, StudyRef, type Profile } from './report.ts';

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

export const SignedReportPayload = z.object({
  kind: z.literal('report'),
  report: z.object({
    id: z.string().min(1),
    study: StudyRef,
    content: ReportContent,
    signature: Signature.extend({ meaning: z.literal('final-report') }),
    author: z.string(),
    createdAt: z.string(),
  }),
});
export type SignedReportPayload = z.infer<typeof SignedReportPayload>;

export const AddendumPayload = z.object({
  kind: z.literal('addendum'),
  reportId: z.string().min(1),
  /** contentHash of the final-report signature this addendum is attached to. */
  originalHash: Sha256Hex,
  addendum: Addendum.extend({ signature: Signature.extend({ meaning: z.literal('addendum') }) }),
});
export type AddendumPayload = z.infer<typeof AddendumPayload>;

export const OutboxPayload = z.discriminatedUnion('kind', [SignedReportPayload, AddendumPayload]);
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
