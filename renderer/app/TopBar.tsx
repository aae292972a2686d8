// The top bar: the two views (library, the study being reported), the key help, and who is
// signing: the hub user with Log out, or (without a hub) the local signer profile to edit.
import type { HubStatus, StudySummary } from '../../common/contract.ts';
import { ROLE_LABELS } from '../../common/lifecycle.ts';
import type { Profile } from '../../common/report.ts';
import { formatPersonName } from '../format.ts';
import type { View } from './useStudyNavigation.ts';

export interface TopBarProps {
  view: View;
  current: StudySummary | null;
  hub: HubStatus;
  signer: Profile;
  onLibrary(): void;
  onStudy(): void;
  onHelp(): void;
  onLogout(): void;
  onEditProfile(): void;
}

export function TopBar({ view, current, hub, signer, onLibrary, onStudy, onHelp, onLogout, onEditProfile }: TopBarProps) {
  return (
    <header className="topbar">
      <span className="brand">Failsafe</span>
      <nav aria-label="Main">
        <button type="button" className={view === 'library' ? 'tab active' : 'tab'} aria-current={view === 'library' ? 'page' : undefined} onClick={onLibrary}>
          Library <kbd className="hint">Alt+L</kbd>
        </button>
        <button type="button" className={view === 'study' ? 'tab active' : 'tab'} aria-current={view === 'study' ? 'page' : undefined} disabled={!current} onClick={onStudy}>
          {current ? `Reporting: ${formatPersonName(current.patientName)}` : 'No study open'} <kbd className="hint">Alt+R</kbd>
        </button>
      </nav>
      <span className="spacer" />
      <button type="button" className="small" onClick={onHelp} aria-keyshortcuts="?">
        Shortcuts <kbd className="hint">?</kbd>
      </button>
      {hub.configured && hub.user ? (
        <>
          <span className="hub-user" data-testid="hub-user" title={`Logged in to ${hub.url ?? 'the hub'}; you sign as this person`}>
            <span className={hub.online ? 'hub-dot online' : 'hub-dot offline'} aria-hidden="true" />
            {hub.user.name} · {ROLE_LABELS[hub.user.role]}
            <span className="sr-only">{hub.online ? ', hub connected' : ', hub unreachable'}</span>
          </span>
          <button type="button" className="small" onClick={onLogout}>
            Log out
          </button>
        </>
      ) : (
        <button
          type="button"
          className="small"
          data-testid="local-signer"
          onClick={onEditProfile}
          title="No hub: reports are signed with this workstation's local profile, which nobody checks. Edit your signer profile"
        >
          {signer.name} · {ROLE_LABELS[signer.role]} <span className="muted">(local profile, no hub)</span>
        </button>
      )}
    </header>
  );
}
