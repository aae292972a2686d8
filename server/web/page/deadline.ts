// How long an alert has left, in words that do not rely on colour: "2 h left", "OVERDUE by 3 h".
// `now` is the hub's clock (HubApi.now), so a wrong clock on the ward computer does not hide a
// deadline. An alert escalated to a rung that holds until acknowledged has no next deadline, but
// it is still overdue: it is measured against its first (the requester's) deadline.
import type { AlertSummary } from '../../../common/alerts.ts';
import { formatDateTime, formatDuration } from '../../../common/format.ts';

export interface TimeLeft {
  text: string;
  overdue: boolean;
}

type Deadlines = Pick<AlertSummary, 'dueBy' | 'firstDueBy'>;

/** The deadline the alert is measured against: the current rung's, else its first one. */
export const deadlineOf = (a: Deadlines): string | null => a.dueBy ?? a.firstDueBy;

export function timeLeft(a: Deadlines, now: number): TimeLeft {
  const due = deadlineOf(a);
  if (due === null) return { text: 'No deadline: holds until acknowledged', overdue: false };
  const ms = Date.parse(due) - now;
  if (ms < 0) return { text: `OVERDUE by ${formatDuration(-ms)}`, overdue: true };
  return { text: `${formatDuration(ms)} left`, overdue: false };
}

/** "due 12 Mar 2026 14:00" (local time of this computer), or '' without a deadline. */
export const dueText = (a: Deadlines): string => {
  const due = deadlineOf(a);
  return due === null ? '' : `${a.dueBy === null ? 'first deadline' : 'due'} ${formatDateTime(due)}`;
};
