// What each signature record on a report covers, recomputed from the report itself, so any
// signature can be verified on its own (issue 6 line 2): the workstation hashes this text with
// node:crypto (main/reports/signatures.ts), the hub with its own SHA-256. Pure: no hashing here.
import { addendumSignedPayload } from './hubPayload.ts';
import { TRANSITIONS } from './lifecycle.ts';
import { signedPayload, type Profile, type Report, type SignatureRecord } from './report.ts';

type Signed = Pick<Report, 'id' | 'study' | 'exam' | 'content' | 'signatures' | 'addenda' | 'replaces'>;

const MAKES_FINAL = new Set<string>(Object.values(TRANSITIONS).filter((t) => t.to === 'final').map((t) => t.meaning));

/** The signature that made the report final (a final report's, or the trainer's verification); addenda name its hash. */
export function finalSignatureOf(report: Pick<Report, 'signatures'>): SignatureRecord | null {
  return report.signatures.find((s) => s.addendumId === null && MAKES_FINAL.has(s.meaning)) ?? null;
}

/** The trainee's provisional signature, if the report has one. */
export function provisionalSignatureOf(report: Pick<Report, 'signatures'>): SignatureRecord | null {
  return report.signatures.find((s) => s.meaning === TRANSITIONS['sign-provisional'].meaning) ?? null;
}

const signerOf = (r: SignatureRecord): Profile => ({ name: r.name, role: r.role, registration: r.registration });

export type SignedText = { ok: true; text: string } | { ok: false; reason: string };

/**
 * The exact text `record` claims to have signed, rebuilt from the report: the content, study, exam
 * (absent for signatures made before exams were recorded), signer, time and meaning; a verification
 * also names the provisional hash it verifies; an addendum covers its text and the final hash.
 */
export function signedTextOf(record: SignatureRecord, report: Signed): SignedText {
  if (record.reportId !== report.id) return { ok: false, reason: `signature ${record.id} belongs to report ${record.reportId}, not ${report.id}` };
  const signer = signerOf(record);
  const exam = report.exam ?? undefined;
  switch (record.meaning) {
    case 'provisional':
    case 'final-report':
      if (record.addendumId !== null) return { ok: false, reason: `a ${record.meaning} signature cannot sign an addendum` };
      return { ok: true, text: signedPayload(report.content, report.study, signer, record.signedAt, record.meaning, exam, undefined, report.replaces ?? undefined) };
    case 'verification': {
      const provisional = provisionalSignatureOf(report);
      if (!provisional) return { ok: false, reason: 'a verification needs the provisional signature it verifies' };
      const verifies = { provisionalHash: provisional.contentHash };
      return { ok: true, text: signedPayload(report.content, report.study, signer, record.signedAt, 'verification', exam, verifies) };
    }
    case 'addendum': {
      const addendum = report.addenda.find((a) => a.id === record.addendumId);
      if (!addendum) return { ok: false, reason: `addendum ${String(record.addendumId)} is not on the report` };
      const original = finalSignatureOf(report);
      if (!original) return { ok: false, reason: 'an addendum needs the final signature it is attached to' };
      return {
        ok: true,
        text: addendumSignedPayload({ reportId: report.id, originalHash: original.contentHash, text: addendum.text, signer, signedAt: record.signedAt }),
      };
    }
  }
}
