// The report tables (migrations 0010, 0030, 0050, 0080) as rows and as `Report`s: prepared
// statements, one transaction helper, the audit writer, the checks every writer shares (input
// parsing, study binding, taken-over copies) and the revision history. The life cycle, take-over
// and settings build on this; the database's triggers enforce immutability independently of it.
//
// Revision history (issue 8 finding 7: a full copy per autosave grew a database past 1 GB in a
// day). Two measures, because each bounds what the other does not:
// - Deltas bound the size of each revision, whatever the typing rate: a revision is stored as a
//   delta against the report's newest full revision (a checkpoint), one level deep, so reading any
//   revision is one checkpoint plus one delta, and a damaged delta can only ever affect itself. A
//   new checkpoint is written when the delta would exceed 1/8 of the report (or 256 characters),
//   so no revision costs more than an eighth of a full copy except the checkpoints. Every delta is
//   applied back and compared with the text before it is written: one that does not give the
//   exact text is not written; the full text is.
// - Coalescing bounds how many revisions a long draft keeps: every revision of the last hour,
//   and before that at most one per minute of typing (the last of the minute: the text as it was
//   when the minute ended; minutes without typing cost nothing). Always kept: the first revision,
//   the current one, and pinned boundaries (created, template switch, take-over). Pruning runs
//   inside the save's transaction, at most PRUNE_LIMIT rows a save (a save makes one revision,
//   so the backlog always shrinks), so it is as durable and as atomic as the save: a crash
//   loses either the whole save or nothing.
// What is never pruned: the report row (the current draft, full text), the revisions of a signed
// report (the triggers of 0050 refuse it; the signed text itself is the immutable reports row),
// the audit trail (every edit stays listed there with its revision number).
import crypto from 'node:crypto';
import { ContractError, type AuditEntry } from '../../common/contract.ts';
import { isSigned, stateFromSignatures, type ReportState, type Role, type SignatureMeaning } from '../../common/lifecycle.ts';
import { ExamDetails, Profile, ReportContent, StudyRef, type Addendum, type Report, type SignatureRecord } from '../../common/report.ts';
import { TEMPLATES } from '../../common/templates.ts';
import { auditRowHash } from '../db/auditChain.ts';
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

/** Why a revision is kept whatever the coalescing (migration 0080). */
export type RevisionPin = 'created' | 'template' | 'take-over';

/** A report_revisions row as stored: `content` is full JSON when `base` is null, else a delta against revision `base`. */
interface StoredRevision {
  revision: number;
  saved_at: string;
  actor: string;
  content: string;
  base: number | null;
  pin: RevisionPin | null;
}

/** A revision as it was saved: `content` is the report's full JSON text. */
export interface HistoryRevision {
  revision: number;
  saved_at: string;
  actor: string;
  content: string;
}

/** Every revision of the last hour is kept; before that, the last of each minute. */
export const KEEP_EVERY_REVISION_MS = 60 * 60 * 1000;
/** At most this many revisions are pruned in one save's transaction. */
export const PRUNE_LIMIT = 64;
const DELTA_MIN = 256;
const DELTA_FRACTION = 8;

/**
 * A JSON delta: `s` a string edit (keep `p` leading and `q` trailing characters, insert `t`
 * between); `o` an object's changed members (`d` members deleted, `k` the members' order when it
 * differs from the base's); `v` a value replaced whole.
 */
type Delta = { s: [number, number, string] } | { o: Record<string, Delta>; d?: string[]; k?: string[] } | { v: unknown };

const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const same = (a: unknown, b: unknown): boolean => a === b || JSON.stringify(a) === JSON.stringify(b);

function stringEdit(a: string, b: string): Delta {
  const max = Math.min(a.length, b.length);
  let p = 0;
  while (p < max && a.charCodeAt(p) === b.charCodeAt(p)) p++;
  let q = 0;
  while (q < max - p && a.charCodeAt(a.length - 1 - q) === b.charCodeAt(b.length - 1 - q)) q++;
  return { s: [p, q, b.slice(p, b.length - q)] };
}

