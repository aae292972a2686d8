// Small shared pieces of layout: a table's column headings, and a list of labelled facts.
import type { ReactNode } from 'react';

/** Column headings; `null` is a column with no visible heading (read to screen readers as `srOnly`). */
export function TableHead({ columns, srOnly = 'Action' }: { columns: readonly (string | null | false)[]; srOnly?: string }) {
  return (
    <thead>
      <tr>
        {columns.map((c, i) =>
          c === false ? null : (
            <th scope="col" key={c ?? `blank-${i}`}>
              {c ?? <span className="sr-only">{srOnly}</span>}
            </th>
          ),
        )}
      </tr>
    </thead>
  );
}

export interface Fact {
  label: string;
  value: ReactNode;
  /** Attributes of the value (a state's class, a test id). */
  className?: string;
  testId?: string;
}

/** "Label: value" facts, as a description list (the banner's and the exam's). */
export function Facts({ facts }: { facts: readonly (Fact | null | false)[] }) {
  return (
    <dl className="banner-facts">
      {facts.map((f) =>
        f ? (
          <div key={f.label}>
            <dt>{f.label}</dt>
            <dd className={f.className} data-testid={f.testId}>
              {f.value}
            </dd>
          </div>
        ) : null,
      )}
    </dl>
  );
}

/** A form's actions: its primary submit button (busy while it works), then any others. */
export function SubmitActions({ busy, label, busyLabel, children }: { busy: boolean; label: string; busyLabel: string; children?: ReactNode }) {
  return (
    <div className="form-actions">
      <button type="submit" className="primary" disabled={busy}>
        {busy ? busyLabel : label}
      </button>
      {children}
    </div>
  );
}

/** A dialog's only action: Close (focused, so Enter or Escape closes). */
export function CloseAction({ onClose }: { onClose(): void }) {
  return (
    <div className="form-actions">
      <button type="button" autoFocus onClick={onClose}>
        Close
      </button>
    </div>
  );
}
