// "My outstanding alerts" (issue 9 line 6): the open alerts of the reports the logged-in user
// signed, soonest deadline first (the hub's order), with time left or overdue and who is
// responsible now; live on the hub's alert-changed. Opening one opens its study (the signed
// report and its alert's timeline). Beside the Unfinished panel: both are the radiologist's
// loose ends. An unreachable hub is said in words; the last list read stays on screen.
import type { AlertSummary } from '../../common/alerts.ts';
import type { PatientSummary } from '../../common/contract.ts';
import { roleMay } from '../../common/lifecycle.ts';
import { ALERT_LABELS } from '../../common/report.ts';
import { formatDateTime } from '../../common/format.ts';
import { useQuery } from '../data/useQuery.ts';
import { TableHead } from '../Layout.tsx';
import { formatPersonName } from '../format.ts';
import { useNow } from './AlertPanel.tsx';
import { hubNow, responsibleText, timeLeftText } from './alertText.ts';
import { useHubStatus } from './HubContext.ts';

export interface MyAlertsPanelProps {
  patients: readonly PatientSummary[];
  onOpenStudy(studyUid: string): void;
}

/** The patient as this workstation's library names them, or the hub's patient ID. */
function patientOf(a: AlertSummary, patients: readonly PatientSummary[]): { text: string; local: boolean } {
  for (const p of patients) {
    if (p.studies.some((s) => s.studyUid === a.studyUid)) return { text: `${formatPersonName(p.patientName)} (ID ${p.patientId})`, local: true };
  }
  return { text: `Patient ID ${a.patientId} (study not in this workstation's library)`, local: false };
}

export function MyAlertsPanel({ patients, onOpenStudy }: MyAlertsPanelProps) {
  const hub = useHubStatus();
  const user = hub?.user ?? null;
  // Reports are signed by reporting roles only: a referrer or a safety lead has none of their own.
  const signs = user !== null && (roleMay(user.role, 'report:sign-final') || roleMay(user.role, 'report:sign-provisional'));
  const localNow = useNow();
  // With when it was answered on this computer's clock, to move the hub's `now` on from it.
  const q = useQuery('alerts:mine', async (api) => {
    const r = await api['alerts:mine']({});
    return r.ok ? { ok: true as const, value: { ...r.value, answeredAt: Date.now() } } : r;
  }, {
    enabled: hub?.configured === true && signs,
    refetchOn: (e) => e.type === 'alert-changed' || (e.type === 'sync-changed' && e.reportId !== undefined) || (e.type === 'hub-changed' && e.online),
  });
  if (!hub?.configured || !user || !signs) return null;
  const list = q.data;
  const alerts = list?.alerts ?? [];
  const now = hubNow(list?.now ?? null, list?.answeredAt ?? localNow, localNow);
  const overdue = alerts.filter((a) => timeLeftText(a.dueBy, now).overdue).length;

  return (
    <section className="panel my-alerts" data-testid="my-alerts" aria-labelledby="my-alerts-title">
      <div className="panel-head">
        <h2 id="my-alerts-title">
          My outstanding alerts ({alerts.length}
          {overdue > 0 ? `, ${overdue} overdue` : ''})
        </h2>
        <button type="button" className="small" onClick={q.reload}>
          Refresh
        </button>
      </div>
      <p className="muted">Alerts of reports you signed that nobody has acknowledged yet, soonest deadline first.</p>
      <div aria-live="polite" role="status">
        {q.error && (
          <p className="notice notice-warning" data-testid="my-alerts-unavailable">
            {list ? 'Not up to date: ' : ''}
            {q.error}
          </p>
        )}
      </div>
      {list === undefined ? (
        !q.error && <p>Loading…</p>
      ) : alerts.length === 0 ? (
        <p>No outstanding alerts.</p>
      ) : (
        <table className="list-table">
          <caption className="sr-only">
            My outstanding alerts: {alerts.length}, of which {overdue} overdue
          </caption>
          <TableHead columns={['Patient', 'Alert', 'Signed', 'Responsible now', 'Deadline', null]} />
          <tbody>
            {alerts.map((a) => {
              const who = patientOf(a, patients);
              const left = timeLeftText(a.dueBy, now);
              return (
                <tr key={a.reportId} data-testid="my-alert" data-report-id={a.reportId} data-overdue={left.overdue} className={left.overdue ? 'stale-row' : undefined}>
                  <td>
                    {who.text}
                    {a.exam ? (
                      <>
                        <br />
                        <span className="muted">{a.exam}</span>
                      </>
                    ) : null}
                  </td>
                  <td>
                    <strong>{ALERT_LABELS[a.category]}</strong>: {a.finding}
                  </td>
                  <td>
                    <time dateTime={a.signedAt}>{formatDateTime(a.signedAt)}</time>
                  </td>
                  <td>{responsibleText(a)}</td>
                  <td>
                    {a.dueBy ? <time dateTime={a.dueBy}>{formatDateTime(a.dueBy)}</time> : null} {left.overdue ? <strong className="stale-text">{left.text}</strong> : <span>{left.text}</span>}
                  </td>
                  <td>
                    <button type="button" disabled={!who.local} onClick={() => onOpenStudy(a.studyUid)} aria-label={`Open the report: ${who.text}, ${ALERT_LABELS[a.category]} alert`}>
                      Open
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
