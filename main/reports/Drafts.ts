// Writing and reading reports: open (or create) the report for a study, crash-safe saves with a
// revision history that stays small (deltas and coalescing: ReportRepository.ts, "Revision
// history"), the list, revisions and the audit trail. Opening or getting a signed report is
// audited (view-signed); reading for a close is not.
import { ContractError, type AuditEntry, type ReportListItem } from '../../common/contract.ts';
import { isEditable, isSigned, type ReportState } from '../../common/lifecycle.ts';
import { ReportContent, type CarriedText, type Report, type StudyRef } from '../../common/report.ts';
import { CARRIED_OVER_TITLE, chooseTemplate, getTemplate, hiddenFieldIds, newReportFor, switchTemplate, TEMPLATES } from '../../common/templates.ts';
import { parseContent, parseStudy, studyOfRow, type ReportRepository, type ReportRow } from './ReportRepository.ts';
import { tamperingOf } from './signatures.ts';

/** A signed report with the signatures that do not verify named (none: as it was). */
function withTampering(report: Report): Report {
  if (!isSigned(report.state)) return report;
  const tampering = tamperingOf(report);
  return tampering.length > 0 ? { ...report, tampering } : report;
}

export interface StudyInfo {
  patientName: string;
  description: string;
}

export interface RevisionEntry {
  revision: number;
  savedAt: string;
  content: ReportContent;
}

export class Drafts {
  constructor(
    private readonly repo: ReportRepository,
    /** Patient name and study description for the reports list. */
    private readonly studyInfo?: (studyUid: string) => StudyInfo | null,
  ) {}

  /**
   * The newest report for the study, else a new draft from the template chosen for the study.
   * `templateId` switches a draft's template (keeping what was written); it is ignored for a
   * signed report, which never changes.
   */
  open(study: StudyRef, opts: { actor: string; modality: string; description: string; templateId?: string }): Report {
    const ref = parseStudy(study);
    if (opts.templateId !== undefined && !TEMPLATES.some((t) => t.id === opts.templateId)) {
      throw new ContractError('invalid-input', `Unknown template ${opts.templateId}.`);
    }
    const repo = this.repo;
    const id = repo.tx(() => {
      const existing = repo.st.newestForStudy.get(ref.studyUid);
      if (existing) {
        if (existing.patient_id !== ref.patientId) {
          throw new ContractError('wrong-study', `Study ${ref.studyUid} is bound to patient ${existing.patient_id}, not ${ref.patientId}.`);
        }
        if (isSigned(existing.state)) {
          repo.writeAudit(opts.actor, 'view-signed', existing.id, null, '');
        } else if (opts.templateId !== undefined && opts.templateId !== existing.template_id && isEditable(existing.state)) {
          this.switchTemplate(existing, opts.templateId, opts.actor);
        } else if (isEditable(existing.state) && existing.taken_over_by === null && TEMPLATES.some((t) => t.id === existing.template_id)) {
          // Text an older version hid in fields the template lacks is shown before anything else happens.
          const template = getTemplate(existing.template_id);
          if (hiddenFieldIds(ReportContent.parse(JSON.parse(existing.content)), template).length > 0) this.switchTemplate(existing, template.id, opts.actor);
        }
        return existing.id;
      }
      const template = opts.templateId !== undefined ? getTemplate(opts.templateId) : chooseTemplate(opts.modality, opts.description);
      const content = newReportFor(template);
      const newId = repo.newId();
      const at = repo.iso();
      const json = JSON.stringify(content);
      repo.st.insertDraft.run(newId, ref.patientId, ref.studyUid, template.id, json, 0, opts.actor, at, at);
      repo.appendRevision(newId, 0, at, opts.actor, json, 'created');
      repo.writeAudit(opts.actor, 'create', newId, 0, `template ${template.id}`);
      return newId;
    });
    return withTampering(repo.load(id));
  }

  /** A report for display: a signed one is audited as viewed and its signatures verified (tampering, in words). */
  get(reportId: string, actor: string): Report {
    const report = this.repo.load(reportId);
    if (!isSigned(report.state)) return report;
    this.repo.tx(() => this.repo.writeAudit(actor, 'view-signed', reportId, null, ''));
    return withTampering(report);
  }

  /** The report if it is still an editable draft, else null; reads nothing into the audit trail. */
  draftFor(reportId: string): Report | null {
    const report = this.repo.load(reportId);
    return isEditable(report.state) ? report : null;
  }

