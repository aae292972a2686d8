// Who signed, and what about: each electronic signature record (name, role, registration, time,
// meaning, the hash of exactly what was signed), and the exam the report is bound to (accession,
// modality, study, requester, or a visible "requester unknown").
import { ROLE_LABELS, SIGNATURE_MEANING_LABELS } from '../../common/lifecycle.ts';
import { requesterUnknown, type ExamDetails, type Signature } from '../../common/report.ts';
import { formatDateTime, formatDicomDate, formatDicomTime } from '../../common/format.ts';
import { formatPersonName } from '../format.ts';
import { Facts } from '../Layout.tsx';

export function SignatureBlock({ signature }: { signature: Signature }) {
  return (
    <div className="signature" aria-label="Electronic signature" data-testid="signature" data-meaning={signature.meaning}>
      <p>
        Signed by <strong>{signature.name}</strong>, {ROLE_LABELS[signature.role] ?? signature.role}, registration {signature.registration}, on{' '}
        <time dateTime={signature.signedAt}>{formatDateTime(signature.signedAt)}</time>. Meaning: {SIGNATURE_MEANING_LABELS[signature.meaning].toLowerCase()}.
      </p>
      <details className="hash">
        <summary title={`SHA-256 ${signature.contentHash}`}>
          SHA-256 <code>{signature.contentHash.slice(0, 12)}…</code>
        </summary>
        <code className="hash-full">{signature.contentHash}</code>
      </details>
    </div>
  );
}

/** The report's own signatures (not its addenda'), oldest first: a verified report shows the trainee's and the trainer's. */
export function SignatureList({ signatures }: { signatures: readonly Signature[] }) {
  if (signatures.length === 0) return <p className="error-text">No signature is recorded for this report.</p>;
  return (
    <ol className="signature-list" aria-label="Signatures, oldest first" data-testid="signature-list">
      {signatures.map((s) => (
        <li key={`${s.meaning}:${s.contentHash}`}>
          <SignatureBlock signature={s} />
        </li>
      ))}
    </ol>
  );
}

function requester(exam: ExamDetails): string {
  const who = exam.referringPhysician.replace(/[\s^=]/g, '') ? formatPersonName(exam.referringPhysician) : '';
  return [who, exam.requestingService.trim()].filter((x) => x !== '').join(', ');
}

export function ExamView({ exam }: { exam: ExamDetails | null }) {
  if (!exam) {
    return (
      <section className="exam-details" aria-labelledby="exam-title" data-testid="exam-details">
        <h3 id="exam-title">Exam</h3>
        <p className="muted">The exam's details were not recorded with this report (it was signed before they were).</p>
      </section>
    );
  }
  const unknown = requesterUnknown(exam);
  return (
    <section className="exam-details" aria-labelledby="exam-title" data-testid="exam-details">
      <h3 id="exam-title">Exam</h3>
      <Facts
        facts={[
          { label: 'Accession', value: exam.accession || 'none' },
          { label: 'Modality', value: exam.modality.split('\\').filter(Boolean).join(', ') || 'unknown' },
          { label: 'Study', value: `${exam.studyDescription || 'No description'}, ${formatDicomDate(exam.studyDate)}${exam.studyTime ? ` ${formatDicomTime(exam.studyTime)}` : ''}` },
          {
            label: 'Requester',
            testId: 'exam-requester',
            value: unknown ? <strong className="requester-unknown">Requester unknown: an alert goes to the duty radiologist</strong> : requester(exam),
          },
        ]}
      />
    </section>
  );
}
