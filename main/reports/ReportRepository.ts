// The report tables (migrations 0010, 0030, 0050) as rows and as `Report`s: prepared statements,
// one transaction helper, the audit writer and the checks every writer shares (input parsing,
// study binding, taken-over copies). The life cycle, take-over and settings build on this; the
// database's triggers enforce immutability independently of it.
import crypto from 'node:crypto';
import { ContractError, type AuditEntry } from '../../common/contract.ts';
import { isSigned, stateFromSignatures, type ReportState, type Role, type SignatureMeaning } from '../../common/lifecycle.ts';
import { ExamDetails, Profile, ReportContent, StudyRef, type Addendum, type Report, type SignatureRecord } from '../../common/report.ts';
import { TEMPLATES } from '../../common/templates.ts';
import type { Db } from '../db/database.ts';
import { issueText } from '../../common/validation.ts';

export type AuditAction = AuditEntry['action'];

export interface RepositoryOptions {
  now?: () => Date;
  newId?: () => string;
  /** The exam a study is, from the DICOM index, to bind into a signature (may read files; may throw). */
  examFor?: (studyUid: string) => ExamDetails | null;
  /** The exam as the index already knows it, shown with drafts (never throws); default: examFor, null on error. */
  examShownFor?: (studyUid: string) => ExamDetails | null;
}

export interface ReportRow {
  id: string;
  patient_id: string;
  study_uid: string;
  state: ReportState;
  template_id: string;
  content: string;
  revision: number;
  author: string;
  created_at: string;
  updated_at: string;
  /** JSON ExamDetails bound at signing; null for drafts and for reports signed before 0050. */
  exam: string | null;
  /** Set on the workstation that lost this draft to a colleague (state taken-over). */
  taken_over_by: string | null;
  taken_over_at: string | null;
  /** A corrected report: the refused report it replaces (migration 0070). */
  replaces: string | null;
}

interface SignatureRow {
  seq: number;
  id: string;
  report_id: string;
  meaning: SignatureMeaning;
  signer_name: string;
  signer_role: Role;
  signer_registration: string;
  signed_at: string;
  content_hash: string;
  addendum_id: string | null;
}

interface AddendumRow {
  seq: number;
  id: string;
  report_id: string;
  original_hash: string;
  text: string;
}

export const sha256 = (text: string): string => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

export function parseContent(raw: unknown): ReportContent {
  const parsed = ReportContent.safeParse(raw);
  if (!parsed.success) {
    throw new ContractError('invalid-input', `Report content is not valid: ${issueText(parsed.error, { root: '(content)', max: 5 })}`);
  }
  if (!TEMPLATES.some((t) => t.id === parsed.data.templateId)) {
    throw new ContractError('invalid-input', `Unknown template ${parsed.data.templateId}.`);
  }
  return parsed.data;
}

export function parseStudy(study: StudyRef): StudyRef {
  const parsed = StudyRef.safeParse(study);
  if (!parsed.success) throw new ContractError('invalid-input', 'A study reference needs a patient id and a study instance UID.');
  return { patientId: parsed.data.patientId, studyUid: parsed.data.studyUid };
}

export function parseSigner(signer: Profile): Profile {
  const parsed = Profile.safeParse(signer);
  if (!parsed.success) throw new ContractError('invalid-input', 'The signer profile needs a name, a role and a registration number.');
  const { name, role, registration } = parsed.data;
  return { name, role, registration };
}

export const studyOfRow = (row: ReportRow): StudyRef => ({ patientId: row.patient_id, studyUid: row.study_uid });

const toRecord = (s: SignatureRow): SignatureRecord => ({
  id: s.id,
  reportId: s.report_id,
  addendumId: s.addendum_id,
  name: s.signer_name,
  role: s.signer_role,
  registration: s.signer_registration,
  signedAt: s.signed_at,
  meaning: s.meaning,
  contentHash: s.content_hash,
});

export class ReportRepository {
  readonly now: () => Date;
  readonly newId: () => string;
  readonly examFor: (studyUid: string) => ExamDetails | null;
  readonly examShownFor: (studyUid: string) => ExamDetails | null;
  readonly st;

