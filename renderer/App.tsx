// The workstation shell: log in to the hub (or, without a hub, the local signer profile), library
// and unfinished reports, the study being reported, the question asked before leaving unsigned
// work, the offline banner and the blocking phone-it-through warning.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppEvent, AppInfo, HubStatus, PatientSummary, StudySummary } from '../common/contract.ts';
import type { Profile } from '../common/report.ts';
import type { Client } from './api.ts';
import { Dialog } from './Dialog.tsx';
import { formatDicomDate, formatPersonName } from './format.ts';
import { CriticalDialog } from './hub/CriticalDialog.tsx';
import { HubContext } from './hub/HubContext.ts';
import { waitingText } from './hub/hubText.ts';
import { LoginScreen } from './hub/LoginScreen.tsx';
import { UnfinishedPanel } from './hub/UnfinishedPanel.tsx';
import { Library } from './Library.tsx';
import { ProfileSetup, ROLE_LABELS } from './ProfileSetup.tsx';
import type { EditorControl } from './report/ReportEditor.tsx';
import { SHORTCUTS, modalOpen, typingIn, useKeydown } from './shortcuts.ts';
import { StudyScreen } from './StudyScreen.tsx';
import { ErrorText } from './ErrorText.tsx';

type View = 'library' | 'study';

interface PendingSwitch {
  target: StudySummary;
  work: 'draft' | 'addendum';
  error?: string;
}

function findStudy(patients: readonly PatientSummary[], studyUid: string): { study: StudySummary; patient: PatientSummary } | null {
  for (const p of patients) {
    const s = p.studies.find((x) => x.studyUid === studyUid);
    if (s) return { study: s, patient: p };
  }
  return null;
}

function studyName(s: StudySummary): string {
  return `${formatPersonName(s.patientName)} (ID ${s.patientId}), ${s.description || 'study'} of ${formatDicomDate(s.studyDate)}`;
}

/** Hub status is re-read this often even without events (pending counts, reachability). */
const HUB_POLL_MS = 15_000;
/** The offline banner waits this long, so a reconnect in progress does not flash it. */
const OFFLINE_GRACE_MS = 1_000;

