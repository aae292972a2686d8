// One alert: the finding, who is responsible and by when, the Acknowledge form (an action plan is
// required: the hub refuses fewer than 10 meaningful characters, and its reason is shown in
// words), who acknowledged it once done, the timeline, and the whole signed report exactly as the
// workstation shows a signed report (the same components: renderer/report/ReportContentView and
// Signatures, which use common/ only). Opening it is recorded on the hub's timeline ("opened by").
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ACTION_PLAN_MIN, ALERT_EVENT_LABELS, ALERT_PATHS, type AlertDetail, type AlertList } from '../../../common/alerts.ts';
import { formatDateTime } from '../../../common/format.ts';
import { ROLE_LABELS, STATE_LABELS } from '../../../common/lifecycle.ts';
import { ErrorText } from '../../../renderer/ErrorText.tsx';
import { SubmitActions } from '../../../renderer/Layout.tsx';
import { ReportContentView } from '../../../renderer/report/ReportContentView.tsx';
import { ExamView, SignatureBlock, SignatureList } from '../../../renderer/report/Signatures.tsx';
import { PageHeading, PageLink, type PageProps } from './App.tsx';
import { CategoryBadge, requesterText } from './AlertsPage.tsx';
import { dueText, timeLeft } from './deadline.ts';
import { useFetch, useTick } from './useFetch.ts';

function Acknowledged({ alert, focus }: { alert: AlertDetail; focus: boolean }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (focus) ref.current?.focus();
  }, [focus]);
  const ack = alert.acknowledgement;
  if (!ack) return null;
  return (
    <div className="acknowledged" role="status" tabIndex={-1} ref={ref} data-testid="acknowledged">
      <p>
        <strong>
          Acknowledged by {ack.by.name}
        </strong>{' '}
        ({ROLE_LABELS[ack.by.role] ?? ack.by.role}) on <time dateTime={ack.at}>{formatDateTime(ack.at)}</time>.
      </p>
      <p>
        Action plan: <span className="prewrap">{ack.actionPlan}</span>
      </p>
    </div>
  );
}

function AcknowledgeForm({ alert, props, onDone }: { alert: AlertDetail; props: PageProps; onDone(a: AlertDetail): void }) {
  const [plan, setPlan] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const field = useRef<HTMLTextAreaElement>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onDone(await props.api.post<AlertDetail>(ALERT_PATHS.acknowledge(alert.reportId), { actionPlan: plan }));
    } catch (err) {
      if (props.onUnauthorised(err)) return;
      // The hub's reason (too short a plan, already acknowledged by someone else, no longer yours).
      setError(`Not acknowledged: ${(err as Error).message}`);
      field.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="ack-form" aria-labelledby="ack-title">
      <h2 id="ack-title">Acknowledge</h2>
      <p>
        You acknowledge as <strong>{props.session.user.name}</strong>: your name, the time and your action plan are recorded on the alert, and escalation
        stops.
      </p>
      <form onSubmit={(e) => void submit(e)} data-testid="ack-form" noValidate>
        <div className="field">
          <label htmlFor="action-plan">Action plan</label>
          <p id="action-plan-hint" className="muted">
            What you will do about this finding (at least {ACTION_PLAN_MIN} characters), e.g. "Patient recalled for CT angiogram today".
          </p>
          <textarea
            id="action-plan"
            ref={field}
            rows={3}
            maxLength={2000}
            value={plan}
            aria-describedby={error ? 'action-plan-hint ack-error' : 'action-plan-hint'}
            aria-invalid={error ? true : undefined}
            onChange={(e) => setPlan(e.target.value)}
          />
        </div>
        <div id="ack-error">
          <ErrorText error={error} />
        </div>
        <SubmitActions busy={busy} label="Acknowledge" busyLabel="Acknowledging…" />
      </form>
    </section>
  );
}

