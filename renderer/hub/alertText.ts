// Words for an alert on the workstation (issue 9 line 6): its deadline as time left or overdue,
// its state, its routing. Pure functions (unit-tested in test/renderer/alertText.test.ts); colour
// is never the only sign: "OVERDUE" is in the words.
import type { AlertSummary } from '../../common/alerts.ts';
import { formatDateTime, formatDuration } from '../../common/format.ts';

/** "2 h left", "OVERDUE by 3 h", or that it holds until acknowledged. `now`: ms on the hub's clock as last answered (see hubNow). */
export function timeLeftText(dueBy: string | null, now: number): { text: string; overdue: boolean } {
  if (dueBy === null) return { text: 'no deadline: holds until acknowledged', overdue: false };
  const ms = Date.parse(dueBy) - now;
  return ms < 0 ? { text: `OVERDUE by ${formatDuration(-ms)}`, overdue: true } : { text: `${formatDuration(ms)} left`, overdue: false };
}

/**
 * The hub's clock now: its `now` when it answered, moved on by the time since on this computer, so
 * a wrong clock here does not hide a deadline (null `hubNow`: this computer's clock).
 */
export function hubNow(hubNowIso: string | null, answeredAt: number, localNow: number): number {
  const at = hubNowIso === null ? Number.NaN : Date.parse(hubNowIso);
  return Number.isNaN(at) ? localNow : at + (localNow - answeredAt);
}

/** "Open", or "Acknowledged by Dr X at 12 Mar 2026 14:03". */
export function alertStateText(a: Pick<AlertSummary, 'state' | 'acknowledgement'>): string {
  if (a.state === 'open') return 'Open: not acknowledged yet';
  const ack = a.acknowledgement;
  return ack ? `Acknowledged by ${ack.by.name} at ${formatDateTime(ack.at)}` : 'Acknowledged';
}

/** Where the alert was routed: the requester's team, or the duty radiologist's queue and why. */
export function routingText(a: Pick<AlertSummary, 'team' | 'routingReason'>): string {
  if (a.team) return `Team ${a.team.name}`;
  return `The duty radiologist's queue${a.routingReason ? `: ${a.routingReason}` : ''}`;
}

/** Who is responsible now: "the requester's team (rung 1)", escalated or not. */
export function responsibleText(a: Pick<AlertSummary, 'responsible' | 'rung' | 'escalated' | 'team'>): string {
  const who = a.rung === 0 && a.team ? `${a.responsible.label} (team ${a.team.name})` : a.responsible.label;
  return a.escalated ? `${who}, escalated (rung ${a.rung + 1} of its ladder)` : who;
}
