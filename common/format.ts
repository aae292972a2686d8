// Dates, times and durations as people read them: the one set of formatters for every layer
// (renderer screens, the workstation's messages, the hub). Pure: no DOM, no node:*; the local
// time zone is the one of the process that calls (the user's machine for the renderer and main).

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
const DICOM_DATE = /^(\d{4})(\d{2})(\d{2})$/;

const pad = (n: number): string => String(n).padStart(2, '0');

/** Which clock an ISO instant is shown on: the machine's local time, or UTC (marked " UTC"). */
export type TimeZoneChoice = 'local' | 'utc';

interface Parts {
  year: number;
  month: number;
  day: number;
  hours: number;
  minutes: number;
  seconds: number;
}

function partsOf(d: Date, zone: TimeZoneChoice): Parts {
  return zone === 'utc'
    ? { year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(), hours: d.getUTCHours(), minutes: d.getUTCMinutes(), seconds: d.getUTCSeconds() }
    : { year: d.getFullYear(), month: d.getMonth(), day: d.getDate(), hours: d.getHours(), minutes: d.getMinutes(), seconds: d.getSeconds() };
}

/** An ISO string as a Date, or null when it is not a readable instant. */
function instant(iso: string): Date | null {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The numbers of a DICOM date. */
export interface DicomDateParts {
  year: number;
  /** 1–12 in a valid date (not checked here). */
  month: number;
  /** 1–31 in a valid date (not checked here). */
  day: number;
}

/**
 * A DICOM DA (YYYYMMDD, surrounding white space ignored) read into its numbers; null when it is
 * not eight digits. Read here once for the formatters below and the sign-off rules
 * (common/signoff.ts studyEarliest). It checks the form only: what counts as a real day is the
 * caller's to decide (a label shows "31 Feb" as written; a time bound needs a day that exists).
 */
export function parseDicomDate(da: string): DicomDateParts | null {
  const m = DICOM_DATE.exec(da.trim());
  return m ? { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) } : null;
}

/** DICOM DA (YYYYMMDD) → "12 Mar 2020"; '' → the fallback; anything else malformed → the raw text. */
export function formatDicomDate(da: string, fallback = 'date unknown'): string {
  const text = da.trim();
  const date = parseDicomDate(text);
  if (!date) return text === '' ? fallback : text;
  const month = MONTHS[date.month - 1];
  if (!month || date.day < 1 || date.day > 31) return text;
  // The year as written: DA always has four digits ("0999" stays "0999").
  return `${date.day} ${month} ${String(date.year).padStart(4, '0')}`;
}

/** DICOM TM (HHMMSS.frac, or HHMM / HH) → "14:03"; '' → the fallback; anything else malformed → the raw text. */
export function formatDicomTime(tm: string, fallback = 'time unknown'): string {
  const text = tm.trim();
  const m = /^(\d{2})(\d{2})?(\d{2})?(\.\d+)?$/.exec(text);
  if (!m) return text === '' ? fallback : text;
  const hours = Number(m[1]);
  const minutes = Number(m[2] ?? '0');
  if (hours > 23 || minutes > 59) return text;
  return `${pad(hours)}:${pad(minutes)}`;
}

/** Whole years between two DICOM dates (birth, then the exam), or null if either is unknown or the result is implausible. */
export function ageInYears(birthDa: string, atDa: string): number | null {
  const b = parseDicomDate(birthDa);
  const a = parseDicomDate(atDa);
  if (!b || !a) return null;
  let years = a.year - b.year;
  if (a.month * 100 + a.day < b.month * 100 + b.day) years -= 1;
  return years >= 0 && years < 150 ? years : null;
}

/** ISO date-time → "14:03:27" (local by default); unreadable input is returned as it is. */
export function formatClock(iso: string, zone: TimeZoneChoice = 'local'): string {
  const d = instant(iso);
  if (!d) return iso;
  const p = partsOf(d, zone);
  return `${pad(p.hours)}:${pad(p.minutes)}:${pad(p.seconds)}${zone === 'utc' ? ' UTC' : ''}`;
}

