import { describe, expect, it } from 'vitest';
import { ageInYears, formatAge, formatClock, formatDateTime, formatDateTimeIn, formatDicomDate, formatDuration, isoToLocalInput, localInputToIso } from '../../common/format.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** An ISO instant for a local wall-clock time, whatever the test machine's time zone. */
const localIso = (y: number, mo: number, d: number, h: number, mi: number, s = 0): string => new Date(y, mo - 1, d, h, mi, s).toISOString();

describe('DICOM dates', () => {
  it('formats DA and keeps malformed text visible', () => {
    expect(formatDicomDate('20200312')).toBe('12 Mar 2020');
    expect(formatDicomDate(' 20200101 ')).toBe('1 Jan 2020');
    expect(formatDicomDate('')).toBe('date unknown');
    expect(formatDicomDate('   ', 'unknown')).toBe('unknown');
    expect(formatDicomDate('2020-03-12')).toBe('2020-03-12');
    expect(formatDicomDate('20201312')).toBe('20201312');
    expect(formatDicomDate('20200300')).toBe('20200300');
    expect(formatDicomDate('20200332')).toBe('20200332');
  });

  it('computes whole years, with the birthday itself counting', () => {
    expect(ageInYears('19800615', '20200614')).toBe(39);
    expect(ageInYears('19800615', '20200615')).toBe(40);
    expect(ageInYears('20200229', '20210228')).toBe(0);
    expect(ageInYears('', '20200615')).toBeNull();
    expect(ageInYears('19800615', 'unknown')).toBeNull();
    expect(ageInYears('20300101', '20200101')).toBeNull();
    expect(ageInYears('18000101', '20200101')).toBeNull();
  });
});

describe('instants', () => {
  it('shows local date and time, and UTC marked as such', () => {
    expect(formatDateTime(localIso(2020, 3, 12, 14, 3))).toBe('12 Mar 2020 14:03');
    expect(formatDateTime(localIso(2026, 1, 5, 0, 7))).toBe('5 Jan 2026 00:07');
    expect(formatDateTime('2026-11-22T08:39:59.999Z', 'utc')).toBe('22 Nov 2026 08:39 UTC');
    expect(formatDateTime('2026-12-31T23:59:00+01:00', 'utc')).toBe('31 Dec 2026 22:59 UTC');
    expect(formatDateTime('2026-12-31T23:59:00-02:00', 'utc')).toBe('1 Jan 2027 01:59 UTC');
  });

  it('shows a clock time to the second', () => {
    expect(formatClock(localIso(2024, 5, 1, 9, 5, 7))).toBe('09:05:07');
    expect(formatClock('2024-05-01T23:00:01Z', 'utc')).toBe('23:00:01 UTC');
  });

  it('returns unreadable instants as they are, never "Invalid Date" or "NaN"', () => {
    expect(formatDateTime('not a time')).toBe('not a time');
    expect(formatDateTime('', 'utc')).toBe('');
    expect(formatClock('2024-13-45T99:00:00Z')).toBe('2024-13-45T99:00:00Z');
  });

  it('round-trips datetime-local values through ISO', () => {
    const iso = localInputToIso('2024-05-01T14:30');
    expect(iso).toBe(localIso(2024, 5, 1, 14, 30));
    expect(isoToLocalInput(iso)).toBe('2024-05-01T14:30');
    expect(isoToLocalInput(localIso(2024, 12, 31, 23, 59, 59))).toBe('2024-12-31T23:59');
    expect(localInputToIso('')).toBe('');
    expect(localInputToIso('tomorrow')).toBe('');
    expect(isoToLocalInput(undefined)).toBe('');
    expect(isoToLocalInput('nonsense')).toBe('');
  });
});

describe('durations', () => {
  it('says a duration as people say it, across minutes, hours and days', () => {
    expect(formatDuration(0)).toBe('under a minute');
    expect(formatDuration(MINUTE - 1)).toBe('under a minute');
    expect(formatDuration(MINUTE)).toBe('1 min');
    expect(formatDuration(59 * MINUTE + 59_999)).toBe('59 min');
    expect(formatDuration(HOUR)).toBe('1 h');
    expect(formatDuration(5 * HOUR + 10 * MINUTE)).toBe('5 h');
    expect(formatDuration(47 * HOUR + 59 * MINUTE)).toBe('47 h');
    expect(formatDuration(2 * DAY)).toBe('2 days');
    expect(formatDuration(60 * DAY + 23 * HOUR)).toBe('60 days');
  });

  it('never shows a negative or meaningless duration', () => {
    expect(formatDuration(-5)).toBe('under a minute');
    expect(formatDuration(Number.NaN)).toBe('under a minute');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('under a minute');
  });

  it('says how long ago, with the same words as a duration', () => {
    const now = new Date('2024-05-01T12:00:00Z');
    expect(formatAge('2024-05-01T11:59:30Z', now)).toBe('just now');
    expect(formatAge('2024-05-01T11:15:00Z', now)).toBe('45 min ago');
    expect(formatAge('2024-05-01T07:00:00Z', now)).toBe('5 h ago');
    expect(formatAge('2024-04-29T12:00:01Z', now)).toBe('47 h ago');
    expect(formatAge('2024-04-26T12:00:00Z', now)).toBe('5 days ago');
    expect(formatAge('2024-05-01T12:30:00Z', now)).toBe('just now');
    expect(formatAge('garbage', now)).toBe('');
  });
});

describe('formatDateTimeIn: an instant on a named zone\'s clock, with its short name', () => {
  it('reads the site clock in winter and in summer, whatever this computer\'s zone', () => {
    expect(formatDateTimeIn('2026-12-01T10:00:00Z', 'Europe/London')).toBe('1 Dec 2026 10:00 GMT');
    expect(formatDateTimeIn('2026-07-01T10:00:00Z', 'Europe/London')).toBe('1 Jul 2026 11:00 BST');
    expect(formatDateTimeIn('2026-07-01T10:00:00Z', 'UTC')).toBe('1 Jul 2026 10:00 UTC');
    expect(formatDateTimeIn('not a time', 'Europe/London')).toBe('not a time');
  });
});
