// Where a signed report is: waiting to reach the hub, at the hub, or not delivered (the hub's reason
// in words). A refusal a change on the hub's side can lift is offered Retry; any other cannot be
// resent (its signed bytes cannot change): the report's own view offers "Issue a corrected report"
// instead, and once a corrected report is signed says "Replaced by the corrected report of <time>".
// `SyncStatusView` shows a status it is given (a list fetches all its rows' statuses in one request:
// useSyncStatuses); `SyncStatus` fetches one report's, refreshed on sync events.
import { useState } from 'react';
import { isTamperedReason, parseRefusal, refusalMeaning } from '../../common/refusal.ts';
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
  /** Start a corrected report (offered for a refusal that resending cannot lift). */
  onCorrect?: () => Promise<string | null>;
  /** The signed corrected report that replaced this one. */
  replacedBy?: { reportId: string; signedAt: string } | null;
}

/** Whether resending the same signed report could succeed (a refusal the hub side can lift, or an unknown one). */
export function resendCanHelp(reason: string | null): boolean {
  if (isTamperedReason(reason)) return false;
  const refusal = parseRefusal(reason);
  return refusal === null || refusalMeaning(refusal.code, '').resendCanHelp;
}

/** Whether a corrected report of the same study could be accepted (not when the hub holds the study's report). */
function correctionCanHelp(reason: string | null): boolean {
  if (isTamperedReason(reason)) return false;
  const refusal = parseRefusal(reason);
  return refusal === null || refusalMeaning(refusal.code, '').correctionCanHelp !== false;
}

export function SyncStatusView({ status, error, onRetry, compact, onCorrect, replacedBy }: SyncStatusViewProps) {
  const [busy, setBusy] = useState(false);
  const [retryError, setRetryError] = useState<string | null>(null);
  const retry = async () => {
    setBusy(true);
    setRetryError(await onRetry());
    setBusy(false);
  };
  const correct = async () => {
    if (!onCorrect) return;
    setBusy(true);
    setRetryError(await onCorrect());
    setBusy(false);
  };
  const failed = status?.state === 'failed';
  const resendable = failed && resendCanHelp(status.reason);
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
      {failed && replacedBy ? (
        <span data-testid="replaced-by"> · Replaced by the corrected report of {formatDateTime(replacedBy.signedAt)}.</span>
      ) : null}
      {resendable && !replacedBy && (
        <button type="button" className="small" disabled={busy} onClick={() => void retry()}>
          {busy ? 'Retrying…' : 'Retry'}
        </button>
      )}
      {failed && !resendable && !replacedBy && onCorrect && !compact && correctionCanHelp(status.reason) && (
        <button type="button" className="small" data-testid="correct-button" disabled={busy} onClick={() => void correct()}>
          {busy ? 'Opening…' : 'Issue a corrected report'}
        </button>
      )}
    </div>
  );
}

/** One report's delivery (the signed report's own view). Nothing without a hub. */
export function SyncStatus({ reportId, onCorrect, replacedBy }: { reportId: string } & Pick<SyncStatusViewProps, 'onCorrect' | 'replacedBy'>) {
  const hub = useHubStatus();
  const statuses = useSyncStatuses([reportId]);
  if (!hub?.configured) return null;
  return (
    <SyncStatusView
      status={statuses.get(reportId)}
      error={statuses.error}
      onRetry={() => statuses.retry(reportId)}
      {...(onCorrect ? { onCorrect } : {})}
      replacedBy={replacedBy ?? null}
    />
  );
}
