// Whether a draft holds the reporter's own work (so leaving it deserves a question), and the
// helpers the editor uses to edit content immutably. Pure: unit-tested.
import type { CarriedText, ReportContent, UnexpectedFinding } from '../../common/report.ts';
import { CARRIED_OVER_TITLE, getTemplate, switchTemplate, type Template } from '../../common/templates.ts';

/** The template of a report, or null when this build does not know it. */
export function templateOf(id: string): Template | null {
  try {
    return getTemplate(id);
  } catch {
    return null;
  }
}

/**
 * True when the reporter has written or chosen anything beyond the template's defaults and the
 * clinical question carried over from the request.
 */
export function hasReporterContent(content: ReportContent, template: Template | null): boolean {
  if (content.comparison.kind !== 'unset' || content.comparison.text.trim() !== '') return true;
  if (content.unexpected.kind !== 'unset') return true;
  if (content.alertCode !== null) return true;
  if ((content.cancerPrimarySite ?? '').trim() !== '') return true;
  const v = content.verbal;
  if (v && (v.clinician.trim() !== '' || v.role.trim() !== '' || v.time.trim() !== '')) return true;
  if ((content.carriedOver ?? []).some((p) => p.text.trim() !== '')) return true;
  const defaults = new Map<string, string>();
  for (const s of template?.sections ?? []) for (const f of s.fields) if (f.default) defaults.set(f.id, f.default.trim());
  for (const [id, text] of Object.entries(content.fields)) {
    if (id === 'clinicalQuestion') continue;
    const t = text.trim();
    if (t !== '' && t !== (defaults.get(id) ?? '')) return true;
  }
  return false;
}

let counter = 0;
/** A short unique id for a new unexpected finding. */
export function newFindingId(): string {
  counter += 1;
  return `f${Date.now().toString(36)}${counter.toString(36)}`;
}

export function emptyFinding(): UnexpectedFinding {
  return { id: newFindingId(), text: '', category: null };
}

/** Appends a prior's label to the comparison text, once. */
export function addPriorToComparison(text: string, priorLabel: string): string {
  if (text.includes(priorLabel)) return text;
  const t = text.trim();
  if (t === '') return priorLabel;
  return /[.;,]$/.test(t) ? `${t} ${priorLabel}` : `${t}; ${priorLabel}`;
}

/**
 * What switching the draft to template `to` would move into "Other text from the previous
 * template" (empty: the switch moves nothing, so nobody needs to be asked).
 */
export function movesOnSwitch(content: ReportContent, to: Template): CarriedText[] {
  return switchTemplate(content, to).moved;
}

/** The question asked before a switch that moves text. */
export function switchQuestion(moved: readonly CarriedText[]): string {
  const n = moved.length;
  return `${n} field${n === 1 ? '' : 's'} will move to "${CARRIED_OVER_TITLE}".`;
}
