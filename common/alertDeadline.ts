// An alert's deadlines: when the requester must have acknowledged it, and when each rung of its
// escalation ladder becomes responsible and must in turn, from the signature time and the site
// policy (alertDeadlines, escalation, calendar; defaults in common/alertPolicy.ts, domain.md §2).
// Pure: the hub computes the ladder once, when the alert is created with its report, and stores it.
//
// What a deadline means:
//   - "hours": elapsed time. 24 hours from 16:00 is 16:00 the next day, or 15:00/17:00 local when
//     the clocks change in between: the finding is as urgent at night and at the weekend.
//   - "working days": counted on the site calendar (common/siteCalendar.ts addWorkingDays): the
//     first instant by which that many whole working days of the site's clock have passed since
//     the signature; weekends and bank holidays do not count at all. From a working day that is
//     the same local clock time on the Nth working day after: a cancer alert signed on Friday at
//     16:00 is due on Tuesday at 16:00 (Wednesday at 16:00 after a bank-holiday Monday). From a
//     weekend day or a bank holiday the count starts when the next working day starts, so it is
//     due at the end of the Nth working day: signed on Saturday, due by the end of Tuesday
//     (Wednesday 00:00 local).
//   Why the same clock time rather than "by the end of the Nth working day" from every signature:
//   every alert gets exactly N working days, never up to N + 1 because it was signed early in the
//   morning; the escalation then falls at the hour the alert was signed, usually in working hours
//   when the next rung (the cancer pathway lead) is at work, rather than at midnight when no one
//   is; and it reads like the "hours" deadlines ("due Tuesday 16:00"). Where the local time is
//   skipped or repeated by a clock change, the earlier reading is taken (the safe side).
//   - "none": no deadline; the rung holds the alert until it is acknowledged.
//
// The ladder: rung 0 is the requester and their team, due at the category's deadline from the
// signature; rung k (k ≥ 1) becomes responsible at rung k-1's deadline and is due its `within`
// after that, counted the same way; the last rung has no deadline.
import { ESCALATION_RECIPIENTS, type AlertDeadline, type EscalationRecipient } from './alertPolicy.ts';
import type { SitePolicy } from './hub.ts';
import type { AlertCategory } from './report.ts';
import { addWorkingDays, SiteCalendarError, type SiteCalendarInput } from './siteCalendar.ts';
import { parseIsoDateTime } from './signoff.ts';

const HOUR_MS = 3_600_000;

/** The parts of the site policy that time an alert. */
export type AlertTimingPolicy = Pick<SitePolicy, 'alertDeadlines' | 'escalation' | 'calendar'>;

/** An instant from an ISO date-time with its zone ("2026-11-27T16:00Z", "2026-11-27T16:00+01:00") or a Date; refused otherwise. */
function instant(at: string | Date): Date {
  const d = typeof at === 'string' ? parseIsoDateTime(at) : at;
  if (!d || Number.isNaN(d.getTime())) {
    const shown = typeof at === 'string' ? JSON.stringify(at.slice(0, 60)) : 'the date given';
    throw new SiteCalendarError(`${shown} is not an instant: give an ISO date-time with its time zone (e.g. 2026-11-28T10:42Z)`);
  }
  return d;
}

/** The instant a deadline falls due, counted from `from` (ISO, with Z or an offset); null for no deadline. */
export function deadlineAfter(deadline: AlertDeadline, from: string | Date, calendar: SiteCalendarInput): string | null {
  const start = instant(from);
  switch (deadline.kind) {
    case 'none':
      return null;
    case 'hours':
      return new Date(start.getTime() + Math.round(deadline.hours * HOUR_MS)).toISOString();
    case 'working-days':
      return addWorkingDays(start, deadline.days, calendar).toISOString();
  }
}

/** One rung of an alert's ladder, timed. */
export interface LadderStep {
  /** 0 for the requester, then 1, 2, … */
  rung: number;
  to: EscalationRecipient;
  /** Who, in words (ESCALATION_RECIPIENTS). */
  label: string;
  /** When this rung becomes responsible (ISO, UTC): the signature for rung 0, else the previous rung's deadline. */
  from: string;
  /** When this rung must have acknowledged (ISO, UTC), or null: it holds the alert until someone does. */
  dueBy: string | null;
}

/**
 * The timed ladder of an alert signed at `signedAt`: rung 0 (the requester and their team) with the
 * category's deadline, then the policy's rungs. A rung without a deadline is the last one
 * reached (the policy's last rung; or the first, if the site gave the category no deadline).
 * No alert ('none'): no ladder.
 */
export function escalationLadder(category: AlertCategory, signedAt: string | Date, policy: AlertTimingPolicy): LadderStep[] {
  if (category === 'none') return [];
  const start = instant(signedAt).toISOString();
  const rungs = [{ to: 'requester' as const, within: policy.alertDeadlines[category] }, ...policy.escalation[category]];
  const steps: LadderStep[] = [];
  let from: string | null = start;
  for (const [rung, r] of rungs.entries()) {
    if (from === null) break;
    const dueBy: string | null = r.within ? deadlineAfter(r.within, from, policy.calendar) : null;
    steps.push({ rung, to: r.to, label: ESCALATION_RECIPIENTS[r.to], from, dueBy });
    from = dueBy;
  }
  return steps;
}

/**
 * The rung responsible at `now` for an alert not yet acknowledged: the last one whose time has
 * come (rung 0 before the first deadline; a deadline reached is missed, so the next rung takes it
 * at that very instant). Undefined for an empty ladder.
 */
export function responsibleAt(ladder: readonly LadderStep[], now: string | Date): LadderStep | undefined {
  const t = instant(now).getTime();
  let current: LadderStep | undefined = ladder[0];
  for (const step of ladder) if (Date.parse(step.from) <= t) current = step;
  return current;
}
