// Display formatting for clinical identifiers and times. Pure functions: unit-tested.
import type { SeriesSummary } from '../common/contract.ts';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** DICOM DA (YYYYMMDD) → "12 Mar 2020"; '' or malformed → the fallback (or the raw text). */
export function formatDicomDate(da: string, fallback = 'date unknown'): string {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim());
  if (!m) return da.trim() === '' ? fallback : da.trim();
  const month = MONTHS[Number(m[2]) - 1];
  if (!month) return da.trim();
  return `${Number(m[3])} ${month} ${m[1]}`;
}

/** DICOM PN ("FAMILY^GIVEN^MIDDLE^PREFIX^SUFFIX", optional "=ideographic") → "FAMILY, Prefix Given Middle Suffix". */
export function formatPersonName(pn: string): string {
  const alphabetic = (pn.split('=')[0] ?? '').trim();
  if (alphabetic === '') return 'Name unknown';
  const [family = '', given = '', middle = '', prefix = '', suffix = ''] = alphabetic.split('^').map((p) => p.trim());
  const rest = [prefix, given, middle, suffix].filter((p) => p !== '').join(' ');
  if (family === '') return rest || 'Name unknown';
  return rest ? `${family}, ${rest}` : family;
}

export function formatSex(sex: string): string {
  switch (sex.trim().toUpperCase()) {
    case 'M':
      return 'Male';
    case 'F':
      return 'Female';
    case 'O':
      return 'Other';
    default:
      return 'Sex unknown';
  }
}

/** Whole years between two DICOM dates, or null if either is unknown. */
export function ageInYears(birthDa: string, atDa: string): number | null {
  const b = /^(\d{4})(\d{2})(\d{2})$/.exec(birthDa.trim());
  const a = /^(\d{4})(\d{2})(\d{2})$/.exec(atDa.trim());
  if (!b || !a) return null;
  let years = Number(a[1]) - Number(b[1]);
  if (Number(a[2]) * 100 + Number(a[3]) < Number(b[2]) * 100 + Number(b[3])) years -= 1;
  return years >= 0 && years < 150 ? years : null;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** ISO date-time → local "hh:mm:ss". */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** ISO date-time → local "12 Mar 2020 14:03". */
export function formatDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** ISO date-time → the value of an <input type="datetime-local"> (local time, minutes). */
export function isoToLocalInput(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The value of an <input type="datetime-local"> → ISO date-time ('' stays ''). */
export function localInputToIso(value: string): string {
  if (value.trim() === '') return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** How long ago, for draft lists: "just now", "5 min ago", "3 h ago", "2 days ago". */
export function formatAge(iso: string, now: Date = new Date()): string {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const minutes = Math.floor((now.getTime() - t) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** "#2 Head 1.5mm (CT, 108 images)"; missing parts are left out, not shown as blanks. */
export function seriesLabel(s: SeriesSummary): string {
  const facts = [s.modality, `${s.instanceCount} image${s.instanceCount === 1 ? '' : 's'}`].filter((x) => x !== '').join(', ');
  return `${s.seriesNumber !== null ? `#${s.seriesNumber} ` : ''}${s.description || 'Unnamed series'} (${facts})`;
}