/** The delta that makes `b` from `a`; undefined when they are the same. */
function diff(a: unknown, b: unknown): Delta | undefined {
  if (same(a, b)) return undefined;
  if (typeof a === 'string' && typeof b === 'string') return stringEdit(a, b);
  if (!isObject(a) || !isObject(b)) return { v: b };
  const o: Record<string, Delta> = {};
  for (const [key, value] of Object.entries(b)) {
    const d = Object.hasOwn(a, key) ? diff(a[key], value) : { v: value };
    if (d) o[key] = d;
  }
  const deleted = Object.keys(a).filter((key) => !Object.hasOwn(b, key));
  const order = [...Object.keys(a).filter((key) => Object.hasOwn(b, key)), ...Object.keys(b).filter((key) => !Object.hasOwn(a, key))];
  const keys = Object.keys(b);
  return { o, ...(deleted.length > 0 ? { d: deleted } : {}), ...(order.join('\u0000') === keys.join('\u0000') ? {} : { k: keys }) };
}

function applyDelta(a: unknown, d: Delta): unknown {
  if ('v' in d) return d.v;
  if ('s' in d) {
    const [p, q, t] = d.s;
    if (typeof a !== 'string' || p + q > a.length) throw new Error('a string delta does not fit its base');
    return a.slice(0, p) + t + a.slice(a.length - q);
  }
  if (!isObject(a)) throw new Error('an object delta does not fit its base');
  const deleted = new Set(d.d ?? []);
  const keys = d.k ?? [...Object.keys(a).filter((key) => !deleted.has(key)), ...Object.keys(d.o).filter((key) => !Object.hasOwn(a, key))];
  const out: Record<string, unknown> = {};
  for (const key of keys) out[key] = Object.hasOwn(d.o, key) ? applyDelta(a[key], d.o[key]!) : a[key];
  return out;
}

