// An alert's deadline and escalation ladder (common/alertDeadline.ts), tried at the edges a site
// calendar has: weekends, bank holidays, Christmas and New Year, the clock changes, leap days,
// offsets on the signature time; and against an independent count over thousands of random cases.
import { describe, expect, it } from 'vitest';
import { deadlineAfter, escalationLadder, responsibleAt } from '../../common/alertDeadline.ts';
import { DEFAULT_ALERT_POLICY, describeAlertPolicy, EscalationLadder } from '../../common/alertPolicy.ts';
import { SitePolicy } from '../../common/hub.ts';
import { SiteCalendarError, type SiteCalendarInput } from '../../common/siteCalendar.ts';
import { issueText } from '../../common/validation.ts';
import { mulberry32 as random } from '../support/faultProxy.ts';

/** England and Wales bank holidays (gov.uk), 2024–2027. */
const ENGLAND: SiteCalendarInput = {
  timeZone: 'Europe/London',
  bankHolidays: [
    '2024-01-01', '2024-03-29', '2024-04-01', '2024-05-06', '2024-05-27', '2024-08-26', '2024-12-25', '2024-12-26',
    '2025-01-01', '2025-04-18', '2025-04-21', '2025-05-05', '2025-05-26', '2025-08-25', '2025-12-25', '2025-12-26',
    '2026-01-01', '2026-04-03', '2026-04-06', '2026-05-04', '2026-05-25', '2026-08-31', '2026-12-25', '2026-12-28',
    '2027-01-01', '2027-03-26', '2027-03-29', '2027-05-03', '2027-05-31', '2027-08-30', '2027-12-27', '2027-12-28',
  ],
};
const CANCER = DEFAULT_ALERT_POLICY.cancer.deadline;
const wd = (days: number) => ({ kind: 'working-days', days }) as const;
const due = (from: string, days = 2, cal: SiteCalendarInput = ENGLAND): string | null => deadlineAfter(wd(days), from, cal);

