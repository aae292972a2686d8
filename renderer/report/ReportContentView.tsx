// A report's content, read-only, section by section as its template lays it out (a report whose
// template is unknown shows its fields by id).
import { ALERT_LABELS, type ReportContent } from '../../common/report.ts';
import { describeAlertPolicy } from '../../common/alertPolicy.ts';
import { formatDateTime } from '../../common/format.ts';
import { templateOf } from './draftState.ts';

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
