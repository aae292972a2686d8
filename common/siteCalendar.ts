// The site calendar: which local days are working days at a site (its weekend and bank holidays,
// in its IANA time zone), and the one place that turns an instant into the site's local date and
// clock time and back. Used to count "working days" deadlines (common/alertDeadline.ts).
//
// Local time comes from the platform's time-zone database through Intl (no dependency): the
// offset of a zone at an instant is read from the zone's calendar fields at that instant. A local
// clock time that does not exist (the hour skipped when clocks go forward) or exists twice (the
// hour repeated when they go back) resolves to the FIRST instant at which the site's clocks show
// that time or later: the hour skipped in March gives the end of the gap, the repeated hour in
// October gives its first occurrence. Both are the earlier reading, the safe side for a deadline.
//
// A calendar parsed by `SiteCalendar` can always be counted on: it has at least one working day a
// week and at most MAX_NON_WORKING_RUN_DAYS non-working days in a row, so a deadline never waits
// on a run of holidays that has no end, and a count never loops. The functions below parse what
// they are given through the same schema, so a calendar that did not come through the site policy
// is refused with the same words instead of looping.
import { z } from 'zod';
import { issueText } from './validation.ts';
import { resolvedTimeZone, zoneClock } from './format.ts';

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export const Weekday = z.enum(WEEKDAYS);
export type Weekday = z.infer<typeof Weekday>;

export const DEFAULT_TIME_ZONE = 'Europe/London';
export const DEFAULT_WEEKEND: readonly Weekday[] = ['saturday', 'sunday'];
/** More non-working days than this in a row is a calendar mistake (a year listed as holidays), refused. */
export const MAX_NON_WORKING_RUN_DAYS = 31;
/** The years a calendar counts in: wider than any signature time, narrow enough for ISO strings. */
const FIRST_YEAR = 1900;
const LAST_YEAR = 9999;

const DAY_MS = 86_400_000;

/** A calendar that cannot be counted on, an unknown time zone, or a time it cannot place: the message says which. */
export class SiteCalendarError extends Error {
  override name = 'SiteCalendarError';
}

// ---- time zones -----------------------------------------------------------------------------

/** The zone's canonical name ("europe/london" → "Europe/London"), or null when this system does not know it. */
export function canonicalTimeZone(name: string): string | null {
  // Area/Location names and UTC only. Offsets ("+01:00") do not follow the clocks, and the old
  // abbreviations the platform still takes are traps: "BST" is Bangladesh (Asia/Dhaka), not
  // British Summer Time; "EST" is Panama, all year.
  if (!/^(UTC|[A-Za-z]+\/[A-Za-z0-9_+\-/]+)$/.test(name) || name.length > 64) return null;
  try {
    return resolvedTimeZone(name);
  } catch {
    return null;
  }
}

