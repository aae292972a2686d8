// The editable parts of a draft: free-text fields, comparison, unexpected findings, alert code.
// Every control has a label; every sign-off problem is shown beside the control it concerns and
// linked to it with aria-describedby.
import { useRef, type ReactNode } from 'react';
import type { StudySummary } from '../../common/contract.ts';
import { ALERT_CATEGORIES, ALERT_LABELS, FindingCategory, SHORT_TEXT_MAX, type AlertCategory, type ReportContent, type UnexpectedFinding } from '../../common/report.ts';
import type { SignOffProblem } from '../../common/signoff.ts';
import type { TemplateField } from '../../common/templates.ts';
import { describeAlertPolicy } from '../../common/alertPolicy.ts';
import { formatDicomDate, isoToLocalInput, localInputToIso } from '../../common/format.ts';
import { addPriorToComparison, emptyFinding } from './draftState.ts';

export type Update = (fn: (c: ReportContent) => ReportContent) => void;

export const problemDomId = (p: SignOffProblem, i: number): string => `problem-${p.fieldId}-${i}`;

/** The problems of one field, as text beside it. `all` is the full list (ids are by position in it). */
export function FieldProblems({ fieldId, all }: { fieldId: string; all: readonly SignOffProblem[] }) {
  const mine = all.map((p, i) => ({ p, i })).filter(({ p }) => p.fieldId === fieldId);
  if (mine.length === 0) return null;
  return (
    <ul className="field-problems">
      {mine.map(({ p, i }) => (
        <li key={i} id={problemDomId(p, i)} className={p.severity === 'block' ? 'problem problem-block' : 'problem problem-warn'}>
          <span className="problem-kind">{p.severity === 'block' ? 'Blocks signing:' : 'Check:'}</span> {p.message}
        </li>
      ))}
    </ul>
  );
}

/** aria attributes tying a control to its problems. */
export function ariaFor(fieldId: string, all: readonly SignOffProblem[]): { 'aria-invalid'?: true; 'aria-describedby'?: string } {
  const mine = all.map((p, i) => ({ p, i })).filter(({ p }) => p.fieldId === fieldId);
  if (mine.length === 0) return {};
  return {
    ...(mine.some(({ p }) => p.severity === 'block') ? { 'aria-invalid': true as const } : {}),
    'aria-describedby': mine.map(({ p, i }) => problemDomId(p, i)).join(' '),
  };
}

/** A labelled control (the label names the control with `id`). */
function Field({ id, label, children }: { id: string; label: string; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
    </div>
  );
}

/**
 * A labelled one-line text input for a short text of the report (at most SHORT_TEXT_MAX
 * characters, as the schema allows), with its problems beside it. `fieldId` is the sign-off
 * problems' id for it; the input's id is `field-<fieldId>`, the id SignOffPanel focuses for a problem.
 * `children` follow the problems (a note about the field).
 */
function ShortTextField({ fieldId, label, value, onChange, problems, children }: {
  fieldId: string;
  label: string;
  value: string | undefined;
  onChange: (text: string) => void;
  problems: readonly SignOffProblem[];
  children?: ReactNode;
}) {
  const id = `field-${fieldId}`;
  return (
    <Field id={id} label={label}>
      <input id={id} value={value ?? ''} maxLength={SHORT_TEXT_MAX} onChange={(e) => onChange(e.target.value)} {...ariaFor(fieldId, problems)} />
      <FieldProblems fieldId={fieldId} all={problems} />
      {children}
    </Field>
  );
}

export function TextFieldEditor({ field, content, update, problems }: { field: TemplateField; content: ReportContent; update: Update; problems: readonly SignOffProblem[] }) {
  const id = `field-${field.id}`;
  return (
    <div className="field">
      <label htmlFor={id}>
        {field.label}
        {field.onEmpty === 'prohibit' && <span className="required"> (required)</span>}
      </label>
      <textarea
        id={id}
        className="text-field"
        rows={field.id === 'conclusion' ? 3 : 2}
        value={content.fields[field.id] ?? ''}
        onChange={(e) => {
          const text = e.target.value;
          update((c) => ({ ...c, fields: { ...c.fields, [field.id]: text } }));
        }}
        spellCheck
        {...ariaFor(field.id, problems)}
      />
      <FieldProblems fieldId={field.id} all={problems} />
    </div>
  );
}

