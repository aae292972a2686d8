// The report for one study: opens (or creates) it, then shows the draft editor (DraftEditor) or
// the signed report (SignedReport: provisional, final, with addenda). A report that comes back
// bound to another study is not shown.
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { StudySummary } from '../../common/contract.ts';
import { isSigned, nothingToReadYet, roleMay, type ReportState, type Role } from '../../common/lifecycle.ts';
import type { Profile, Report, StudyRef } from '../../common/report.ts';
import { useClient } from '../data/client.ts';
import { DraftEditor } from './DraftEditor.tsx';
import type { EditorControl } from './editorControl.ts';
import { SignedReport } from './SignedReport.tsx';

export type { EditorControl } from './editorControl.ts';

export interface ReportEditorProps {
  study: StudySummary;
  priors: readonly StudySummary[];
  profile: Profile;
  /** The open report tells the app how to leave it (null: nothing to ask). */
  register(control: EditorControl | null): void;
  onState(state: ReportState | null): void;
  onReportsChanged(): void;
}

export function ReportEditor({ study, priors, profile, register, onState, onReportsChanged }: ReportEditorProps) {
  const client = useClient();
  const [report, setReport] = useState<Report | null>(null);
  const [generation, setGeneration] = useState(0);
  const [error, setError] = useState<string | null>(null);
  /** A role that never drafts opened a study with no signed report: the hub side created nothing. */
  const [nothingToRead, setNothingToRead] = useState(false);
  const ref: StudyRef = useMemo(() => ({ patientId: study.patientId, studyUid: study.studyUid }), [study.patientId, study.studyUid]);

  const load = useCallback(
    async (templateId?: string) => {
      if (await nothingSignedToRead(client.api, ref, profile.role)) {
        setNothingToRead(true);
        return;
      }
      const r = await client.api['reports:open']({ study: ref, ...(templateId ? { templateId } : {}) });
      if (!r.ok) {
        if (r.error.code === 'not-found' && !roleMay(profile.role, 'draft:write')) setNothingToRead(true);
        else setError(r.error.message);
        return;
      }
      setError(null);
      setReport(r.value);
      setGeneration((g) => g + 1);
      onReportsChanged();
    },
    [client, ref, onReportsChanged, profile.role],
  );

  // The parent keys this component by study, so one load per mount.
  useEffect(() => {
    let live = true;
    void (async () => {
      if (await nothingSignedToRead(client.api, ref, profile.role)) {
        if (live) setNothingToRead(true);
        return;
      }
      const r = await client.api['reports:open']({ study: ref });
      if (!live) return;
      if (r.ok) {
        setReport(r.value);
        onReportsChanged();
      } else if (r.error.code === 'not-found' && !roleMay(profile.role, 'draft:write')) setNothingToRead(true);
      else setError(r.error.message);
    })();
    return () => {
      live = false;
    };
  }, [client, ref, onReportsChanged, profile.role]);

  useEffect(() => {
    onState(report ? report.state : null);
  }, [report, onState]);

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
  // A role that never drafts (a referrer, a safety lead) reads signed reports only: opening a study
  // with none created nothing (main/services.ts reports:open).
  if (nothingToRead || (report && !isSigned(report.state) && !roleMay(profile.role, 'draft:write'))) {
    return (
      <div className="report-pane" data-testid="no-draft-role">
        <h2 id="report-title">Report</h2>
        <p>{nothingToReadYet(profile.role)}</p>
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
  if (isSigned(report.state)) {
    return <SignedReport key={`${report.id}:${generation}`} report={report} profile={profile} register={register} onReport={replace} />;
  }
  return (
    <DraftEditor
      key={`${report.id}:${generation}`}
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

/**
 * A role that never drafts (a referrer, a safety lead) reads signed reports only: when the list has
 * none for this study there is nothing to open, and asking would only be refused (not-found).
 */
async function nothingSignedToRead(api: ReturnType<typeof useClient>['api'], ref: StudyRef, role: Role): Promise<boolean> {
  if (roleMay(role, 'draft:write')) return false;
  const list = await api['reports:list']({});
  return list.ok && !list.value.some((r) => r.study.studyUid === ref.studyUid && r.study.patientId === ref.patientId && isSigned(r.state));
}