  constructor(
    readonly db: Db,
    opts: RepositoryOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.newId = opts.newId ?? (() => crypto.randomUUID());
    const examFor = opts.examFor ?? (() => null);
    this.examFor = examFor;
    this.examShownFor =
      opts.examShownFor ??
      ((uid) => {
        try {
          return examFor(uid);
        } catch {
          return null;
        }
      });
    this.st = {
      report: db.prepare<[string], ReportRow>('SELECT * FROM reports WHERE id = ?'),
      list: db.prepare<[], ReportRow>('SELECT * FROM reports ORDER BY updated_at DESC, rowid DESC'),
      // Normally a study has one report. A take-over can add a second draft for a study that
      // already has a local draft under another id (kept: work is never deleted); then the
      // newest activity wins, and a live draft beats a read-only (taken-over) copy.
      newestForStudy: db.prepare<[string], ReportRow>(
        `SELECT * FROM reports WHERE study_uid = ? ORDER BY (taken_over_by IS NULL) DESC, updated_at DESC, created_at DESC, rowid DESC LIMIT 1`,
      ),
      insertCorrection: db.prepare<[string, string, string, string, string, string, string, string, string]>(
        `INSERT INTO reports (id, patient_id, study_uid, state, template_id, content, revision, author, created_at, updated_at, replaces)
         VALUES (?, ?, ?, 'draft', ?, ?, 0, ?, ?, ?, ?)`,
      ),
      correctionOf: db.prepare<[string], ReportRow>('SELECT * FROM reports WHERE replaces = ? ORDER BY created_at DESC, rowid DESC LIMIT 1'),
      replacedBy: db.prepare<[string], { id: string; signed_at: string }>(
        `SELECT r.id, min(s.signed_at) AS signed_at FROM reports r JOIN signatures s ON s.report_id = r.id AND s.addendum_id IS NULL
          WHERE r.replaces = ? GROUP BY r.id ORDER BY signed_at LIMIT 1`,
      ),
      deliveryOf: db.prepare<[string], { state: string; last_error: string | null }>(
        `SELECT state, last_error FROM outbox WHERE report_id = ? AND kind = 'report' ORDER BY id LIMIT 1`,
      ),
      insertDraft: db.prepare<[string, string, string, string, string, number, string, string, string]>(
        `INSERT INTO reports (id, patient_id, study_uid, state, template_id, content, revision, author, created_at, updated_at)
         VALUES (?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?)`,
      ),
      updateDraft: db.prepare<[string, string, number, string, string, number]>(
        `UPDATE reports SET template_id = ?, content = ?, revision = ?, updated_at = ? WHERE id = ? AND state = 'draft' AND revision = ?`,
      ),
      insertRevision: db.prepare<[string, number, string, string, string]>(
        'INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, ?, ?, ?, ?)',
      ),
      revisions: db.prepare<[string], { revision: number; saved_at: string; actor: string; content: string }>(
        'SELECT revision, saved_at, actor, content FROM report_revisions WHERE report_id = ? ORDER BY revision',
      ),
      signDraft: db.prepare<[string, string, string, string, number]>(
        `UPDATE reports SET state = ?, exam = ?, updated_at = ? WHERE id = ? AND state = 'draft' AND revision = ?`,
      ),
      setState: db.prepare<[string, string, string]>('UPDATE reports SET state = ? WHERE id = ? AND state = ?'),
      signatures: db.prepare<[string], SignatureRow>('SELECT * FROM signatures WHERE report_id = ? ORDER BY seq'),
      insertSignature: db.prepare<[string, string, string, string, string, string, string, string, string | null]>(
        `INSERT INTO signatures (id, report_id, meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertAddendum: db.prepare<[string, string, string, string, string, string, string, string, string]>(
        `INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      addenda: db.prepare<[string], AddendumRow>('SELECT seq, id, report_id, original_hash, text FROM addenda WHERE report_id = ? ORDER BY seq DESC'),
      insertAudit: db.prepare<[string, string, string, string, number | null, string]>(
        'INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      audit: db.prepare<[string], { seq: number; at: string; actor: string; action: AuditAction; report_id: string; detail: string }>(
        'SELECT seq, at, actor, action, report_id, detail FROM audit WHERE report_id = ? ORDER BY seq',
      ),
      insertOutbox: db.prepare<[string, string, string, string, string]>(
        'INSERT INTO outbox (kind, report_id, idempotency_key, payload, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
    };
  }

  iso(): string {
    return this.now().toISOString();
  }

  /** IMMEDIATE: take the write lock up front, so read-check-write cannot interleave with another connection. */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  row(reportId: string): ReportRow {
    const row = this.st.report.get(reportId);
    if (!row) throw new ContractError('not-found', `No report ${reportId}.`);
    return row;
  }

  checkBound(row: ReportRow, study: StudyRef): void {
    if (row.patient_id !== study.patientId || row.study_uid !== study.studyUid) {
      throw new ContractError(
        'wrong-study',
        `Report ${row.id} belongs to study ${row.study_uid} (patient ${row.patient_id}), not to study ${study.studyUid} (patient ${study.patientId}).`,
      );
    }
  }

  /** Save and sign refuse a draft a colleague took over; the message names the new owner. */
  refuseTakenOver(row: ReportRow): void {
    if (row.taken_over_by === null) return;
    const time = row.taken_over_at ?? 'an unknown time';
    throw new ContractError(
      'conflict',
      `This draft was taken over by ${row.taken_over_by} at ${time}; your changes were not saved. Copy anything you need and tell them.`,
    );
  }

  writeAudit(actor: string, action: AuditAction, reportId: string, revision: number | null, detail: string): void {
    this.st.insertAudit.run(this.iso(), actor, action, reportId, revision, detail);
  }

  insertSignature(reportId: string, signer: Profile, meaning: SignatureMeaning, signedAt: string, contentHash: string, addendumId: string | null = null): SignatureRecord {
    const id = this.newId();
    this.st.insertSignature.run(id, reportId, meaning, signer.name, signer.role, signer.registration, signedAt, contentHash, addendumId);
    return { id, reportId, addendumId, name: signer.name, role: signer.role, registration: signer.registration, signedAt, meaning, contentHash };
  }

  writeOutbox(kind: string, reportId: string, payload: unknown, createdAt: string): void {
    this.st.insertOutbox.run(kind, reportId, crypto.randomUUID(), JSON.stringify(payload), createdAt);
  }

  /** The exam a signature binds: the study's, from the DICOM index. Refuses when the index has none. */
  examToBind(studyUid: string): ExamDetails {
    const exam = this.examFor(studyUid);
    if (!exam) {
      throw new ContractError(
        'not-found',
        `Study ${studyUid} is not in this workstation's image index, so its exam (patient, accession, requester) cannot be bound into the signature. Open the study's images here and sign again.`,
      );
    }
    const parsed = ExamDetails.safeParse(exam);
    if (!parsed.success) throw new ContractError('internal', `The index gave exam details that are not valid for study ${studyUid}.`);
    return parsed.data;
  }

  storedExam(row: ReportRow): ExamDetails | null {
    return row.exam === null ? null : ExamDetails.parse(JSON.parse(row.exam));
  }

  load(reportId: string): Report {
    return this.toReport(this.row(reportId));
  }

  toReport(row: ReportRow): Report {
    const signatures = this.st.signatures.all(row.id).map(toRecord);
    this.checkStateMatchesSignatures(row, signatures);
    const bySignedAddendum = new Map(signatures.filter((s) => s.addendumId !== null).map((s) => [s.addendumId!, s]));
    const addenda: Addendum[] = this.st.addenda.all(row.id).map((a) => {
      const s = bySignedAddendum.get(a.id);
      if (!s) throw new ContractError('internal', `Addendum ${a.id} of report ${row.id} has no signature record.`);
      const { id: _id, reportId: _r, addendumId: _a, ...signature } = s;
      return { id: a.id, text: a.text, signature };
    });
    return {
      id: row.id,
      study: studyOfRow(row),
      exam: isSigned(row.state) ? this.storedExam(row) : this.examShownFor(row.study_uid),
      state: row.state,
      content: ReportContent.parse(JSON.parse(row.content)),
      revision: row.revision,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      author: row.author,
      signatures,
      addenda,
      takenOverBy: row.taken_over_by,
      replaces: row.replaces ?? null,
      replacedBy: this.replacedBy(row),
    };
  }

  /** The signed corrected report that replaces this one, if any. */
  private replacedBy(row: ReportRow): { reportId: string; signedAt: string } | null {
    if (!isSigned(row.state)) return null;
    const r = this.st.replacedBy.get(row.id);
    return r ? { reportId: r.id, signedAt: r.signed_at } : null;
  }

  /** The stored state is the one its signatures make (common/lifecycle.ts); anything else is refused, not shown. */
  private checkStateMatchesSignatures(row: ReportRow, signatures: readonly SignatureRecord[]): void {
    let made: ReportState | null;
    try {
      made = stateFromSignatures(signatures.map((s) => s.meaning));
    } catch {
      made = null;
    }
    const ok = isSigned(row.state) ? made === row.state : signatures.length === 0;
    if (!ok) {
      throw new ContractError(
        'internal',
        `Report ${row.id} is stored as ${row.state} but its signatures (${signatures.map((s) => s.meaning).join(', ') || 'none'}) do not make it so; it is not shown until this is resolved.`,
      );
    }
  }
}
