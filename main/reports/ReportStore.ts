// The local report store: crash-safe drafts with full revision history, signing, signed
// addenda, an append-only audit trail and the outbox for the hub. Every write is one SQLite
// transaction (WAL, synchronous=FULL): when a method returns, what it wrote is on disk.
// The database's triggers (migration 0010) enforce immutability independently of this class.
import crypto from 'node:crypto';
import { ContractError, type AuditEntry, type ReportListItem } from '../../common/contract.ts';
import { addendumSignedPayload, type AddendumPayload, type SignedReportPayload } from '../../common/hubPayload.ts';
import {
  Profile,
  ReportContent,
  signedPayload,
  StudyRef,
  type Addendum,
  type Report,
  type Role,
  type Signature,
} from '../../common/report.ts';
import { checkSignOff } from '../../common/signoff.ts';
import { chooseTemplate, getTemplate, newReportFor, TEMPLATES } from '../../common/templates.ts';
import type { Db } from '../db/database.ts';

export interface StudyInfo {
  patientName: string;
  description: string;
}

export interface ReportStoreOptions {
  now?: () => Date;
  newId?: () => string;
  /** Patient name and study description for the reports list. */
  studyInfo?: (studyUid: string) => StudyInfo | null;
}

export type AuditAction = AuditEntry['action'];


export interface RevisionEntry {
  revision: number;
  savedAt: string;
  content: ReportContent;
}

/** A draft taken over from a colleague through the hub, with the history the hub holds. */
export interface AdoptTakenOverInput {
  reportId: string;
  study: StudyRef;
  /** The new owner (this workstation's user). */
  author: string;
  /** The hub's revisions; numbers as given (may be sparse); the highest is the current one. */
  revisions: { revision: number; savedAt: string; content: ReportContent; author?: string }[];
  /** Who had the draft before. */
  previousOwner: string;
  /** Who took it over (audit actor). */
  actor: string;
}

/** Roles that may issue a final report or an addendum (domain.md §5). */
export const SIGNING_ROLES: readonly Role[] = ['radiologist', 'radiographer', 'locum', 'trainer'];

interface ReportRow {
  id: string;
  patient_id: string;
  study_uid: string;
  status: 'draft' | 'signed';
  template_id: string;
  content: string;
  revision: number;
  author: string;
  created_at: string;
  updated_at: string;
  signer_name: string | null;
  signer_role: string | null;
  signer_registration: string | null;
  signed_at: string | null;
  signature_meaning: string | null;
  content_hash: string | null;
  /** Migration 0030: set when a colleague took this draft over (the local copy is read-only). */
  taken_over_by: string | null;
  taken_over_at: string | null;
}

interface AddendumRow {
  seq: number;
  id: string;
  report_id: string;
  original_hash: string;
  text: string;
  signer_name: string;
  signer_role: string;
  signer_registration: string;
  signed_at: string;
  content_hash: string;
}


const sha256 = (text: string): string => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

function sameStudy(a: StudyRef, b: StudyRef): boolean {
  return a.patientId === b.patientId && a.studyUid === b.studyUid;
}

function parseContent(raw: unknown): ReportContent {
  const parsed = ReportContent.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(content)'}: ${i.message}`).join('; ');
    throw new ContractError('invalid-input', `Report content is not valid: ${detail}`);
  }
  if (!TEMPLATES.some((t) => t.id === parsed.data.templateId)) {
    throw new ContractError('invalid-input', `Unknown template ${parsed.data.templateId}.`);
  }
  return parsed.data;
}

function parseSigner(signer: Profile): Profile {
  const parsed = Profile.safeParse(signer);
  if (!parsed.success) throw new ContractError('invalid-input', 'The signer profile needs a name, a role and a registration number.');
  const p = parsed.data;
  if (p.role === 'trainee') {
    throw new ContractError('forbidden', 'A trainee cannot issue a final report or an addendum alone; a trainer or radiologist must verify and sign it.');
  }
  if (!SIGNING_ROLES.includes(p.role)) {
    throw new ContractError('forbidden', `The role "${p.role}" may not sign reports.`);
  }
  return { name: p.name, role: p.role, registration: p.registration };
}

