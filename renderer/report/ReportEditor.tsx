// The report for one study: opens (or creates) it, edits the draft with live sign-off checks and
// autosave, signs it, and shows the signed report with its addenda.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { StudySummary } from '../../common/contract.ts';
import type { Profile, Report, ReportContent, StudyRef } from '../../common/report.ts';
import { canSign, checkSignOff, type SignOffProblem } from '../../common/signoff.ts';
import { TEMPLATES, getTemplate, type Template } from '../../common/templates.ts';
import type { Client } from '../api.ts';
import { Dialog } from '../Dialog.tsx';
import { formatClock, formatDateTime } from '../format.ts';
import { altDigit, focusFirstIn, modalOpen, paneHidden, useKeydown } from '../shortcuts.ts';
import { ROLE_LABELS } from '../ProfileSetup.tsx';
import { Autosaver, type SaveState } from './autosave.ts';
import { hasReporterContent } from './draftState.ts';
import { AlertEditor, ComparisonEditor, FieldProblems, TextFieldEditor, UnexpectedEditor, type Update } from './fields.tsx';
import { ReportContentView, SignedReport } from './SignedReport.tsx';
import { AuditTrail } from './AuditTrail.tsx';
import { useAppEvents } from '../hub/useAppEvents.ts';
import { ErrorText } from '../ErrorText.tsx';

/** What the app asks of the open report before it leaves the study. */
export interface EditorControl {
  /** Unsigned work that leaving would abandon: a draft holding the reporter's text, or an addendum being written. */
  unsignedWork(): 'draft' | 'addendum' | null;
  /** Saves now; true when all text is stored. */
  flush(): Promise<boolean>;
  /** Saves, and tells main the editor closed the draft (published to the team); the editor is then done. True when stored. */
  leave(): Promise<boolean>;
}

export interface ReportEditorProps {
  client: Client;
  study: StudySummary;
  priors: readonly StudySummary[];
  profile: Profile;
  /** The open report tells the app how to leave it (null: nothing to ask). */
  register(control: EditorControl | null): void;
  onStatus(status: 'draft' | 'signed' | null): void;
  onReportsChanged(): void;
}

function templateOf(id: string): Template | null {
  try {
    return getTemplate(id);
  } catch {
    return null;
  }
}

function safeCheck(content: ReportContent, template: Template | null): SignOffProblem[] {
  if (!template) {
    return [{ rule: 'template-field', severity: 'block', sectionId: 'clinical', fieldId: 'template', message: `Unknown template "${content.templateId}": choose a template.` }];
  }
  return checkSignOff(content, template);
}

export function ReportEditor({ client, study, priors, profile, register, onStatus, onReportsChanged }: ReportEditorProps) {
  const [report, setReport] = useState<Report | null>(null);
  const [generation, setGeneration] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const ref: StudyRef = useMemo(() => ({ patientId: study.patientId, studyUid: study.studyUid }), [study.patientId, study.studyUid]);

  const load = useCallback(
    async (templateId?: string) => {
      const r = await client.api['reports:open']({ study: ref, ...(templateId ? { templateId } : {}) });
      if (!r.ok) {
        setError(r.error.message);
        return;
      }
      setError(null);
      setReport(r.value);
      setGeneration((g) => g + 1);
      onReportsChanged();
    },
    [client, ref, onReportsChanged],
  );

  // The parent keys this component by study, so one load per mount.
  useEffect(() => {
    let live = true;
    void client.api['reports:open']({ study: ref }).then((r) => {
      if (!live) return;
      if (r.ok) {
        setReport(r.value);
        onReportsChanged();
      } else setError(r.error.message);
    });
    return () => {
      live = false;
    };
  }, [client, ref, onReportsChanged]);

  useEffect(() => {
    onStatus(report ? report.status : null);
  }, [report, onStatus]);

  const replace = useCallback(
    (r: Report) => {
      setReport(r);
      setGeneration((g) => g + 1);
      onReportsChanged();
    },
    [onReportsChanged],
  );

  if (error) {
    return (
      <div className="report-pane" role="alert">
        <p className="error-text">Could not open the report for this study: {error}</p>
        <button type="button" onClick={() => void load()}>
          Try again
        </button>
      </div>
    );
  }
  if (!report) return <p className="report-pane">Opening the report…</p>;
  if (report.study.studyUid !== study.studyUid || report.study.patientId !== study.patientId) {
    return (
      <p className="report-pane error-text" role="alert">
        Safety stop: the report returned belongs to another study ({report.study.patientId} / {report.study.studyUid}). It is not shown.
      </p>
    );
  }
  if (report.status === 'signed') {
    return <SignedReport key={`${report.id}:${generation}`} client={client} report={report} register={register} onReport={replace} />;
  }
  return (
    <DraftEditor
      key={`${report.id}:${generation}`}
      client={client}
      report={report}
      priors={priors}
      profile={profile}
      register={register}
      onSigned={replace}
      onChangeTemplate={(id) => void load(id)}
      onReload={replace}
    />
  );
}

