// Which view is shown (library or the study being reported), which study is open, and the
// question asked before leaving unsigned work for another study. The open report registers an
// EditorControl so that nothing unsaved is left behind: the draft is saved before any switch, and
// the window's close waits for that save (window.failsafeBeforeClose).
import { useCallback, useEffect, useRef, useState } from 'react';
import type { StudySummary } from '../../common/contract.ts';
import type { EditorControl } from '../report/editorControl.ts';
import type { Library, StudyInLibrary } from './useLibrary.ts';
import type { Notice } from './Notices.tsx';

export type View = 'library' | 'study';

export interface PendingSwitch {
  target: StudySummary;
  work: 'draft' | 'addendum';
  error?: string;
}

export interface StudyNavigation {
  view: View;
  setView(v: View): void;
  current: StudyInLibrary | null;
  /** Bumped to re-open the same study afresh (after a take-over). */
  generation: number;
  pending: PendingSwitch | null;
  register(control: EditorControl | null): void;
  openNow(studyUid: string): Promise<boolean>;
  /** Open a study, asking first when unsigned work would be left. */
  requestOpen(studyUid: string): void;
  confirmSwitch(): Promise<void>;
  cancelSwitch(): void;
  /** After a take-over: leave the current report (saved) and open the adopted draft's study. */
  openAdopted(studyUid: string): Promise<void>;
  /** Close the open report before logging out; false (with a notice) when that is not possible. */
  closeForLogout(): Promise<boolean>;
}

export function useStudyNavigation(library: Library, notify: (n: Notice) => void, onReportsChanged: () => void): StudyNavigation {
  const [current, setCurrent] = useState<StudyInLibrary | null>(null);
  const [view, setView] = useState<View>('library');
  const [pending, setPending] = useState<PendingSwitch | null>(null);
  const [generation, setGeneration] = useState(0);
  const control = useRef<EditorControl | null>(null);
  const register = useCallback((c: EditorControl | null) => {
    control.current = c;
  }, []);
  useEffect(() => {
    window.failsafeBeforeClose = () => control.current?.flush() ?? Promise.resolve(true);
    return () => {
      delete window.failsafeBeforeClose;
    };
  }, []);

  const { find, known } = library;
  const openNow = useCallback(
    async (studyUid: string): Promise<boolean> => {
      const found = await find(studyUid);
      if (!found) {
        notify({ level: 'error', message: `Study ${studyUid} is not in the local library (was its folder moved?).` });
        return false;
      }
      setCurrent(found);
      setView('study');
      return true;
    },
    [find, notify],
  );

  const openAdopted = useCallback(
    async (studyUid: string) => {
      if (control.current && !(await control.current.flush())) {
        notify({ level: 'error', message: 'The draft was taken over, but the current draft could not be saved, so the study was not switched. Your text is kept.' });
        return;
      }
      setGeneration((g) => g + 1);
      await openNow(studyUid);
      onReportsChanged();
    },
    [openNow, notify, onReportsChanged],
  );

  const requestOpen = useCallback(
    (studyUid: string) => {
      if (current?.study.studyUid === studyUid) {
        setView('study');
        return;
      }
      const work = control.current?.unsignedWork() ?? null;
      const target = known(studyUid);
      if (work && current && target) {
        setPending({ target: target.study, work });
        return;
      }
      void (async () => {
        if (control.current && !(await control.current.flush())) {
          notify({ level: 'error', message: 'The current draft could not be saved, so the study was not switched. Your text is kept.' });
          return;
        }
        await openNow(studyUid);
      })();
    },
    [current, known, openNow, notify],
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

  const closeForLogout = async (): Promise<boolean> => {
    if (control.current?.unsignedWork() === 'addendum') {
      notify({ level: 'error', message: 'Sign or cancel the addendum you are writing before logging out.' });
      return false;
    }
    if (control.current && !(await control.current.leave())) {
      notify({ level: 'error', message: 'The draft could not be saved, so you were not logged out. Your text is kept.' });
      return false;
    }
    setCurrent(null);
    setView('library');
    return true;
  };

  return { view, setView, current, generation, pending, register, openNow, requestOpen, confirmSwitch, cancelSwitch: () => setPending(null), openAdopted, closeForLogout };
}