export function priorLabel(p: StudySummary): string {
  return `${p.description || p.modalities.join('/') || 'Study'} of ${formatDicomDate(p.studyDate)}`;
}

export function ComparisonEditor({ content, update, problems, priors }: { content: ReportContent; update: Update; problems: readonly SignOffProblem[]; priors: readonly StudySummary[] }) {
  // What the other choice had is kept aside (not signed) and comes back if it is chosen again.
  const stash = useRef({ text: '', reason: '' });
  const c = content.comparison;
  const setKind = (kind: 'compared' | 'none-available') => {
    update((x) => {
      if (kind === 'none-available') {
        if (x.comparison.kind !== 'none-available') stash.current.text = x.comparison.text;
        const reason = x.comparison.noPriorReason ?? stash.current.reason;
        return { ...x, comparison: { kind, text: '', ...(reason ? { noPriorReason: reason } : {}) } };
      }
      if (x.comparison.noPriorReason) stash.current.reason = x.comparison.noPriorReason;
      return { ...x, comparison: { kind, text: x.comparison.text || stash.current.text } };
    });
  };
  return (
    <fieldset className="choice-group">
      <legend>
        Comparison <span className="required">(required)</span>
      </legend>
      <div className="radio-row">
        <input type="radio" id="field-comparison" name="comparison-kind" checked={c.kind === 'compared'} onChange={() => setKind('compared')} {...ariaFor('comparison', problems)} />
        <label htmlFor="field-comparison">Compared with prior imaging</label>
      </div>
      <div className="radio-row">
        <input type="radio" id="comparison-none" name="comparison-kind" checked={c.kind === 'none-available'} onChange={() => setKind('none-available')} {...ariaFor('comparison', problems)} />
        <label htmlFor="comparison-none">No prior imaging available</label>
      </div>
      {c.kind === 'compared' && (
        <Field id="comparison-text" label="Prior studies compared">
          <textarea
            id="comparison-text"
            className="text-field"
            rows={2}
            value={c.text}
            onChange={(e) => {
              const text = e.target.value;
              update((x) => ({ ...x, comparison: { kind: 'compared', text } }));
            }}
            {...ariaFor('comparison', problems)}
          />
        </Field>
      )}
      {c.kind === 'none-available' && priors.length > 0 && (
        <ShortTextField
          fieldId="comparison.noPriorReason"
          label={`Why none of the ${priors.length} prior ${priors.length === 1 ? 'study' : 'studies'} of this patient in the library can be used`}
          value={c.noPriorReason}
          onChange={(reason) => update((x) => ({ ...x, comparison: { kind: 'none-available', text: '', noPriorReason: reason } }))}
          problems={problems}
        />
      )}
      {priors.length > 0 && (
        <div className="quick-fill" role="group" aria-label="Insert a prior study">
          <span className="muted">Priors in the library:</span>
          {priors.map((p) => (
            <button
              key={p.studyUid}
              type="button"
              className="small"
              onClick={() => update((x) => ({ ...x, comparison: { kind: 'compared', text: addPriorToComparison(x.comparison.kind === 'compared' ? x.comparison.text : '', priorLabel(p)) } }))}
            >
              Compared with {priorLabel(p)}
            </button>
          ))}
        </div>
      )}
      <FieldProblems fieldId="comparison" all={problems} />
    </fieldset>
  );
}

const FINDING_LABELS: Record<FindingCategory, string> = {
  critical: ALERT_LABELS.critical,
  urgent: ALERT_LABELS.urgent,
  cancer: ALERT_LABELS.cancer,
  significant: ALERT_LABELS.significant,
};

