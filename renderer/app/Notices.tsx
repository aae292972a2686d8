// The notices under the top bar: one dismissible message (from main or from the app), the library
// read error, and the offline banner (after a grace period, so a reconnect does not flash it).
import { useEffect, useState } from 'react';
import type { HubStatus } from '../../common/contract.ts';
import { waitingText } from '../hub/hubText.ts';

export interface Notice {
  level: 'info' | 'warning' | 'critical' | 'error';
  message: string;
}

export function NoticeBar({ notice, onDismiss }: { notice: Notice | null; onDismiss(): void }) {
  if (!notice) return null;
  return (
    <div className={`notice notice-${notice.level}`} role={notice.level === 'critical' || notice.level === 'error' ? 'alert' : 'status'}>
      <span>{notice.message}</span>
      <button type="button" className="small" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}

/** The offline banner waits this long, so a reconnect in progress does not flash it. */
const OFFLINE_GRACE_MS = 1_000;

export function OfflineBanner({ hub }: { hub: HubStatus | null }) {
  if (!hub || !hub.configured || hub.online) return null;
  return <OfflineNotice hub={hub} />;
}

/** Mounted while offline; shows itself after the grace period. */
function OfflineNotice({ hub }: { hub: HubStatus }) {
  const [shown, setShown] = useState(false);
  useEffect(() => {
    const t = setTimeout(() => setShown(true), OFFLINE_GRACE_MS);
    return () => clearTimeout(t);
  }, []);
  if (!shown) return null;
  return (
    <div className="notice notice-warning offline-banner" role="status" data-testid="offline-banner">
      <span>
        <strong>Offline: the hub ({hub.url ?? 'not named'}) cannot be reached.</strong> You can keep reporting and signing here. {waitingText(hub.pending)}
        {hub.failed > 0 ? ` ${hub.failed} report${hub.failed === 1 ? ' was' : 's were'} refused by the hub: see the reports list.` : ''}
      </span>
    </div>
  );
}