export const TimeZoneName = z.string().superRefine((name, ctx) => {
  if (canonicalTimeZone(name) === null) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(name.slice(0, 80))} is not a time zone this system knows: give an IANA name such as "Europe/London"` });
  }
});

/** Milliseconds since 1970 of the local clock reading (as if it were UTC), at an instant. */
function wallMs(t: number, zone: string): number {
  const c = zoneClock(t, zone);
  if (!(c.year >= FIRST_YEAR && c.year <= LAST_YEAR)) {
    throw new SiteCalendarError(`${new Date(t).toISOString()} is outside the years a site calendar counts in (${FIRST_YEAR}–${LAST_YEAR})`);
  }
  const whole = Date.UTC(c.year, c.month - 1, c.day, c.hour, c.minute, c.second);
  return whole + (t - Math.floor(t / 1000) * 1000);
}

/**
 * The first instant at which the zone's clocks show `wall` (a local reading, in ms as if UTC) or
 * later: the instant itself when the reading occurs once, the first of the two in the repeated hour,
 * the end of the gap when the reading is skipped.
 */
function firstInstantShowing(wall: number, zone: string): number {
  // The offsets a day either side bracket any one change of the clocks near `wall`.
  const before = wallMs(wall - DAY_MS, zone) - (wall - DAY_MS);
  const after = wallMs(wall + DAY_MS, zone) - (wall + DAY_MS);
  const exact = [wall - before, wall - after].filter((t) => wallMs(t, zone) === wall);
  if (exact.length > 0) return Math.min(...exact);
  // Skipped: clocks jump from below `wall` to above it. Find the jump to the millisecond.
  let lo = wall - Math.max(before, after);
  let hi = wall - Math.min(before, after);
  if (!(wallMs(lo, zone) < wall && wallMs(hi, zone) > wall)) {
    throw new SiteCalendarError(`cannot place the local time ${new Date(wall).toISOString().slice(0, 19)} in the time zone ${zone}`);
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallMs(mid, zone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

// ---- the calendar ---------------------------------------------------------------------------

/** A civil date as a day number (days since 1970-01-01). */
const dayOf = (isoDate: string): number => Date.UTC(Number(isoDate.slice(0, 4)), Number(isoDate.slice(5, 7)) - 1, Number(isoDate.slice(8, 10))) / DAY_MS;
const isoOfDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
/** 0 = Monday … 6 = Sunday (1970-01-01 was a Thursday). */
const weekdayIndex = (day: number): number => (((day + 3) % 7) + 7) % 7;

interface Rules {
  zone: string;
  weekend: ReadonlySet<number>;
  holidays: ReadonlySet<number>;
}

const rulesOf = (weekend: readonly Weekday[], holidays: readonly string[], zone: string): Rules => ({
  zone,
  weekend: new Set(weekend.map((d) => WEEKDAYS.indexOf(d))),
  holidays: new Set(holidays.map(dayOf)),
});

const isWorking = (rules: Rules, day: number): boolean => !rules.weekend.has(weekdayIndex(day)) && !rules.holidays.has(day);

/** The longest run of non-working days (one longer than the limit is reported as limit + 1), with its first day. */
function longestNonWorkingRun(rules: Rules): { from: number; days: number } | null {
  let best: { from: number; days: number } | null = null;
  // Every run holds a holiday or a weekend day: one week of days (from Monday 1970-01-05) covers the weekends.
  for (const c of [...rules.holidays, ...Array.from({ length: 7 }, (_, i) => 4 + i)]) {
    if (isWorking(rules, c)) continue;
    let from = c;
    while (c - from <= MAX_NON_WORKING_RUN_DAYS && !isWorking(rules, from - 1)) from--;
    let to = c;
    while (to - from <= MAX_NON_WORKING_RUN_DAYS && !isWorking(rules, to + 1)) to++;
    if (!best || to - from + 1 > best.days) best = { from, days: to - from + 1 };
  }
  return best;
}

/**
 * A site's calendar in its policy file: its time zone (IANA, default Europe/London), the weekdays
 * no one works (default Saturday and Sunday) and its bank holidays as ISO dates (in any order;
 * a date listed twice counts once). There is no default list of bank holidays: they differ between
 * the nations of the UK and change by proclamation, so the site lists its own. A missing holiday
 * makes deadlines earlier, never later.
 */
export const SiteCalendar = z.object({
  timeZone: TimeZoneName.default(DEFAULT_TIME_ZONE),
  weekend: z.array(Weekday).max(6, 'a week needs at least one working day: list at most 6 weekend days')
    .refine((days) => new Set(days).size === days.length, 'name each weekend day once')
    .default(() => [...DEFAULT_WEEKEND]),
  bankHolidays: z.array(z.iso.date('a bank holiday is a date that exists, written YYYY-MM-DD'))
    .max(5_000, 'at most 5,000 bank holidays')
    .default(() => []),
}).strict().superRefine((cal, ctx) => {
  const run = longestNonWorkingRun(rulesOf(cal.weekend, cal.bankHolidays, DEFAULT_TIME_ZONE));
  if (run && run.days > MAX_NON_WORKING_RUN_DAYS) {
    const last = run.from + run.days - 1;
    ctx.addIssue({
      code: 'custom', path: ['bankHolidays'],
      message: `no working day from ${isoOfDay(run.from)} to ${isoOfDay(last)}${run.days > MAX_NON_WORKING_RUN_DAYS + 1 ? ' or later' : ''}: `
        + `at most ${MAX_NON_WORKING_RUN_DAYS} days in a row may be weekend or bank holiday, or no "working days" deadline could be counted`,
    });
  }
});
export type SiteCalendar = z.infer<typeof SiteCalendar>;
/** A calendar as written in a policy file: every field may be left to its default. */
export type SiteCalendarInput = z.input<typeof SiteCalendar>;

/** Each calendar object is parsed once (a parsed policy is never changed; do not change one after counting on it). */
const compiled = new WeakMap<object, Rules>();

function compile(calendar: SiteCalendarInput): Rules {
  const known = compiled.get(calendar);
  if (known) return known;
  const parsed = SiteCalendar.safeParse(calendar);
  if (!parsed.success) throw new SiteCalendarError(`site calendar: ${issueText(parsed.error, { root: '(calendar)' })}`);
  const cal = parsed.data;
  const r = rulesOf(cal.weekend, cal.bankHolidays, canonicalTimeZone(cal.timeZone)!);
  compiled.set(calendar, r);
  return r;
}

function instantOf(at: Date): number {
  const t = at.getTime();
  if (!Number.isFinite(t)) throw new SiteCalendarError('the time given is not a valid instant');
  return t;
}

/** The site's local date (YYYY-MM-DD) at an instant. */
export function localDate(at: Date, calendar: SiteCalendarInput): string {
  return isoOfDay(Math.floor(wallMs(instantOf(at), compile(calendar).zone) / DAY_MS));
}

/** Whether a local date (YYYY-MM-DD) is a working day on the calendar. */
export function isWorkingDay(isoDate: string, calendar: SiteCalendarInput): boolean {
  if (!z.iso.date().safeParse(isoDate).success) throw new SiteCalendarError(`${JSON.stringify(isoDate.slice(0, 40))} is not a date written YYYY-MM-DD`);
  return isWorking(compile(calendar), dayOf(isoDate));
}

/**
 * The instant `days` working days after `from` (1 or more), as a Date: the first instant by which
 * `days` whole working days of the site's clock have passed since `from`, counting the working
 * days in full, whatever their length in hours (23 or 25 on the days the clocks change), and not
 * counting weekends and bank holidays at all. So:
 *   - from a working day, the same local clock time on the `days`-th working day after it
 *     (Friday 16:00 + 2 → Tuesday 16:00; across a bank-holiday Monday → Wednesday 16:00);
 *   - from a weekend or bank holiday, or from exactly midnight at the start of a working day, the
 *     end of the `days`-th working day counting from the first working day (Saturday 10:00 + 2 →
 *     the end of Tuesday, i.e. Wednesday 00:00 local).
 */
export function addWorkingDays(from: Date, days: number, calendar: SiteCalendarInput): Date {
  if (!Number.isInteger(days) || days < 1) throw new SiteCalendarError(`working days to add must be a whole number from 1 (got ${days})`);
  const r = compile(calendar);
  const start = instantOf(from);
  const wall = wallMs(start, r.zone);
  let day = Math.floor(wall / DAY_MS);
  const clock = wall - day * DAY_MS;
  const next = (d: number): number => {
    for (let n = d + 1; n <= d + MAX_NON_WORKING_RUN_DAYS + 1; n++) if (isWorking(r, n)) return n;
    throw new SiteCalendarError(`the site calendar has no working day from ${isoOfDay(d + 1)} to ${isoOfDay(d + MAX_NON_WORKING_RUN_DAYS + 1)}: check its weekend and bank holidays`);
  };
  if (isWorking(r, day) && clock > 0) {
    for (let i = 0; i < days; i++) day = next(day);
    return new Date(firstInstantShowing(day * DAY_MS + clock, r.zone));
  }
  // The clock starts at the beginning of the first working day and stops at the end of the last.
  if (!isWorking(r, day)) day = next(day);
  for (let i = 1; i < days; i++) day = next(day);
  return new Date(firstInstantShowing((day + 1) * DAY_MS, r.zone));
}
