// A signed report's alert (issue 9 line 6), on the signed report's view: its state, who is
// responsible now and the deadline (time left or overdue), where it was routed and why, and its
// timeline as the hub keeps it (created, routed, notified, opened, acknowledged or escalated,
// phone calls), with names and times; live on the hub's alert-changed. The phone calls recorded
// on this workstation show here too, with whether each is on the hub yet, so a call made while the
// hub was unreachable is never only in someone's memory. An unreachable hub is said in words.
import { useEffect, useState } from 'react';
import type { AlertView } from '../../common/contract.ts';
import { formatDateTime } from '../../common/format.ts';
import { useQuery } from '../data/useQuery.ts';
import { Facts } from '../Layout.tsx';
import { alertStateText, responsibleText, routingText, timeLeftText } from './alertText.ts';

/** How often the time left is redrawn. */
const TICK_MS = 30_000;

/** This computer's clock, redrawn every `ms`. */
export function useNow(ms = TICK_MS): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

export function AlertPanel({ reportId }: { reportId: string }) {
  const now = useNow();
  const q = useQuery<AlertView>(`alerts:forReport:${reportId}`, (api) => api['alerts:forReport']({ reportId }), {
    refetchOn: (e) =>
      (e.type === 'alert-changed' && e.reportId === reportId) || (e.type === 'sync-changed' && e.reportId === reportId) || (e.type === 'hub-changed' && e.online),
  });
  const view = q.data;
  const alert = view?.alert ?? null;
  const latest = alert?.timeline[alert.timeline.length - 1];
  const left = alert && alert.state === 'open' ? timeLeftText(alert.dueBy, now) : null;
  const unsynced = (view?.phoneCalls ?? []).filter((c) => c.syncedAt === null);

  return (
    <section className="panel alert-panel" data-testid="alert-panel" aria-labelledby={`alert-title-${reportId}`} data-state={alert?.state ?? 'unknown'}>
      <h3 id={`alert-title-${reportId}`}>Alert</h3>
      {/* Changes are announced once each, not the whole panel again. */}
      <p className="sr-only" aria-live="polite" data-testid="alert-live">
        {latest ? `Alert: ${latest.text}, ${formatDateTime(latest.at)}` : ''}
      </p>
      {view === undefined && (q.error ? <p className="error-text">Could not read the alert: {q.error}</p> : <p>Loading…</p>)}
      {view?.unavailable && (
        <p className="notice notice-warning" role="status" data-testid="alert-unavailable">
          {view.unavailable}
        </p>
      )}
      {view && !alert && !view.unavailable && (
        <p data-testid="alert-none">
          {view.pending ? 'The signed report has not reached the hub yet: its alert starts when it does.' : 'The hub holds no alert for this report.'}
        </p>
      )}
      {alert && (
        <>
          <Facts
            facts={[
              { label: 'State', value: alertStateText(alert), testId: 'alert-state', className: alert.state === 'open' ? 'alert-open' : 'alert-acknowledged' },
              alert.state === 'open' && { label: 'Responsible now', value: responsibleText(alert), testId: 'alert-responsible' },
              alert.state === 'open' && {
                label: 'Deadline',
                value: alert.dueBy ? (
                  <>
                    <time dateTime={alert.dueBy}>{formatDateTime(alert.dueBy)}</time> ({left?.overdue ? <strong>{left.text}</strong> : left?.text})
                  </>
                ) : (
                  left?.text
                ),
                testId: 'alert-deadline',
                ...(left?.overdue ? { className: 'alert-overdue' } : {}),
              },
              { label: 'Routed to', value: routingText(alert), testId: 'alert-routing' },
              alert.acknowledgement && { label: 'Action plan', value: alert.acknowledgement.actionPlan },
            ]}
          />
          <h4 id={`alert-timeline-${reportId}`}>Timeline</h4>
          <ol className="alert-timeline" aria-labelledby={`alert-timeline-${reportId}`} data-testid="alert-timeline">
            {alert.timeline.map((e) => (
              <li key={e.seq} data-type={e.type}>
                <time dateTime={e.at}>{formatDateTime(e.at)}</time>: {e.text}
                {e.actor && !e.text.includes(e.actor.name) ? ` (${e.actor.name})` : ''}
              </li>
            ))}
          </ol>
        </>
      )}
      {unsynced.length > 0 && (
        <>
          <h4 id={`alert-calls-${reportId}`}>Phone calls recorded here, not on the hub yet</h4>
          <ul aria-labelledby={`alert-calls-${reportId}`} data-testid="alert-local-calls">
            {unsynced.map((c, i) => (
              <li key={c.id ?? `call-${i}`} data-refused={c.refused}>
                <time dateTime={c.time}>{formatDateTime(c.time)}</time> {c.clinician} ({c.role}), recorded by {c.recordedBy}
                {c.problem ? <span className={c.refused ? 'error-text' : 'muted'}> · {c.problem}</span> : <span className="muted"> · waiting to be sent</span>}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
