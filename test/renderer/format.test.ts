import { describe, expect, it } from 'vitest';
import { ageInYears, formatAge, formatDicomDate, formatPersonName, formatSex, isoToLocalInput, localInputToIso, seriesLabel } from '../../renderer/format.ts';

describe('display formatting', () => {
  it('formats DICOM dates and keeps malformed ones visible', () => {
    expect(formatDicomDate('20200312')).toBe('12 Mar 2020');
    expect(formatDicomDate('')).toBe('date unknown');
    expect(formatDicomDate('', 'unknown')).toBe('unknown');
    expect(formatDicomDate('2020-03-12')).toBe('2020-03-12');
    expect(formatDicomDate('20201312')).toBe('20201312');
  });

  it('formats person names', () => {
    expect(formatPersonName('DOE^JANE')).toBe('DOE, JANE');
    expect(formatPersonName('DOE^JANE^M^DR')).toBe('DOE, DR JANE M');
    expect(formatPersonName('ANONYMOUS')).toBe('ANONYMOUS');
    expect(formatPersonName('^JANE')).toBe('JANE');
    expect(formatPersonName('')).toBe('Name unknown');
    expect(formatPersonName('YAMADA^TARO=山田^太郎')).toBe('YAMADA, TARO');
  });

  it('formats sex and age', () => {
    expect(formatSex('F')).toBe('Female');
    expect(formatSex('m')).toBe('Male');
    expect(formatSex('')).toBe('Sex unknown');
    expect(ageInYears('19800615', '20200614')).toBe(39);
    expect(ageInYears('19800615', '20200615')).toBe(40);
    expect(ageInYears('', '20200615')).toBeNull();
    expect(ageInYears('20300101', '20200101')).toBeNull();
  });

  it('round-trips datetime-local values through ISO', () => {
    const iso = localInputToIso('2024-05-01T14:30');
    expect(iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00\.000Z$/);
    expect(isoToLocalInput(iso)).toBe('2024-05-01T14:30');
    expect(localInputToIso('')).toBe('');
    expect(isoToLocalInput('nonsense')).toBe('');
  });

  it('says how old a draft is', () => {
    const now = new Date('2024-05-01T12:00:00Z');
    expect(formatAge('2024-05-01T11:59:30Z', now)).toBe('just now');
    expect(formatAge('2024-05-01T11:15:00Z', now)).toBe('45 min ago');
    expect(formatAge('2024-05-01T07:00:00Z', now)).toBe('5 h ago');
    expect(formatAge('2024-04-26T12:00:00Z', now)).toBe('5 days ago');
  });

  it('labels series without blank parts', () => {
    expect(seriesLabel({ seriesUid: '1', seriesNumber: 2, description: 'Head 1.5mm', modality: 'CT', instanceCount: 108 })).toBe('#2 Head 1.5mm (CT, 108 images)');
    expect(seriesLabel({ seriesUid: '1', seriesNumber: null, description: '', modality: '', instanceCount: 1 })).toBe('Unnamed series (1 image)');
  });
});