export class ReportStore {
  private readonly now: () => Date;
  private readonly newId: () => string;
  private readonly studyInfo: ((studyUid: string) => StudyInfo | null) | undefined;
  private readonly st;

  constructor(
    private readonly db: Db,
    opts: ReportStoreOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.newId = opts.newId ?? (() => crypto.randomUUID());
    this.studyInfo = opts.studyInfo;
    this.st = {
      getProfile: db.prepare<[], { name: string; role: string; registration: string }>('SELECT name, role, registration FROM profile WHERE id = 1'),
      setProfile: db.prepare<[string, string, string, string]>(
        `INSERT INTO profile (id, name, role, registration, updated_at) VALUES (1, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, registration = excluded.registration, updated_at = excluded.updated_at`,
      ),
      report: db.prepare<[string], ReportRow>('SELECT * FROM reports WHERE id = ?'),
      insertReport: db.prepare<[string, string, string, string, string, string, string, string]>(
        `INSERT INTO reports (id, patient_id, study_uid, status, template_id, content, revision, author, created_at, updated_at)
         VALUES (?, ?, ?, 'draft', ?, ?, 0, ?, ?, ?)`,
      ),
      updateDraft: db.prepare<[string, string, number, string, string, number]>(
        `UPDATE reports SET template_id = ?, content = ?, revision = ?, updated_at = ? WHERE id = ? AND status = 'draft' AND revision = ?`,
      ),
      insertRevision: db.prepare<[string, number, string, string, string]>(
        'INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, ?, ?, ?, ?)',
      ),
      revisions: db.prepare<[string], { revision: number; saved_at: string; content: string }>(
        'SELECT revision, saved_at, content FROM report_revisions WHERE report_id = ? ORDER BY revision',
      ),
      sign: db.prepare<[string, string, string, string, string, string, string, number]>(
        `UPDATE reports SET status = 'signed', signer_name = ?, signer_role = ?, signer_registration = ?, signed_at = ?,
           signature_meaning = 'final-report', content_hash = ?, updated_at = ?
         WHERE id = ? AND status = 'draft' AND revision = ?`,
      ),
      addenda: db.prepare<[string], AddendumRow>('SELECT * FROM addenda WHERE report_id = ? ORDER BY seq DESC'),
      insertAddendum: db.prepare<[string, string, string, string, string, string, string, string, string]>(
        `INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertAudit: db.prepare<[string, string, string, string, number | null, string]>(
        'INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      audit: db.prepare<[string], { seq: number; at: string; actor: string; action: AuditAction; report_id: string; detail: string }>(
        'SELECT seq, at, actor, action, report_id, detail FROM audit WHERE report_id = ? ORDER BY seq',
      ),
      list: db.prepare<[], ReportRow>('SELECT * FROM reports ORDER BY updated_at DESC, rowid DESC'),
      insertOutbox: db.prepare<[string, string, string, string, string]>(
        'INSERT INTO outbox (kind, report_id, idempotency_key, payload, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      // ---- take-over (migration 0030) ----
      // Normally a study has one report. A take-over can add a second draft for a study that
      // already has a local draft under another id (kept: work is never deleted); then the
      // newest activity wins, and a live draft beats a read-only (taken-over) copy.
      newestForStudy: db.prepare<[string], ReportRow>(
        `SELECT * FROM reports WHERE study_uid = ? ORDER BY (taken_over_by IS NULL) DESC, updated_at DESC, created_at DESC, rowid DESC LIMIT 1`,
      ),
      markTakenOver: db.prepare<[string, string, string]>(
        `UPDATE reports SET taken_over_by = ?, taken_over_at = ? WHERE id = ? AND status = 'draft'`,
      ),
      insertAdopted: db.prepare<[string, string, string, string, string, number, string, string, string]>(
        `INSERT INTO reports (id, patient_id, study_uid, status, template_id, content, revision, author, created_at, updated_at)
         VALUES (?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?)`,
      ),
      replaceDraft: db.prepare<[string, string, number, string, string, string]>(
        `UPDATE reports SET template_id = ?, content = ?, revision = ?, author = ?, updated_at = ?, taken_over_by = NULL, taken_over_at = NULL
         WHERE id = ? AND status = 'draft'`,
      ),
      deleteDraftRevisions: db.prepare<[string]>('DELETE FROM report_revisions WHERE report_id = ?'),
      revisionRows: db.prepare<[string], { revision: number; saved_at: string; actor: string; content: string }>(
        'SELECT revision, saved_at, actor, content FROM report_revisions WHERE report_id = ? ORDER BY revision',
      ),
      getSetting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?'),
      setSetting: db.prepare<[string, string]>(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      deleteSetting: db.prepare<[string]>('DELETE FROM settings WHERE key = ?'),
    };
  }

  // ---- profile ------------------------------------------------------------------------------

  getProfile(): Profile | null {
    const row = this.st.getProfile.get();
    if (!row) return null;
    const parsed = Profile.safeParse(row);
    return parsed.success ? parsed.data : null;
  }

  setProfile(p: Profile): Profile {
    const parsed = Profile.safeParse(p);
    if (!parsed.success) throw new ContractError('invalid-input', 'A profile needs a name, a role and a registration number.');
    const { name, role, registration } = parsed.data;
    this.st.setProfile.run(name, role, registration, this.iso());
    return { name, role, registration };
  }

  // ---- drafts -------------------------------------------------------------------------------

  /**
   * The newest report for the study, else a new draft from the template chosen for the study.
   * `templateId` switches a draft's template (keeping what was written); it is ignored for a
   * signed report, which never changes.
   */
  open(study: StudyRef, opts: { actor: string; modality: string; description: string; templateId?: string }): Report {
    const ref = this.parseStudy(study);
    if (opts.templateId !== undefined && !TEMPLATES.some((t) => t.id === opts.templateId)) {
      throw new ContractError('invalid-input', `Unknown template ${opts.templateId}.`);
    }
    const id = this.tx(() => {
      const existing = this.st.newestForStudy.get(ref.studyUid);
      if (existing) {
        if (existing.patient_id !== ref.patientId) {
          throw new ContractError('wrong-study', `Study ${ref.studyUid} is bound to patient ${existing.patient_id}, not ${ref.patientId}.`);
        }
        if (existing.status === 'signed') {
          this.writeAudit(opts.actor, 'view-signed', existing.id, null, '');
        } else if (opts.templateId !== undefined && opts.templateId !== existing.template_id && existing.taken_over_by === null) {
          this.switchTemplate(existing, opts.templateId, opts.actor);
        }
        return existing.id;
      }
      const template = opts.templateId !== undefined ? getTemplate(opts.templateId) : chooseTemplate(opts.modality, opts.description);
      const content = newReportFor(template);
      const newId = this.newId();
      const at = this.iso();
      const json = JSON.stringify(content);
      this.st.insertReport.run(newId, ref.patientId, ref.studyUid, template.id, json, opts.actor, at, at);
      this.st.insertRevision.run(newId, 0, at, opts.actor, json);
      this.writeAudit(opts.actor, 'create', newId, 0, `template ${template.id}`);
      return newId;
    });
    return this.load(id);
  }

  /** A report by id; opening a signed report is audited (view-signed). */
  get(reportId: string, actor: string): Report {
    const report = this.load(reportId);
    if (report.status === 'signed') this.tx(() => this.writeAudit(actor, 'view-signed', reportId, null, ''));
    return report;
  }

  /** The report if it is still a draft, else null; reads nothing into the audit trail. */
  draftFor(reportId: string): Report | null {
    const report = this.load(reportId);
    return report.status === 'draft' ? report : null;
  }

  /** Saves a new revision of a draft. `baseRevision` must be the current revision. */
  save(reportId: string, study: StudyRef, content: ReportContent, baseRevision: number, actor: string): { revision: number; savedAt: string } {
    const ref = this.parseStudy(study);
    const next = parseContent(content);
    if (!Number.isInteger(baseRevision) || baseRevision < 0) throw new ContractError('invalid-input', 'baseRevision must be a non-negative integer.');
    return this.tx(() => {
      const row = this.row(reportId);
      this.checkBound(row, ref);
      if (row.status === 'signed') throw new ContractError('conflict', 'signed reports are immutable; add an addendum');
      this.refuseTakenOver(row);
      if (row.revision !== baseRevision) {
        throw new ContractError('conflict', `The report changed elsewhere: it is at revision ${row.revision}, this edit was based on ${baseRevision}. Reload it.`);
      }
      const revision = baseRevision + 1;
      const savedAt = this.iso();
      const json = JSON.stringify(next);
      const changed = this.st.updateDraft.run(next.templateId, json, revision, savedAt, reportId, baseRevision).changes;
      if (changed !== 1) throw new ContractError('conflict', 'The report changed while saving. Reload it.');
      this.st.insertRevision.run(reportId, revision, savedAt, actor, json);
      this.writeAudit(actor, 'edit', reportId, revision, `revision ${revision}`);
      if (next.templateId !== row.template_id) {
        this.writeAudit(actor, 'template-change', reportId, revision, `${row.template_id} → ${next.templateId}`);
      }
      return { revision, savedAt };
    });
  }

  /** Every report, most recently changed first. */
  list(filter: { status?: 'draft' | 'signed' } = {}): ReportListItem[] {
    return this.st
      .list.all()
      .filter((r) => filter.status === undefined || r.status === filter.status)
      .map((r) => {
        const info = this.studyInfo?.(r.study_uid) ?? null;
        return {
          id: r.id,
          study: { patientId: r.patient_id, studyUid: r.study_uid },
          status: r.status,
          author: r.author,
          updatedAt: r.updated_at,
          patientName: info?.patientName ?? '',
          studyDescription: info?.description ?? '',
        };
      });
  }

  /** Every saved revision, oldest first (revision 0 is the draft as created). */
  revisions(reportId: string): RevisionEntry[] {
    this.row(reportId);
    return this.st.revisions.all(reportId).map((r) => ({
      revision: r.revision,
      savedAt: r.saved_at,
      content: ReportContent.parse(JSON.parse(r.content)),
    }));
  }

  // ---- signing ------------------------------------------------------------------------------

  /**
   * Signs the report as final. The study must be the one the report is bound to, `revision` the
   * latest saved revision, the content free of blocking sign-off problems, and the signer
   * allowed to sign. The signature, the audit entry and the outbox row commit together.
   */
  sign(reportId: string, study: StudyRef, revision: number, signer: Profile): Report {
    const ref = this.parseStudy(study);
    const who = parseSigner(signer);
    this.tx(() => {
      const row = this.row(reportId);
      this.checkBound(row, ref);
      if (row.status === 'signed') throw new ContractError('conflict', 'This report is already signed; add an addendum.');
      this.refuseTakenOver(row);
      if (row.revision !== revision) {
        throw new ContractError('conflict', `You are signing revision ${revision} but the latest saved revision is ${row.revision}. Review the latest version and sign again.`);
      }
      const content = ReportContent.parse(JSON.parse(row.content));
      const blocking = checkSignOff(content).filter((p) => p.severity === 'block');
      if (blocking.length > 0) {
        throw new ContractError('unsigned-problems', `The report cannot be signed yet: ${blocking.map((p) => `[${p.sectionId}] ${p.message}`).join(' ')}`);
      }
      const boundStudy = { patientId: row.patient_id, studyUid: row.study_uid };
      const signedAt = this.iso();
      const contentHash = sha256(signedPayload(content, boundStudy, who, signedAt, 'final-report'));
      const changed = this.st.sign.run(who.name, who.role, who.registration, signedAt, contentHash, signedAt, reportId, revision).changes;
      if (changed !== 1) throw new ContractError('conflict', 'The report changed while signing. Reload it.');
      this.writeAudit(who.name, 'sign', reportId, revision, `revision ${revision}; sha256 ${contentHash}`);
      const signature: Signature = { ...who, signedAt, meaning: 'final-report', contentHash };
      const payload: SignedReportPayload = {
        kind: 'report',
        report: { id: reportId, study: boundStudy, content, signature: { ...signature, meaning: 'final-report' }, author: row.author, createdAt: row.created_at },
      };
      this.st.insertOutbox.run('report', reportId, crypto.randomUUID(), JSON.stringify(payload), signedAt);
    });
    return this.load(reportId);
  }

  /** Adds a signed addendum to a signed report; the original is never altered. */
  addendum(reportId: string, text: string, signer: Profile): Addendum {
    const who = parseSigner(signer);
    const body = typeof text === 'string' ? text.trim() : '';
    if (body === '') throw new ContractError('invalid-input', 'An addendum needs text.');
    if (body.length > 100_000) throw new ContractError('invalid-input', 'An addendum is limited to 100,000 characters.');
    return this.tx(() => {
      const row = this.row(reportId);
      if (row.status !== 'signed' || row.content_hash === null) {
        throw new ContractError('conflict', 'Addenda are added to signed reports; this report is still a draft, edit it instead.');
      }
      const originalHash = row.content_hash;
      const signedAt = this.iso();
      const contentHash = sha256(addendumSignedPayload({ reportId, originalHash, text: body, signer: who, signedAt }));
      const id = this.newId();
      this.st.insertAddendum.run(id, reportId, originalHash, body, who.name, who.role, who.registration, signedAt, contentHash);
      this.writeAudit(who.name, 'addendum', reportId, null, `addendum ${id}; sha256 ${contentHash}`);
      const addendum = { id, text: body, signature: { ...who, signedAt, meaning: 'addendum' as const, contentHash } };
      const payload: AddendumPayload = { kind: 'addendum', reportId, originalHash, addendum };
      this.st.insertOutbox.run('addendum', reportId, crypto.randomUUID(), JSON.stringify(payload), signedAt);
      return addendum;
    });
  }

  // ---- take-over (issue 3, domain.md §6) -----------------------------------------------------

  /**
   * A colleague took this local draft over at the hub: the local copy becomes read-only (save and
   * sign are refused with a message naming the new owner) and the audit records it ('taken-over').
   * Idempotent: repeating it for the same owner changes nothing. A signed report cannot be taken
   * over (ContractError 'conflict'); an unknown id is 'not-found'.
   */
  markTakenOver(reportId: string, newOwner: string, atIso?: string): Report {
    const owner = typeof newOwner === 'string' ? newOwner.trim() : '';
    if (owner === '') throw new ContractError('invalid-input', 'markTakenOver needs the name of the new owner.');
    if (atIso !== undefined && Number.isNaN(Date.parse(atIso))) throw new ContractError('invalid-input', `Not an ISO date-time: ${atIso}.`);
    this.tx(() => {
      const row = this.row(reportId);
      if (row.status === 'signed') {
        throw new ContractError('conflict', `Report ${reportId} is signed; a signed report cannot be taken over.`);
      }
      if (row.taken_over_by === owner) return;
      const at = atIso ?? this.iso();
      if (this.st.markTakenOver.run(owner, at, reportId).changes !== 1) throw new ContractError('conflict', 'The report changed while marking it taken over. Reload it.');
      this.writeAudit(owner, 'taken-over', reportId, row.revision, `taken over by ${owner} at ${at}; this copy is read-only (last local revision ${row.revision})`);
    });
    return this.load(reportId);
  }

  /**
   * This workstation took a colleague's draft over through the hub: the draft becomes a local
   * draft owned by `author`, with the hub's revision history (numbers as given, possibly sparse;
   * the current revision is the highest, so the next save is based on it). Audited 'take-over'
   * naming the previous owner; any taken-over mark on it is cleared.
   *
   * - A local draft with the same id (e.g. this workstation had it before) is replaced by the
   *   hub's state. Its local revisions are replaced by the hub's history; any local revision the
   *   hub does not hold identically is written in full into the 'take-over' audit entry, so
   *   nothing typed here is lost.
   * - A local DRAFT for the same study under a DIFFERENT id is kept as it is (work is never
   *   deleted); `open(study)` then returns the adopted draft, because it has the newest activity.
   * - A locally signed report with this id cannot be replaced (ContractError 'conflict').
   */
  adoptTakenOver(input: AdoptTakenOverInput): Report {
    const ref = this.parseStudy(input.study);
    const reportId = typeof input.reportId === 'string' ? input.reportId : '';
    if (reportId === '' || reportId.length > 64) throw new ContractError('invalid-input', 'adoptTakenOver needs a report id (at most 64 characters).');
    const author = typeof input.author === 'string' ? input.author.trim() : '';
    const previousOwner = typeof input.previousOwner === 'string' ? input.previousOwner.trim() : '';
    const actor = typeof input.actor === 'string' ? input.actor.trim() : '';
    if (author === '' || previousOwner === '' || actor === '') {
      throw new ContractError('invalid-input', 'adoptTakenOver needs the new owner, the previous owner and the actor.');
    }
    if (!Array.isArray(input.revisions) || input.revisions.length === 0) {
      throw new ContractError('invalid-input', 'A taken-over draft needs at least one revision from the hub.');
    }
    const seen = new Set<number>();
    const revisions = input.revisions
      .map((r) => {
        if (!Number.isInteger(r.revision) || r.revision < 0) throw new ContractError('invalid-input', `Revision numbers must be non-negative integers (got ${String(r.revision)}).`);
        if (seen.has(r.revision)) throw new ContractError('invalid-input', `Revision ${r.revision} appears twice in the hub history.`);
        seen.add(r.revision);
        if (typeof r.savedAt !== 'string' || Number.isNaN(Date.parse(r.savedAt))) {
          throw new ContractError('invalid-input', `Revision ${r.revision} has no valid savedAt time.`);
        }
        const by = typeof r.author === 'string' && r.author.trim() !== '' ? r.author.trim() : previousOwner;
        return { revision: r.revision, savedAt: r.savedAt, content: parseContent(r.content), author: by };
      })
      .sort((a, b) => a.revision - b.revision);
    const current = revisions[revisions.length - 1]!;
    const first = revisions[0]!;

    this.tx(() => {
      const existing = this.st.report.get(reportId);
      const other = this.st.newestForStudy.get(ref.studyUid);
      if (other && other.patient_id !== ref.patientId) {
        throw new ContractError('wrong-study', `Study ${ref.studyUid} is bound to patient ${other.patient_id}, not ${ref.patientId}.`);
      }
      const at = this.iso();
      const currentJson = JSON.stringify(current.content);
      let superseded: { revision: number; savedAt: string; actor: string; content: unknown }[] = [];
      if (existing) {
        this.checkBound(existing, ref);
        if (existing.status === 'signed') {
          throw new ContractError('conflict', `Report ${reportId} is signed on this workstation; a signed report cannot be taken over. Add an addendum instead.`);
        }
        const hubByRevision = new Map(revisions.map((r) => [r.revision, JSON.stringify(r.content)]));
        superseded = this.st.revisionRows
          .all(reportId)
          .filter((l) => hubByRevision.get(l.revision) !== JSON.stringify(parseContent(JSON.parse(l.content))))
          .map((l) => ({ revision: l.revision, savedAt: l.saved_at, actor: l.actor, content: JSON.parse(l.content) as unknown }));
        this.st.deleteDraftRevisions.run(reportId);
        if (this.st.replaceDraft.run(current.content.templateId, currentJson, current.revision, author, at, reportId).changes !== 1) {
          throw new ContractError('conflict', 'The report changed while taking it over. Reload it.');
        }
      } else {
        const createdAt = first.savedAt;
        this.st.insertAdopted.run(reportId, ref.patientId, ref.studyUid, current.content.templateId, currentJson, current.revision, author, createdAt, at);
      }
      for (const r of revisions) this.st.insertRevision.run(reportId, r.revision, r.savedAt, r.author, JSON.stringify(r.content));
      const numbers = revisions.map((r) => r.revision).join(', ');
      let detail = `taken over from ${previousOwner}; now owned by ${author}; revisions ${numbers} from the hub; current revision ${current.revision}`;
      if (superseded.length > 0) detail += `; local revisions replaced (kept here in full): ${JSON.stringify(superseded)}`;
      this.writeAudit(actor, 'take-over', reportId, current.revision, detail);
    });
    return this.load(reportId);
  }

  // ---- settings -----------------------------------------------------------------------------

  /** A stored setting (e.g. the hub session), or null. */
  getSetting(key: string): string | null {
    return this.st.getSetting.get(key)?.value ?? null;
  }

  /** Stores a setting; null removes it. */
  setSetting(key: string, value: string | null): void {
    if (typeof key !== 'string' || key === '') throw new ContractError('invalid-input', 'A setting needs a key.');
    if (value === null) this.st.deleteSetting.run(key);
    else if (typeof value === 'string') this.st.setSetting.run(key, value);
    else throw new ContractError('invalid-input', `Setting ${key}: the value must be a string or null.`);
  }

  // ---- audit --------------------------------------------------------------------------------

  /** The report's audit trail, oldest first. */
  audit(reportId: string): AuditEntry[] {
    this.row(reportId);
    return this.st.audit.all(reportId).map((a) => ({ seq: a.seq, at: a.at, actor: a.actor, action: a.action, reportId: a.report_id, detail: a.detail }));
  }

  // ---- internals ----------------------------------------------------------------------------

  private iso(): string {
    return this.now().toISOString();
  }

  private tx<T>(fn: () => T): T {
    // IMMEDIATE: take the write lock up front, so read-check-write cannot interleave with another connection.
    return this.db.transaction(fn).immediate();
  }

  private parseStudy(study: StudyRef): StudyRef {
    const parsed = StudyRef.safeParse(study);
    if (!parsed.success) throw new ContractError('invalid-input', 'A study reference needs a patient id and a study instance UID.');
    return { patientId: parsed.data.patientId, studyUid: parsed.data.studyUid };
  }

  private row(reportId: string): ReportRow {
    const row = this.st.report.get(reportId);
    if (!row) throw new ContractError('not-found', `No report ${reportId}.`);
    return row;
  }

  private checkBound(row: ReportRow, study: StudyRef): void {
    if (!sameStudy({ patientId: row.patient_id, studyUid: row.study_uid }, study)) {
      throw new ContractError(
        'wrong-study',
        `Report ${row.id} belongs to study ${row.study_uid} (patient ${row.patient_id}), not to study ${study.studyUid} (patient ${study.patientId}).`,
      );
    }
  }

  /** Save and sign refuse a draft a colleague took over; the message names the new owner. */
  private refuseTakenOver(row: ReportRow): void {
    if (row.taken_over_by === null) return;
    const time = row.taken_over_at ?? 'an unknown time';
    throw new ContractError(
      'conflict',
      `This draft was taken over by ${row.taken_over_by} at ${time}; your changes were not saved. Copy anything you need and tell them.`,
    );
  }

  private writeAudit(actor: string, action: AuditAction, reportId: string, revision: number | null, detail: string): void {
    this.st.insertAudit.run(this.iso(), actor, action, reportId, revision, detail);
  }

  private switchTemplate(row: ReportRow, templateId: string, actor: string): void {
    const old = ReportContent.parse(JSON.parse(row.content));
    const fresh = newReportFor(getTemplate(templateId));
    // Keep everything written; fill the new template's defaults only where nothing was written.
    const fields = { ...fresh.fields };
    for (const [k, v] of Object.entries(old.fields)) if (v.trim() !== '' || fields[k] === undefined) fields[k] = v;
    const content: ReportContent = { ...old, templateId, fields };
    const revision = row.revision + 1;
    const at = this.iso();
    const json = JSON.stringify(content);
    if (this.st.updateDraft.run(templateId, json, revision, at, row.id, row.revision).changes !== 1) {
      throw new ContractError('conflict', 'The report changed while switching template. Reload it.');
    }
    this.st.insertRevision.run(row.id, revision, at, actor, json);
    this.writeAudit(actor, 'template-change', row.id, revision, `${row.template_id} → ${templateId}`);
  }

  private load(reportId: string): Report {
    const row = this.row(reportId);
    const signature: Signature | null =
      row.status === 'signed'
        ? {
            name: row.signer_name ?? '',
            role: row.signer_role as Role,
            registration: row.signer_registration ?? '',
            signedAt: row.signed_at ?? '',
            meaning: 'final-report',
            contentHash: row.content_hash ?? '',
          }
        : null;
    const addenda: Addendum[] = this.st.addenda.all(reportId).map((a) => ({
      id: a.id,
      text: a.text,
      signature: {
        name: a.signer_name,
        role: a.signer_role as Role,
        registration: a.signer_registration,
        signedAt: a.signed_at,
        meaning: 'addendum',
        contentHash: a.content_hash,
      },
    }));
    return {
      id: row.id,
      study: { patientId: row.patient_id, studyUid: row.study_uid },
      status: row.status,
      content: ReportContent.parse(JSON.parse(row.content)),
      revision: row.revision,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      author: row.author,
      signature,
      addenda,
      takenOverBy: row.taken_over_by,
    };
  }
}

