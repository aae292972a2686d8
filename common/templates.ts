// Report templates as data, shaped like IHE MRRT: sections of fields, and for each field what
// signing does when it is empty (prohibit / warn / silent).
import { z } from 'zod';
import ctHead from './templates/ct-head.json' with { type: 'json' };
import ctChest from './templates/ct-chest.json' with { type: 'json' };
import ctAbdomenPelvis from './templates/ct-abdomen-pelvis.json' with { type: 'json' };
import cxr from './templates/cxr.json' with { type: 'json' };
import mrBrain from './templates/mr-brain.json' with { type: 'json' };
import generic from './templates/generic.json' with { type: 'json' };
import { emptyReport, type ReportContent } from './report.ts';

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
