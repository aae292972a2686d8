// Take-over of unfinished drafts through the hub (issue 3, domain.md §6), on the life cycle:
// a colleague's take-over makes the local draft a read-only `taken-over` copy; this workstation
// taking a draft over makes it a live local `draft` (an `adopt` when it was a taken-over copy).
// Signed reports are never taken over.
import { ContractError } from '../../common/contract.ts';
import { checkTransitionFrom, isSigned, type Transition } from '../../common/lifecycle.ts';
import type { Report, ReportContent, StudyRef } from '../../common/report.ts';
import { parseContent, parseStudy, type ReportRepository, type ReportRow } from './ReportRepository.ts';

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

const trimmed = (s: unknown): string => (typeof s === 'string' ? s.trim() : '');

export class TakeOver {
  private readonly st;

  constructor(private readonly repo: ReportRepository) {
    const db = repo.db;
    this.st = {
      markTakenOver: db.prepare<[string, string, string, string, string]>(
        `UPDATE reports SET state = ?, taken_over_by = ?, taken_over_at = ? WHERE id = ? AND state = ?`,
      ),
      replaceDraft: db.prepare<[string, string, number, string, string, string, string]>(
        `UPDATE reports SET state = 'draft', template_id = ?, content = ?, revision = ?, author = ?, updated_at = ?, taken_over_by = NULL, taken_over_at = NULL
         WHERE id = ? AND state = ?`,
      ),
    };
  }

  /**
   * A colleague took this local draft over at the hub: the local copy becomes read-only (save and
   * sign are refused with a message naming the new owner) and the audit records it ('taken-over').
   * Idempotent: repeating it for the same owner changes nothing; a later owner replaces the name.
   * A signed report cannot be taken over (ContractError 'conflict'); an unknown id is 'not-found'.
   */
  markTakenOver(reportId: string, newOwner: string, atIso?: string): Report {
    const owner = trimmed(newOwner);
    if (owner === '') throw new ContractError('invalid-input', 'markTakenOver needs the name of the new owner.');
    if (atIso !== undefined && Number.isNaN(Date.parse(atIso))) throw new ContractError('invalid-input', `Not an ISO date-time: ${atIso}.`);
    const repo = this.repo;
    repo.tx(() => {
      const row = repo.row(reportId);
      if (isSigned(row.state)) throw new ContractError('conflict', `Report ${reportId} is signed; a signed report cannot be taken over.`);
      if (row.taken_over_by === owner) return;
      const to = row.state === 'taken-over' ? row.state : this.leave(row, 'take-over');
      const at = atIso ?? repo.iso();
      if (this.st.markTakenOver.run(to, owner, at, reportId, row.state).changes !== 1) {
        throw new ContractError('conflict', 'The report changed while marking it taken over. Reload it.');
      }
      repo.writeAudit(owner, 'taken-over', reportId, row.revision, `taken over by ${owner} at ${at}; this copy is read-only (last local revision ${row.revision})`);
    });
    return repo.load(reportId);
  }

