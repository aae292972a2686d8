// The renderer's one way to fetch: `useQuery(key, fetcher, options)` returns the latest data, the
// error, whether a fetch is in flight, `reload` (fetch now) and `setData`. The query is made once
// per key; it refetches on the app events `refetchOn` picks and every `pollMs`, honouring the
// floor `minIntervalMs` between two such refetches (the site policy's, for the unfinished list).
// Disabled (`enabled: false`) it keeps its data and fetches nothing; enabled again (shown), it
// fetches at once. The logic lives in query.ts (unit-tested); this binds it to React.
import { useEffect, useLayoutEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { AppEvent, FailsafeApi, Result } from '../../common/contract.ts';
import { Query } from './query.ts';
import { useClient } from './client.ts';
import { useAppEvents } from './useAppEvents.ts';

export interface QueryOptions {
  /** Fetch only while true (default true). */
  enabled?: boolean;
  /** Pushed events that make the data stale. */
  refetchOn?: (e: AppEvent) => boolean;
  /** The floor between two refetches caused by events or polling (ms). */
  minIntervalMs?: number;
  /** Refetch this often while enabled (ms). */
  pollMs?: number;
}

export interface QueryResult<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  /** Fetch now. */
  reload(): void;
  /** Replace the data with an action's answer. */
  setData(data: T): void;
}

export function useQuery<T>(key: string, fetcher: (api: FailsafeApi) => Promise<Result<T>>, options: QueryOptions = {}): QueryResult<T> {
  const client = useClient();
  const { enabled = true, refetchOn, minIntervalMs = 0, pollMs } = options;
  // One query per key (and client): its data and its floor survive re-renders and hiding.
  const [slot, setSlot] = useState(() => ({ key, client, query: new Query<T>() }));
  let query = slot.query;
  if (slot.key !== key || slot.client !== client) {
    query = new Query<T>();
    setSlot({ key, client, query });
  }
  // The latest fetcher and floor (before any effect below fetches).
  useLayoutEffect(() => {
    query.configure(() => fetcher(client.api), minIntervalMs);
  });
  const state = useSyncExternalStore(query.subscribe, query.getState, query.getState);

  useEffect(() => {
    if (!enabled) return;
    // On screen (again): read at once; the floor is for what follows.
    query.fetch();
    const timer = pollMs ? setInterval(() => query.request(), pollMs) : null;
    return () => {
      if (timer) clearInterval(timer);
      query.stop();
    };
  }, [query, enabled, pollMs]);

  useAppEvents((e) => {
    if (enabled && refetchOn?.(e)) query.request();
  });

  // Stable functions (safe in effect dependencies).
  const actions = useMemo(() => ({ reload: () => query.fetch(), setData: (d: T) => query.setData(d) }), [query]);
  return { ...state, ...actions };
}