/** The full JSON text a stored delta makes from its base's full JSON text. */
const expand = (baseJson: string, deltaJson: string): string => JSON.stringify(applyDelta(JSON.parse(baseJson), JSON.parse(deltaJson) as Delta));

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
      /** A full, unpinned revision (a corrected report's first). */
      insertRevision: db.prepare<[string, number, string, string, string]>(
        'INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, ?, ?, ?, ?)',
      ),
      appendRevision: db.prepare<[string, number, string, string, string, number | null, RevisionPin | null]>(
        'INSERT INTO report_revisions (report_id, revision, saved_at, actor, content, base, pin) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      revisions: db.prepare<[string], StoredRevision>(
        'SELECT revision, saved_at, actor, content, base, pin FROM report_revisions WHERE report_id = ? ORDER BY revision',
      ),
      newestFull: db.prepare<[string], { revision: number; content: string }>(
        'SELECT revision, content FROM report_revisions WHERE report_id = ? AND base IS NULL ORDER BY revision DESC LIMIT 1',
      ),
      /**
       * Revisions the coalescing lets go (see the header), oldest first: before the cutoff, not
       * pinned, not first or current, not the last of their minute, and (checkpoints) no delta
       * stored against them. Only rows before `scanEnd` (cutoff + 1 minute) are read: a row that
       * can go has its successor within the same minute.
       */
      prunable: db.prepare<[{ report: string; cutoff: string; scanEnd: string; current: number; limit: number }], { revision: number; base: number | null }>(
        `SELECT revision, base FROM (
           SELECT revision, base, pin, saved_at, lead(saved_at) OVER w AS next_at, first_value(revision) OVER w AS first_revision
           FROM report_revisions WHERE report_id = @report AND saved_at < @scanEnd WINDOW w AS (ORDER BY revision)) h
         WHERE pin IS NULL AND next_at IS NOT NULL AND revision <> first_revision AND revision < @current
           AND (base IS NOT NULL OR NOT EXISTS (SELECT 1 FROM report_revisions d WHERE d.report_id = @report AND d.base = h.revision))
           AND julianday(saved_at) < julianday(@cutoff)
           AND strftime('%Y-%m-%dT%H:%M', saved_at) = strftime('%Y-%m-%dT%H:%M', next_at)
         ORDER BY revision LIMIT @limit`,
      ),
      deleteRevision: db.prepare<[string, number]>('DELETE FROM report_revisions WHERE report_id = ? AND revision = ?'),
      deleteDeltas: db.prepare<[string]>('DELETE FROM report_revisions WHERE report_id = ? AND base IS NOT NULL'),
      deleteHistory: db.prepare<[string]>('DELETE FROM report_revisions WHERE report_id = ?'),
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
      auditHead: db.prepare<[], { hash: string }>('SELECT hash FROM audit_chain_head WHERE id = 1'),
      insertAudit: db.prepare<[string, string, string, string, number | null, string, string, string]>(
        'INSERT INTO audit (at, actor, action, report_id, revision, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
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

  /**
   * Writes revision `revision` of a report whose full JSON is `json`: as a delta against the
   * report's newest full revision when that delta is small and gives back exactly `json`, else in
   * full. Call inside the writer's transaction.
   */
  appendRevision(reportId: string, revision: number, savedAt: string, actor: string, json: string, pin: RevisionPin | null = null): void {
    const checkpoint = this.st.newestFull.get(reportId);
    let base: number | null = null;
    let content = json;
    if (checkpoint && checkpoint.revision < revision) {
      const delta = diff(JSON.parse(checkpoint.content), JSON.parse(json));
      const deltaJson = JSON.stringify(delta ?? { o: {} });
      if (deltaJson.length <= Math.max(DELTA_MIN, json.length / DELTA_FRACTION) && expand(checkpoint.content, deltaJson) === json) {
        base = checkpoint.revision;
        content = deltaJson;
      }
    }
    this.st.appendRevision.run(reportId, revision, savedAt, actor, content, base, pin);
  }

  /**
   * Deletes up to PRUNE_LIMIT revisions the coalescing lets go as of `savedAt` (the save being
   * made, whose revision is `current`); returns how many. A checkpoint is deleted only once no
   * delta is stored against it (the triggers refuse otherwise). Call inside the save's transaction.
   */
  pruneHistory(reportId: string, current: number, savedAt: string): number {
    const cutoffMs = Date.parse(savedAt) - KEEP_EVERY_REVISION_MS;
    if (Number.isNaN(cutoffMs)) return 0;
    const cutoff = new Date(cutoffMs).toISOString();
    const scanEnd = new Date(cutoffMs + 60_000).toISOString();
    // A checkpoint is a candidate only once no delta is stored against it (its deltas go first, on earlier saves).
    const going = this.st.prunable.all({ report: reportId, cutoff, scanEnd, current, limit: PRUNE_LIMIT });
    for (const r of going) this.st.deleteRevision.run(reportId, r.revision);
    return going.length;
  }

  /** Deletes every revision of a draft: deltas before the checkpoints they are stored against. */
  deleteHistory(reportId: string): void {
    this.st.deleteDeltas.run(reportId);
    this.st.deleteHistory.run(reportId);
  }

  /** Every kept revision of a report with its full JSON text, oldest first. */
  history(reportId: string): HistoryRevision[] {
    const rows = this.st.revisions.all(reportId);
    const full = new Map(rows.filter((r) => r.base === null).map((r) => [r.revision, r.content]));
    const parsed = new Map<number, unknown>();
    return rows.map((r) => {
      if (r.base === null) return { revision: r.revision, saved_at: r.saved_at, actor: r.actor, content: r.content };
      const baseJson = full.get(r.base);
      if (baseJson === undefined) throw new ContractError('internal', `Revision ${r.revision} of report ${reportId} is stored against revision ${r.base}, which is missing.`);
      if (!parsed.has(r.base)) parsed.set(r.base, JSON.parse(baseJson));
      return { revision: r.revision, saved_at: r.saved_at, actor: r.actor, content: JSON.stringify(applyDelta(parsed.get(r.base), JSON.parse(r.content) as Delta)) };
    });
  }

  /**
   * Appends to the hash-chained audit trail (main/db/auditChain.ts): the head read and the row
   * written in one transaction (a savepoint inside the caller's), so no other write comes between.
   */
  writeAudit(actor: string, action: AuditAction, reportId: string, revision: number | null, detail: string): void {
    this.db.transaction(() => {
      const at = this.iso();
      const prevHash = this.st.auditHead.get()!.hash;
      const hash = auditRowHash({ prevHash, at, actor, action, reportId, revision, detail });
      this.st.insertAudit.run(at, actor, action, reportId, revision, detail, prevHash, hash);
    })();
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