/** ISO date-time → "12 Mar 2020 14:03" (local) or "12 Mar 2020 14:03 UTC"; unreadable input is returned as it is. */
export function formatDateTime(iso: string, zone: TimeZoneChoice = 'local'): string {
  const d = instant(iso);
  if (!d) return iso;
  const p = partsOf(d, zone);
  return `${p.day} ${MONTHS[p.month]} ${p.year} ${pad(p.hours)}:${pad(p.minutes)}${zone === 'utc' ? ' UTC' : ''}`;
}

/** ISO date-time → the value of an <input type="datetime-local"> (local time, minutes); '' when absent or unreadable. */
export function isoToLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = instant(iso);
  if (!d) return '';
  const p = partsOf(d, 'local');
  return `${p.year}-${pad(p.month + 1)}-${pad(p.day)}T${pad(p.hours)}:${pad(p.minutes)}`;
}

/** The value of an <input type="datetime-local"> (local time) → ISO date-time; '' or unreadable → ''. */
export function localInputToIso(value: string): string {
  if (value.trim() === '') return '';
  const d = instant(value);
  return d ? d.toISOString() : '';
}

/** A duration in words, coarse as people say it: "under a minute", "12 min", "5 h", "3 days" (negative or not finite: "under a minute"). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 60_000) return 'under a minute';
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.floor(hours / 24)} days`;
}

/** How long ago an ISO instant was: "just now", "5 min ago", "3 h ago", "2 days ago"; '' when unreadable. A time in the future reads "just now". */
export function formatAge(iso: string, now: Date = new Date()): string {
  const d = instant(iso);
  if (!d) return '';
  const ms = now.getTime() - d.getTime();
  return ms < 60_000 ? 'just now' : `${formatDuration(ms)} ago`;
}

// ---- a zone's clock as numbers ----------------------------------------------------------------
// The one other use of the platform's date API: a time zone's calendar fields at an instant, as
// numbers to compute with (common/siteCalendar.ts counts working days with them), never text.

const zoneReaders = new Map<string, Intl.DateTimeFormat>();

function zoneReader(zone: string): Intl.DateTimeFormat {
  let r = zoneReaders.get(zone);
  if (!r) {
    r = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone, hourCycle: 'h23', era: 'short',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    zoneReaders.set(zone, r);
  }
  return r;
}

/** The platform's canonical name of a time zone ("europe/london" → "Europe/London"); throws for one it does not know. */
export function resolvedTimeZone(zone: string): string {
  return zoneReader(zone).resolvedOptions().timeZone;
}

/** The zone's clock at instant `t` (ms since 1970): proleptic year (1 BC = 0), month 1–12, day, hour, minute, second. */
export function zoneClock(t: number, zone: string): { year: number; month: number; day: number; hour: number; minute: number; second: number } {
  const f: Record<string, number> = {};
  for (const p of zoneReader(zone).formatToParts(t)) {
    if (p.type !== 'literal') f[p.type] = p.type === 'era' ? (p.value === 'AD' ? 1 : -1) : Number(p.value);
  }
  const year = f['era'] === -1 ? 1 - (f['year'] ?? 0) : (f['year'] ?? 0);
  return { year, month: f['month'] ?? 1, day: f['day'] ?? 1, hour: f['hour'] ?? 0, minute: f['minute'] ?? 0, second: f['second'] ?? 0 };
}

/**
 * An instant on a named zone's clock, with the zone's short name: "1 Dec 2026 10:00 GMT",
 * "1 Jul 2026 11:00 BST". For text the hub writes for people in several places (an alert's
 * timeline, read on ward computers and workstations whatever their own clocks say): the site's zone.
 * An unreadable instant is returned as given.
 */
export function formatDateTimeIn(iso: string, zone: string): string {
  const d = instant(iso);
  if (!d) return iso;
  const c = zoneClock(d.getTime(), zone);
  const name = new Intl.DateTimeFormat('en-GB', { timeZone: zone, timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? zone;
  return `${c.day} ${MONTHS[c.month - 1]} ${c.year} ${pad(c.hour)}:${pad(c.minute)} ${name}`;
}

/** An instant's clock time on a named zone's clock: "14:30". */
export function formatClockIn(iso: string, zone: string): string {
  const d = instant(iso);
  if (!d) return iso;
  const c = zoneClock(d.getTime(), zone);
  return `${pad(c.hour)}:${pad(c.minute)}`;
}
