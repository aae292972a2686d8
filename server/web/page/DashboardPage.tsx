// The imaging safety lead's dashboard (issue 9 line 7): open alerts by category and age, the open
// alerts with the escalated ones first, acknowledgement time against deadline (AckPlot), and the
// CSV export of every alert. The numbers are the hub's (GET /api/safety/dashboard), live.
import { useState } from 'react';
import { AGE_BUCKETS, ALERT_PATHS, type SafetyDashboard } from '../../../common/alerts.ts';
import { ALERT_LABELS } from '../../../common/report.ts';
import { ErrorText } from '../../../renderer/ErrorText.tsx';
import { AckPlot } from './AckPlot.tsx';
import { PageHeading, PageLink, type PageProps } from './App.tsx';
import { CategoryBadge } from './AlertsPage.tsx';
import { timeLeft } from './deadline.ts';
import { useFetch, useTick } from './useFetch.ts';

type Counts = { open: number; escalated: number; byAge: readonly number[] };

/** One row of the open-alerts table: a category's (or all) counts, each cell marked with its column for tests. */
function CountsRow({ id, label, counts }: { id: string; label: string; counts: Counts }) {
  return (
    <tr data-category={id}>
      <th scope="row">{label}</th>
      <td data-col="open">{counts.open}</td>
      <td data-col="escalated">{counts.escalated}</td>
      {counts.byAge.map((n, i) => (
        <td key={AGE_BUCKETS[i]?.label ?? i} data-col={`age-${i}`}>
          {n}
        </td>
      ))}
    </tr>
  );
}

export function DashboardPage(props: PageProps) {
  const { api, go } = props;
  const dash = useFetch<SafetyDashboard>(props, ALERT_PATHS.dashboard);
  useTick();
  const [csv, setCsv] = useState<{ busy: boolean; error: string | null; done: boolean }>({ busy: false, error: null, done: false });
  const d = dash.data;
  const now = api.now();

  const download = async () => {
    setCsv({ busy: true, error: null, done: false });
    try {
      await api.download(ALERT_PATHS.dashboardCsv, 'failsafe-alerts.csv');
      setCsv({ busy: false, error: null, done: true });
    } catch (err) {
      if (props.onUnauthorised(err)) return;
      setCsv({ busy: false, error: `The CSV could not be downloaded: ${(err as Error).message}`, done: false });
    }
  };

  const totals: Counts | null = d
    ? d.open.reduce<Counts>((t, c) => ({ open: t.open + c.open, escalated: t.escalated + c.escalated, byAge: t.byAge.map((n, i) => n + (c.byAge[i] ?? 0)) }), {
      open: 0, escalated: 0, byAge: AGE_BUCKETS.map(() => 0),
    })
    : null;

  return (
    <>
      <PageHeading>Safety dashboard</PageHeading>
      <ErrorText error={dash.error && `The dashboard could not be loaded: ${dash.error}`} />
      <section aria-labelledby="export-title">
        <h2 id="export-title">Export</h2>
        <button type="button" onClick={() => void download()} disabled={csv.busy} data-testid="csv-download">
          {csv.busy ? 'Downloading…' : 'Download all alerts as CSV'}
        </button>
        <span role="status" className="info-text">
          {csv.done ? ' Downloaded failsafe-alerts.csv.' : ''}
        </span>
        <ErrorText error={csv.error} />
      </section>
      {!d || !totals ? (
        !dash.error && <p className="muted">Loading…</p>
      ) : (
        <>
          <section aria-labelledby="by-age-title">
            <h2 id="by-age-title">Open alerts by category and age</h2>
            <table className="dash-table" data-testid="by-age">
              <caption className="sr-only">Open alerts by category, with how many are escalated, and by hours since signature</caption>
              <thead>
                <tr>
                  <th scope="col">Category</th>
                  <th scope="col">Open</th>
                  <th scope="col">Escalated</th>
                  {AGE_BUCKETS.map((b) => (
                    <th scope="col" key={b.label}>
                      {b.label}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {d.open.map((c) => (
                  <CountsRow key={c.category} id={c.category} label={ALERT_LABELS[c.category]} counts={c} />
                ))}
              </tbody>
              <tfoot>
                <CountsRow id="total" label="All" counts={totals} />
              </tfoot>
            </table>
          </section>

          <section aria-labelledby="open-title">
            <h2 id="open-title">Open alerts, escalated first{d.notNotified.length > 0 ? ` (${d.notNotified.length} not notified)` : ''}</h2>
            {d.alerts.length === 0 ? (
              <p>No open alerts.</p>
            ) : (
              <ol className="dash-alerts" data-testid="open-alerts">
                {d.alerts.map((a) => {
                  const left = timeLeft(a, now);
                  const unheard = d.notNotified.includes(a.reportId);
                  return (
                    <li key={a.reportId} data-report-id={a.reportId} data-escalated={a.escalated} data-not-notified={unheard}>
                      <CategoryBadge category={a.category} />{' '}
                      <PageLink to={{ page: 'alert', reportId: a.reportId }} go={go}>
                        {a.finding || 'Finding (see report)'}
                      </PageLink>{' '}
                      {a.escalated ? <strong className="escalated">Escalated (rung {a.rung + 1}) to {a.responsible.label}.</strong> : <span>With {a.responsible.label}.</span>}{' '}
                      <span className={left.overdue ? 'overdue' : undefined}>{left.text}.</span>{' '}
                      <span className="muted">{a.team ? `Team ${a.team.name}` : `Duty radiologist: ${a.routingReason ?? ''}`}</span>
                      {unheard ? <> <strong className="overdue">Nobody has been notified: every notification for it failed (see its timeline).</strong></> : null}
                    </li>
                  );
                })}
              </ol>
            )}
          </section>

          <section aria-labelledby="plot-title">
            <h2 id="plot-title">Acknowledgement time against deadline</h2>
            <AckPlot acks={d.acknowledged} />
          </section>
        </>
      )}
    </>
  );
}
