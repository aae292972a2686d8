// The draft being written: template sections with live sign-off checks beside each field,
// autosave (useDraftSaver), the sign-off panel and signing (a final report, or a trainee's
// provisional one), the save-conflict dialog; read-only when a colleague took the draft over.
import { useMemo, useRef, useState } from 'react';
import type { StudySummary } from '../../common/contract.ts';
import type { Profile, Report, ReportContent } from '../../common/report.ts';
import { canSign, checkSignOff, type SignOffContext, type SignOffProblem } from '../../common/signoff.ts';
import type { Template } from '../../common/templates.ts';
import { isSigned } from '../../common/lifecycle.ts';
import { useClient } from '../data/client.ts';
import { altDigit, focusFirstIn, modalOpen, paneHidden, useKeydown } from '../shortcuts.ts';
import { ConflictDialog } from './ConflictDialog.tsx';
import { DraftToolbar } from './DraftToolbar.tsx';
import type { EditorControl } from './editorControl.ts';
import { AlertEditor, ComparisonEditor, FieldProblems, TextFieldEditor, UnexpectedEditor } from './fields.tsx';
import { signActionFor } from './reportActions.ts';
import { SignOffPanel } from './SignOffPanel.tsx';
import { TakenOverView } from './TakenOverView.tsx';
import { movesOnSwitch, templateOf } from './draftState.ts';
import { CarriedOverEditor, TemplateSwitchDialog, type PendingSwitch } from './TemplateSwitch.tsx';
import { useDraftSaver } from './useDraftSaver.ts';
import { useSignerConfirmation } from './ConfirmSigner.tsx';

export interface DraftEditorProps {
  report: Report;
  priors: readonly StudySummary[];
  profile: Profile;
  register(control: EditorControl | null): void;
  onSigned(r: Report): void;
  onChangeTemplate(templateId: string): void;
  onReload(r: Report): void;
}

function safeCheck(content: ReportContent, template: Template | null, context: SignOffContext = {}): SignOffProblem[] {
  if (!template) {
    return [{ rule: 'template-field', severity: 'block', sectionId: 'clinical', fieldId: 'template', message: `Unknown template "${content.templateId}": choose a template.` }];
  }
  return checkSignOff(content, template, context);
}

export function DraftEditor({ report, priors, profile, register, onSigned, onChangeTemplate, onReload }: DraftEditorProps) {
  const client = useClient();
  const { content, update, replaceContent, saver, saveState, conflict, setConflict, lost, lockedRef } = useDraftSaver(report, register);
  const [signing, setSigning] = useState(false);
  const [signError, setSignError] = useState<string | null>(null);
  const { signWithConfirmation, dialog: confirmSignerDialog } = useSignerConfirmation();
  const [pendingSwitch, setPendingSwitch] = useState<PendingSwitch | null>(null);
  const paneRef = useRef<HTMLDivElement>(null);
  const template = templateOf(content.templateId);
  const action = signActionFor(profile.role);

  // The store checks the same at signing: now as the signature time, the exam's study date, and
  // the priors of this patient identity the library holds (the list shown beside the comparison).
  const problems = useMemo(() => safeCheck(content, template, { exam: report.exam, priorsInLibrary: priors.length }), [content, template, report.exam, priors.length]);
  const allowed = action !== null && canSign(problems) && conflict === null;

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
    const r = await signWithConfirmation(() => client.api['reports:sign']({ reportId: report.id, study: report.study, revision: saver.revision }));
    setSigning(false);
    if (r === null) {
      setSignError('Not signed: the password was not entered. Your text is kept.');
      return;
    }
    if (!r.ok) {
      setSignError(`Not signed: ${r.error.message}`);
      return;
    }
    saver.dispose();
    onSigned(r.value);
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
    if (isSigned(latest.state)) {
      saver.dispose();
      onReload(latest);
      return;
    }
    saver.discardAndResume(latest.revision);
    replaceContent(latest.content);
  };

  const switchTo = (id: string) =>
    void saver.flush().then((ok) => {
      if (ok) onChangeTemplate(id);
      else setSignError('The template was not changed: the draft could not be saved first.');
    });

  if (lost) return <TakenOverView reportId={report.id} lost={lost} content={content} />;

  return (
    <div className="report-pane" aria-labelledby="report-title" ref={paneRef}>
      <DraftToolbar
        reportId={report.id}
        state={report.state}
        templateId={content.templateId}
        template={template}
        saveState={saveState}
        onRetry={() => void saver.flush()}
        onTemplate={(id) => {
          // A switch that would move text into "Other text from the previous template" asks first.
          const to = templateOf(id);
          if (!to) return;
          const moved = movesOnSwitch(content, to);
          if (moved.length > 0) setPendingSwitch({ to, moved });
          else switchTo(id);
        }}
      />
      <FieldProblems fieldId="template" all={problems} />

      <form className="report-form" onSubmit={(e) => e.preventDefault()} onBlur={() => void saver.flush()} aria-label="Report draft" aria-busy={signing}>
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
          <CarriedOverEditor content={content} update={update} problems={problems} />
        </fieldset>
      </form>

      <SignOffPanel
        problems={problems}
        template={template}
        profile={profile}
        action={action}
        allowed={allowed}
        signing={signing}
        waiting={conflict ? 'Signing waits until the save conflict is resolved.' : ''}
        error={signError}
        onSign={() => void sign()}
      />
      <TemplateSwitchDialog
        pending={pendingSwitch}
        from={template}
        onCancel={() => setPendingSwitch(null)}
        onConfirm={() => {
          const id = pendingSwitch?.to.id;
          setPendingSwitch(null);
          if (id) switchTo(id);
        }}
      />
      <ConflictDialog conflict={conflict} open={conflict !== null && !lost} content={content} onKeepMine={resolveKeepMine} onTakeTheirs={resolveTakeTheirs} />
      {confirmSignerDialog}
    </div>
  );
}
