// "My alerts": the alerts the logged-in person is responsible for now (their teams', or those of a
// site duty they hold once the ladder reaches it), soonest deadline first, each with the time left
// (OVERDUE in words, not only in colour), category, finding, team, requester, and why it came to
// the duty radiologist when no team could be found. Live: a new alert appears without a reload.
import { useState } from 'react';
import { ALERT_PATHS, type AlertList, type AlertSummary } from '../../../common/alerts.ts';
import { formatPersonName } from '../../../common/dicomText.ts';
import { formatDateTime } from '../../../common/format.ts';
import { ALERT_LABELS } from '../../../common/report.ts';
import { ErrorText } from '../../../renderer/ErrorText.tsx';
import { TableHead } from '../../../renderer/Layout.tsx';
import { PageHeading, PageLink, type PageProps } from './App.tsx';
import { deadlineOf, dueText, timeLeft } from './deadline.ts';
import { useFetch, useTick } from './useFetch.ts';

const FILTERS = { open: 'Open', acknowledged: 'Acknowledged', any: 'All' } as const;
type Filter = keyof typeof FILTERS;

/** Soonest (or longest-missed) deadline first; alerts without one after, oldest first. */
export function byDeadline(a: AlertSummary, b: AlertSummary): number {
  const at = (x: AlertSummary): number => {
    const due = deadlineOf(x);
    return due === null ? Infinity : Date.parse(due);
  };
  const da = at(a);
  const db = at(b);
  return da - db || Date.parse(a.createdAt) - Date.parse(b.createdAt);
}

export function requesterText(a: Pick<AlertSummary, 'requester' | 'requestingService'>): string {
  const who = a.requester && a.requester.replace(/[\s^=]/g, '') ? formatPersonName(a.requester) : '';
  return [who, a.requestingService?.trim() ?? ''].filter((x) => x !== '').join(', ') || 'Unknown';
}

export function CategoryBadge({ category }: { category: AlertSummary['category'] }) {
  return <span className={`alert-badge alert-${category}`}>{ALERT_LABELS[category]}</span>;
}

export function AlertsPage(props: PageProps) {
  const { go } = props;
  const [filter, setFilter] = useState<Filter>('open');
  const list = useFetch<AlertList>(props, `${ALERT_PATHS.list}?scope=mine&state=${filter}`);
  useTick();
  const now = props.api.now();
  const alerts = [...(list.data?.alerts ?? [])].sort(byDeadline);
  const overdue = alerts.filter((a) => a.state === 'open' && timeLeft(a, now).overdue).length;

  return (
    <>
      <PageHeading>My alerts</PageHeading>
      <p>Alerts you or your team must act on, soonest deadline first. Open one to read the finding and the signed report, and to acknowledge it.</p>
      <div className="field inline">
        <label htmlFor="alert-filter">Show</label>
        <select id="alert-filter" value={filter} onChange={(e) => setFilter(e.target.value as Filter)}>
          {Object.entries(FILTERS).map(([k, v]) => (
            <option key={k} value={k}>
              {v}
            </option>
          ))}
        </select>
      </div>
      <ErrorText error={list.error && `The list could not be loaded: ${list.error}`} />
      {list.data === null ? (
        !list.error && <p className="muted">Loading…</p>
      ) : alerts.length === 0 ? (
        <p data-testid="no-alerts">{filter === 'open' ? 'No open alerts for you.' : 'No alerts to show.'}</p>
      ) : (
        <>
          <p data-testid="alert-count">
            {alerts.length} alert{alerts.length === 1 ? '' : 's'}
            {overdue > 0 && (
              <>
                , <strong className="overdue">{overdue} overdue</strong>
              </>
            )}
            .
          </p>
          <table className="alert-table" data-testid="alert-table">
            <caption className="sr-only">My alerts, soonest deadline first</caption>
            <TableHead columns={['Time left', 'Category', 'Finding', 'Patient', 'Team', 'Requester', 'Signed']} />
            <tbody>
              {alerts.map((a) => {
                const left = timeLeft(a, now);
                return (
                  <tr key={a.reportId} data-testid="alert-row" data-report-id={a.reportId} className={left.overdue && a.state === 'open' ? 'row-overdue' : undefined}>
                    <td>
                      {a.state === 'acknowledged' ? (
                        <span className="ok-text">Acknowledged{a.acknowledgement ? ` by ${a.acknowledgement.by.name}` : ''}</span>
                      ) : (
                        <>
                          <span className={left.overdue ? 'overdue' : undefined}>{left.text}</span>
                          {dueText(a) && <span className="muted block">{dueText(a)}</span>}
                          {a.escalated && <span className="escalated block">Escalated to {a.responsible.label}</span>}
                        </>
                      )}
                    </td>
                    <td>
                      <CategoryBadge category={a.category} />
                    </td>
                    <td>
                      <PageLink to={{ page: 'alert', reportId: a.reportId }} go={go}>
                        {a.finding || 'Finding (see report)'}
                      </PageLink>
                      {a.exam && <span className="muted block">{a.exam}</span>}
                    </td>
                    <td>{a.patientId}</td>
                    <td>{a.team ? a.team.name : <span className="routing">Duty radiologist{a.routingReason && <span className="block">{a.routingReason}</span>}</span>}</td>
                    <td>{requesterText(a)}</td>
                    <td>
                      <time dateTime={a.signedAt}>{formatDateTime(a.signedAt)}</time>
                      <span className="muted block">by {a.signedBy.name}</span>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}
