// The site calendar (common/siteCalendar.ts): its schema refuses what cannot be counted on, in
// words; time zones are IANA names; local days and clock changes are read from the zone.
import { describe, expect, it } from 'vitest';
import {
  addWorkingDays, canonicalTimeZone, isWorkingDay, localDate, MAX_NON_WORKING_RUN_DAYS, SiteCalendar, SiteCalendarError,
} from '../../common/siteCalendar.ts';
import { issueText } from '../../common/validation.ts';

const problems = (input: unknown): string => {
  const r = SiteCalendar.safeParse(input);
  return r.success ? '' : issueText(r.error);
};

/** `n` consecutive ISO dates from `first`. */
const daysFrom = (first: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => new Date(Date.parse(`${first}T00:00Z`) + i * 86_400_000).toISOString().slice(0, 10));

describe('SiteCalendar schema', () => {
  it('defaults to Europe/London, a Saturday–Sunday weekend and no bank holidays', () => {
    expect(SiteCalendar.parse({})).toEqual({ timeZone: 'Europe/London', weekend: ['saturday', 'sunday'], bankHolidays: [] });
  });

  it('gives each parse its own arrays (a parsed policy never shares the defaults)', () => {
    const a = SiteCalendar.parse({});
    a.weekend.push('friday');
    a.bankHolidays.push('2026-12-25');
    expect(SiteCalendar.parse({})).toEqual({ timeZone: 'Europe/London', weekend: ['saturday', 'sunday'], bankHolidays: [] });
  });

  it('refuses time zones this system does not know, offsets, and abbreviations (BST would be Bangladesh), naming them', () => {
    for (const zone of ['Mars/Olympus', '', '+01:00', 'UTC+1', 'BST', 'EST', 'GB', 'CET', 'Europe/London ', 'Europe/../London', 'x'.repeat(200)]) {
      expect(problems({ timeZone: zone }), zone).toMatch(/timeZone: .* is not a time zone this system knows: give an IANA name such as "Europe\/London"/);
    }
    expect(problems({ timeZone: 42 })).toMatch(/timeZone/);
  });

  it('accepts IANA names in any case and old Area/Location aliases, and counts in the canonical zone', () => {
    for (const zone of ['Europe/London', 'europe/london', 'UTC', 'Etc/GMT-5', 'America/Argentina/Buenos_Aires', 'Europe/Belfast']) expect(problems({ timeZone: zone }), zone).toBe('');
    expect(canonicalTimeZone('europe/london')).toBe('Europe/London');
    expect(canonicalTimeZone('Nowhere/City')).toBeNull();
    // Half past midnight in a London summer is still the day before in UTC and in California.
    const t = new Date('2026-07-01T23:30:00Z');
    expect(localDate(t, { timeZone: 'europe/london' })).toBe('2026-07-02');
    expect(localDate(t, { timeZone: 'UTC' })).toBe('2026-07-01');
    expect(localDate(t, { timeZone: 'America/Los_Angeles' })).toBe('2026-07-01');
  });

  it('refuses a week without a working day, a weekend day named twice, and names that are not days', () => {
    expect(problems({ weekend: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] })).toMatch(/weekend: a week needs at least one working day/);
    expect(problems({ weekend: ['saturday', 'saturday'] })).toMatch(/weekend: name each weekend day once/);
    expect(problems({ weekend: ['Saturday'] })).toMatch(/weekend\[0\]/);
    expect(problems({ weekend: [] })).toBe('');
  });

  it('refuses bank holidays that are not real dates written YYYY-MM-DD', () => {
    for (const d of ['2026-02-29', '2100-02-29', '2026-04-31', '2026-13-01', '26-12-25', '2026/12/25', '2026-12-25T00:00Z', '25 Dec 2026', '']) {
      expect(problems({ bankHolidays: [d] }), d).toMatch(/bankHolidays\[0\]: a bank holiday is a date that exists, written YYYY-MM-DD/);
    }
    expect(problems({ bankHolidays: ['2024-02-29', '2000-02-29'] })).toBe('');
  });

  it('accepts holidays unsorted and listed twice, and counts them once', () => {
    const messy = { bankHolidays: ['2026-12-28', '2026-12-25', '2026-12-25', '2026-01-01', '2026-12-28'] };
    expect(problems(messy)).toBe('');
    const from = new Date('2026-12-24T12:00:00Z');
    const tidy = { bankHolidays: ['2026-01-01', '2026-12-25', '2026-12-28'] };
    for (const n of [1, 2, 3, 5]) expect(addWorkingDays(from, n, messy).toISOString()).toBe(addWorkingDays(from, n, tidy).toISOString());
    expect(addWorkingDays(from, 2, messy).toISOString()).toBe('2026-12-30T12:00:00.000Z');
  });

  it('refuses a calendar where every day is a holiday, naming the run, instead of looping', () => {
    const year = daysFrom('2026-01-01', 365);
    expect(problems({ bankHolidays: year })).toMatch(/bankHolidays: no working day from 2026-01-01 to 2026-02-0\d or later: at most 31 days in a row/);
    // The limit exactly: 31 days in a row (a holiday fortnight with the weekends around it) is accepted, 32 is not.
    const mon = '2026-06-01';
    expect(problems({ weekend: [], bankHolidays: daysFrom(mon, MAX_NON_WORKING_RUN_DAYS) })).toBe('');
    expect(problems({ weekend: [], bankHolidays: daysFrom(mon, MAX_NON_WORKING_RUN_DAYS + 1) })).toMatch(/no working day from 2026-06-01 to 2026-07-02: at most 31/);
    // Weekends count towards the run: five weeks of weekday holidays with the weekends around them make 37 days.
    const weekdays = daysFrom('2026-06-01', 40).filter((d) => ![0, 6].includes(new Date(`${d}T00:00Z`).getUTCDay())).slice(0, 25);
    expect(problems({ bankHolidays: weekdays })).toMatch(/no working day from 2026-05-30 to/);
  });

  it('counting on a calendar that did not come through the schema refuses it in words, promptly', () => {
    const everyDay = { bankHolidays: daysFrom('2026-01-01', 400) };
    const started = Date.now();
    expect(() => addWorkingDays(new Date('2026-03-02T10:00:00Z'), 2, everyDay)).toThrow(SiteCalendarError);
    expect(() => addWorkingDays(new Date('2026-03-02T10:00:00Z'), 2, everyDay)).toThrow(/site calendar: bankHolidays: no working day from 2026-01-01/);
    expect(() => addWorkingDays(new Date('2026-03-02T10:00:00Z'), 2, { timeZone: 'Mars/Olympus' })).toThrow(/site calendar: timeZone: "Mars\/Olympus" is not a time zone/);
    expect(() => addWorkingDays(new Date('2026-03-02T10:00:00Z'), 2, { weekend: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] })).toThrow(/at least one working day/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses counts that are not whole working days, and instants it cannot place', () => {
    for (const n of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => addWorkingDays(new Date('2026-03-02T10:00:00Z'), n, {})).toThrow(/whole number from 1/);
    expect(() => addWorkingDays(new Date(Number.NaN), 1, {})).toThrow(/not a valid instant/);
    expect(() => addWorkingDays(new Date('1850-01-01T00:00:00Z'), 1, {})).toThrow(/outside the years a site calendar counts in/);
    expect(() => addWorkingDays(new Date('9999-12-31T12:00:00Z'), 1, {})).toThrow(/outside the years/);
  });

  it('knows working days by local date', () => {
    const cal = { bankHolidays: ['2026-12-25', '2026-12-28'] };
    expect(isWorkingDay('2026-12-24', cal)).toBe(true);
    expect(isWorkingDay('2026-12-25', cal)).toBe(false); // Friday, bank holiday
    expect(isWorkingDay('2026-12-26', cal)).toBe(false); // Saturday
    expect(isWorkingDay('2026-12-28', cal)).toBe(false); // Monday, Boxing Day substitute
    expect(isWorkingDay('2026-12-29', cal)).toBe(true);
    expect(isWorkingDay('2026-12-25', { weekend: ['friday', 'saturday'] })).toBe(false);
    expect(isWorkingDay('2026-12-27', { weekend: ['friday', 'saturday'] })).toBe(true); // a Sunday
    expect(() => isWorkingDay('2026-02-30', cal)).toThrow(/not a date written YYYY-MM-DD/);
  });
});
