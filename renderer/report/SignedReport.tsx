// A signed report: read-only, its signature, and its addenda above it (newest first). Changes
// after signing are addenda, each signed.
import { useEffect, useRef, useState } from 'react';
import { ALERT_LABELS, type Addendum, type Report, type ReportContent, type Signature } from '../../common/report.ts';
import { getTemplate, type Template } from '../../common/templates.ts';
import { describeAlertPolicy } from '../../common/alertPolicy.ts';
import type { Client } from '../api.ts';
import { formatDateTime } from '../format.ts';
import { ROLE_LABELS } from '../ProfileSetup.tsx';
import { modalOpen, paneHidden, useKeydown } from '../shortcuts.ts';
import { AuditTrail } from './AuditTrail.tsx';
import { SyncStatus } from '../hub/SyncStatus.tsx';
import type { EditorControl } from './ReportEditor.tsx';
import { ErrorText } from '../ErrorText.tsx';

const MEANING_LABELS: Record<Signature['meaning'], string> = {
  'final-report': 'final report',
  addendum: 'addendum',
  provisional: 'provisional report',
};

export function SignatureBlock({ signature }: { signature: Signature }) {
  return (
    <div className="signature" aria-label="Electronic signature">
      <p>
        Signed by <strong>{signature.name}</strong>, {ROLE_LABELS[signature.role] ?? signature.role}, registration {signature.registration}, on{' '}
        <time dateTime={signature.signedAt}>{formatDateTime(signature.signedAt)}</time>. Meaning: {MEANING_LABELS[signature.meaning]}.
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

function templateOf(id: string): Template | null {
  try {
    return getTemplate(id);
  } catch {
    return null;
  }
}

function Paragraphs({ text }: { text: string }) {
  return text.trim() === '' ? <p className="muted">(empty)</p> : <p className="prewrap">{text}</p>;
}

export function ReportContentView({ content }: { content: ReportContent }) {
  const template = templateOf(content.templateId);
  const sections = template?.sections ?? [
    { id: 'text', title: 'Report', fields: Object.keys(content.fields).map((id) => ({ id, label: id, kind: 'text' as const, onEmpty: 'silent' as const })) },
  ];
  return (
    <div className="report-view">
      <p className="muted">Template: {template?.title ?? content.templateId}</p>
      {sections.map((s) => (
        <section key={s.id} className="report-section" aria-label={s.title}>
          <h3 className="section-title">{s.title}</h3>
          {s.fields.map((f) => {
            switch (f.kind) {
              case 'text':
                return (
                  <div key={f.id} className="field-view">
                    {s.fields.length > 1 && <h4>{f.label}</h4>}
                    <Paragraphs text={content.fields[f.id] ?? ''} />
                  </div>
                );
              case 'comparison':
                return (
                  <p key={f.id}>
                    {content.comparison.kind === 'none-available'
                      ? 'No prior imaging available.'
                      : content.comparison.kind === 'compared'
                        ? `Compared with: ${content.comparison.text}`
                        : '(not stated)'}
                  </p>
                );
              case 'unexpected':
                return content.unexpected.kind === 'none' ? (
                  <p key={f.id}>No clinically significant unexpected findings.</p>
                ) : content.unexpected.kind === 'findings' ? (
                  <ol key={f.id} className="finding-view">
                    {content.unexpected.items.map((it) => (
                      <li key={it.id}>
                        <strong>{it.category ? ALERT_LABELS[it.category] : 'Uncategorised'}:</strong> <span className="prewrap">{it.text}</span>
                        {it.category === 'cancer' && it.primarySite ? ` (suspected primary site: ${it.primarySite})` : ''}
                      </li>
                    ))}
                  </ol>
                ) : (
                  <p key={f.id}>(not recorded)</p>
                );
              case 'alert':
                return (
                  <div key={f.id}>
                    <p>
                      <strong className={`alert-badge alert-${content.alertCode ?? 'unset'}`}>{content.alertCode ? ALERT_LABELS[content.alertCode] : 'Not chosen'}</strong>
                      {content.alertCode ? ` (${describeAlertPolicy(content.alertCode)})` : ''}
                    </p>
                    {content.alertCode === 'critical' && content.verbal && (
                      <p>
                        Communicated verbally to {content.verbal.clinician} ({content.verbal.role}) at{' '}
                        <time dateTime={content.verbal.time}>{formatDateTime(content.verbal.time)}</time>.
                      </p>
                    )}
                    {content.alertCode === 'cancer' && <p>Suspected primary site: {content.cancerPrimarySite}</p>}
                  </div>
                );
            }
          })}
        </section>
      ))}
    </div>
  );
}

export interface SignedReportProps {
  client: Client;
  report: Report;
  register(control: EditorControl | null): void;
  onReport(r: Report): void;
}

export function SignedReport({ client, report, register, onReport }: SignedReportProps) {
  const [adding, setAdding] = useState(false);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [auditOpen, setAuditOpen] = useState(false);
  const textRef = useRef<HTMLTextAreaElement>(null);
  const addButtonRef = useRef<HTMLButtonElement>(null);
  const paneRef = useRef<HTMLDivElement>(null);

  const unsigned = adding && text.trim() !== '';
  useEffect(() => {
    register({ unsignedWork: () => (unsigned ? 'addendum' : null), flush: async () => true, leave: async () => true });
  }, [register, unsigned]);
  useEffect(() => () => register(null), [register]);

  const startAddendum = () => {
    if (adding) textRef.current?.focus();
    else setAdding(true);
  };

  const submit = async () => {
    if (text.trim() === '') {
      setError('Write the addendum first.');
      textRef.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    const r = await client.api['reports:addendum']({ reportId: report.id, text });
    setBusy(false);
    if (!r.ok) {
      setError(`The addendum was not signed: ${r.error.message}. Your text is kept.`);
      return;
    }
    const addenda: Addendum[] = [r.value, ...report.addenda.filter((a) => a.id !== r.value.id)];
    setText('');
    setAdding(false);
    onReport({ ...report, addenda });
    setTimeout(() => addButtonRef.current?.focus(), 0);
  };

  useKeydown((e) => {
    if (modalOpen() || paneHidden(paneRef.current)) return;
    if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.code === 'KeyA') {
      e.preventDefault();
      startAddendum();
    } else if ((e.ctrlKey || e.metaKey) && e.key === 'Enter' && adding && document.activeElement === textRef.current) {
      e.preventDefault();
      void submit();
    }
  });

  const status = report.addenda.length > 0 ? `FINAL, with ${report.addenda.length} addend${report.addenda.length === 1 ? 'um' : 'a'}` : 'FINAL';

  return (
    <div className="report-pane signed" data-testid="signed-report" aria-labelledby="signed-title" ref={paneRef}>
      <div className="report-toolbar">
        <div className="toolbar-row">
          <h2 id="signed-title">
            Report <span className="status-final">{status}</span>
          </h2>
          <button type="button" className="small" onClick={() => setAuditOpen(true)}>
            Audit trail
          </button>
        </div>
        <p className="muted">Signed reports never change: corrections and additions are signed addenda.</p>
        <SyncStatus client={client} reportId={report.id} />
      </div>

      <section className="addenda" aria-labelledby="addenda-title">
        <h3 id="addenda-title" className="sr-only">
          Addenda
        </h3>
        {adding ? (
          <div className="addendum-form">
            <label htmlFor="addendum-text">Addendum text</label>
            <textarea id="addendum-text" ref={textRef} autoFocus rows={4} value={text} onChange={(e) => setText(e.target.value)} maxLength={100_000} />
            <ErrorText error={error} />
            <div className="form-actions">
              <button type="button" className="primary" disabled={busy} onClick={() => void submit()} aria-keyshortcuts="Control+Enter">
                {busy ? 'Signing…' : 'Sign addendum'}
              </button>
              <button
                type="button"
                onClick={() => {
                  setAdding(false);
                  setError(null);
                }}
              >
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" ref={addButtonRef} onClick={startAddendum} aria-keyshortcuts="Control+Shift+A">
            Add addendum <kbd className="hint">Ctrl+Shift+A</kbd>
          </button>
        )}
        <ol className="addendum-list" data-testid="addendum-list" aria-label="Addenda, newest first" reversed>
          {report.addenda.map((a, i) => (
            <li key={a.id} className="addendum">
              <h4>Addendum {report.addenda.length - i}</h4>
              <p className="prewrap">{a.text}</p>
              <SignatureBlock signature={a.signature} />
            </li>
          ))}
        </ol>
      </section>

      <article className="original" aria-labelledby="original-title">
        <h3 id="original-title">Original report</h3>
        <ReportContentView content={report.content} />
        {report.signature && <SignatureBlock signature={report.signature} />}
      </article>
      {auditOpen && <AuditTrail client={client} reportId={report.id} onClose={() => setAuditOpen(false)} />}
    </div>
  );
}
