// The workstation shell: first-start profile, library, the study being reported, and the
// question asked before leaving unsigned work.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { AppEvent, AppInfo, PatientSummary, StudySummary } from '../common/contract.ts';
import type { Profile } from '../common/report.ts';
import type { Client } from './api.ts';
import { Dialog } from './Dialog.tsx';
import { formatDicomDate, formatPersonName } from './format.ts';
import { Library } from './Library.tsx';
import { ProfileSetup, ROLE_LABELS } from './ProfileSetup.tsx';
import type { EditorControl } from './report/ReportEditor.tsx';
import { SHORTCUTS, modalOpen, typingIn, useKeydown } from './shortcuts.ts';
import { StudyScreen } from './StudyScreen.tsx';

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

export function App({ client }: { client: Client }) {
  const [appInfo, setAppInfo] = useState<AppInfo | null>(null);
  const [profile, setProfile] = useState<Profile | null | undefined>(undefined);
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

  // Boot: app info, profile, library; at first start, the bundled sample study.
  useEffect(() => {
    void (async () => {
      const [info, prof] = await Promise.all([client.api['app:info']({}), client.api['profile:get']({})]);
      if (!info.ok) return setBootError(info.error.message);
      if (!prof.ok) return setBootError(prof.error.message);
      setAppInfo(info.value);
      setProfile(prof.value);
      await loadLibrary();
    })();
  }, [client, loadLibrary]);

  useEffect(() => {
    if (!client.events) return;
    return client.events.subscribe((e: AppEvent) => {
      if (e.type === 'library-changed') void loadLibrary();
      else if (e.type === 'sync-changed' || e.type === 'unfinished-changed') reportsChanged();
      else if (e.type === 'notice') setNotice({ level: e.level, message: e.message });
      else if ('message' in e && typeof e.message === 'string') {
        // Other events that speak to the user (e.g. a critical finding not yet delivered).
        setNotice({ level: (e.type as string).startsWith('critical') ? 'critical' : 'warning', message: e.message });
        reportsChanged();
      }
    });
  }, [client, loadLibrary, reportsChanged]);

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
    if (e.defaultPrevented || modalOpen() || profile === null || editingProfile) return;
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
  if (!appInfo || profile === undefined) {
    return (
      <main className="boot-message" aria-busy="true">
        <p>Starting Failsafe…</p>
      </main>
    );
  }
  if (profile === null || editingProfile) {
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
        <button type="button" className="small" onClick={() => setEditingProfile(true)} title="Edit your signer profile">
          {profile.name} · {ROLE_LABELS[profile.role]}
        </button>
      </header>

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
              key={current.study.studyUid}
              client={client}
              appInfo={appInfo}
              study={current.study}
              patient={current.patient}
              profile={profile}
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
            {pending.error && (
              <p role="alert" className="error-text">
                {pending.error}
              </p>
            )}
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
    </div>
  );
}