describe('a cancer alert: 2 working days on the site calendar (Europe/London, England and Wales bank holidays)', () => {
  it('is the default, and counts from a working day to the same local time on the second working day after', () => {
    expect(CANCER).toEqual(wd(2));
    expect(deadlineAfter(CANCER, '2026-11-24T10:15:00Z', ENGLAND)).toBe('2026-11-26T10:15:00.000Z'); // Tue → Thu
    expect(due('2026-11-27T16:00:00Z')).toBe('2026-12-01T16:00:00.000Z'); // Friday 16:00 → Tuesday 16:00
  });

  it('signed on a Friday evening: due on Tuesday evening at the same time', () => {
    expect(due('2026-11-27T19:30:00Z')).toBe('2026-12-01T19:30:00.000Z');
    expect(due('2026-11-27T23:59:59.999Z')).toBe('2026-12-01T23:59:59.999Z');
  });

  it('signed at the weekend: the count starts on Monday, due by the end of Tuesday', () => {
    expect(due('2026-11-28T10:00:00Z')).toBe('2026-12-02T00:00:00.000Z'); // Saturday
    expect(due('2026-11-29T23:59:59Z')).toBe('2026-12-02T00:00:00.000Z'); // Sunday, a second before Monday
    expect(due('2026-11-28T00:00:00Z')).toBe('2026-12-02T00:00:00.000Z'); // Saturday midnight
  });

  it('signed exactly at the midnight starting a working day: that whole day counts', () => {
    expect(due('2026-11-26T00:00:00Z')).toBe('2026-11-28T00:00:00.000Z'); // Thursday 00:00 → end of Friday, not Monday 00:00
    expect(due('2026-11-30T00:00:00Z')).toBe('2026-12-02T00:00:00.000Z'); // Monday 00:00 → end of Tuesday
    expect(due('2026-11-30T00:00:00.001Z')).toBe('2026-12-02T00:00:00.001Z');
  });

  it('signed on a bank holiday: the count starts on the next working day', () => {
    // Easter Monday 2026 (BST): Tuesday and Wednesday count; due by the end of Wednesday (00:00 BST Thursday).
    expect(due('2026-04-06T09:00:00Z')).toBe('2026-04-08T23:00:00.000Z');
    // Good Friday: the same.
    expect(due('2026-04-03T14:00:00Z')).toBe('2026-04-08T23:00:00.000Z');
  });

  it('signed before a bank-holiday weekend: the holiday does not count', () => {
    // Friday before the spring bank holiday (Monday 25 May 2026), 15:00 BST → Wednesday 15:00 BST.
    expect(due('2026-05-22T14:00:00Z')).toBe('2026-05-27T14:00:00.000Z');
    // The Sunday before it: Tuesday and Wednesday count → the end of Wednesday.
    expect(due('2026-05-24T11:00:00Z')).toBe('2026-05-27T23:00:00.000Z');
    // Maundy Thursday 12:00 BST: Good Friday and Easter Monday skipped → Wednesday 12:00 BST.
    expect(due('2026-04-02T11:00:00Z')).toBe('2026-04-08T11:00:00.000Z');
  });

  it('runs through Christmas, Boxing Day (and its substitute), and New Year across the year end', () => {
    expect(due('2026-12-23T10:00:00Z')).toBe('2026-12-29T10:00:00.000Z'); // Wed → Thu 24, (Fri 25, weekend, Mon 28 substitute) Tue 29
    expect(due('2026-12-24T15:00:00Z')).toBe('2026-12-30T15:00:00.000Z');
    expect(due('2026-12-25T09:00:00Z')).toBe('2026-12-31T00:00:00.000Z'); // Christmas Day: Tue 29, Wed 30 → end of Wednesday
    expect(due('2026-12-31T12:00:00Z')).toBe('2027-01-05T12:00:00.000Z'); // Hogmanay → (New Year's Day, weekend) Mon 4, Tue 5
    expect(due('2027-12-24T16:00:00Z')).toBe('2027-12-30T16:00:00.000Z'); // both substitutes (Mon 27, Tue 28) skipped
    expect(due('2024-12-24T16:00:00Z')).toBe('2024-12-30T16:00:00.000Z'); // Tue 24 → (Wed 25, Thu 26) Fri 27, Mon 30
    expect(due('2026-12-24T15:00:00Z', 5)).toBe('2027-01-05T15:00:00.000Z'); // Tue 29, Wed 30, Thu 31, Mon 4, Tue 5
  });

  it('keeps the local clock time across the March change (a 95-hour wait) and the October change (97 hours)', () => {
    // Clocks go forward on Sunday 29 March 2026: Friday 16:00 GMT → Tuesday 16:00 BST.
    expect(due('2026-03-27T16:00:00Z')).toBe('2026-03-31T15:00:00.000Z');
    // Clocks go back on Sunday 25 October 2026: Friday 16:00 BST → Tuesday 16:00 GMT.
    expect(due('2026-10-23T15:00:00Z')).toBe('2026-10-27T16:00:00.000Z');
    // Signed on the Saturday before each change: due at the end of Tuesday, local midnight.
    expect(due('2026-03-28T00:30:00Z')).toBe('2026-03-31T23:00:00.000Z');
    expect(due('2026-10-24T12:00:00Z')).toBe('2026-10-28T00:00:00.000Z');
  });

  it('on the day the clocks change, a skipped time resolves to the end of the gap, a repeated one to its first occurrence', () => {
    const everyDay = { weekend: [], timeZone: 'Europe/London' } satisfies SiteCalendarInput;
    // Saturday 28 March 01:30 GMT + 1 working day: 01:30 on Sunday does not exist (01:00 GMT → 02:00 BST).
    expect(due('2026-03-28T01:30:00Z', 1, everyDay)).toBe('2026-03-29T01:00:00.000Z');
    // Saturday 24 October 01:30 BST + 1: 01:30 on Sunday happens twice; the first (BST) is the deadline.
    expect(due('2026-10-24T00:30:00Z', 1, everyDay)).toBe('2026-10-25T00:30:00.000Z');
    // Signed during the repeated hour, either time: both read 01:30 local, so both are due at 01:30 on Monday.
    expect(due('2026-10-25T00:30:00Z', 1, everyDay)).toBe('2026-10-26T01:30:00.000Z');
    expect(due('2026-10-25T01:30:00Z', 1, everyDay)).toBe('2026-10-26T01:30:00.000Z');
    // A zone whose clocks skip midnight (Chile, 6 September 2026: 00:00 → 01:00): the day ends at the jump.
    expect(due('2026-09-05T04:00:00Z', 1, { weekend: [], timeZone: 'America/Santiago' })).toBe('2026-09-06T04:00:00.000Z');
  });

  it('handles leap days', () => {
    expect(due('2024-02-29T12:00:00Z')).toBe('2024-03-04T12:00:00.000Z'); // Thu 29 Feb → Fri 1, Mon 4
    expect(due('2028-02-28T12:00:00Z')).toBe('2028-03-01T12:00:00.000Z'); // Mon 28 → Tue 29, Wed 1
    expect(due('2024-02-28T12:00:00Z', 2, { bankHolidays: ['2024-02-29'] })).toBe('2024-03-04T12:00:00.000Z');
    expect(deadlineAfter({ kind: 'hours', hours: 24 }, '2024-02-28T12:00:00Z', ENGLAND)).toBe('2024-02-29T12:00:00.000Z');
  });

  it('takes signature times with any offset, and counts on the site’s local date, not the offset’s', () => {
    for (const t of ['2026-11-27T16:00:00Z', '2026-11-27T17:00+01:00', '2026-11-27T11:00:00-05:00', '2026-11-28T01:00:00+09:00']) {
      expect(due(t), t).toBe('2026-12-01T16:00:00.000Z');
    }
    // Saturday 01:00 in Tokyo is still Friday evening in London.
    expect(due('2026-11-28T05:00:00+09:00')).toBe('2026-12-01T20:00:00.000Z');
  });

  it('refuses a signature time without a zone, an impossible date, or no date at all', () => {
    for (const t of ['2026-11-27T16:00:00', '2026-11-27', '2026-02-30T10:00:00Z', '2026-11-27T25:00Z', '2026-11-27T10:00+15:00', 'banana', '']) {
      expect(() => due(t), t).toThrow(SiteCalendarError);
      expect(() => due(t), t).toThrow(/is not an instant: give an ISO date-time with its time zone/);
    }
    expect(() => due(new Date(Number.NaN) as never)).toThrow(/not an instant/);
  });

  it('counts other sites’ calendars: another zone, another weekend', () => {
    // New York, clocks forward on 8 March 2026: Friday 16:00 EST → Tuesday 16:00 EDT.
    expect(due('2026-03-06T21:00:00Z', 2, { timeZone: 'America/New_York' })).toBe('2026-03-10T20:00:00.000Z');
    // Kolkata (+05:30, no clock changes).
    expect(due('2026-11-27T10:30:00Z', 2, { timeZone: 'Asia/Kolkata' })).toBe('2026-12-01T10:30:00.000Z');
    // A Friday–Saturday weekend (Riyadh): Thursday 10:00 → Sunday, Monday 10:00.
    expect(due('2026-11-26T07:00:00Z', 2, { timeZone: 'Asia/Riyadh', weekend: ['friday', 'saturday'] })).toBe('2026-11-30T07:00:00.000Z');
  });
});

