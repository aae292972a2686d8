// A report's content, read-only, section by section as its template lays it out (a report whose
// template is unknown shows its fields by id). It shows exactly what is signed (issue 7 line 2):
// every string the reporter wrote is on screen, wherever it sits in the content: text carried over
// from a previous template, text its template does not lay out (left by older versions), a verbal
// record or a site left over from an earlier alert choice. Each piece of report text is marked
// `data-signed="<path in the content>"` so a test can compare the view with the signed content.
import { ALERT_LABELS, type ReportContent } from '../../common/report.ts';
import { describeAlertPolicy } from '../../common/alertPolicy.ts';
import { formatDateTime } from '../../common/format.ts';
import { cancerPathway } from '../../common/signoff.ts';
import { CARRIED_OVER_TITLE, fieldOrigin, textFieldsOf } from '../../common/templates.ts';
import { templateOf } from './draftState.ts';

/** One string of the signed content, as written (block: its own paragraph). */
function Signed({ path, text, block = false }: { path: string; text: string | undefined; block?: boolean }) {
  if (!text) return block ? <p className="muted">(empty)</p> : <span className="muted">(not given)</span>;
  return block ? (
    <p className="prewrap" data-signed={path}>
      {text}
    </p>
  ) : (
    <span className="prewrap" data-signed={path}>
      {text}
    </span>
  );
}

function ComparisonView({ content }: { content: ReportContent }) {
  const c = content.comparison;
  return (
    <>
      <p>
        {c.kind === 'none-available' ? 'No prior imaging available.' : c.kind === 'compared' ? 'Compared with: ' : '(not stated)'}
        {c.kind === 'compared' && <Signed path="comparison.text" text={c.text} />}
      </p>
      {c.kind !== 'compared' && c.text !== '' && (
        <p>
          Comparison text: <Signed path="comparison.text" text={c.text} />
        </p>
      )}
      {c.noPriorReason !== undefined && c.noPriorReason !== '' && (
        <p>
          Why no prior applies: <Signed path="comparison.noPriorReason" text={c.noPriorReason} />
        </p>
      )}
    </>
  );
}

function UnexpectedView({ content }: { content: ReportContent }) {
  const u = content.unexpected;
  if (u.kind === 'none') return <p>No clinically significant unexpected findings.</p>;
  if (u.kind === 'unset') return <p>(not recorded)</p>;
  return (
    <ol className="finding-view">
      {u.items.map((it, i) => (
        <li key={it.id}>
          <strong>{it.category ? ALERT_LABELS[it.category] : 'Uncategorised'}:</strong> <Signed path={`unexpected.items.${i}.text`} text={it.text} />
          {it.primarySite !== undefined && it.primarySite !== '' && (
            <>
              {' '}
              (suspected primary site: <Signed path={`unexpected.items.${i}.primarySite`} text={it.primarySite} />)
            </>
          )}
        </li>
      ))}
    </ol>
  );
}

function AlertView({ content }: { content: ReportContent }) {
  const v = content.verbal;
  const verbalGiven = v !== undefined && (v.clinician !== '' || v.role !== '' || v.time !== '');
  return (
    <div>
      <p>
        <strong className={`alert-badge alert-${content.alertCode ?? 'unset'}`}>{content.alertCode ? ALERT_LABELS[content.alertCode] : 'Not chosen'}</strong>
        {content.alertCode ? ` (${describeAlertPolicy(content.alertCode)})` : ''}
      </p>
      {verbalGiven && (
        <p>
          Communicated verbally to <Signed path="verbal.clinician" text={v.clinician} /> (<Signed path="verbal.role" text={v.role} />) at{' '}
          {v.time === '' ? (
            <span className="muted">(no time given)</span>
          ) : (
            <time data-signed="verbal.time" dateTime={v.time}>
              {formatDateTime(v.time)}
            </time>
          )}
          .
        </p>
      )}
      {(content.alertCode === 'cancer' || (content.cancerPrimarySite ?? '') !== '') && (
        <p>
          Suspected primary site: <Signed path="cancerPrimarySite" text={content.cancerPrimarySite} />
        </p>
      )}
      {content.alertCode !== 'cancer' && cancerPathway(content) && (
        <p className="cancer-pathway">On the cancer pathway: an unexpected finding is a suspected cancer (recorded separately from the alert code).</p>
      )}
    </div>
  );
}

/** Text carried over from a previous template, each piece labelled with its field and template. */
function CarriedOverView({ content }: { content: ReportContent }) {
  const pieces = content.carriedOver ?? [];
  if (pieces.length === 0) return null;
  return (
    <section className="report-section carried-over" aria-label={CARRIED_OVER_TITLE} data-testid="carried-over-view">
      <h3 className="section-title">{CARRIED_OVER_TITLE}</h3>
      {pieces.map((p, i) => (
        <div key={i} className="field-view">
          <h4>
            <Signed path={`carriedOver.${i}.label`} text={p.label} /> (<Signed path={`carriedOver.${i}.templateTitle`} text={p.templateTitle} />)
          </h4>
          <Signed path={`carriedOver.${i}.text`} text={p.text} block />
        </div>
      ))}
    </section>
  );
}

export function ReportContentView({ content }: { content: ReportContent }) {
  const template = templateOf(content.templateId);
  const sections = template?.sections ?? [
    { id: 'text', title: 'Report', fields: Object.keys(content.fields).map((id) => ({ id, label: id, kind: 'text' as const, onEmpty: 'silent' as const })) },
  ];
  // Text the template does not lay out (signed by an older version): shown, never dropped.
  const laidOut = new Set(template ? textFieldsOf(template).map((f) => f.id) : []);
  const extra = template ? Object.keys(content.fields).filter((id) => !laidOut.has(id) && content.fields[id] !== '') : [];
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
                    <Signed path={`fields.${f.id}`} text={content.fields[f.id]} block />
                  </div>
                );
              case 'comparison':
                return <ComparisonView key={f.id} content={content} />;
              case 'unexpected':
                return <UnexpectedView key={f.id} content={content} />;
              case 'alert':
                return <AlertView key={f.id} content={content} />;
            }
          })}
        </section>
      ))}
      <CarriedOverView content={content} />
      {extra.length > 0 && (
        <section className="report-section carried-over" aria-label="Other text in this report">
          <h3 className="section-title">Other text in this report (not part of the {template?.title} template)</h3>
          {extra.map((id) => (
            <div key={id} className="field-view">
              <h4>{fieldOrigin(id, template).label}</h4>
              <Signed path={`fields.${id}`} text={content.fields[id]} block />
            </div>
          ))}
        </section>
      )}
    </div>
  );
}
