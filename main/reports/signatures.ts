// Verifies signature records on their own: recompute the SHA-256 of what each claims to have
// signed (common/signatures.ts rebuilds that text from the report) and compare. Signed means
// verified (issue 8, finding 2): a signed report is checked each time it is read for display
// (Drafts.get, `tampering` on the report) and each outbox row before it is sent (outboxTampering):
// the row's own hash, the immutable signature record's hash and the report as stored must agree,
// so an edit that recomputes one hash still disagrees with the others.
import { addendumSignedPayload, OutboxPayload } from '../../common/hubPayload.ts';
import { signedPayload, type Report, type SignatureRecord } from '../../common/report.ts';
import { signedTextOf } from '../../common/signatures.ts';
import { sha256 } from './ReportRepository.ts';

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

export function verifySignature(record: SignatureRecord, report: Report): SignatureCheck {
  const text = signedTextOf(record, report);
  if (!text.ok) return text;
  const hash = sha256(text.text);
  if (hash === record.contentHash) return { ok: true };
  return {
    ok: false,
    reason: `The ${record.meaning} signature by ${record.name} (${record.signedAt}) does not match the report as it is now: it signed sha256 ${record.contentHash}, the report gives ${hash}.`,
  };
}

/** Every signature of the report that does not verify, in words (empty: all verify). */
export function tamperingOf(report: Report): string[] {
  return report.signatures.flatMap((s) => {
    const c = verifySignature(s, report);
    return c.ok ? [] : [c.reason];
  });
}

/**
 * Why an outbox row must not be sent, or null when it may: its payload must parse, hash to the
 * hash it carries, carry the hash of the signature record it stands for, and that report (as
 * stored here) must verify against all its signatures.
 */
export function outboxTampering(payloadJson: string, report: Report): string | null {
  let payload: OutboxPayload;
  try {
    payload = OutboxPayload.parse(JSON.parse(payloadJson));
  } catch {
    return 'its stored payload is not a signed record any more';
  }
  const records = report.signatures;
  let claimed: string;
  let record: SignatureRecord | undefined;
  if (payload.kind === 'report') {
    const r = payload.report;
    const sig = r.signature;
    claimed = sig.contentHash;
    const own = sha256(signedPayload(r.content, r.study, { name: sig.name, role: sig.role, registration: sig.registration }, sig.signedAt, sig.meaning, r.exam, undefined, r.replaces));
    if (own !== claimed) return `the report it carries does not match its own signature hash (sha256 ${claimed}; its content gives ${own})`;
    if (r.id !== report.id) return `it carries report ${r.id}, not ${report.id}`;
    record = records.find((s) => s.addendumId === null && s.meaning === sig.meaning);
  } else if (payload.kind === 'addendum') {
    const a = payload.addendum;
    claimed = a.signature.contentHash;
    const own = sha256(addendumSignedPayload({
      reportId: payload.reportId, originalHash: payload.originalHash, text: a.text,
      signer: { name: a.signature.name, role: a.signature.role, registration: a.signature.registration }, signedAt: a.signature.signedAt,
    }));
    if (own !== claimed) return `the addendum it carries does not match its own signature hash (sha256 ${claimed}; its text gives ${own})`;
    record = records.find((s) => s.addendumId === a.id);
  } else {
    claimed = payload.signature.contentHash;
    record = records.find((s) => s.meaning === 'verification');
  }
  if (payload.kind !== 'report' && payload.reportId !== report.id) return `it carries a record of report ${payload.reportId}, not ${report.id}`;
  if (!record) return `no ${payload.kind} signature of report ${report.id} is on record here`;
  if (record.contentHash !== claimed) return `its hash (sha256 ${claimed}) is not the one on the signature record (sha256 ${record.contentHash})`;
  const problems = tamperingOf(report);
  return problems.length > 0 ? `the report as stored here does not match its signatures: ${problems.join(' ')}` : null;
}
