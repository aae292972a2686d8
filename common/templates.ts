// Report templates as data, shaped like IHE MRRT: sections of fields, and for each field what
// signing does when it is empty (prohibit / warn / silent).
import { z } from 'zod';
import ctHead from './templates/ct-head.json' with { type: 'json' };
import ctChest from './templates/ct-chest.json' with { type: 'json' };
import ctAbdomenPelvis from './templates/ct-abdomen-pelvis.json' with { type: 'json' };
import cxr from './templates/cxr.json' with { type: 'json' };
import mrBrain from './templates/mr-brain.json' with { type: 'json' };
import generic from './templates/generic.json' with { type: 'json' };
import { emptyReport, type CarriedText, type ReportContent } from './report.ts';

export const OnEmpty = z.enum(['prohibit', 'warn', 'silent']);
export type OnEmpty = z.infer<typeof OnEmpty>;

export const TemplateField = z.object({
  id: z.string().min(1),
  label: z.string().min(1),
  kind: z.enum(['text', 'comparison', 'unexpected', 'alert']),
  onEmpty: OnEmpty,
  default: z.string().optional(),
});
export type TemplateField = z.infer<typeof TemplateField>;

export const TemplateSection = z.object({
  id: z.string().min(1),
  title: z.string().min(1),
  fields: z.array(TemplateField).min(1),
});
export type TemplateSection = z.infer<typeof TemplateSection>;

/** Sections every template must have (domain.md §3). */
export const REQUIRED_SECTIONS = [
  'clinical',
  'technique',
  'comparison',
  'findings',
  'unexpected',
  'conclusion',
  'alert',
] as const;

export const Template = z
  .object({
    id: z.string().min(1),
    title: z.string().min(1),
    version: z.string(),
    modalities: z.array(z.string()),
    keywords: z.array(z.string()),
    sections: z.array(TemplateSection),
  })
  .superRefine((t, ctx) => {
    const ids = new Set(t.sections.map((s) => s.id));
    for (const required of REQUIRED_SECTIONS) {
      if (!ids.has(required)) ctx.addIssue({ code: 'custom', message: `template ${t.id} lacks section ${required}` });
    }
    const conclusion = t.sections.find((s) => s.id === 'conclusion')?.fields.find((f) => f.id === 'conclusion');
    if (!conclusion) ctx.addIssue({ code: 'custom', message: `template ${t.id} lacks the conclusion field` });
  });
export type Template = z.infer<typeof Template>;

export const TEMPLATES: readonly Template[] = [ctHead, ctChest, ctAbdomenPelvis, cxr, mrBrain, generic].map((t) =>
  Template.parse(t),
);

export const GENERIC_TEMPLATE_ID = 'generic';

export function getTemplate(id: string): Template {
  const t = TEMPLATES.find((x) => x.id === id);
  if (!t) throw new Error(`unknown template ${id}`);
  return t;
}

/**
 * Chooses the template for a study from its modality and description: the template whose
 * modality matches and whose keywords appear most in the description; generic otherwise.
 */
export function chooseTemplate(modality: string, description: string): Template {
  const desc = description.toLowerCase();
  let best: Template | undefined;
  let bestScore = 0;
  for (const t of TEMPLATES) {
    if (!t.modalities.includes(modality.toUpperCase())) continue;
    const score = t.keywords.filter((k) => desc.includes(k)).length;
    if (score > bestScore) {
      best = t;
      bestScore = score;
    }
  }
  return best ?? getTemplate(GENERIC_TEMPLATE_ID);
}

/** A new report for a template, with the template's defaults (e.g. technique) filled in. */
export function newReportFor(template: Template, clinicalQuestion = ''): ReportContent {
  const content = emptyReport(template.id, clinicalQuestion);
  for (const s of template.sections) {
    for (const f of s.fields) {
      if (f.kind === 'text' && f.default && !content.fields[f.id]) content.fields[f.id] = f.default;
    }
  }
  return content;
}

/** The heading of the section holding text from fields the current template lacks. */
export const CARRIED_OVER_TITLE = 'Other text from the previous template';
/** The section id sign-off problems of that section carry (no template has a section of that id). */
export const CARRIED_SECTION_ID = 'carried';

/** The free-text fields of a template, in its order. */
export function textFieldsOf(template: Template): TemplateField[] {
  return template.sections.flatMap((s) => s.fields.filter((f) => f.kind === 'text'));
}

