// Display formatting for clinical identifiers: person names, sex, series. Dates, times and
// durations are common/format.ts (the one set for every layer). Pure functions: unit-tested.
import type { SeriesSummary } from '../common/contract.ts';

/** One person-name formatter for the whole renderer: every component group (common/dicomText.ts). */
export { formatPersonName } from '../common/dicomText.ts';

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

/** "#2 Head 1.5mm (CT, 108 images)"; missing parts are left out, not shown as blanks. */
export function seriesLabel(s: SeriesSummary): string {
  const facts = [s.modality, `${s.instanceCount} image${s.instanceCount === 1 ? '' : 's'}`].filter((x) => x !== '').join(', ');
  return `${s.seriesNumber !== null ? `#${s.seriesNumber} ` : ''}${s.description || 'Unnamed series'} (${facts})`;
}
