// Words for the hub's state: stale reasons, sync states, who may do what. Pure
// functions (unit-tested in test/renderer/hubText.test.ts).
import type { SyncStatusInfo } from '../../common/contract.ts';
import { formatDuration } from '../../common/format.ts';
import { roleMay, type HubAction, type HubUser, type UnfinishedItem } from '../../common/hub.ts';

/** Why a draft is highlighted, in words: "idle 5 h", "author's session ended". */
export function staleText(item: Pick<UnfinishedItem, 'stale' | 'staleReasons' | 'idleMs'>): string {
  if (!item.stale) return '';
  const parts = item.staleReasons.map((r) => (r === 'idle' ? `idle ${formatDuration(item.idleMs)}` : "author's session ended"));
  return parts.length > 0 ? parts.join('; ') : 'stale';
}

export const SYNC_LABELS: Record<SyncStatusInfo['state'], string> = {
  local: 'Not sent (this workstation only)',
  pending: 'Waiting to reach the hub',
  synced: 'At the hub',
  failed: 'Not delivered',
};

/** One line for a signed report's delivery: label, and the reason when there is one. */
export function syncText(s: Pick<SyncStatusInfo, 'state' | 'reason' | 'attempts'>): string {
  const label = SYNC_LABELS[s.state];
  // The outbox words a permanent refusal "Not delivered: <the hub's reason in words>. …" (common/refusal.ts).
  if (s.state === 'failed') return s.reason?.startsWith(`${label}: `) ? s.reason : `${label}: ${s.reason ?? 'no reason given'}`;
  if (s.state === 'pending') {
    const tries = s.attempts > 0 ? ` (${s.attempts} attempt${s.attempts === 1 ? '' : 's'})` : '';
    return s.reason ? `${label}${tries}: ${s.reason}` : `${label}${tries}`;
  }
  return label;
}

export function may(user: HubUser | null, action: HubAction): boolean {
  return user !== null && roleMay(user.role, action);
}

/** "3 signed reports are waiting", for the offline banner. */
export function waitingText(pending: number): string {
  if (pending <= 0) return 'No signed report is waiting to be sent.';
  return `${pending} signed report${pending === 1 ? ' is' : 's are'} waiting to be sent; ${pending === 1 ? 'it is' : 'they are'} kept here and sent when the hub is back.`;
}