/** Text worth keeping: anything but whitespace (a carried "." or a lone mark is kept, never dropped). */
const written = (s: string | undefined): boolean => (s ?? '').trim() !== '';

/**
 * Text in `content.fields` that the report's template does not lay out (ids, in the content's
 * order). Such text would be signed without being seen: checkSignOff refuses it, and
 * switchTemplate moves it to the carried-over section.
 */
export function hiddenFieldIds(content: ReportContent, template: Template): string[] {
  const ids = new Set(textFieldsOf(template).map((f) => f.id));
  return Object.entries(content.fields)
    .filter(([id, text]) => !ids.has(id) && written(text))
    .map(([id]) => id);
}

/**
 * Where a field comes from: `template` when it has the field, else the first template that has
 * it (text hidden by older versions), else the field id as its label.
 */
export function fieldOrigin(fieldId: string, template: Template | null): Pick<CarriedText, 'fieldId' | 'label' | 'templateId' | 'templateTitle'> {
  const owner = [template, ...TEMPLATES].find((t) => t && textFieldsOf(t).some((f) => f.id === fieldId)) ?? null;
  if (!owner) return { fieldId, label: fieldId, templateId: template?.id ?? 'unknown', templateTitle: template?.title ?? 'an unknown template' };
  return { fieldId, label: textFieldsOf(owner).find((f) => f.id === fieldId)!.label, templateId: owner.id, templateTitle: owner.title };
}

export interface TemplateSwitch {
  content: ReportContent;
  /** Text moved into "Other text from the previous template" by this switch. */
  moved: CarriedText[];
  /** Carried-over text put back into a field of the new template (same field id) by this switch. */
  restored: CarriedText[];
}

/**
 * Switches a report to another template without dropping anything written (issue 7 line 2):
 * - a field the new template has (same field id: the mapping is by id, and templates reuse ids
 *   for the same anatomy, e.g. brainParenchyma, lungs) keeps its text;
 * - written text in a field the new template lacks moves to `carriedOver`, labelled with the
 *   field's label and the old template's title; it is shown, editable and signed, and never
 *   satisfies a field of the new template;
 * - carried-over text whose field the new template has, while that field is empty, goes back
 *   into it (so A → B → A gives back exactly what was written);
 * - the old template's untouched default text (e.g. its technique) becomes the new template's
 *   default; empty fields and emptied carried pieces are not carried.
 * Switching to the same template moves text the template does not lay out (written by older
 * versions) to the carried-over section and changes nothing else.
 */
export function switchTemplate(content: ReportContent, to: Template): TemplateSwitch {
  const from = TEMPLATES.find((t) => t.id === content.templateId) ?? null;
  const defaultsOf = (t: Template | null): Map<string, string> =>
    new Map((t ? textFieldsOf(t) : []).filter((f) => written(f.default)).map((f) => [f.id, f.default!.trim()]));
  const fromDefaults = defaultsOf(from);
  const toFields = textFieldsOf(to);
  const toIds = new Set(toFields.map((f) => f.id));

  const fields: Record<string, string> = {};
  const moved: CarriedText[] = [];
  for (const [id, text] of Object.entries(content.fields)) {
    const untouchedDefault = written(text) && fromDefaults.get(id) === text.trim();
    if (toIds.has(id)) {
      const toDefault = toFields.find((f) => f.id === id)!.default;
      fields[id] = untouchedDefault && written(toDefault) ? toDefault! : text;
    } else if (written(text) && !untouchedDefault) {
      moved.push({ ...fieldOrigin(id, from), text });
    }
  }

  const carried: CarriedText[] = [];
  const restored: CarriedText[] = [];
  for (const piece of content.carriedOver ?? []) {
    if (!written(piece.text)) continue;
    if (toIds.has(piece.fieldId) && !written(fields[piece.fieldId])) {
      fields[piece.fieldId] = piece.text;
      restored.push(piece);
    } else carried.push(piece);
  }
  for (const f of toFields) if (written(f.default) && !written(fields[f.id])) fields[f.id] = f.default!;

  const { carriedOver: _old, ...rest } = content;
  const all = [...carried, ...moved];
  return { content: { ...rest, templateId: to.id, fields, ...(all.length > 0 ? { carriedOver: all } : {}) }, moved, restored };
}

/** "Brain parenchyma (MR brain)": how a carried piece is named on screen and in the audit trail. */
export function carriedLabel(piece: Pick<CarriedText, 'label' | 'templateTitle'>): string {
  return `${piece.label} (${piece.templateTitle})`;
}
