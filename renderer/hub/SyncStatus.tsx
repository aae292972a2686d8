// Where a signed report is: waiting to reach the hub, at the hub, or refused (with the reason and
// a Retry). Refreshed on every sync event for the report.
import { useCallback, useEffect, useState } from 'react';
import type { Result, SyncStatusInfo } from '../../common/contract.ts';
import type { Client } from '../api.ts';
import { formatDateTime } from '../format.ts';
import { useHubStatus } from './HubContext.ts';
import { SYNC_LABELS, syncText } from './hubText.ts';
import { useAppEvents } from './useAppEvents.ts';

export interface SyncStatusProps {
  client: Client;
  reportId: string;
  /** One short line (reports list) instead of the full sentence. */
  compact?: boolean;
}

export function SyncStatus({ client, reportId, compact }: SyncStatusProps) {
  const hub = useHubStatus();
  const [status, setStatus] = useState<SyncStatusInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const configured = hub?.configured === true;

  const apply = useCallback((r: Result<SyncStatusInfo>) => {
    if (r.ok) {
      setStatus(r.value);
      setError(null);
    } else setError(r.error.message);
  }, []);
  const refresh = useCallback(() => void client.api['sync:status']({ reportId }).then(apply), [client, reportId, apply]);

  useEffect(() => {
    if (!configured) return;
    let live = true;
    void client.api['sync:status']({ reportId }).then((r) => live && apply(r));
    return () => {
      live = false;
    };
  }, [client, reportId, configured, apply]);

  useAppEvents(client, (e) => {
    if (!configured) return;
    if ((e.type === 'sync-changed' && (e.reportId === undefined || e.reportId === reportId)) || e.type === 'hub-changed') refresh();
    else if ((e.type === 'critical-resolved' || e.type === 'critical-undelivered') && e.reportId === reportId) refresh();
  });

  if (!configured) return null;

  const retry = async () => {
    setBusy(true);
    const r = await client.api['sync:retry']({ reportId });
    setBusy(false);
    if (r.ok) setStatus(r.value);
    else setError(`Retry failed: ${r.error.message}`);
  };

  const state = status?.state ?? 'unknown';
  return (
    <div className={`sync-status sync-${state}${compact ? ' compact' : ''}`} data-testid="sync-status" data-state={state} role="status" aria-live="polite">
      {status === null ? (
        <span>{error ? `Sync state unknown: ${error}` : 'Checking…'}</span>
      ) : compact ? (
        <span title={syncText(status)}>{SYNC_LABELS[status.state]}</span>
      ) : (
        <span>
          <strong>Hub:</strong> {syncText(status)}
          {status.state === 'synced' && status.syncedAt ? ` (confirmed ${formatDateTime(status.syncedAt)})` : ''}
          {status.phoned ? ' · Phone call recorded.' : ''}
          {error ? ` · ${error}` : ''}
        </span>
      )}
      {status?.state === 'failed' && (
        <button type="button" className="small" disabled={busy} onClick={() => void retry()}>
          {busy ? 'Retrying…' : 'Retry'}
        </button>
      )}
    </div>
  );
}
