// The hub connection as the app last saw it: read at start, every 15 s while a hub is configured,
// and when main says the hub, sync or the unfinished list changed (at most once a second).
import { useEffect } from 'react';
import type { HubStatus } from '../../common/contract.ts';
import { useAppEvents } from '../data/useAppEvents.ts';
import { useQuery } from '../data/useQuery.ts';

/** Hub status is re-read this often even without events (pending counts, reachability). */
const HUB_POLL_MS = 15_000;
const HUB_REFETCH_MIN_MS = 1_000;

export interface HubState {
  hub: HubStatus | null;
  /** Set only when the very first read failed (the app cannot start without it). */
  error: string | null;
  set(status: HubStatus): void;
  refresh(): void;
}

export function useHub(): HubState {
  const q = useQuery('hub:status', (api) => api['hub:status']({}), {
    minIntervalMs: HUB_REFETCH_MIN_MS,
    refetchOn: (e) => ['sync-changed', 'unfinished-changed', 'hub-changed', 'critical-undelivered', 'critical-resolved'].includes(e.type),
  });
  const hub = q.data ?? null;
  const { setData } = q;
  // Reachability shows at once; the rest follows with the refetch.
  useAppEvents((e) => {
    if (e.type === 'hub-changed' && hub) setData({ ...hub, online: e.online });
  });
  // Without a hub there is nothing to poll.
  const configured = hub?.configured === true;
  const { reload } = q;
  useEffect(() => {
    if (!configured) return;
    const timer = setInterval(reload, HUB_POLL_MS);
    return () => clearInterval(timer);
  }, [configured, reload]);
  return { hub, error: hub ? null : q.error, set: setData, refresh: q.reload };
}
