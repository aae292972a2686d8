// Where signed reports are (local, pending, at the hub, refused), for a whole list in one
// `sync:statuses` request, not one per row (issue 6 line 6): fetched when the list changes and
// when main says sync or the hub changed (at most once a second), with Retry for a refused one.
import { useCallback, useEffect, useMemo, useRef } from 'react';
import type { AppEvent, FailsafeApi, Result, SyncStatusInfo } from '../../common/contract.ts';
import { useClient } from '../data/client.ts';
import { useQuery } from '../data/useQuery.ts';
import { useHubStatus } from './HubContext.ts';

/** The contract's bound on one request. */
const MAX_IDS = 5000;
const STATUS_REFETCH_MIN_MS = 1_000;

export const syncEventConcerns = (e: AppEvent): boolean =>
  e.type === 'sync-changed' || e.type === 'hub-changed' || e.type === 'critical-resolved' || e.type === 'critical-undelivered';

/** One request per 5,000 reports (one for any list a person can read). */
export async function fetchStatuses(api: FailsafeApi, reportIds: readonly string[]): Promise<Result<SyncStatusInfo[]>> {
  const out: SyncStatusInfo[] = [];
  for (let i = 0; i < reportIds.length; i += MAX_IDS) {
    const r = await api['sync:statuses']({ reportIds: reportIds.slice(i, i + MAX_IDS) });
    if (!r.ok) return r;
    out.push(...r.value);
  }
  return { ok: true, value: out };
}

export interface SyncStatuses {
  get(reportId: string): SyncStatusInfo | null;
  error: string | null;
  retry(reportId: string): Promise<string | null>;
}

/** `enabled` false (the list is hidden): nothing is fetched; shown again, it is read again. */
export function useSyncStatuses(reportIds: readonly string[], enabled = true): SyncStatuses {
  const client = useClient();
  const hub = useHubStatus();
  const configured = hub?.configured === true && enabled;
  const idsKey = reportIds.join('\n');
  const ids = useMemo(() => (idsKey === '' ? [] : idsKey.split('\n')), [idsKey]);
  const q = useQuery('sync:statuses', (api) => fetchStatuses(api, ids), {
    enabled: configured && ids.length > 0,
    refetchOn: syncEventConcerns,
    minIntervalMs: STATUS_REFETCH_MIN_MS,
  });
  // A different list (a report signed, opened, taken over): read again at once.
  const { reload, setData } = q;
  const shown = useRef(idsKey);
  useEffect(() => {
    const before = shown.current;
    shown.current = idsKey;
    // From none to some, the query's enabling reads them.
    if (before === idsKey || before === '') return;
    if (configured && ids.length > 0) reload();
  }, [idsKey, ids, configured, reload]);

  const byId = useMemo(() => new Map((q.data ?? []).map((s) => [s.reportId, s])), [q.data]);
  const data = q.data;
  const retry = useCallback(
    async (reportId: string): Promise<string | null> => {
      const r = await client.api['sync:retry']({ reportId });
      if (!r.ok) return `Retry failed: ${r.error.message}`;
      setData([...(data ?? []).filter((s) => s.reportId !== reportId), r.value]);
      return null;
    },
    [client, data, setData],
  );
  return { get: (id) => byId.get(id) ?? null, error: q.error, retry };
}