function OfflineBanner({ hub }: { hub: HubStatus | null }) {
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

export function App({ client }: { client: Client }) {
  const [appInfo, setAppInfo] = useState<AppInfo | null>(null);
  const [profile, setProfile] = useState<Profile | null | undefined>(undefined);
  const [hub, setHub] = useState<HubStatus | null>(null);
  const [openGeneration, setOpenGeneration] = useState(0);
  const [bootError, setBootError] = useState<string | null>(null);
  const [editingProfile, setEditingProfile] = useState(false);
  const [patients, setPatients] = useState<PatientSummary[]>([]);
  const [libraryError, setLibraryError] = useState<string | null>(null);
  const [current, setCurrent] = useState<{ study: StudySummary; patient: PatientSummary } | null>(null);
  const [view, setView] = useState<View>('library');
  const [pending, setPending] = useState<PendingSwitch | null>(null);
  const [helpOpen, setHelpOpen] = useState(false);
  const [refreshKey, setRefreshKey] = useState(0);
  const [notice, setNotice] = useState<{ level: 'info' | 'warning' | 'critical' | 'error'; message: string } | null>(null);
  const control = useRef<EditorControl | null>(null);
  const folderInputRef = useRef<HTMLInputElement>(null);
  const patientsRef = useRef<PatientSummary[]>([]);
  const register = useCallback((c: EditorControl | null) => {
    control.current = c;
  }, []);
  useEffect(() => {
    window.failsafeBeforeClose = () => control.current?.flush() ?? Promise.resolve(true);
    return () => {
      delete window.failsafeBeforeClose;
    };
  }, []);

  const loadLibrary = useCallback(async (): Promise<PatientSummary[]> => {
    const r = await client.api['library:list']({});
    if (!r.ok) {
      setLibraryError(r.error.message);
      return patientsRef.current;
    }
    setLibraryError(null);
    patientsRef.current = r.value;
    setPatients(r.value);
    return r.value;
  }, [client]);

  const reportsChanged = useCallback(() => setRefreshKey((k) => k + 1), []);

  const openNow = useCallback(
    async (studyUid: string): Promise<boolean> => {
      let found = findStudy(patientsRef.current, studyUid);
      if (!found) found = findStudy(await loadLibrary(), studyUid);
      if (!found) {
        setNotice({ level: 'error', message: `Study ${studyUid} is not in the local library (was its folder moved?).` });
        return false;
      }
      setCurrent(found);
      setView('study');
      return true;
    },
    [loadLibrary],
  );

  const refreshHub = useCallback(async (): Promise<void> => {
    const r = await client.api['hub:status']({});
    if (r.ok) setHub(r.value);
  }, [client]);

  // Boot: app info, profile, hub, library; at first start, the bundled sample study.
  useEffect(() => {
    void (async () => {
      const [info, prof, hubStatus] = await Promise.all([client.api['app:info']({}), client.api['profile:get']({}), client.api['hub:status']({})]);
      if (!info.ok) return setBootError(info.error.message);
      if (!prof.ok) return setBootError(prof.error.message);
      if (!hubStatus.ok) return setBootError(hubStatus.error.message);
      setAppInfo(info.value);
      setProfile(prof.value);
      setHub(hubStatus.value);
      await loadLibrary();
    })();
  }, [client, loadLibrary]);

  const hubConfigured = hub?.configured === true;
  useEffect(() => {
    if (!hubConfigured) return;
    const timer = setInterval(() => void refreshHub(), HUB_POLL_MS);
    return () => clearInterval(timer);
  }, [hubConfigured, refreshHub]);

  useEffect(() => {
    if (!client.events) return;
    return client.events.subscribe((e: AppEvent) => {
      switch (e.type) {
        case 'library-changed':
          void loadLibrary();
          break;
        case 'sync-changed':
        case 'unfinished-changed':
          reportsChanged();
          void refreshHub();
          break;
        case 'hub-changed':
          setHub((h) => (h ? { ...h, online: e.online } : h));
          void refreshHub();
          break;
        case 'notice':
          setNotice({ level: e.level, message: e.message });
          break;
        case 'draft-taken-over':
          setNotice({ level: 'warning', message: e.message });
          reportsChanged();
          break;
        case 'critical-undelivered':
        case 'critical-resolved':
          // The blocking dialog speaks for these; lists and counts follow.
          reportsChanged();
          void refreshHub();
          break;
      }
    });
  }, [client, loadLibrary, reportsChanged, refreshHub]);

  /** After a take-over: leave the current report (saved) and open the adopted draft's study. */
  const openAdopted = useCallback(
    async (studyUid: string) => {
      if (control.current && !(await control.current.flush())) {
        setNotice({ level: 'error', message: 'The draft was taken over, but the current draft could not be saved, so the study was not switched. Your text is kept.' });
        return;
      }
      setOpenGeneration((g) => g + 1);
      await openNow(studyUid);
      reportsChanged();
    },
    [openNow, reportsChanged],
  );

  const logout = async () => {
    if (control.current?.unsignedWork() === 'addendum') {
      setNotice({ level: 'error', message: 'Sign or cancel the addendum you are writing before logging out.' });
      return;
    }
    if (control.current && !(await control.current.leave())) {
      setNotice({ level: 'error', message: 'The draft could not be saved, so you were not logged out. Your text is kept.' });
      return;
    }
    setCurrent(null);
    setView('library');
    const r = await client.api['hub:logout']({});
    if (r.ok) setHub(r.value);
    else setNotice({ level: 'error', message: `Log out failed: ${r.error.message}` });
  };

  const requestOpen = useCallback(
    (studyUid: string) => {
      if (current?.study.studyUid === studyUid) {
        setView('study');
        return;
      }
      const work = control.current?.unsignedWork() ?? null;
      const target = findStudy(patientsRef.current, studyUid);
      if (work && current && target) {
        setPending({ target: target.study, work });
        return;
      }
      void (async () => {
        if (control.current && !(await control.current.flush())) {
          setNotice({ level: 'error', message: 'The current draft could not be saved, so the study was not switched. Your text is kept.' });
          return;
        }
        await openNow(studyUid);
      })();
    },
    [current, openNow],
  );

  const confirmSwitch = async () => {
    if (!pending) return;
    if (pending.work === 'draft' && control.current && !(await control.current.flush())) {
      setPending({ ...pending, error: 'The draft could not be saved just now. Stay to keep your text, and try again when the save status says Saved.' });
      return;
    }
    const target = pending.target.studyUid;
    setPending(null);
    await openNow(target);
  };

  const showLibrary = (focusFolder: boolean) => {
    setView('library');
    setTimeout(() => {
      if (focusFolder) folderInputRef.current?.focus();
      else document.getElementById('lib-add')?.closest('section')?.querySelector<HTMLElement>('input,button')?.focus();
    }, 0);
  };

  useKeydown((e) => {
    // Keys the image viewer (or a field) already handled are not app shortcuts.
    if (e.defaultPrevented || modalOpen() || profile === null || editingProfile || (hub?.configured && !hub.user)) return;
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.code === 'KeyO') {
      e.preventDefault();
      showLibrary(true);
    } else if (e.altKey && !e.ctrlKey && e.code === 'KeyL') {
      e.preventDefault();
      showLibrary(false);
    } else if (e.altKey && !e.ctrlKey && e.code === 'KeyR' && current) {
      e.preventDefault();
      setView('study');
      setTimeout(() => document.getElementById('report-title')?.closest('.report-pane')?.querySelector<HTMLElement>('textarea,input,select,button')?.focus(), 0);
    } else if (e.altKey && !e.ctrlKey && e.code === 'KeyI' && current) {
      e.preventDefault();
      setView('study');
      setTimeout(() => document.querySelector<HTMLElement>('#images-pane [tabindex="0"], #images-pane canvas, #images-pane')?.focus(), 0);
    } else if (e.altKey && !e.ctrlKey && e.code === 'KeyU') {
      e.preventDefault();
      setView('library');
      setTimeout(() => {
        const panel = document.querySelector<HTMLElement>('[data-testid="unfinished-panel"]');
        panel?.scrollIntoView({ block: 'start' });
        (panel?.querySelector<HTMLElement>('[data-testid="unfinished-item"] button') ?? panel?.querySelector<HTMLElement>('button'))?.focus();
      }, 0);
    } else if (e.key === '?' && !e.ctrlKey && !e.altKey && !typingIn(e.target)) {
      e.preventDefault();
      setHelpOpen(true);
    }
  });

  if (bootError) {
    return (
      <main className="boot-message" role="alert">
        <h1>Failsafe could not start</h1>
        <p>{bootError}</p>
      </main>
    );
  }
  if (!appInfo || profile === undefined || hub === null) {
    return (
      <main className="boot-message" aria-busy="true">
        <p>Starting Failsafe…</p>
      </main>
    );
  }
  const critical = hub.configured ? <CriticalDialog client={client} hub={hub} onRecorded={() => (reportsChanged(), void refreshHub())} /> : null;
  if (hub.configured && !hub.user) {
    return (
      <HubContext value={hub}>
        <OfflineBanner hub={hub} />
        <main className="boot-message">
          <LoginScreen
            client={client}
            status={hub}
            onLoggedIn={(status) => {
              const firstStart = profile === null;
              setHub(status);
              reportsChanged();
              void client.api['profile:get']({}).then((p) => {
                if (p.ok) setProfile(p.value);
                if (firstStart && appInfo.sampleStudyUid) void openNow(appInfo.sampleStudyUid);
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
          client={client}
          initial={profile}
          onCancel={profile ? () => setEditingProfile(false) : undefined}
          onSaved={(p) => {
            const firstStart = profile === null;
            setProfile(p);
            setEditingProfile(false);
            if (firstStart && appInfo.sampleStudyUid) void openNow(appInfo.sampleStudyUid);
          }}
        />
      </main>
    );
  }

  return (
    <HubContext value={hub}>
    <div className="app">
      <header className="topbar">
        <span className="brand">Failsafe</span>
        <nav aria-label="Main">
          <button type="button" className={view === 'library' ? 'tab active' : 'tab'} aria-current={view === 'library' ? 'page' : undefined} onClick={() => showLibrary(false)}>
            Library <kbd className="hint">Alt+L</kbd>
          </button>
          <button
            type="button"
            className={view === 'study' ? 'tab active' : 'tab'}
            aria-current={view === 'study' ? 'page' : undefined}
            disabled={!current}
            onClick={() => setView('study')}
          >
            {current ? `Reporting: ${formatPersonName(current.study.patientName)}` : 'No study open'} <kbd className="hint">Alt+R</kbd>
          </button>
        </nav>
        <span className="spacer" />
        <button type="button" className="small" onClick={() => setHelpOpen(true)} aria-keyshortcuts="?">
          Shortcuts <kbd className="hint">?</kbd>
        </button>
        {hub.configured && hub.user ? (
          <>
            <span className="hub-user" data-testid="hub-user" title={`Logged in to ${hub.url ?? 'the hub'}; you sign as this person`}>
              <span className={hub.online ? 'hub-dot online' : 'hub-dot offline'} aria-hidden="true" />
              {hub.user.name} · {ROLE_LABELS[hub.user.role]}
              <span className="sr-only">{hub.online ? ', hub connected' : ', hub unreachable'}</span>
            </span>
            <button type="button" className="small" onClick={() => void logout()}>
              Log out
            </button>
          </>
        ) : (
          <button type="button" className="small" onClick={() => setEditingProfile(true)} title="Edit your signer profile">
            {signer.name} · {ROLE_LABELS[signer.role]}
          </button>
        )}
      </header>
      <OfflineBanner hub={hub} />

      {notice && (
        <div className={`notice notice-${notice.level}`} role={notice.level === 'critical' || notice.level === 'error' ? 'alert' : 'status'}>
          <span>{notice.message}</span>
          <button type="button" className="small" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      )}
      {libraryError && (
        <div className="notice notice-error" role="alert">
          Could not read the library: {libraryError}
        </div>
      )}

      <main className="main">
        <div hidden={view !== 'library'} className="view">
          <Library
            top={<UnfinishedPanel client={client} patients={patients} visible={view === 'library'} onTakenOver={(r) => void openAdopted(r.study.studyUid)} onOpenStudy={requestOpen} />}
            client={client}
            appInfo={appInfo}
            patients={patients}
            currentStudyUid={current?.study.studyUid ?? null}
            folderInputRef={folderInputRef}
            refreshKey={refreshKey}
            onOpenStudy={requestOpen}
            onLibraryChanged={() => void loadLibrary()}
          />
        </div>
        {current && (
          <div hidden={view !== 'study'} className="view view-study">
            <StudyScreen
              key={`${current.study.studyUid}:${openGeneration}`}
              client={client}
              appInfo={appInfo}
              study={current.study}
              patient={current.patient}
              profile={signer}
              register={register}
              onReportsChanged={reportsChanged}
            />
          </div>
        )}
      </main>

      <Dialog open={pending !== null} title="Leave unsigned work?" onCancel={() => setPending(null)} role="alertdialog" testId="unsigned-switch-dialog">
        {pending && current && (
          <>
            {pending.work === 'draft' ? (
              <p>
                The report for <strong>{studyName(current.study)}</strong> is an <strong>unsigned draft</strong>. It stays saved as a draft under “Reports in progress”,
                but nothing reaches the referrer, and no alert is raised, until it is signed.
              </p>
            ) : (
              <p>
                You are writing an addendum to the report for <strong>{studyName(current.study)}</strong> that is <strong>not signed</strong>. Leaving discards its
                text.
              </p>
            )}
            <p>
              Open <strong>{studyName(pending.target)}</strong> instead?
            </p>
            <ErrorText error={pending.error} />
            <div className="form-actions">
              <button type="button" className="primary" autoFocus onClick={() => setPending(null)}>
                Stay with the current report
              </button>
              <button type="button" onClick={() => void confirmSwitch()}>
                {pending.work === 'draft' ? 'Leave it unsigned and open the other study' : 'Discard the addendum and open the other study'}
              </button>
            </div>
          </>
        )}
      </Dialog>

      <Dialog open={helpOpen} title="Keyboard shortcuts" onCancel={() => setHelpOpen(false)} testId="help-dialog">
        <table className="data-table">
          <thead>
            <tr>
              <th scope="col">Keys</th>
              <th scope="col">Action</th>
            </tr>
          </thead>
          <tbody>
            {SHORTCUTS.map((s) => (
              <tr key={s.keys}>
                <td>
                  <kbd>{s.keys}</kbd>
                </td>
                <td>{s.action}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="muted">The image viewer has its own keys (window presets, scrolling); they work while the images have focus.</p>
        <div className="form-actions">
          <button type="button" autoFocus onClick={() => setHelpOpen(false)}>
            Close
          </button>
        </div>
      </Dialog>
      {critical}
    </div>
    </HubContext>
  );
}