interface DraftEditorProps {
  client: Client;
  report: Report;
  priors: readonly StudySummary[];
  profile: Profile;
  register(control: EditorControl | null): void;
  onSigned(r: Report): void;
  onChangeTemplate(templateId: string): void;
  onReload(r: Report): void;
}

function saveStatusText(s: SaveState): string {
  switch (s.kind) {
    case 'idle':
      return `Saved (revision ${s.revision})`;
    case 'pending':
      return 'Unsaved changes…';
    case 'saving':
      return 'Saving…';
    case 'saved':
      return `Saved ${formatClock(s.savedAt)} (revision ${s.revision})`;
    case 'error':
      return `Save failed: ${s.message}`;
    case 'conflict':
      return `Not saved: ${s.message}`;
  }
}

/** Who took this draft over, and what the reporter is told. */
interface TakenOver {
  owner: string;
  message: string;
  /** Changes typed here that were not saved before the take-over. */
  unsaved: boolean;
}

function takenOverMessage(owner: string): string {
  return `${owner} took over this draft. Your copy is read-only.`;
}

function DraftEditor({ client, report, priors, profile, register, onSigned, onChangeTemplate, onReload }: DraftEditorProps) {
  const [content, setContent] = useState<ReportContent>(report.content);
  const contentRef = useRef(content);
  const [takenOver, setTakenOver] = useState<TakenOver | null>(() =>
    report.takenOverBy ? { owner: report.takenOverBy, message: takenOverMessage(report.takenOverBy), unsaved: false } : null,
  );
  const lockedRef = useRef(takenOver !== null);
  const [saveState, setSaveState] = useState<SaveState>({ kind: 'idle', revision: report.revision });
  const [conflict, setConflict] = useState<{ message: string; latest: Report | null; mine: ReportContent | null } | null>(null);
  const [signing, setSigning] = useState(false);
  const [signError, setSignError] = useState<string | null>(null);
  const [auditOpen, setAuditOpen] = useState(false);
  const template = templateOf(content.templateId);

  const paneRef = useRef<HTMLDivElement>(null);
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

  useAppEvents(client, (e) => {
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

  const problems = useMemo(() => safeCheck(content, template), [content, template]);
  const blocking = problems.filter((p) => p.severity === 'block');
  const warnings = problems.filter((p) => p.severity === 'warn');
  const allowed = canSign(problems) && conflict === null;

  const sign = async () => {
    if (!allowed || signing) return;
    setSigning(true);
    setSignError(null);
    const saved = await saver.flush();
    if (!saved) {
      setSigning(false);
      setSignError('Not signed: the latest text could not be saved first. Your text is kept; see the save status.');
      return;
    }
    const r = await client.api['reports:sign']({ reportId: report.id, study: report.study, revision: saver.revision });
    setSigning(false);
    if (!r.ok) {
      setSignError(`Not signed: ${r.error.message}`);
      return;
    }
    saver.dispose();
    onSigned(r.value);
  };

  const focusField = (fieldId: string, sectionId: string) => {
    const el = document.getElementById(`field-${fieldId}`);
    if (el) {
      el.focus();
      el.scrollIntoView({ block: 'center' });
    } else focusFirstIn(document.getElementById(`section-${sectionId}`));
  };

  useKeydown((e) => {
    if (lockedRef.current || modalOpen() || paneHidden(paneRef.current)) return;
    const digit = altDigit(e);
    if (digit !== null && template) {
      const section = template.sections[digit - 1];
      if (section) {
        e.preventDefault();
        focusFirstIn(document.getElementById(`section-${section.id}`));
      }
      return;
    }
    if (e.altKey && !e.ctrlKey && e.code === 'KeyP') {
      e.preventDefault();
      document.getElementById('signoff-summary')?.focus();
      return;
    }
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault();
      if (allowed) void sign();
      else document.getElementById('signoff-summary')?.focus();
      return;
    }
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.code === 'KeyS') {
      e.preventDefault();
      void saver.flush();
    }
  });

  const resolveKeepMine = () => {
    if (!conflict?.latest) return;
    saver.resume(conflict.latest.revision);
    setConflict(null);
  };
  const resolveTakeTheirs = () => {
    if (!conflict?.latest) return;
    const latest = conflict.latest;
    setConflict(null);
    if (latest.status === 'signed') {
      saver.dispose();
      onReload(latest);
      return;
    }
    saver.discardAndResume(latest.revision);
    contentRef.current = latest.content;
    setContent(latest.content);
  };

  if (lost) {
    return (
      <div className="report-pane taken-over" aria-labelledby="report-title" ref={paneRef}>
        <div className="report-toolbar">
          <div className="toolbar-row">
            <h2 id="report-title">
              Report <span className="status-taken-over">Taken over by {lost.owner} (read-only)</span>
            </h2>
            <button type="button" className="small" onClick={() => setAuditOpen(true)}>
              Audit trail
            </button>
          </div>
        </div>
        <div className="taken-over-banner" role="alert" data-testid="taken-over-banner">
          <p>
            <strong>{lost.message}</strong>
          </p>
          <p>
            This draft now belongs to <strong>{lost.owner}</strong>: edits here are refused and nothing more is saved. The text below is what you had
            written{lost.unsaved ? ', including changes made just before the take-over that were NOT saved' : ''}. Copy anything you need and tell{' '}
            {lost.owner}.
          </p>
        </div>
        <article className="original" aria-label="Your copy of the draft (read-only)">
          <ReportContentView content={content} />
        </article>
        {auditOpen && <AuditTrail client={client} reportId={report.id} onClose={() => setAuditOpen(false)} />}
      </div>
    );
  }

  const signLabel = signing ? 'Signing…' : allowed ? 'Sign report' : `Sign (blocked: ${blocking.length} problem${blocking.length === 1 ? '' : 's'})`;
  const blockedDescription = blocking.length > 0 ? `Signing is blocked until: ${blocking.map((p) => p.message).join(' ')}` : conflict ? 'Signing waits until the save conflict is resolved.' : '';

  return (
    <div className="report-pane" aria-labelledby="report-title" ref={paneRef}>
      <div className="report-toolbar">
        <div className="toolbar-row">
          <h2 id="report-title">
            Report <span className="status-draft">Draft (unsigned)</span>
          </h2>
          <button type="button" className="small" onClick={() => setAuditOpen(true)}>
            Audit trail
          </button>
        </div>
        <div className="toolbar-row">
          <div className="field inline">
            <label htmlFor="template-select">Template</label>
            <select
              id="template-select"
              value={content.templateId}
              onChange={(e) => {
                const id = e.target.value;
                void saver.flush().then((ok) => {
                  if (ok) onChangeTemplate(id);
                  else setSignError('The template was not changed: the draft could not be saved first.');
                });
              }}
            >
              {!template && <option value={content.templateId}>Unknown template {content.templateId}</option>}
              {TEMPLATES.map((t) => (
                <option key={t.id} value={t.id}>
                  {t.title}
                </option>
              ))}
            </select>
          </div>
          <p className={`save-status save-${saveState.kind}`} data-testid="save-status" role="status" aria-live="polite" title={saveStatusText(saveState)}>
            {saveStatusText(saveState)}
          </p>
        </div>
      </div>
      {(saveState.kind === 'error' || saveState.kind === 'conflict') && (
        <p className="save-alert" role="alert">
          {saveState.kind === 'error' ? 'Save failed' : 'Not saved'}: {saveState.message}. Your text is kept on this screen
          {saveState.kind === 'error' ? ' and saving is retried; do not close the app until it says Saved.' : '.'}{' '}
          {saveState.kind === 'error' && (
            <button type="button" className="small" onClick={() => void saver.flush()}>
              Retry now
            </button>
          )}
        </p>
      )}
      <FieldProblems fieldId="template" all={problems} />

      <form
        className="report-form"
        onSubmit={(e) => e.preventDefault()}
        onBlur={() => void saver.flush()}
        aria-label="Report draft"
        aria-busy={signing}
      >
        <fieldset className="plain" disabled={signing}>
          {template?.sections.map((section, i) => (
            <section key={section.id} id={`section-${section.id}`} className="report-section" aria-labelledby={`section-title-${section.id}`}>
              <h3 id={`section-title-${section.id}`} className="section-title">
                <span className="section-number">{i + 1}.</span> {section.title} <kbd className="hint">Alt+{i + 1}</kbd>
              </h3>
              {section.fields.map((field) => {
                switch (field.kind) {
                  case 'text':
                    return <TextFieldEditor key={field.id} field={field} content={content} update={update} problems={problems} />;
                  case 'comparison':
                    return <ComparisonEditor key={field.id} content={content} update={update} problems={problems} priors={priors} />;
                  case 'unexpected':
                    return <UnexpectedEditor key={field.id} content={content} update={update} problems={problems} />;
                  case 'alert':
                    return <AlertEditor key={field.id} content={content} update={update} problems={problems} />;
                }
              })}
            </section>
          ))}
        </fieldset>
      </form>

      <section className="signoff" aria-labelledby="signoff-title">
        <h3 id="signoff-title">Sign-off check</h3>
        <div id="signoff-summary" tabIndex={-1} data-testid="signoff-problems" className="signoff-summary">
          {blocking.length === 0 ? (
            <p className="ok-text">Nothing blocks signing.</p>
          ) : (
            <p className="error-text">
              {blocking.length} problem{blocking.length === 1 ? '' : 's'} block{blocking.length === 1 ? 's' : ''} signing:
            </p>
          )}
          {problems.length > 0 && (
            <ul className="problem-summary">
              {[...blocking, ...warnings].map((p, i) => (
                <li key={i} className={p.severity === 'block' ? 'problem-block' : 'problem-warn'}>
                  <button type="button" className="link" onClick={() => focusField(p.fieldId, p.sectionId)}>
                    {p.severity === 'block' ? 'Blocks' : 'Check'} · {template?.sections.find((s) => s.id === p.sectionId)?.title ?? p.sectionId}: {p.message}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <p className="signer">
          Signing as <strong>{profile.name}</strong>, {ROLE_LABELS[profile.role]}, registration {profile.registration}. Meaning: final report.
        </p>
        <div className="sign-row">
          <button
            type="button"
            className="primary sign-button"
            data-testid="sign-button"
            disabled={!allowed || signing}
            onClick={() => void sign()}
            aria-describedby="sign-blocked-reasons"
            aria-keyshortcuts="Control+Enter"
          >
            {signLabel}
          </button>
          <kbd className="hint">Ctrl+Enter</kbd>
          <span id="sign-blocked-reasons" className="sr-only">
            {blockedDescription}
          </span>
        </div>
        <ErrorText error={signError} />
      </section>

      <Dialog open={conflict !== null && !lost} title="This draft was changed elsewhere" onCancel={() => undefined} role="alertdialog" testId="conflict-dialog">
        <p>{conflict?.message}</p>
        {conflict?.latest ? (
          <>
            <p>
              The stored version is revision {conflict.latest.revision}, saved {formatDateTime(conflict.latest.updatedAt)} by {conflict.latest.author}
              {conflict.latest.status === 'signed' ? ' and it has been SIGNED' : ''}. Your latest changes are not saved yet.
            </p>
            {conflict.latest.status === 'signed' ? (
              <>
                <label htmlFor="conflict-mine">Your unsaved text (copy what you need into an addendum)</label>
                <textarea id="conflict-mine" readOnly rows={8} value={JSON.stringify(conflict.mine ?? content, null, 2)} />
                <div className="form-actions">
                  <button type="button" className="primary" autoFocus onClick={resolveTakeTheirs}>
                    Show the signed report
                  </button>
                </div>
              </>
            ) : (
              <div className="form-actions">
                <button type="button" className="primary" autoFocus onClick={resolveKeepMine}>
                  Keep my version (save it over revision {conflict.latest.revision})
                </button>
                <button type="button" onClick={resolveTakeTheirs}>
                  Load the stored version (discard my unsaved changes)
                </button>
              </div>
            )}
          </>
        ) : (
          <p>Loading the stored version…</p>
        )}
      </Dialog>
      {auditOpen && <AuditTrail client={client} reportId={report.id} onClose={() => setAuditOpen(false)} />}
    </div>
  );
}
