// Where a signed report is: waiting to reach the hub, at the hub, or refused (with the reason and
// a Retry). `SyncStatusView` shows a status it is given (a list fetches all its rows' statuses in
// one request: useSyncStatuses); `SyncStatus` fetches one report's, refreshed on sync events.
import { useState } from 'react';
import type { SyncStatusInfo } from '../../common/contract.ts';
import { formatDateTime } from '../../common/format.ts';
import { useHubStatus } from './HubContext.ts';
import { SYNC_LABELS, syncText } from './hubText.ts';
import { useSyncStatuses } from './useSyncStatuses.ts';

export interface SyncStatusViewProps {
  status: SyncStatusInfo | null;
  error: string | null;
  /** Try a refused report again; resolves to an error message or null. */
  onRetry(): Promise<string | null>;
  /** One short line (reports list) instead of the full sentence. */
  compact?: boolean;
}

export function SyncStatusView({ status, error, onRetry, compact }: SyncStatusViewProps) {
  const [busy, setBusy] = useState(false);
  const [retryError, setRetryError] = useState<string | null>(null);
  const retry = async () => {
    setBusy(true);
    setRetryError(await onRetry());
    setBusy(false);
  };
  const problem = retryError ?? error;
  const state = status?.state ?? 'unknown';
  return (
    <div className={`sync-status sync-${state}${compact ? ' compact' : ''}`} data-testid="sync-status" data-state={state} role="status" aria-live="polite">
      {status === null ? (
        <span>{problem ? `Sync state unknown: ${problem}` : 'Checking…'}</span>
      ) : compact ? (
        <span title={syncText(status)}>{SYNC_LABELS[status.state]}</span>
      ) : (
        <span>
          <strong>Hub:</strong> {syncText(status)}
          {status.state === 'synced' && status.syncedAt ? ` (confirmed ${formatDateTime(status.syncedAt)})` : ''}
          {status.phoned ? ' · Phone call recorded.' : ''}
          {problem ? ` · ${problem}` : ''}
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

/** One report's delivery (the signed report's own view). Nothing without a hub. */
export function SyncStatus({ reportId }: { reportId: string }) {
  const hub = useHubStatus();
  const statuses = useSyncStatuses([reportId]);
  if (!hub?.configured) return null;
  return <SyncStatusView status={statuses.get(reportId)} error={statuses.error} onRetry={() => statuses.retry(reportId)} />;
}
