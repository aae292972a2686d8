// The password again before a signature (issue 7 line 5; 21 CFR 11.200(a)). With a hub, the
// workstation refuses a signature with `confirm-password` at the first signature of a session and
// after the site's idle minutes; this asks for the password, has the hub check it
// (`hub:confirmSigner`: a wrong one says so and counts towards lockout), then signs again. Cancel
// signs nothing. The password lives only in this dialog's state and is cleared when it closes.
import { useCallback, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { Result } from '../../common/contract.ts';
import { useClient } from '../data/client.ts';
import { Dialog } from '../Dialog.tsx';
import { ErrorText } from '../ErrorText.tsx';

export const CONFIRM_SIGNER_TITLE = 'Enter your password to sign';

interface Pending {
  reason: string;
  resolve(confirmed: boolean): void;
}

export interface SignerConfirmation {
  /**
   * Runs a signing call; when the workstation asks for the password, asks for it and runs the call
   * once more. Null: the person cancelled, nothing was signed.
   */
  signWithConfirmation<T>(call: () => Promise<Result<T>>): Promise<Result<T> | null>;
  /** The dialog: render it once beside the sign button. */
  dialog: ReactNode;
}

export function useSignerConfirmation(): SignerConfirmation {
  const [pending, setPending] = useState<Pending | null>(null);
  const pendingRef = useRef<Pending | null>(null);

  const ask = useCallback((reason: string) => new Promise<boolean>((resolve) => {
    const p = { reason, resolve };
    pendingRef.current = p;
    setPending(p);
  }), []);
  const done = useCallback((confirmed: boolean) => {
    const p = pendingRef.current;
    pendingRef.current = null;
    setPending(null);
    p?.resolve(confirmed);
  }, []);

  const signWithConfirmation = useCallback(async <T,>(call: () => Promise<Result<T>>): Promise<Result<T> | null> => {
    const first = await call();
    if (first.ok || first.error.code !== 'confirm-password') return first;
    if (!(await ask(first.error.message))) return null;
    return call();
  }, [ask]);

  const dialog = pending ? <ConfirmSignerDialog key="confirm-signer" reason={pending.reason} onDone={done} /> : null;
  return { signWithConfirmation, dialog };
}

function ConfirmSignerDialog({ reason, onDone }: { reason: string; onDone(confirmed: boolean): void }) {
  const client = useClient();
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (busy) return;
    if (password === '') {
      setError('Enter your password.');
      return;
    }
    setBusy(true);
    setError(null);
    const r = await client.api['hub:confirmSigner']({ password });
    setBusy(false);
    setPassword('');
    if (!r.ok) {
      setError(r.error.message);
      return;
    }
    onDone(true);
  };

  return (
    <Dialog open title={CONFIRM_SIGNER_TITLE} role="alertdialog" testId="confirm-signer" onCancel={() => onDone(false)}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <p>{reason.replace(/ Nothing was signed\.$/, '')} Your signature is recorded in the name of the person logged in to the hub.</p>
        <label htmlFor="confirm-signer-password">Password</label>
        <input
          id="confirm-signer-password"
          type="password"
          autoFocus
          autoComplete="current-password"
          maxLength={1024}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <ErrorText error={error} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Checking…' : 'Confirm and sign'}
          </button>
          <button type="button" disabled={busy} onClick={() => onDone(false)}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}
