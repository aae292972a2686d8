// Reading a signed report back: the report, its life-cycle state, the exam it is bound to, every
// signature record (oldest first) and its addenda (newest first), as common/hub.ts HubSignedReport.
import type { HubSignedReport } from '../common/hub.ts';
import { TRANSITIONS } from '../common/lifecycle.ts';
import type { ExamDetails, ReportContent, ReportState, Role, SignatureMeaning } from '../common/report.ts';
import { cancerPathway } from '../common/signoff.ts';
import type { Queryable } from './db/adapter.ts';

interface ReportRow {
  id: string; patient_id: string; study_uid: string; content: ReportContent; signer_name: string; signer_role: Role;
  signer_registration: string; signed_at: string; content_hash: string; author: string; created_at: string; stored_at: string;
  state: ReportState; exam: ExamDetails | null; requester_unknown: boolean;
}

interface SignatureRow {
  id: string; report_id: string; meaning: SignatureMeaning; signer_name: string; signer_role: Role; signer_registration: string;
  signed_at: string; content_hash: string; addendum_id: string | null;
}

interface AddendumRow {
  id: string; text: string; signer_name: string; signer_role: Role; signer_registration: string; signed_at: string;
  content_hash: string; stored_at: string; original_hash: string;
}

const who = (r: { signer_name: string; signer_role: Role; signer_registration: string }) =>
  ({ name: r.signer_name, role: r.signer_role, registration: r.signer_registration });

/** The signed report with this id, or null when the hub holds none. */
export async function readSignedReport(db: Queryable, reportId: string): Promise<HubSignedReport | null> {
  const { rows } = await db.query<ReportRow>(
    `SELECT id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at, content_hash, author,
            created_at, stored_at, state, exam, requester_unknown
       FROM signed_reports WHERE id = $1`,
    [reportId],
  );
  const r = rows[0];
  if (!r) return null;
  const sigs = await db.query<SignatureRow>(
      `SELECT id, report_id, meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id
         FROM signatures WHERE report_id = $1 ORDER BY seq`, [reportId]);
  const add = await db.query<AddendumRow>(
      `SELECT id, text, signer_name, signer_role, signer_registration, signed_at, content_hash, stored_at, original_hash
         FROM addenda WHERE report_id = $1 ORDER BY signed_at DESC, stored_at DESC`, [reportId]);
  const signatures = sigs.rows.map((s) => ({
    id: s.id, reportId: s.report_id, addendumId: s.addendum_id, ...who(s), signedAt: s.signed_at, meaning: s.meaning, contentHash: s.content_hash,
  }));
  // The report's own signature (final, or the trainee's provisional one) is the first record.
  const first = signatures.find((s) => s.addendumId === null);
  return {
    id: r.id,
    study: { patientId: r.patient_id, studyUid: r.study_uid },
    content: r.content,
    signature: { ...who(r), signedAt: r.signed_at, meaning: first?.meaning ?? TRANSITIONS['sign-final'].meaning, contentHash: r.content_hash },
    state: r.state,
    exam: r.exam,
    requesterUnknown: r.requester_unknown,
    cancerPathway: cancerPathway(r.content),
    signatures,
    author: r.author,
    createdAt: r.created_at,
    storedAt: r.stored_at,
    addenda: add.rows.map((a) => ({
      id: a.id, text: a.text, storedAt: a.stored_at, originalHash: a.original_hash,
      signature: { ...who(a), signedAt: a.signed_at, meaning: 'addendum' as const, contentHash: a.content_hash },
    })),
  };
}
