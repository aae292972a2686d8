// Data a page shows, fetched again whenever `version` moves (an alert change pushed by the hub,
// the periodic look, a reconnect). The last good answer stays on screen while the next one loads,
// so a live refresh never blanks the page; a failure is shown in words beside it.
import { useEffect, useState } from 'react';
import type { PageProps } from './App.tsx';

export interface Fetched<T> {
  data: T | null;
  error: string | null;
  /** The `version` the data answers (each move of `version` fetches again). */
  version: number;
}

/** GET `path` from the hub, again at each move of `version`. */
export function useFetch<T>(props: Pick<PageProps, 'api' | 'version' | 'onUnauthorised'>, path: string): Fetched<T> & { set(data: T): void } {
  const [state, setState] = useState<Fetched<T>>({ data: null, error: null, version: -1 });
  const { api, version, onUnauthorised } = props;
  useEffect(() => {
    let current = true;
    api.get<T>(path).then(
      (data) => current && setState({ data, error: null, version }),
      (err: unknown) => {
        if (!current || onUnauthorised(err)) return;
        setState((s) => ({ ...s, error: (err as Error).message, version }));
      },
    );
    return () => {
      current = false;
    };
  }, [api, path, version, onUnauthorised]);
  return { ...state, set: (data: T) => setState({ data, error: null, version }) };
}

/** Re-renders every `ms` (time-left texts move on without a fetch). */
export function useTick(ms = 30_000): void {
  const [, setT] = useState(() => Date.now());
  useEffect(() => {
    const i = setInterval(() => setT(Date.now()), ms);
    return () => clearInterval(i);
  }, [ms]);
}
