// Acknowledgement time against deadline (issue 9 line 7), drawn as inline SVG: one mark per
// acknowledged alert, across by when it was acknowledged, up by the share of its first deadline it
// took (100 % is the deadline, drawn as a line). Late ones are crosses, in-time ones circles, so
// the plot does not rely on colour; the same numbers follow as a table for screen readers and
// for anyone who wants the figures.
import type { SafetyDashboard } from '../../../common/alerts.ts';
import { formatDateTime, formatDuration } from '../../../common/format.ts';
import { ALERT_LABELS } from '../../../common/report.ts';

type Ack = SafetyDashboard['acknowledged'][number];

const W = 640;
const H = 260;
const PAD = { left: 56, right: 16, top: 16, bottom: 40 };

/** The share of its deadline an acknowledgement took, in percent (null: no deadline). */
export const percentOfDeadline = (a: Ack): number | null => (a.allowedMinutes === null || a.allowedMinutes <= 0 ? null : (a.minutes / a.allowedMinutes) * 100);

export function plotSummary(acks: readonly Ack[]): string {
  if (acks.length === 0) return 'No alert has been acknowledged yet.';
  const late = acks.filter((a) => !a.inTime).length;
  const shares = acks.map(percentOfDeadline).filter((p): p is number => p !== null).sort((x, y) => x - y);
  const median = shares.length ? shares[Math.floor((shares.length - 1) / 2)]! : null;
  return `${acks.length} acknowledged alert${acks.length === 1 ? '' : 's'}: ${acks.length - late} in time, ${late} late.${median === null ? '' : ` Median: ${Math.round(median)} % of the deadline used.`}`;
}

export function AckPlot({ acks }: { acks: readonly Ack[] }) {
  const points = acks.map((a) => ({ a, p: percentOfDeadline(a), t: Date.parse(a.acknowledgedAt) })).filter((x): x is { a: Ack; p: number; t: number } => x.p !== null);
  const yMax = Math.max(150, Math.ceil(Math.max(0, ...points.map((x) => x.p)) / 50) * 50);
  const t0 = Math.min(...points.map((x) => x.t));
  const t1 = Math.max(...points.map((x) => x.t));
  const span = t1 - t0 || 1;
  const x = (t: number) => PAD.left + (points.length === 1 ? 0.5 : (t - t0) / span) * (W - PAD.left - PAD.right);
  const y = (p: number) => H - PAD.bottom - (p / yMax) * (H - PAD.top - PAD.bottom);
  // Gridlines: at most about six, on a round step; the deadline's (100 %) is always drawn.
  const step = [50, 100, 200, 500, 1000, 2000, 5000, 10_000].find((s) => yMax / s <= 6) ?? Math.ceil(yMax / 6);
  const ticks = [...new Set([...Array.from({ length: Math.floor(yMax / step) + 1 }, (_, i) => i * step), 100])].sort((p, q) => p - q);
  const summary = plotSummary(acks);
  return (
    <figure className="ack-plot" data-testid="ack-plot">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="ack-plot-title ack-plot-desc" width="100%" preserveAspectRatio="xMinYMin meet">
        <title id="ack-plot-title">Acknowledgement time against deadline</title>
        <desc id="ack-plot-desc">{summary} Each mark is one alert: across, when it was acknowledged; up, the share of its first deadline it took. The line at 100 % is the deadline.</desc>
        {ticks.map((v) => (
          <g key={v}>
            <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} className={v === 100 ? 'plot-deadline' : 'plot-grid'} />
            <text x={PAD.left - 6} y={y(v) + 4} textAnchor="end" className="plot-label">
              {v} %
            </text>
          </g>
        ))}
        <text x={W - PAD.right} y={y(100) - 6} textAnchor="end" className="plot-label">
          deadline
        </text>
        {points.length > 0 && (
          <>
            <text x={PAD.left} y={H - 12} className="plot-label">
              {formatDateTime(new Date(t0).toISOString())}
            </text>
            {points.length > 1 && (
              <text x={W - PAD.right} y={H - 12} textAnchor="end" className="plot-label">
                {formatDateTime(new Date(t1).toISOString())}
              </text>
            )}
          </>
        )}
        {points.map(({ a, p, t }) =>
          a.inTime ? (
            <circle key={a.reportId} cx={x(t)} cy={y(p)} r={5} className="plot-in-time" data-report-id={a.reportId} />
          ) : (
            <path key={a.reportId} d={`M${x(t) - 5},${y(p) - 5}l10,10m0,-10l-10,10`} className="plot-late" data-report-id={a.reportId} />
          ),
        )}
      </svg>
      <figcaption>
        {summary} Circles: acknowledged in time; crosses: late.
      </figcaption>
      <table className="plot-table" data-testid="ack-table">
        <caption>The plot's figures: each acknowledged alert</caption>
        <thead>
          <tr>
            <th scope="col">Category</th>
            <th scope="col">Signed</th>
            <th scope="col">Acknowledged</th>
            <th scope="col">Took</th>
            <th scope="col">Deadline allowed</th>
            <th scope="col">Share of deadline</th>
            <th scope="col">In time</th>
          </tr>
        </thead>
        <tbody>
          {acks.map((a) => {
            const p = percentOfDeadline(a);
            return (
              <tr key={a.reportId} data-report-id={a.reportId}>
                <td>{ALERT_LABELS[a.category]}</td>
                <td>{formatDateTime(a.signedAt)}</td>
                <td>{formatDateTime(a.acknowledgedAt)}</td>
                <td>{formatDuration(a.minutes * 60_000)}</td>
                <td>{a.allowedMinutes === null ? 'no deadline' : formatDuration(a.allowedMinutes * 60_000)}</td>
                <td>{p === null ? '–' : `${Math.round(p)} %`}</td>
                <td>{a.inTime ? 'Yes' : <strong>No: late</strong>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </figure>
  );
}
