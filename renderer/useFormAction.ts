// One way for a form to act: refuse with the sentence saying what is missing (nothing is sent),
// else send, busy meanwhile, and show the refusal's reason beside the form. Returns the answer's
// value, or null when nothing was done or it was refused.
import { useState } from 'react';
import type { Result } from '../common/contract.ts';

export function useFormAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async <T,>(problem: string | null, action: () => Promise<Result<T>>, refusedPrefix: string): Promise<{ value: T } | null> => {
    if (problem) {
      setError(problem);
      return null;
    }
    setBusy(true);
    setError(null);
    const r = await action();
    setBusy(false);
    if (!r.ok) {
      setError(`${refusedPrefix}${r.error.message}`);
      return null;
    }
    return { value: r.value };
  };
  return { busy, error, setError, run };
}