  /**
   * This workstation took a colleague's draft over through the hub: the draft becomes a local
   * draft owned by `author`, with the hub's revision history (numbers as given, possibly sparse;
   * the current revision is the highest, so the next save is based on it). Audited 'take-over'
   * naming the previous owner; a taken-over copy of it here becomes live again.
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
    const ref = parseStudy(input.study);
    const reportId = typeof input.reportId === 'string' ? input.reportId : '';
    if (reportId === '' || reportId.length > 64) throw new ContractError('invalid-input', 'adoptTakenOver needs a report id (at most 64 characters).');
    const author = trimmed(input.author);
    const previousOwner = trimmed(input.previousOwner);
    const actor = trimmed(input.actor);
    if (author === '' || previousOwner === '' || actor === '') {
      throw new ContractError('invalid-input', 'adoptTakenOver needs the new owner, the previous owner and the actor.');
    }
    const revisions = parseHubRevisions(input.revisions, previousOwner);
    const current = revisions[revisions.length - 1]!;
    const first = revisions[0]!;
    const repo = this.repo;

    repo.tx(() => {
      const existing = repo.st.report.get(reportId);
      const other = repo.st.newestForStudy.get(ref.studyUid);
      if (other && other.patient_id !== ref.patientId) {
        throw new ContractError('wrong-study', `Study ${ref.studyUid} is bound to patient ${other.patient_id}, not ${ref.patientId}.`);
      }
      const at = repo.iso();
      const currentJson = JSON.stringify(current.content);
      let superseded: { revision: number; savedAt: string; actor: string; content: unknown }[] = [];
      if (existing) {
        repo.checkBound(existing, ref);
        if (isSigned(existing.state)) {
          throw new ContractError('conflict', `Report ${reportId} is signed on this workstation; a signed report cannot be taken over. Add an addendum instead.`);
        }
        if (existing.state !== 'draft') this.leave(existing, 'adopt');
        const hubByRevision = new Map(revisions.map((r) => [r.revision, JSON.stringify(r.content)]));
        superseded = repo
          .history(reportId)
          .filter((l) => hubByRevision.get(l.revision) !== JSON.stringify(parseContent(JSON.parse(l.content))))
          .map((l) => ({ revision: l.revision, savedAt: l.saved_at, actor: l.actor, content: JSON.parse(l.content) as unknown }));
        repo.deleteHistory(reportId);
        if (this.st.replaceDraft.run(current.content.templateId, currentJson, current.revision, author, at, reportId, existing.state).changes !== 1) {
          throw new ContractError('conflict', 'The report changed while taking it over. Reload it.');
        }
      } else {
        repo.st.insertDraft.run(reportId, ref.patientId, ref.studyUid, current.content.templateId, currentJson, current.revision, author, first.savedAt, at);
      }
      // The hub's history as given; the revision taken over is pinned (kept whatever the coalescing).
      for (const r of revisions) repo.appendRevision(reportId, r.revision, r.savedAt, r.author, JSON.stringify(r.content), r === current ? 'take-over' : null);
      const numbers = revisions.map((r) => r.revision).join(', ');
      let detail = `taken over from ${previousOwner}; now owned by ${author}; revisions ${numbers} from the hub; current revision ${current.revision}`;
      if (superseded.length > 0) detail += `; local revisions replaced (kept here in full): ${JSON.stringify(superseded)}`;
      repo.writeAudit(actor, 'take-over', reportId, current.revision, detail);
    });
    return repo.load(reportId);
  }

  private leave(row: ReportRow, transition: Transition) {
    const check = checkTransitionFrom(row.state, transition);
    if (!check.ok) throw new ContractError('conflict', check.reason);
    return check.to;
  }
}

function parseHubRevisions(input: AdoptTakenOverInput['revisions'], previousOwner: string) {
  if (!Array.isArray(input) || input.length === 0) {
    throw new ContractError('invalid-input', 'A taken-over draft needs at least one revision from the hub.');
  }
  const seen = new Set<number>();
  return input
    .map((r) => {
      if (!Number.isInteger(r.revision) || r.revision < 0) throw new ContractError('invalid-input', `Revision numbers must be non-negative integers (got ${String(r.revision)}).`);
      if (seen.has(r.revision)) throw new ContractError('invalid-input', `Revision ${r.revision} appears twice in the hub history.`);
      seen.add(r.revision);
      if (typeof r.savedAt !== 'string' || Number.isNaN(Date.parse(r.savedAt))) {
        throw new ContractError('invalid-input', `Revision ${r.revision} has no valid savedAt time.`);
      }
      const by = trimmed(r.author) !== '' ? trimmed(r.author) : previousOwner;
      return { revision: r.revision, savedAt: r.savedAt, content: parseContent(r.content), author: by };
    })
    .sort((a, b) => a.revision - b.revision);
}
