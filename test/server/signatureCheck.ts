// Verifies one hub signature record on its own, from what the hub database stores: the signed
// text is rebuilt from the report (content, study, exam), the signer columns, the time, the
// meaning and (verification) the provisional hash, or (addendum) the addendum's row; its SHA-256
// must be the stored content hash.
import crypto from 'node:crypto';
import { addendumSignedPayload } from '../../common/hubPayload.ts';
import { signedPayload, type ExamDetails, type ReportContent, type Role, type SignatureMeaning } from '../../common/report.ts';
import type { Queryable } from '../../server/db/adapter.ts';

export interface StoredSignature {
  id: string; report_id: string; meaning: SignatureMeaning; signer_name: string; signer_role: Role; signer_registration: string;
  signed_at: string; content_hash: string; addendum_id: string | null; verifies_hash: string | null;
}

const sha256 = (s: string): string => crypto.createHash('sha256').update(s, 'utf8').digest('hex');

/** The hash recomputed for a signature record from the stored rows (compare with its content_hash). */
export async function recomputeSignatureHash(db: Queryable, s: StoredSignature): Promise<string> {
  const signer = { name: s.signer_name, role: s.signer_role, registration: s.signer_registration };
  if (s.addendum_id !== null) {
    const { rows } = await db.query<{ report_id: string; original_hash: string; text: string }>('SELECT report_id, original_hash, text FROM addenda WHERE id = $1', [s.addendum_id]);
    const a = rows[0]!;
    return sha256(addendumSignedPayload({ reportId: a.report_id, originalHash: a.original_hash, text: a.text, signer, signedAt: s.signed_at }));
  }
  const { rows } = await db.query<{ patient_id: string; study_uid: string; content: ReportContent; exam: ExamDetails | null }>(
    'SELECT patient_id, study_uid, content, exam FROM signed_reports WHERE id = $1', [s.report_id],
  );
  const r = rows[0]!;
  return sha256(signedPayload(r.content, { patientId: r.patient_id, studyUid: r.study_uid }, signer, s.signed_at, s.meaning, r.exam ?? undefined,
    s.verifies_hash !== null ? { provisionalHash: s.verifies_hash } : undefined));
}

/** Every signature record of these reports (oldest first), each with whether it verifies alone. */
export async function checkSignatures(db: Queryable, reportIds: readonly string[]): Promise<(StoredSignature & { verifies: boolean })[]> {
  const { rows } = await db.query<StoredSignature>(
    `SELECT id, report_id, meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id, verifies_hash
       FROM signatures WHERE report_id = ANY($1::text[]) ORDER BY seq`, [[...reportIds]],
  );
  const out: (StoredSignature & { verifies: boolean })[] = [];
  for (const s of rows) out.push({ ...s, verifies: (await recomputeSignatureHash(db, s)) === s.content_hash });
  return out;
}
