// Switching a draft's template without losing anything (issue 7 line 2): the question asked
// before a switch that moves text, and the editable "Other text from the previous template"
// section holding text from fields the current template lacks (signed and shown with the report).
import type { CarriedText, ReportContent } from '../../common/report.ts';
import type { SignOffProblem } from '../../common/signoff.ts';
import { CARRIED_OVER_TITLE, CARRIED_SECTION_ID, type Template } from '../../common/templates.ts';
import { Dialog } from '../Dialog.tsx';
import { switchQuestion } from './draftState.ts';
import { ariaFor, FieldProblems, type Update } from './fields.tsx';

export interface PendingSwitch {
  to: Template;
  moved: CarriedText[];
}

export function TemplateSwitchDialog({ pending, from, onConfirm, onCancel }: { pending: PendingSwitch | null; from: Template | null; onConfirm(): void; onCancel(): void }) {
  return (
    <Dialog open={pending !== null} title="Switch template?" onCancel={onCancel} role="alertdialog" testId="template-switch-dialog">
      {pending && (
        <>
          <p>
            <strong>{switchQuestion(pending.moved)}</strong> The {pending.to.title} template has no place for them. Their text is kept, shown under that
            heading, signed with the report and can be edited there; it does not fill the {pending.to.title} template&apos;s required fields.
          </p>
          <ul>
            {pending.moved.map((m) => (
              <li key={m.fieldId}>
                {m.label} ({m.templateTitle})
              </li>
            ))}
          </ul>
          <div className="form-actions">
            <button type="button" className="primary" data-testid="template-switch-confirm" onClick={onConfirm}>
              Switch to {pending.to.title}
            </button>
            <button type="button" autoFocus data-testid="template-switch-cancel" onClick={onCancel}>
              Cancel (keep {from?.title ?? 'this template'})
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}

/** The editable carried-over text; nothing when there is none. */
export function CarriedOverEditor({ content, update, problems }: { content: ReportContent; update: Update; problems: readonly SignOffProblem[] }) {
  const pieces = content.carriedOver ?? [];
  if (pieces.length === 0) return null;
  const edit = (i: number, text: string) =>
    update((c) => ({ ...c, carriedOver: (c.carriedOver ?? []).map((p, j) => (j === i ? { ...p, text } : p)) }));
  // Only an emptied piece can be removed (nothing written is lost); the last one removes the section.
  const remove = (i: number) =>
    update((c) => {
      const { carriedOver = [], ...rest } = c;
      const left = carriedOver.filter((_, j) => j !== i);
      return left.length > 0 ? { ...rest, carriedOver: left } : rest;
    });
  return (
    <section id={`section-${CARRIED_SECTION_ID}`} className="report-section carried-over" aria-labelledby="section-title-carried" data-testid="carried-over-editor">
      <h3 id="section-title-carried" className="section-title">
        {CARRIED_OVER_TITLE}
      </h3>
      <p className="muted">
        Text written in fields this template does not have. It is signed and shown with the report under this heading, and does not count for the
        template&apos;s required fields: edit it here, or copy what belongs into the fields above.
      </p>
      <FieldProblems fieldId="carriedOver" all={problems} />
      {pieces.map((p, i) => (
        <div key={`${p.templateId}:${p.fieldId}:${i}`} className="field">
          <label htmlFor={`field-carried-${i}`}>
            {p.label} (from {p.templateTitle})
          </label>
          <textarea
            id={`field-carried-${i}`}
            className="text-field"
            rows={2}
            value={p.text}
            onChange={(e) => edit(i, e.target.value)}
            spellCheck
            {...ariaFor('carriedOver', problems)}
          />
          {p.text.trim() === '' && (
            <button type="button" className="small" data-testid={`carried-remove-${i}`} onClick={() => remove(i)}>
              Remove this empty piece
            </button>
          )}
        </div>
      ))}
    </section>
  );
}
