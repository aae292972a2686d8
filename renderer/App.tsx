// The workstation shell: log in to the hub (or, without a hub, the local signer profile), then the
// library with the department's unfinished reports, and the study being reported. The pieces:
// app/useHub (hub status), app/useLibrary (patients), app/useStudyNavigation (which study is open,
// the question before leaving unsigned work), app/TopBar, app/Notices (notices, offline banner),
// app/SwitchDialog, app/HelpDialog, app/useAppShortcuts; hub/CriticalDialog (phone it through).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppInfo } from '../common/contract.ts';
import type { Profile } from '../common/report.ts';
import { HelpDialog } from './app/HelpDialog.tsx';
import { NoticeBar, OfflineBanner, type Notice } from './app/Notices.tsx';
import { SwitchDialog } from './app/SwitchDialog.tsx';
import { TopBar } from './app/TopBar.tsx';
import { useAppShortcuts } from './app/useAppShortcuts.ts';
import { useHub } from './app/useHub.ts';
import { useLibrary } from './app/useLibrary.ts';
import { useStudyNavigation } from './app/useStudyNavigation.ts';
import { useClient } from './data/client.ts';
import { useAppEvents } from './data/useAppEvents.ts';
import { ClaimDialog, ClaimsContext, useClaimsSource, type ClaimQuestion } from './hub/claims.tsx';
import { CriticalDialog } from './hub/CriticalDialog.tsx';
import { HubContext } from './hub/HubContext.ts';
import { LoginScreen } from './hub/LoginScreen.tsx';
import { UnfinishedPanel } from './hub/UnfinishedPanel.tsx';
import { MyAlertsPanel } from './hub/MyAlertsPanel.tsx';
import { formatPersonName } from './format.ts';
import { Library } from './Library.tsx';
import { ProfileSetup } from './ProfileSetup.tsx';
import { StudyScreen } from './StudyScreen.tsx';

function BootMessage({ error }: { error: string | null }) {
  return error ? (
    <main className="boot-message" role="alert">
      <h1>Failsafe could not start</h1>
      <p>{error}</p>
    </main>
  ) : (
    <main className="boot-message" aria-busy="true">
      <p>Starting Failsafe…</p>
    </main>
  );
}

/** Demo mode (AppInfo.demo): always on screen, from the first moment, above everything. */
function DemoBanner() {
  return (
    <div className="demo-banner" role="note" data-testid="demo-banner">
      Demo: not for patient data. This install is a demonstration (published passwords, a data folder of its own).
    </div>
  );
}

