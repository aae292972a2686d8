// Who is reporting which study (issue 7 findings 6, 7). Opening a study for reporting publishes its
// draft to the hub at once, even empty: that draft is the study's claim. The department's unfinished
// list is therefore the list of claims; here it is read by study UID, live on the hub's
// 'unfinished-changed' (honouring the site's floor), and shown as "Being reported by Dr X since
// 10:42" in the library and on the study. Before a study claimed by someone else opens, a fresh read
// (not the cached list: a claim made a moment ago counts) and the reporter's confirmation.
// The same read feeds the Unfinished panel (hub/UnfinishedPanel.tsx): one query of the list per
// workstation, not one for the claims and another for the panel.
import { createContext, useCallback, useContext, useMemo } from 'react';
import type { HubStatus } from '../../common/contract.ts';
import type { UnfinishedItem, UnfinishedList } from '../../common/hub.ts';
import { formatClock, formatDateTime } from '../../common/format.ts';
import { useClient } from '../data/client.ts';
import { useQuery } from '../data/useQuery.ts';
import { Dialog } from '../Dialog.tsx';
import { may } from './hubText.ts';

export interface StudyClaim {
  reportId: string;
  ownerName: string;
  ownerUsername: string;
  /** When the study was opened for reporting (the draft created on the hub). */
  since: string;
  /** Closed: opened and left unfinished; open: being reported now. */
  closed: boolean;
  mine: boolean;
}

export interface Claims {
  /** Every claim on this study, the user's own included, oldest first. */
  on(studyUid: string): StudyClaim[];
  /** A fresh read of the claims of others on this study; null when the hub cannot say (offline, not allowed). */
  othersNow(studyUid: string): Promise<StudyClaim[] | null>;
  /** The department's unfinished list as last read (null: not yet), the error of the last read, and a read now. */
  list: { data: UnfinishedList | null; error: string | null; reload(): void };
}

const NONE: Claims = { on: () => [], othersNow: async () => null, list: { data: null, error: null, reload: () => undefined } };

/** While the list is on screen it is also re-read this often (and never more often than the site's floor). */
export const LIST_POLL_MS = 30_000;
export const ClaimsContext = createContext<Claims>(NONE);
export const useClaims = (): Claims => useContext(ClaimsContext);

function toClaims(items: readonly UnfinishedItem[], me: string | null): Map<string, StudyClaim[]> {
  const by = new Map<string, StudyClaim[]>();
  const sorted = [...items].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
  for (const i of sorted) {
    const c: StudyClaim = { reportId: i.reportId, ownerName: i.owner.name, ownerUsername: i.owner.username, since: i.createdAt, closed: i.closed, mine: i.owner.username === me };
    by.set(i.study.studyUid, [...(by.get(i.study.studyUid) ?? []), c]);
  }
  return by;
}

/**
 * The app's one source of claims and of the unfinished list (provide it with ClaimsContext); `hub`
 * is the app's hub status (the app provides HubContext itself); `listShown`: the Unfinished panel
 * is on screen (then the list is also polled). Load on the hub (docs/architecture.md): every
 * workstation refetching the list on every `unfinished-changed` is what breaks first, so every
 * refetch but a person's Refresh honours the site policy's floor: events within it are coalesced.
 */
export function useClaimsSource(hub: HubStatus | null, listShown = false): Claims {
  const client = useClient();
  const user = hub?.user ?? null;
  const allowed = hub?.configured === true && may(user, 'unfinished:list');
  const floor = hub?.unfinishedRefetchMinMs ?? 10_000;
  const q = useQuery('unfinished:list', (api) => api['unfinished:list']({}), {
    enabled: allowed,
    minIntervalMs: floor,
    ...(listShown ? { pollMs: Math.max(LIST_POLL_MS, floor) } : {}),
    refetchOn: (e) => e.type === 'unfinished-changed' || e.type === 'draft-taken-over' || e.type === 'sync-changed' || (e.type === 'hub-changed' && e.online),
  });
  const me = user?.username ?? null;
  const by = useMemo(() => (allowed && q.data ? toClaims(q.data.items, me) : new Map<string, StudyClaim[]>()), [allowed, q.data, me]);
  // Asked right after login too (the first start's sample study), before this hook sees the user:
  // the hub decides whether the list may be read (a referrer's is refused: nothing to ask).
  const othersNow = useCallback(async (studyUid: string): Promise<StudyClaim[] | null> => {
    const status = await client.api['hub:status']({});
    const now = status.ok ? status.value.user : null;
    // A role that may not read the unfinished list (a referrer) is not asked: it drafts nothing.
    if (!may(now, 'unfinished:list')) return null;
    const r = await client.api['unfinished:list']({});
    if (!r.ok) return null;
    const who = now?.username ?? null;
    return (toClaims(r.value.items, who).get(studyUid) ?? []).filter((c) => !c.mine);
  }, [client]);
  const data = allowed ? (q.data ?? null) : null;
  const { error, reload } = q;
  return useMemo(
    () => ({ on: (uid: string) => by.get(uid) ?? [], othersNow, list: { data, error, reload } }),
    [by, othersNow, data, error, reload],
  );
}

/** "10:42" today, the date and time otherwise. */
function when(iso: string, now = new Date()): string {
  const d = new Date(iso);
  return d.toDateString() === now.toDateString() ? formatClock(iso) : formatDateTime(iso);
}

/** "Being reported by Dr X since 10:42", or "Opened by Dr X at 10:42 and left unfinished". */
export function claimText(c: StudyClaim): string {
  const who = c.mine ? 'you' : c.ownerName;
  return c.closed ? `Opened by ${who} at ${when(c.since)} and left unfinished` : `Being reported by ${who} since ${when(c.since)}`;
}

/** The claims on a study, one line each (nothing when none). */
export function ClaimLine({ studyUid, othersOnly = false }: { studyUid: string; othersOnly?: boolean }) {
  const claims = useClaims().on(studyUid).filter((c) => !othersOnly || !c.mine);
  if (claims.length === 0) return null;
  return (
    <span className="study-claims" role="status" data-testid="study-claim">
      {claims.map((c) => (
        <span key={c.reportId} className={c.mine ? 'claim claim-mine' : 'claim claim-other'}>
          {claimText(c)}
        </span>
      ))}
    </span>
  );
}

export interface ClaimQuestion {
  studyUid: string;
  label: string;
  others: StudyClaim[];
}

/** Asked before opening a study someone else is reporting: cancel opens nothing and creates no draft. */
export function ClaimDialog({ question, onCancel, onContinue }: { question: ClaimQuestion | null; onCancel(): void; onContinue(): void }) {
  return (
    <Dialog open={question !== null} title="Someone is already reporting this study" onCancel={onCancel} role="alertdialog" testId="claim-dialog">
      {question && (
        <>
          <p>
            <strong>{question.label}</strong>:
          </p>
          <ul>
            {question.others.map((c) => (
              <li key={c.reportId}>{claimText(c)}.</li>
            ))}
          </ul>
          <p>
            The hub accepts one report per study: the first signed is kept, a later one is refused and must be an addendum to it. Talk to{' '}
            {question.others.map((c) => c.ownerName).join(' or ')} first, or take the draft over from the Unfinished list.
          </p>
          <div className="form-actions">
            <button type="button" className="primary" autoFocus onClick={onCancel}>
              Cancel: do not open
            </button>
            <button type="button" onClick={onContinue}>
              Open and report it too
            </button>
          </div>
        </>
      )}
    </Dialog>
  );
}
