// A signed report, read-only: its state (PROVISIONAL awaiting verification, FINAL, FINAL with
// addenda; a provisional report is never called final), the exam it is bound to, every signature
// (a verified report names the trainee and the trainer), its delivery to the hub, and its addenda
// above it. A trainer may verify a provisional report; addenda only on a final one.
import { useRef, useState } from 'react';
import type { Profile, Report } from '../../common/report.ts';
import { isFinal } from '../../common/lifecycle.ts';
import { useClient } from '../data/client.ts';
import { ErrorText } from '../ErrorText.tsx';
import { SyncStatus } from '../hub/SyncStatus.tsx';
import { AlertPanel } from '../hub/AlertPanel.tsx';
import { useHubStatus } from '../hub/HubContext.ts';
import { Addenda } from './Addenda.tsx';
import type { EditorControl } from './editorControl.ts';
import { ReportContentView } from './ReportContentView.tsx';
import { ReportHeading } from './ReportHeading.tsx';
import { VERIFY_LABEL, signedReportActions, stateClass, stateLabel } from './reportActions.ts';
import { ExamView, SignatureList } from './Signatures.tsx';
import { useSignerConfirmation } from './ConfirmSigner.tsx';

export interface SignedReportProps {
  report: Report;
  profile: Profile;
  register(control: EditorControl | null): void;
  onReport(r: Report): void;
}

function addendaCount(n: number): string {
  return n === 0 ? '' : ` · ${n} addend${n === 1 ? 'um' : 'a'}`;
}

export function SignedReport({ report, profile, register, onReport }: SignedReportProps) {
  const client = useClient();
  const paneRef = useRef<HTMLDivElement>(null);
  const [verifying, setVerifying] = useState(false);
  const [verifyError, setVerifyError] = useState<string | null>(null);
  const { signWithConfirmation, dialog: confirmSignerDialog } = useSignerConfirmation();
  const actions = signedReportActions(report.state, profile.role);
  const own = report.signatures.filter((s) => s.addendumId === null);
  const hub = useHubStatus();
  // A raised alert is tracked on the hub (issue 9): its state and timeline beside the report.
  const raised = report.content.alertCode !== null && report.content.alertCode !== 'none';

  const verify = async () => {
    setVerifying(true);
    setVerifyError(null);
    const r = await signWithConfirmation(() => client.api['reports:verify']({ reportId: report.id, study: report.study }));
    setVerifying(false);
    if (r === null) setVerifyError('Not verified: the password was not entered.');
    else if (!r.ok) setVerifyError(`Not verified: ${r.error.message}`);
    else onReport(r.value);
  };

  return (
    <div className="report-pane signed" data-testid="signed-report" data-state={report.state} aria-labelledby="signed-title" ref={paneRef}>
      <div className="report-toolbar">
        <ReportHeading titleId="signed-title" reportId={report.id} status={`${stateLabel(report.state)}${addendaCount(report.addenda.length)}`} statusClass={stateClass(report.state)} />
        {isFinal(report.state) ? (
          <p className="muted">Signed reports never change: corrections and additions are signed addenda.</p>
        ) : (
          <p className="provisional-note" role="note" data-testid="provisional-note">
            <strong>Provisional:</strong> submitted by a trainee and awaiting a trainer's verification. It is not a final report; it never changes, and the
            verified report adds the trainer's signature to it.
          </p>
        )}
        {report.tampering && report.tampering.length > 0 && (
          <div className="tampering" role="alert" data-testid="tampering">
            <strong>Changed after signing.</strong> This report no longer matches its signature, so it was not sent to the hub and must not be relied on. Tell
            your imaging safety lead; the images and the hub's copy (if it was delivered before the change) are the record.
            <ul>
              {report.tampering.map((t) => (
                <li key={t}>{t}</li>
              ))}
            </ul>
          </div>
        )}
        <SyncStatus
          reportId={report.id}
          replacedBy={report.replacedBy ?? null}
          onCorrect={async () => {
            // A corrected report: a new draft of this study with this content, replacing this one.
            const r = await client.api['reports:correct']({ reportId: report.id });
            if (!r.ok) return r.error.message;
            onReport(r.value);
            return null;
          }}
        />
      </div>

      {raised && hub?.configured && <AlertPanel reportId={report.id} />}

      {actions.verify && (
        <section className="verify" aria-labelledby="verify-title">
          <h3 id="verify-title" className="sr-only">
            Verification
          </h3>
          <p>
            Verifying issues this report as final under your name, <strong>{profile.name}</strong>, beside the trainee's signature.
          </p>
          <button type="button" className="primary" data-testid="verify-button" disabled={verifying} onClick={() => void verify()}>
            {verifying ? 'Verifying…' : VERIFY_LABEL}
          </button>
          <ErrorText error={verifyError} />
          {confirmSignerDialog}
        </section>
      )}

      <Addenda report={report} mayAdd={actions.addendum} pane={paneRef} register={register} onReport={onReport} />

      <article className="original" aria-labelledby="original-title">
        <h3 id="original-title">Original report</h3>
        <ExamView exam={report.exam} />
        <ReportContentView content={report.content} />
        <SignatureList signatures={own} />
      </article>
    </div>
  );
}