describe('hours deadlines are elapsed time', () => {
  it('whatever the weekend, holidays or clock changes', () => {
    expect(deadlineAfter({ kind: 'hours', hours: 1 }, '2026-12-25T09:00:00Z', ENGLAND)).toBe('2026-12-25T10:00:00.000Z');
    expect(deadlineAfter({ kind: 'hours', hours: 24 }, '2026-03-28T16:00:00Z', ENGLAND)).toBe('2026-03-29T16:00:00.000Z'); // 17:00 BST
    expect(deadlineAfter({ kind: 'hours', hours: 0.5 }, '2026-03-28T16:00:00+00:00', ENGLAND)).toBe('2026-03-28T16:30:00.000Z');
    expect(deadlineAfter({ kind: 'hours', hours: 168 }, '2026-12-31T23:30:00Z', ENGLAND)).toBe('2027-01-07T23:30:00.000Z');
    expect(deadlineAfter({ kind: 'none' }, '2026-12-31T23:30:00Z', ENGLAND)).toBeNull();
  });
});

// ---- the ladder -----------------------------------------------------------------------------

describe('the escalation ladder', () => {
  const policy = SitePolicy.parse({ calendar: ENGLAND });

  it('by default is domain.md §2: critical to the consultant, then the duty radiologist, who holds it', () => {
    expect(escalationLadder('critical', '2026-11-27T16:00:00Z', policy)).toEqual([
      { rung: 0, to: 'requester', label: 'the requester or their team', from: '2026-11-27T16:00:00.000Z', dueBy: '2026-11-27T17:00:00.000Z' },
      { rung: 1, to: 'requester-consultant', label: "requester's consultant", from: '2026-11-27T17:00:00.000Z', dueBy: '2026-11-27T18:00:00.000Z' },
      { rung: 2, to: 'duty-radiologist', label: "site's duty radiologist", from: '2026-11-27T18:00:00.000Z', dueBy: null },
    ]);
    const short = (c: 'urgent' | 'cancer' | 'significant') => escalationLadder(c, '2026-11-27T16:00:00Z', policy).map((s) => [s.to, s.dueBy]);
    expect(short('urgent')).toEqual([['requester', '2026-11-28T16:00:00.000Z'], ['requester-consultant', null]]);
    expect(short('cancer')).toEqual([['requester', '2026-12-01T16:00:00.000Z'], ['cancer-pathway-lead', null]]);
    expect(short('significant')).toEqual([['requester', '2026-12-04T16:00:00.000Z'], ['imaging-safety-lead', null]]);
    expect(escalationLadder('none', '2026-11-27T16:00:00Z', policy)).toEqual([]);
  });

  it('is the one list the words come from (describeAlertPolicy unchanged)', () => {
    expect(describeAlertPolicy('critical')).toBe("acknowledge within 1 hour; if missed, escalates to requester's consultant, then site's duty radiologist");
    expect(describeAlertPolicy('significant')).toBe('acknowledge within 7 days; if missed, escalates to clinical director (imaging safety lead)');
  });

  it('follows a site override, each rung counted from the one before on the site calendar', () => {
    const site = SitePolicy.parse({
      calendar: ENGLAND,
      escalation: {
        cancer: [
          { to: 'cancer-pathway-lead', within: { kind: 'working-days', days: 1 } },
          { to: 'imaging-safety-lead' },
        ],
      },
    });
    // Thursday 24 December 2026 15:00: requester by Wednesday 30th 15:00, pathway lead by Thursday 31st 15:00.
    expect(escalationLadder('cancer', '2026-12-24T15:00:00Z', site).map((s) => [s.to, s.from, s.dueBy])).toEqual([
      ['requester', '2026-12-24T15:00:00.000Z', '2026-12-30T15:00:00.000Z'],
      ['cancer-pathway-lead', '2026-12-30T15:00:00.000Z', '2026-12-31T15:00:00.000Z'],
      ['imaging-safety-lead', '2026-12-31T15:00:00.000Z', null],
    ]);
    expect(site.escalation.critical).toEqual(DEFAULT_ALERT_POLICY.critical.escalation);
  });

  it('stops at a rung without a deadline (a site that gave a category none keeps it with the requester)', () => {
    const site = SitePolicy.parse({ alertDeadlines: { urgent: { kind: 'none' } } });
    expect(escalationLadder('urgent', '2026-11-27T16:00:00Z', site)).toEqual([
      { rung: 0, to: 'requester', label: 'the requester or their team', from: '2026-11-27T16:00:00.000Z', dueBy: null },
    ]);
  });

  it('says who is responsible at any moment: a deadline reached passes the alert up at that instant', () => {
    const ladder = escalationLadder('critical', '2026-11-27T16:00:00Z', policy);
    const at = (t: string) => responsibleAt(ladder, t)?.to;
    expect(at('2026-11-27T15:00:00Z')).toBe('requester'); // before the signature (a skewed clock)
    expect(at('2026-11-27T16:59:59.999Z')).toBe('requester');
    expect(at('2026-11-27T17:00:00Z')).toBe('requester-consultant');
    expect(at('2026-11-27T18:00:00Z')).toBe('duty-radiologist');
    expect(at('2027-06-01T00:00:00Z')).toBe('duty-radiologist');
    expect(responsibleAt([], '2026-11-27T16:00:00Z')).toBeUndefined();
  });

  it('refuses ladders that could lose an alert or make no sense, in words', () => {
    const problems = (ladder: unknown): string => {
      const r = EscalationLadder.safeParse(ladder);
      return r.success ? '' : issueText(r.error);
    };
    expect(problems([])).toMatch(/an alert must escalate to someone/);
    expect(problems([{ to: 'requester-consultant' }, { to: 'duty-radiologist' }])).toMatch(/\[0\]\.within: requester's consultant is not the last rung: give "within"/);
    expect(problems([{ to: 'duty-radiologist', within: { kind: 'hours', hours: 1 } }])).toMatch(/\[0\]\.within: the last rung \(site's duty radiologist\) holds the alert until it is acknowledged/);
    expect(problems([{ to: 'duty-radiologist', within: { kind: 'hours', hours: 1 } }, { to: 'duty-radiologist' }])).toMatch(/\[1\]\.to: site's duty radiologist is on the ladder twice/);
    expect(problems([{ to: 'requester' }])).toMatch(/\[0\]\.to: the requester is always the first rung/);
    expect(problems([{ to: 'the porter' }])).toMatch(/\[0\]\.to/);
    expect(problems([{ to: 'duty-radiologist', within: { kind: 'none' } }, { to: 'imaging-safety-lead' }])).toMatch(/\[0\]\.within/);
    expect(problems([{ to: 'duty-radiologist', within: { kind: 'working-days', days: 0.5 } }, { to: 'imaging-safety-lead' }])).toMatch(/\[0\]\.within\.days/);
    expect(problems([{ to: 'imaging-safety-lead', notify: 'everyone' }])).toMatch(/notify/);
  });
});

describe('SitePolicy: calendar and escalation are optional, and a policy without them means what it meant', () => {
  it('parses the policies of before, unchanged, with the defaults added', () => {
    const before = { unfinishedIdleHours: 2, alertDeadlines: { urgent: { kind: 'hours', hours: 12 } } };
    const p = SitePolicy.parse(before);
    expect(p.unfinishedIdleHours).toBe(2);
    expect(p.alertDeadlines.urgent).toEqual({ kind: 'hours', hours: 12 });
    expect(p.alertDeadlines.cancer).toEqual({ kind: 'working-days', days: 2 });
    expect(p.calendar).toEqual({ timeZone: 'Europe/London', weekend: ['saturday', 'sunday'], bankHolidays: [] });
    expect(p.escalation).toEqual({
      critical: [{ to: 'requester-consultant', within: { kind: 'hours', hours: 1 } }, { to: 'duty-radiologist' }],
      urgent: [{ to: 'requester-consultant' }],
      cancer: [{ to: 'cancer-pathway-lead' }],
      significant: [{ to: 'imaging-safety-lead' }],
    });
    // What the hub serves parses again to itself (GET /api/policy, read by the workstation).
    expect(SitePolicy.parse(JSON.parse(JSON.stringify(p)))).toEqual(p);
  });

  it('names the field of every problem in the new parts', () => {
    const r = SitePolicy.safeParse({ calendar: { timeZone: 'BST', bankHolidays: ['2026-02-30'], holidays: [] }, escalation: { none: [], urgent: [] } });
    expect(r.success).toBe(false);
    const text = r.success ? '' : issueText(r.error);
    expect(text).toMatch(/calendar\.timeZone: "BST" is not a time zone/);
    expect(text).toMatch(/calendar\.bankHolidays\[0\]/);
    expect(text).toMatch(/holidays/);
    expect(text).toMatch(/escalation/);
  });
});

// ---- properties, against an independent count ------------------------------------------------

const DAY = 86_400_000;
const NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
const iso = (day: number) => new Date(day * DAY).toISOString().slice(0, 10);

interface Case { from: number; days: number; weekend: (typeof NAMES)[number][]; bankHolidays: string[] }

function randomCase(rnd: () => number): Case {
  const from = Date.UTC(2020, 0, 1) + Math.floor(rnd() * 10 * 365 * DAY);
  const weekend = NAMES.filter(() => rnd() < 0.25);
  const start = Math.floor(from / DAY);
  const bankHolidays = Array.from({ length: Math.floor(rnd() * 12) }, () => iso(start - 3 + Math.floor(rnd() * 30)));
  // Keep within the calendar's limit: a random mix rarely makes a run of 31 days, but never try.
  return { from: rnd() < 0.1 ? start * DAY : from, days: 1 + Math.floor(rnd() * 8), weekend: weekend.length === 7 ? [] : weekend, bankHolidays };
}

/** The rule written as plainly as it can be, in UTC (where local time is UTC): run the working clock forward. */
function oracleUtc(c: Case): number {
  const weekend = new Set(c.weekend.map((d) => NAMES.indexOf(d)));
  const holidays = new Set(c.bankHolidays);
  const working = (day: number) => !weekend.has((((day + 3) % 7) + 7) % 7) && !holidays.has(iso(day));
  let t = c.from;
  let left = c.days * DAY;
  while (left > 0) {
    const day = Math.floor(t / DAY);
    const end = (day + 1) * DAY;
    if (working(day)) {
      const take = Math.min(left, end - t);
      left -= take;
      t += take;
    } else t = end;
  }
  return t;
}

describe('properties over 3,000 random signatures and calendars (seeded)', () => {
  it('in UTC, agrees with the working clock run forward', () => {
    const rnd = random(20261128);
    for (let i = 0; i < 3_000; i++) {
      const c = randomCase(rnd);
      const got = due(new Date(c.from).toISOString(), c.days, { timeZone: 'UTC', weekend: c.weekend, bankHolidays: c.bankHolidays });
      expect(got, JSON.stringify(c)).toBe(new Date(oracleUtc(c)).toISOString());
    }
  });

  it('in Europe/London: never before the signature, at least N days later, never earlier with a holiday more or a working day less; later signatures are not due earlier', () => {
    const rnd = random(9);
    for (let i = 0; i < 1_500; i++) {
      const c = randomCase(rnd);
      const cal = { weekend: c.weekend, bankHolidays: c.bankHolidays };
      const from = new Date(c.from).toISOString();
      const d = Date.parse(due(from, c.days, cal)!);
      const why = JSON.stringify(c);
      expect(d, why).toBeGreaterThan(c.from);
      // N working days are N local days at least, each 23 hours or more.
      expect(d - c.from, why).toBeGreaterThanOrEqual(c.days * 23 * 3_600_000);
      const extra = iso(Math.floor(c.from / DAY) + Math.floor(rnd() * 20));
      expect(Date.parse(due(from, c.days, { ...cal, bankHolidays: [...cal.bankHolidays, extra] })!), `${why} + ${extra}`).toBeGreaterThanOrEqual(d);
      const more = NAMES.filter((n) => !c.weekend.includes(n))[0];
      if (more && c.weekend.length < 6) {
        expect(Date.parse(due(from, c.days, { ...cal, weekend: [...cal.weekend, more] })!), `${why} + ${more}`).toBeGreaterThanOrEqual(d);
      }
      expect(Date.parse(due(from, c.days + 1, cal)!), why).toBeGreaterThan(d);
      // A later signature is not due earlier; only a signature inside October's repeated hour can
      // read an earlier clock time than one a little before it, by at most that hour.
      const later = c.from + Math.floor(rnd() * 3 * DAY);
      expect(Date.parse(due(new Date(later).toISOString(), c.days, cal)!), why).toBeGreaterThanOrEqual(d - 3_600_000);
    }
  });

  it('in a zone without clock changes, later signatures are never due earlier', () => {
    const rnd = random(77);
    for (let i = 0; i < 1_500; i++) {
      const c = randomCase(rnd);
      const cal = { timeZone: 'Asia/Kolkata', weekend: c.weekend, bankHolidays: c.bankHolidays };
      const later = c.from + Math.floor(rnd() * 3 * DAY);
      const a = Date.parse(due(new Date(c.from).toISOString(), c.days, cal)!);
      const b = Date.parse(due(new Date(later).toISOString(), c.days, cal)!);
      expect(b, JSON.stringify({ c, later })).toBeGreaterThanOrEqual(a);
    }
  });
});
