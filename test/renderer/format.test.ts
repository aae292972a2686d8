// The renderer's display words for identifiers (dates and durations are common/format.ts, tested in
// test/common/format.test.ts; its DICOM time, which the exam view uses, is tested here), and the
// one way a form says what it lacks.
import { describe, expect, it } from 'vitest';
import { formatDicomTime } from '../../common/format.ts';
import { Profile } from '../../common/report.ts';
import { formatPersonName, formatSex, seriesLabel } from '../../renderer/format.ts';
import { formError, listInWords, missingMessage } from '../../renderer/formErrors.ts';

describe('display formatting', () => {
  it('formats person names', () => {
    expect(formatPersonName('DOE^JANE')).toBe('DOE, JANE');
    expect(formatPersonName('DOE^JANE^M^DR')).toBe('DOE, DR JANE M');
    expect(formatPersonName('ANONYMOUS')).toBe('ANONYMOUS');
    expect(formatPersonName('^JANE')).toBe('JANE');
    expect(formatPersonName('')).toBe('Name unknown');
    expect(formatPersonName('YAMADA^TARO=山田^太郎')).toBe('YAMADA, TARO (山田 太郎)');
  });

  it('formats sex', () => {
    expect(formatSex('F')).toBe('Female');
    expect(formatSex('m')).toBe('Male');
    expect(formatSex('O')).toBe('Other');
    expect(formatSex('')).toBe('Sex unknown');
  });

  it('formats DICOM times and keeps malformed ones visible', () => {
    expect(formatDicomTime('140312')).toBe('14:03');
    expect(formatDicomTime('140312.123456')).toBe('14:03');
    expect(formatDicomTime('0930')).toBe('09:30');
    expect(formatDicomTime('07')).toBe('07:00');
    expect(formatDicomTime('')).toBe('time unknown');
    expect(formatDicomTime('  ', '')).toBe('');
    expect(formatDicomTime('256100')).toBe('256100');
    expect(formatDicomTime('14:03')).toBe('14:03');
    expect(formatDicomTime('noon')).toBe('noon');
  });

  it('labels series without blank parts', () => {
    expect(seriesLabel({ seriesUid: '1', seriesNumber: 2, description: 'Head 1.5mm', modality: 'CT', instanceCount: 108 })).toBe('#2 Head 1.5mm (CT, 108 images)');
    expect(seriesLabel({ seriesUid: '1', seriesNumber: null, description: '', modality: '', instanceCount: 1 })).toBe('Unnamed series (1 image)');
  });
});

describe('form errors', () => {
  it('lists in words', () => {
    expect(listInWords([])).toBe('');
    expect(listInWords(['a'])).toBe('a');
    expect(listInWords(['a', 'b'])).toBe('a and b');
    expect(listInWords(['a', 'b', 'c'])).toBe('a, b and c');
  });

  it('says what is missing, and nothing when all is given', () => {
    expect(missingMessage([[false, 'your user name'], [false, 'your password']])).toBe('Please give your user name and your password.');
    expect(missingMessage([[true, 'your user name'], [false, 'your password']])).toBe('Please give your password.');
    expect(missingMessage([[true, 'x']])).toBeNull();
  });

  it('says what is missing first, then what the schema refused, field by field', () => {
    const fields = (name: string, registration: string) =>
      [
        [name.trim() !== '', 'your name'],
        [true, 'your role'],
        [registration.trim() !== '', 'your registration number'],
      ] as const;
    expect(formError(fields('', ''), Profile.safeParse({ name: '', role: 'trainee', registration: '' }))).toBe('Please give your name and your registration number.');
    const long = 'x'.repeat(300);
    const refused = formError(fields(long, 'GMC 1'), Profile.safeParse({ name: long, role: 'trainee', registration: 'GMC 1' }));
    expect(refused).toMatch(/^name: /);
    expect(formError(fields('Dr A', 'GMC 1'), Profile.safeParse({ name: 'Dr A', role: 'trainee', registration: 'GMC 1' }))).toBeNull();
  });
});