export function UnexpectedEditor({ content, update, problems }: { content: ReportContent; update: Update; problems: readonly SignOffProblem[] }) {
  const stash = useRef<UnexpectedFinding[]>([]);
  const u = content.unexpected;
  const focusSoon = (id: string) => setTimeout(() => document.getElementById(id)?.focus(), 0);

  const choose = (kind: 'none' | 'findings') => {
    if (kind === 'none') {
      update((x) => {
        if (x.unexpected.kind === 'findings') stash.current = x.unexpected.items;
        return { ...x, unexpected: { kind: 'none' } };
      });
    } else {
      const items = stash.current.length > 0 ? stash.current : [emptyFinding()];
      update((x) => (x.unexpected.kind === 'findings' ? x : { ...x, unexpected: { kind: 'findings', items } }));
    }
  };
  const setItem = (id: string, patch: Partial<UnexpectedFinding>) => {
    update((x) => {
      if (x.unexpected.kind !== 'findings') return x;
      return {
        ...x,
        unexpected: {
          kind: 'findings',
          items: x.unexpected.items.map((it) => {
            if (it.id !== id) return it;
            const next = { ...it, ...patch };
            if (next.category !== 'cancer') delete next.primarySite;
            return next;
          }),
        },
      };
    });
  };
  const add = () => {
    const f = emptyFinding();
    update((x) => ({ ...x, unexpected: { kind: 'findings', items: [...(x.unexpected.kind === 'findings' ? x.unexpected.items : []), f] } }));
    focusSoon(`field-unexpected.${f.id}.text`);
  };
  const remove = (id: string, index: number) => {
    update((x) => (x.unexpected.kind === 'findings' ? { ...x, unexpected: { kind: 'findings', items: x.unexpected.items.filter((it) => it.id !== id) } } : x));
    focusSoon(index > 0 ? `unexpected-remove-${index - 1}` : 'unexpected-add');
  };

  return (
    <fieldset className="choice-group unexpected-group">
      <legend>
        Clinically significant unexpected findings <span className="required">(required: record them or attest there are none)</span>
      </legend>
      <div className="radio-row">
        <input type="radio" id="field-unexpected" name="unexpected-kind" checked={u.kind === 'none'} onChange={() => choose('none')} {...ariaFor('unexpected', problems)} />
        <label htmlFor="field-unexpected">No clinically significant unexpected findings</label>
      </div>
      <div className="radio-row">
        <input type="radio" id="unexpected-present" name="unexpected-kind" checked={u.kind === 'findings'} onChange={() => choose('findings')} {...ariaFor('unexpected', problems)} />
        <label htmlFor="unexpected-present">Unexpected findings present (list each with its category)</label>
      </div>
      {u.kind === 'findings' && (
        <>
          <ol className="finding-list">
            {u.items.map((it, i) => {
              const n = i + 1;
              const base = `field-unexpected.${it.id}`;
              return (
                <li key={it.id} className="finding-item">
                  <div className="field">
                    <label htmlFor={`${base}.text`}>Description of unexpected finding {n}</label>
                    <textarea
                      id={`${base}.text`}
                      className="text-field"
                      rows={2}
                      value={it.text}
                      onChange={(e) => setItem(it.id, { text: e.target.value })}
                      {...ariaFor(`unexpected.${it.id}.text`, problems)}
                    />
                    <FieldProblems fieldId={`unexpected.${it.id}.text`} all={problems} />
                  </div>
                  <div className="field-row">
                    <div className="field">
                      <label htmlFor={`${base}.category`}>Category of unexpected finding {n}</label>
                      <select
                        id={`${base}.category`}
                        value={it.category ?? ''}
                        onChange={(e) => setItem(it.id, { category: e.target.value === '' ? null : FindingCategory.parse(e.target.value) })}
                        {...ariaFor(`unexpected.${it.id}.category`, problems)}
                      >
                        <option value="">Choose a category…</option>
                        {FindingCategory.options.map((cat) => (
                          <option key={cat} value={cat}>
                            {FINDING_LABELS[cat]}
                          </option>
                        ))}
                      </select>
                      <FieldProblems fieldId={`unexpected.${it.id}.category`} all={problems} />
                    </div>
                    {it.category === 'cancer' && (
                      <ShortTextField
                        fieldId={`unexpected.${it.id}.primarySite`}
                        label={`Suspected primary site of unexpected finding ${n}`}
                        value={it.primarySite}
                        onChange={(primarySite) => setItem(it.id, { primarySite })}
                        problems={problems}
                      >
                        <p className="muted cancer-pathway">The report goes on the cancer pathway whatever alert code is chosen.</p>
                      </ShortTextField>
                    )}
                  </div>
                  <button type="button" className="small" id={`unexpected-remove-${i}`} onClick={() => remove(it.id, i)}>
                    Remove unexpected finding {n}
                  </button>
                </li>
              );
            })}
          </ol>
          <button type="button" id="unexpected-add" onClick={add}>
            Add unexpected finding
          </button>
        </>
      )}
      <FieldProblems fieldId="unexpected" all={problems} />
    </fieldset>
  );
}

