// Person names with ideographic and phonetic component groups (PS3.5 Annexes H–J) shown whole:
// common/dicomText.ts formatPersonName, which the viewer's overlay uses.
import { describe, expect, it } from 'vitest';
import { formatPersonName } from '../../common/dicomText.ts';

describe('formatPersonName (common/dicomText.ts)', () => {
  it('shows the ideographic and phonetic groups of Japanese, Korean and Chinese names after the alphabetic one', () => {
    expect(formatPersonName('Yamada^Tarou=山田^太郎=やまだ^たろう')).toBe('Yamada, Tarou (山田 太郎, やまだ たろう)');
    expect(formatPersonName('ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう')).toBe('ﾔﾏﾀﾞ, ﾀﾛｳ (山田 太郎, やまだ たろう)');
    expect(formatPersonName('Hong^Gildong=洪^吉洞=홍^길동')).toBe('Hong, Gildong (洪 吉洞, 홍 길동)');
    expect(formatPersonName('Zhang^XiaoDong=张^小东=')).toBe('Zhang, XiaoDong (张 小东)');
  });

  it('shows a name given only in ideographic or phonetic characters in them, never as unknown', () => {
    expect(formatPersonName('=山田^太郎')).toBe('山田 太郎');
    expect(formatPersonName('==やまだ^たろう')).toBe('やまだ たろう');
  });

  it('formats alphabetic names as before', () => {
    expect(formatPersonName('DOE^JANE')).toBe('DOE, JANE');
    expect(formatPersonName('DOE^JANE^M^DR')).toBe('DOE, DR JANE M');
    expect(formatPersonName('ANONYMOUS')).toBe('ANONYMOUS');
    expect(formatPersonName('^JANE')).toBe('JANE');
    expect(formatPersonName('')).toBe('Name unknown');
    expect(formatPersonName('^^=^=')).toBe('Name unknown');
  });

  it('keeps an undecodable character visible', () => {
    expect(formatPersonName('Ab\uFFFD^C')).toBe('Ab\uFFFD, C');
  });
});