export function App() {
  const client = useClient();
  const [appInfo, setAppInfo] = useState<AppInfo | null>(null);
  const [profile, setProfile] = useState<Profile | null | undefined>(undefined);
  const [bootError, setBootError] = useState<string | null>(null);
  const [editingProfile, setEditingProfile] = useState(false);
  const [helpOpen, setHelpOpen] = useState(false);
  const [refreshKey, setRefreshKey] = useState(0);
  const [notice, setNotice] = useState<Notice | null>(null);
  const folderInputRef = useRef<HTMLInputElement>(null);

  const hubState = useHub();
  const hub = hubState.hub;
  const library = useLibrary(appInfo !== null);
  const reportsChanged = useCallback(() => setRefreshKey((k) => k + 1), []);
  const nav = useStudyNavigation(library, setNotice, reportsChanged);
  const claims = useClaimsSource(hub, nav.view === 'library');
  const [claimQuestion, setClaimQuestion] = useState<ClaimQuestion | null>(null);
  // A study someone else is reporting opens only once the reporter confirms (issue 7 finding 6).
  const { requestOpen } = nav;
  const { known } = library;
  const openUid = nav.current?.study.studyUid ?? null;
  const openStudy = useCallback(
    (studyUid: string) => {
      if (studyUid === openUid) return requestOpen(studyUid);
      void (async () => {
        const others = await claims.othersNow(studyUid);
        if (!others || others.length === 0) return requestOpen(studyUid);
        const s = known(studyUid)?.study;
        setClaimQuestion({ studyUid, others, label: s ? `${formatPersonName(s.patientName)} (ID ${s.patientId}), ${s.description || 'study'}` : `Study ${studyUid}` });
      })();
    },
    [claims, requestOpen, known, openUid],
  );

  // Boot: app info and profile (the hub status and the library load themselves).
  useEffect(() => {
    void (async () => {
      const [info, prof] = await Promise.all([client.api['app:info']({}), client.api['profile:get']({})]);
      if (!info.ok) return setBootError(info.error.message);
      if (!prof.ok) return setBootError(prof.error.message);
      setAppInfo(info.value);
      setProfile(prof.value);
    })();
  }, [client]);

  useAppEvents((e) => {
    switch (e.type) {
      case 'notice':
        setNotice({ level: e.level, message: e.message });
        break;
      case 'draft-taken-over':
        setNotice({ level: 'warning', message: e.message });
        reportsChanged();
        break;
      case 'sync-changed':
      case 'unfinished-changed':
      case 'critical-undelivered':
      case 'critical-resolved':
        // The blocking dialog speaks for the critical ones; lists and counts follow.
        reportsChanged();
        break;
    }
  });

  const logout = async () => {
    if (!(await nav.closeForLogout())) return;
    const r = await client.api['hub:logout']({});
    if (r.ok) hubState.set(r.value);
    else setNotice({ level: 'error', message: `Log out failed: ${r.error.message}` });
  };

  const showLibrary = (focusFolder: boolean) => {
    nav.setView('library');
    setTimeout(() => {
      if (focusFolder) folderInputRef.current?.focus();
      else document.getElementById('lib-add')?.closest('section')?.querySelector<HTMLElement>('input,button')?.focus();
    }, 0);
  };

  useAppShortcuts({
    enabled: profile !== null && !editingProfile && !(hub?.configured && !hub.user),
    hasStudy: nav.current !== null,
    showLibrary,
    setView: nav.setView,
    openHelp: () => setHelpOpen(true),
  });

  const error = bootError ?? hubState.error;
  if (error || !appInfo || profile === undefined || hub === null) return <BootMessage error={error} />;

  /** At first start (no profile yet), the bundled sample opens once the signer is known. */
  const openSampleIfFirstStart = (firstStart: boolean) => {
    // Through the claim check: the sample may be a study a colleague is reporting.
    if (firstStart && appInfo.sampleStudyUid) openStudy(appInfo.sampleStudyUid);
  };
  const critical = hub.configured ? <CriticalDialog hub={hub} onRecorded={() => (reportsChanged(), hubState.refresh())} /> : null;

  if (hub.configured && !hub.user) {
    return (
      <HubContext value={hub}>
        <OfflineBanner hub={hub} />
        {appInfo.demo && <DemoBanner />}
        <main className="boot-message">
          <LoginScreen
            status={hub}
            onLoggedIn={(status) => {
              const firstStart = profile === null;
              hubState.set(status);
              reportsChanged();
              void client.api['profile:get']({}).then((p) => {
                if (p.ok) setProfile(p.value);
                openSampleIfFirstStart(firstStart);
              });
            }}
          />
        </main>
        {critical}
      </HubContext>
    );
  }
  // The hub identity is the signer; without a hub, the local profile is.
  const signer: Profile | null = hub.configured && hub.user ? { name: hub.user.name, role: hub.user.role, registration: hub.user.registration } : profile;
  if (!signer || (!hub.configured && editingProfile)) {
    return (
      <main className="boot-message">
        <ProfileSetup
          initial={profile}
          onCancel={profile ? () => setEditingProfile(false) : undefined}
          onSaved={(p) => {
            const firstStart = profile === null;
            setProfile(p);
            setEditingProfile(false);
            openSampleIfFirstStart(firstStart);
          }}
        />
      </main>
    );
  }

  const { current, view } = nav;
  return (
    <HubContext value={hub}>
      <ClaimsContext value={claims}>
      <div className="app">
        {appInfo.demo && <DemoBanner />}
        <TopBar
          view={view}
          current={current?.study ?? null}
          hub={hub}
          signer={signer}
          onLibrary={() => showLibrary(false)}
          onStudy={() => nav.setView('study')}
          onHelp={() => setHelpOpen(true)}
          onLogout={() => void logout()}
          onEditProfile={() => setEditingProfile(true)}
        />
        <main className="main">
          <div hidden={view !== 'library'} className="view">
            <Library
              top={
                <>
                  <MyAlertsPanel patients={library.patients} onOpenStudy={openStudy} />
                  <UnfinishedPanel patients={library.patients} onTakenOver={(r) => void nav.openAdopted(r.study.studyUid)} onOpenStudy={openStudy} />
                </>
              }
              appInfo={appInfo}
              patients={library.patients}
              currentStudyUid={current?.study.studyUid ?? null}
              folderInputRef={folderInputRef}
              refreshKey={refreshKey}
              visible={view === 'library'}
              onOpenStudy={openStudy}
              onLibraryChanged={library.reload}
            />
          </div>
          {current && (
            <div hidden={view !== 'study'} className="view view-study">
              <StudyScreen
                key={`${current.study.studyUid}:${nav.generation}`}
                appInfo={appInfo}
                // The library's latest reading of the open study: a series imported while it is
                // open appears at once (the list is re-read on library-changed).
                study={library.known(current.study.studyUid)?.study ?? current.study}
                patient={library.known(current.study.studyUid)?.patient ?? current.patient}
                profile={signer}
                register={nav.register}
                onReportsChanged={reportsChanged}
              />
            </div>
          )}
        </main>
        {/* Notices appear below the working area, never above it: a banner that arrives while the
            reporter is clicking must not push the controls down under the pointer (a click meant
            for one alert category landing on the next). Hazard log H34. */}
        <div className="status-area">
          <OfflineBanner hub={hub} />
          <NoticeBar notice={notice} onDismiss={() => setNotice(null)} />
          {library.error && (
            <div className="notice notice-error" role="alert">
              Could not read the library: {library.error}
            </div>
          )}
        </div>

        <SwitchDialog pending={nav.pending} current={current?.study ?? null} onStay={nav.cancelSwitch} onLeave={() => void nav.confirmSwitch()} />
        <ClaimDialog
          question={claimQuestion}
          onCancel={() => setClaimQuestion(null)}
          onContinue={() => {
            const q = claimQuestion;
            setClaimQuestion(null);
            if (q) requestOpen(q.studyUid);
          }}
        />
        <HelpDialog open={helpOpen} onClose={() => setHelpOpen(false)} />
        {critical}
      </div>
      </ClaimsContext>
    </HubContext>
  );
}
