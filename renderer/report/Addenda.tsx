// The addenda of a final report, newest first, above the original; and the form that writes and
// signs a new one (Ctrl+Shift+A opens it, Ctrl+Enter signs it) for roles that may.
import { useEffect, useRef, useState, type RefObject } from 'react';
import { TRANSITIONS } from '../../common/lifecycle.ts';
import type { Addendum, Report } from '../../common/report.ts';
import { isMeaningfulText } from '../../common/text.ts';
import { useClient } from '../data/client.ts';
import { ErrorText } from '../ErrorText.tsx';
import { modalOpen, paneHidden, useKeydown } from '../shortcuts.ts';
import type { EditorControl } from './editorControl.ts';
import { SignatureBlock } from './Signatures.tsx';
import { useSignerConfirmation } from './ConfirmSigner.tsx';

export interface AddendaProps {
  report: Report;
  /** The role may sign addenda to this report (it is final). */
  mayAdd: boolean;
  pane: RefObject<HTMLDivElement | null>;
  register(control: EditorControl | null): void;
  onReport(r: Report): void;
}

export function Addenda({ report, mayAdd, pane, register, onReport }: AddendaProps) {
  const client = useClient();
  const [adding, setAdding] = useState(false);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { signWithConfirmation, dialog: confirmSignerDialog } = useSignerConfirmation();
  const textRef = useRef<HTMLTextAreaElement>(null);
  const addButtonRef = useRef<HTMLButtonElement>(null);

  const unsigned = adding && text.trim() !== '';
  useEffect(() => {
    register({ unsignedWork: () => (unsigned ? 'addendum' : null), flush: async () => true, leave: async () => true });
  }, [register, unsigned]);
  useEffect(() => () => register(null), [register]);

  const startAddendum = () => {
    if (adding) textRef.current?.focus();
    else setAdding(true);
  };

  const submit = async () => {
    // The same rule as the store and the hub (common/text.ts): invisible characters or "." are not an addendum.
    if (!isMeaningfulText(text)) {
      setError(text.trim() === '' ? 'Write the addendum first.' : 'Write the addendum first: spaces, punctuation, symbols or invisible characters alone do not count.');
      textRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const r = await signWithConfirmation(() => client.api['reports:addendum']({ reportId: report.id, text }));
    setBusy(false);
    if (r === null) {
      setError('The addendum was not signed: the password was not entered. Your text is kept.');
      return;
    }
    if (!r.ok) {
      setError(`The addendum was not signed: ${r.error.message}. Your text is kept.`);
      return;
    }
    const addenda: Addendum[] = [r.value, ...report.addenda.filter((a) => a.id !== r.value.id)];
    setText('');
    setAdding(false);
    // The state follows the life cycle (an addendum makes a final report appended).
    onReport({ ...report, addenda, state: TRANSITIONS.addendum.to });
    setTimeout(() => addButtonRef.current?.focus(), 0);
  };

  useKeydown((e) => {
    if (!mayAdd || modalOpen() || paneHidden(pane.current)) return;
    if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.code === 'KeyA') {
      e.preventDefault();
      startAddendum();
    } else if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && adding && document.activeElement === textRef.current) {
      e.preventDefault();
      void submit();
    }
  });

  return (
    <section className="addenda" aria-labelledby="addenda-title">
      <h3 id="addenda-title" className="sr-only">
        Addenda
      </h3>
      {mayAdd &&
        (adding ? (
          <div className="addendum-form">
            <label htmlFor="addendum-text">Addendum text</label>
            <textarea id="addendum-text" ref={textRef} autoFocus rows={4} value={text} onChange={(e) => setText(e.target.value)} maxLength={100_000} />
            <ErrorText error={error} />
            <div className="form-actions">
              <button type="button" className="primary" disabled={busy} onClick={() => void submit()} aria-keyshortcuts="Control+Enter">
                {busy ? 'Signing…' : 'Sign addendum'}
              </button>
              <button
                type="button"
                onClick={() => {
                  setAdding(false);
                  setError(null);
                }}
              >
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" ref={addButtonRef} onClick={startAddendum} aria-keyshortcuts="Control+Shift+A">
            Add addendum <kbd className="hint">Ctrl+Shift+A</kbd>
          </button>
        ))}
      {confirmSignerDialog}
      <ol className="addendum-list" data-testid="addendum-list" aria-label="Addenda, newest first" reversed>
        {report.addenda.map((a, i) => (
          <li key={a.id} className="addendum">
            <h4>Addendum {report.addenda.length - i}</h4>
            <p className="prewrap">{a.text}</p>
            <SignatureBlock signature={a.signature} />
          </li>
        ))}
      </ol>
    </section>
  );
}
