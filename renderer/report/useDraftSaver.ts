// The draft's text and its saving: the Autosaver (≤ 1 s debounce, keepalive on page hide), the save
// conflict (with the stored version fetched to choose from), the take-over lock (a colleague took
// the draft: stop saving, keep the text on screen) and the EditorControl the app uses before
// leaving the study.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { isEditable } from '../../common/lifecycle.ts';
import type { Report, ReportContent } from '../../common/report.ts';
import { useClient } from '../data/client.ts';
import { useAppEvents } from '../data/useAppEvents.ts';
import { Autosaver, type SaveState } from './autosave.ts';
import { hasReporterContent, templateOf } from './draftState.ts';
import type { EditorControl } from './editorControl.ts';
import type { Update } from './fields.tsx';

/** Who took this draft over, and what the reporter is told. */
export interface TakenOver {
  owner: string;
  message: string;
  /** Changes typed here that were not saved before the take-over. */
  unsaved: boolean;
}

export interface Conflict {
  message: string;
  latest: Report | null;
  mine: ReportContent | null;
}

export function takenOverMessage(owner: string): string {
  return `${owner} took over this draft. Your copy is read-only.`;
}

export function useDraftSaver(report: Report, register: (control: EditorControl | null) => void) {
  const client = useClient();
  const [content, setContent] = useState<ReportContent>(report.content);
  const contentRef = useRef(content);
  const [takenOver, setTakenOver] = useState<TakenOver | null>(() => {
    // Not editable and not signed: a colleague took it over (the store names them in takenOverBy).
    if (!report.takenOverBy && isEditable(report.state)) return null;
    const owner = report.takenOverBy ?? 'A colleague';
    return { owner, message: takenOverMessage(owner), unsaved: false };
  });
  const lockedRef = useRef(takenOver !== null);
  const [saveState, setSaveState] = useState<SaveState>({ kind: 'idle', revision: report.revision });
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const reportId = report.id;
  const [saver] = useState(
    () =>
      new Autosaver<ReportContent>({
        revision: report.revision,
        debounceMs: 800,
        save: (c, baseRevision, how) => {
          const input = { reportId: report.id, study: report.study, content: c, baseRevision };
          return how.keepalive ? client.callKeepalive('reports:save', input) : client.api['reports:save'](input);
        },
        onState: setSaveState,
        onConflict: (message, mine) => {
          setConflict({ message, latest: null, mine });
          // A colleague may have taken the draft over: then the copy here turns read-only (below).
          void client.api['reports:get']({ reportId: report.id }).then((r) => setConflict({ message, latest: r.ok ? r.value : null, mine }));
        },
      }),
  );

  /** The draft now belongs to someone else: stop saving, keep the text on screen. */
  const lock = useCallback(
    (owner: string, message: string) => {
      const unsaved = saver.hasUnsaved;
      lockedRef.current = true;
      saver.dispose();
      setConflict(null);
      setTakenOver((t) => t ?? { owner, message, unsaved });
    },
    [saver],
  );
  // A save refused because the draft was taken over reads as a conflict; it is not one to resolve.
  const lost: TakenOver | null = useMemo(
    () => takenOver ?? (conflict?.latest?.takenOverBy ? { owner: conflict.latest.takenOverBy, message: conflict.message, unsaved: true } : null),
    [takenOver, conflict],
  );
  useEffect(() => {
    if (lost) {
      lockedRef.current = true;
      saver.dispose();
    }
  }, [lost, saver]);

  useAppEvents((e) => {
    if (e.type === 'draft-taken-over' && e.reportId === reportId) lock(e.newOwner, e.message);
  });

  const update: Update = useCallback(
    (fn) => {
      const next = fn(contentRef.current);
      if (next === contentRef.current) return;
      contentRef.current = next;
      setContent(next);
      saver.change(next);
    },
    [saver],
  );

  /** Show the stored text instead of ours (the conflict was resolved by taking theirs). */
  const replaceContent = useCallback((next: ReportContent) => {
    contentRef.current = next;
    setContent(next);
  }, []);

  // The app asks before leaving a draft that holds work; the page saves when hidden or closed.
  useEffect(() => {
    register({
      unsignedWork: () => (!lockedRef.current && hasReporterContent(contentRef.current, templateOf(contentRef.current.templateId)) ? 'draft' : null),
      // A taken-over copy has nothing to save: leaving it is always fine.
      flush: () => (lockedRef.current ? Promise.resolve(true) : saver.flush()),
      leave: async () => {
        if (lockedRef.current) return true;
        if (!(await saver.flush())) return false;
        // Closed here, once: the unmount that follows must not publish it again (e.g. after a log out).
        saver.dispose();
        await client.api['reports:close']({ reportId });
        return true;
      },
    });
    const onHide = () => {
      if (document.visibilityState === 'hidden') void saver.flush({ keepalive: true });
    };
    const onPageHide = () => void saver.flush({ keepalive: true });
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      if (saver.hasUnsaved && client.transport === 'http') {
        void saver.flush({ keepalive: true });
        e.preventDefault();
      }
    };
    document.addEventListener('visibilitychange', onHide);
    window.addEventListener('pagehide', onPageHide);
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => {
      document.removeEventListener('visibilitychange', onHide);
      window.removeEventListener('pagehide', onPageHide);
      window.removeEventListener('beforeunload', onBeforeUnload);
      register(null);
      // Leaving the draft (study switch, template change): store what is not stored yet, then
      // tell main the editor closed it (it publishes the snapshot for colleagues at once).
      if (!saver.isDisposed) void saver.flush().then(() => client.api['reports:close']({ reportId }));
    };
  }, [client, register, saver, reportId]);

  return { content, update, replaceContent, saver, saveState, conflict, setConflict, lost, lockedRef };
}