  /** Saves a new revision of a draft. `baseRevision` must be the current revision. */
  save(reportId: string, study: StudyRef, content: ReportContent, baseRevision: number, actor: string): { revision: number; savedAt: string } {
    const ref = parseStudy(study);
    const next = parseContent(content);
    if (!Number.isInteger(baseRevision) || baseRevision < 0) throw new ContractError('invalid-input', 'baseRevision must be a non-negative integer.');
    const repo = this.repo;
    return repo.tx(() => {
      const row = repo.row(reportId);
      repo.checkBound(row, ref);
      if (isSigned(row.state)) throw new ContractError('conflict', 'signed reports are immutable; add an addendum');
      repo.refuseTakenOver(row);
      if (row.revision !== baseRevision) {
        throw new ContractError('conflict', `The report changed elsewhere: it is at revision ${row.revision}, this edit was based on ${baseRevision}. Reload it.`);
      }
      const revision = baseRevision + 1;
      const savedAt = repo.iso();
      const json = JSON.stringify(next);
      const changed = repo.st.updateDraft.run(next.templateId, json, revision, savedAt, reportId, baseRevision).changes;
      if (changed !== 1) throw new ContractError('conflict', 'The report changed while saving. Reload it.');
      repo.appendRevision(reportId, revision, savedAt, actor, json, next.templateId !== row.template_id ? 'template' : null);
      repo.pruneHistory(reportId, revision, savedAt);
      repo.writeAudit(actor, 'edit', reportId, revision, `revision ${revision}`);
      if (next.templateId !== row.template_id) {
        repo.writeAudit(actor, 'template-change', reportId, revision, `${row.template_id} → ${next.templateId}`);
      }
      return { revision, savedAt };
    });
  }

  /** Every report, most recently changed first; `states` keeps only reports in those states. */
  list(filter: { states?: readonly ReportState[] } = {}): ReportListItem[] {
    return this.repo.st.list
      .all()
      .filter((r) => filter.states === undefined || filter.states.includes(r.state))
      .map((r) => {
        const info = this.studyInfo?.(r.study_uid) ?? null;
        return {
          id: r.id,
          study: studyOfRow(r),
          state: r.state,
          author: r.author,
          updatedAt: r.updated_at,
          patientName: info?.patientName ?? '',
          studyDescription: info?.description ?? '',
        };
      });
  }

  /**
   * The kept revisions, oldest first, each with its full text: the first (the draft as created),
   * every revision of the last hour of typing, one per minute before that (the text as it stood
   * at the end of that minute), every template switch and take-over, and the current one. A
   * signed report keeps every revision it had when it was signed. Every save, including those
   * no longer listed here, stays in the audit trail with its revision number.
   */
  revisions(reportId: string): RevisionEntry[] {
    this.repo.row(reportId);
    return this.repo.history(reportId).map((r) => ({
      revision: r.revision,
      savedAt: r.saved_at,
      content: ReportContent.parse(JSON.parse(r.content)),
    }));
  }

  /** The report's audit trail, oldest first. */
  audit(reportId: string): AuditEntry[] {
    this.repo.row(reportId);
    return this.repo.st.audit.all(reportId).map((a) => ({ seq: a.seq, at: a.at, actor: a.actor, action: a.action, reportId: a.report_id, detail: a.detail }));
  }

  /**
   * Switches the draft's template keeping everything written (common/templates.ts switchTemplate):
   * text in fields the new template lacks moves to "Other text from the previous template", and
   * the audit trail names every field moved or put back. Switching to the draft's own template
   * only moves text that template does not lay out (left hidden by older versions), audited as an edit.
   */
  private switchTemplate(row: ReportRow, templateId: string, actor: string): void {
    const old = ReportContent.parse(JSON.parse(row.content));
    const { content, moved, restored } = switchTemplate(old, getTemplate(templateId));
    const revision = row.revision + 1;
    const at = this.repo.iso();
    const json = JSON.stringify(content);
    if (this.repo.st.updateDraft.run(templateId, json, revision, at, row.id, row.revision).changes !== 1) {
      throw new ContractError('conflict', 'The report changed while switching template. Reload it.');
    }
    this.repo.appendRevision(row.id, revision, at, actor, json, 'template');
    const pieces = (list: CarriedText[]): string => list.map((p) => `${p.label} (${p.fieldId}, ${p.templateTitle})`).join(', ');
    const detail = [
      ...(templateId === row.template_id ? [] : [`${row.template_id} → ${templateId}`]),
      ...(moved.length > 0 ? [`moved to "${CARRIED_OVER_TITLE}": ${pieces(moved)}`] : []),
      ...(restored.length > 0 ? [`put back into their fields: ${pieces(restored)}`] : []),
    ].join('; ');
    this.repo.writeAudit(actor, templateId === row.template_id ? 'edit' : 'template-change', row.id, revision, detail);
  }
}