export function AlertEditor({ content, update, problems }: { content: ReportContent; update: Update; problems: readonly SignOffProblem[] }) {
  const stash = useRef<{ verbal?: ReportContent['verbal']; site?: string }>({});
  const choose = (alert: AlertCategory) => {
    update((x) => {
      const next: ReportContent = { ...x, alertCode: alert };
      // Details of another category are kept aside (not signed), and come back if it is chosen again.
      if (alert !== 'critical' && x.verbal) {
        stash.current.verbal = x.verbal;
        delete next.verbal;
      }
      if (alert === 'critical' && !x.verbal && stash.current.verbal) next.verbal = stash.current.verbal;
      if (alert !== 'cancer' && x.cancerPrimarySite !== undefined) {
        stash.current.site = x.cancerPrimarySite;
        delete next.cancerPrimarySite;
      }
      if (alert === 'cancer' && x.cancerPrimarySite === undefined && stash.current.site) next.cancerPrimarySite = stash.current.site;
      return next;
    });
  };
  const verbal = content.verbal ?? { clinician: '', role: '', time: '' };
  const setVerbal = (patch: Partial<typeof verbal>) => update((x) => ({ ...x, verbal: { ...(x.verbal ?? { clinician: '', role: '', time: '' }), ...patch } }));

  return (
    <fieldset className="choice-group alert-group">
      <legend>
        Alert code <span className="required">(required; there is no default)</span>
      </legend>
      <div className="alert-options">
        {ALERT_CATEGORIES.map((cat, i) => (
          <div key={cat} className={`alert-option alert-${cat}`}>
            <input
              type="radio"
              id={i === 0 ? 'field-alertCode' : `alert-${cat}`}
              name="alert-code"
              value={cat}
              checked={content.alertCode === cat}
              onChange={() => choose(cat)}
              aria-describedby={[`deadline-${cat}`, ariaFor('alertCode', problems)['aria-describedby']].filter(Boolean).join(' ')}
              aria-invalid={ariaFor('alertCode', problems)['aria-invalid']}
            />
            <label htmlFor={i === 0 ? 'field-alertCode' : `alert-${cat}`}>{ALERT_LABELS[cat]}</label>
            <span id={`deadline-${cat}`} className="deadline">
              {describeAlertPolicy(cat)}
            </span>
          </div>
        ))}
      </div>
      <FieldProblems fieldId="alertCode" all={problems} />
      {content.alertCode === 'critical' && (
        <fieldset className="sub-group">
          <legend>Verbal communication of the critical finding</legend>
          <div className="field-row">
            <div className="field">
              <label htmlFor="field-verbal">Clinician informed</label>
              <input id="field-verbal" value={verbal.clinician} maxLength={SHORT_TEXT_MAX} onChange={(e) => setVerbal({ clinician: e.target.value })} {...ariaFor('verbal', problems)} />
            </div>
            <div className="field">
              <label htmlFor="verbal-role">Clinician's role</label>
              <input id="verbal-role" value={verbal.role} maxLength={SHORT_TEXT_MAX} onChange={(e) => setVerbal({ role: e.target.value })} {...ariaFor('verbal', problems)} />
            </div>
            <div className="field">
              <label htmlFor="verbal-time">Time of the conversation</label>
              <div className="input-with-button">
                <input
                  id="verbal-time"
                  type="datetime-local"
                  value={isoToLocalInput(verbal.time)}
                  onChange={(e) => setVerbal({ time: localInputToIso(e.target.value) })}
                  {...ariaFor('verbal', problems)}
                />
                <button type="button" className="small" onClick={() => setVerbal({ time: new Date().toISOString() })}>
                  Now
                </button>
              </div>
            </div>
          </div>
          <FieldProblems fieldId="verbal" all={problems} />
        </fieldset>
      )}
      {content.alertCode === 'cancer' && (
        <ShortTextField
          fieldId="cancerPrimarySite"
          label="Suspected primary site"
          value={content.cancerPrimarySite}
          onChange={(site) => update((x) => ({ ...x, cancerPrimarySite: site }))}
          problems={problems}
        />
      )}
    </fieldset>
  );
}