export function AlertPage(props: PageProps & { reportId: string }) {
  const { go, reportId } = props;
  const detail = useFetch<AlertDetail>(props, ALERT_PATHS.alert(reportId));
  const [justAcknowledged, setJustAcknowledged] = useState(false);
  useTick();
  const a = detail.data;
  // The list is read too for the hub's clock (its `now`): the detail has none, and a deep link opens here first.
  useFetch<AlertList>(props, `${ALERT_PATHS.list}?scope=mine`);
  const now = props.api.now();
  const left = a ? timeLeft(a, now) : null;

  if (!a) {
    return (
      <>
        <PageHeading>Alert</PageHeading>
        <ErrorText error={detail.error && `This alert could not be opened: ${detail.error}`} />
        {!detail.error && <p className="muted">Loading…</p>}
        <p>
          <PageLink to={{ page: 'alerts' }} go={go}>
            Back to My alerts
          </PageLink>
        </p>
      </>
    );
  }
  const report = a.report;
  return (
    <>
      <p>
        <PageLink to={{ page: 'alerts' }} go={go}>
          Back to My alerts
        </PageLink>
      </p>
      <PageHeading>
        <CategoryBadge category={a.category} /> alert: <span data-testid="alert-finding">{a.finding || 'see the report'}</span>
      </PageHeading>
      <ErrorText error={detail.error && `Could not refresh this alert: ${detail.error}`} />

      <section aria-labelledby="status-title" className="alert-status" data-testid="alert-status" data-state={a.state}>
        <h2 id="status-title">Status</h2>
        {a.state === 'acknowledged' ? (
          <Acknowledged alert={a} focus={justAcknowledged} />
        ) : (
          <>
            <p>
              <strong className={left?.overdue ? 'overdue' : undefined} data-testid="time-left">
                {left?.text}
              </strong>{' '}
              {dueText(a) && <span className="muted">({dueText(a)})</span>}
            </p>
            <p>
              Responsible now: {a.responsible.label}
              {a.escalated ? ` (escalated: rung ${a.rung + 1} of the ladder)` : ''}.
            </p>
          </>
        )}
        <dl className="facts">
          <div>
            <dt>Patient</dt>
            <dd>{a.patientId}</dd>
          </div>
          <div>
            <dt>Exam</dt>
            <dd>{[a.exam, a.accession && `accession ${a.accession}`].filter(Boolean).join(', ') || 'not recorded'}</dd>
          </div>
          <div>
            <dt>Requester</dt>
            <dd>{requesterText(a)}</dd>
          </div>
          <div>
            <dt>Routed to</dt>
            <dd>{a.team ? `Team ${a.team.name}` : `The duty radiologist: ${a.routingReason ?? 'no team found'}`}</dd>
          </div>
          <div>
            <dt>Signed</dt>
            <dd>
              by {a.signedBy.name} ({ROLE_LABELS[a.signedBy.role] ?? a.signedBy.role}) on <time dateTime={a.signedAt}>{formatDateTime(a.signedAt)}</time>
            </dd>
          </div>
        </dl>
      </section>

      {a.state === 'open' &&
        (a.mayAcknowledge ? (
          <AcknowledgeForm
            alert={a}
            props={props}
            onDone={(done) => {
              setJustAcknowledged(true);
              detail.set(done);
            }}
          />
        ) : (
          <p className="info-text">You may read this alert but not acknowledge it: it is not yours or your team's to act on now.</p>
        ))}

      <section aria-labelledby="timeline-title" className="timeline">
        <h2 id="timeline-title">Timeline</h2>
        <ol data-testid="timeline">
          {a.timeline.map((e) => (
            <li key={e.seq} data-type={e.type}>
              <time dateTime={e.at}>{formatDateTime(e.at)}</time>: {e.text || ALERT_EVENT_LABELS[e.type]}
            </li>
          ))}
        </ol>
      </section>

      <section aria-labelledby="report-title" className="signed-report" data-testid="signed-report">
        <h2 id="report-title">
          Signed report <span className="muted">({STATE_LABELS[report.state] ?? report.state})</span>
        </h2>
        {report.addenda.length > 0 && (
          <ol className="addendum-list" aria-label="Addenda, newest first" reversed>
            {report.addenda.map((ad, i) => (
              <li key={ad.id} className="addendum">
                <h3>Addendum {report.addenda.length - i}</h3>
                <p className="prewrap">{ad.text}</p>
                <SignatureBlock signature={ad.signature} />
              </li>
            ))}
          </ol>
        )}
        <ExamView exam={report.exam} />
        <ReportContentView content={report.content} />
        <SignatureList signatures={report.signatures.filter((s) => s.addendumId === null)} />
      </section>
    </>
  );
}
