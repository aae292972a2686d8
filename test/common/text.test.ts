// The one rule for "is this text written?" and "can this text be stored?" (common/text.ts).
import { describe, expect, it } from 'vitest';
import { isMeaningfulText, unstorableTextReason, wellFormedText } from '../../common/text.ts';

describe('isMeaningfulText: something a reader can see must remain', () => {
  const notWritten: [string, string][] = [
    ['empty', ''],
    ['spaces, tabs and newlines', ' \t\n\r '],
    ['zero-width spaces only (U+200B)', '\u200B\u200B\u200B'],
    ['BOM / zero-width no-break space (U+FEFF)', '\uFEFF'],
    ['ZWNJ, ZWJ, word joiner', '\u200C\u200D\u2060'],
    ['soft hyphen (U+00AD)', '\u00AD\u00AD'],
    ['bidi marks and isolates (LRM, RLM, RLO, FSI, PDI)', '\u200E\u200F\u202E\u2068\u2069'],
    ['no-break, ideographic and em spaces', '\u00A0\u3000\u2003'],
    ['Hangul fillers (letters that draw nothing)', '\u3164\u115F\u1160\uFFA0'],
    ['a full stop', '.'],
    ['punctuation only', '.,;:!?-—–…()[]"\'«»'],
    ['an em dash', '—'],
    ['symbols only', '+ = → ✓ ° ± ©'],
    ['emoji only (decided: a symbol alone is no finding)', '👍🙂'],
    ['the blank braille pattern (U+2800)', '\u2800\u2800'],
    ['combining marks with no base letter', '\u0301\u0308\u0327'],
    ['control characters', '\u0001\u0007\u001B\u007F'],
    ['a variation selector and the combining grapheme joiner', '\uFE0F\u034F'],
    ['private-use characters', '\uE000\uF8FF'],
    ['modifier letters alone (Arabic tatweel, circumflex, Japanese length mark)', '\u0640\u0640 \u02C6 \u30FC'],
    ['a mix of all of the above', ' \u200B.\u00AD—\uFEFF\u200E👍\u0301\n'],
  ];
  it.each(notWritten)('does not count %s as written', (_name, s) => {
    expect(isMeaningfulText(s)).toBe(false);
  });

  const written: [string, string][] = [
    ['a word', 'Normal'],
    ['a word wrapped in invisible characters', '\u200BNormal\uFEFF'],
    ['a number', '5'],
    ['a measurement with symbols', '12 mm → 15 mm'],
    ['Japanese', '異常なし'],
    ['Arabic (right to left, with its marks)', '\u200Fطبيعي'],
    ['Hebrew', 'תקין'],
    ['Devanagari (letters with combining vowel signs)', 'सामान्य'],
    ['a letter with a combining accent', 'e\u0301'],
    ['Arabic-Indic digits', '٣'],
    ['Greek', 'Φυσιολογικό'],
    ['Japanese with a length mark', 'スーパー'],
    ['Arabic stretched with tatweel', 'طـبيعي'],
  ];
  it.each(written)('counts %s as written', (_name, s) => {
    expect(isMeaningfulText(s)).toBe(true);
  });

  it('is false for undefined and null', () => {
    expect(isMeaningfulText(undefined)).toBe(false);
    expect(isMeaningfulText(null)).toBe(false);
  });
});

describe('wellFormedText: what every store keeps exactly as written', () => {
  it('refuses NUL, saying which character', () => {
    expect(wellFormedText('a\u0000b')).toBe(false);
    expect(unstorableTextReason('a\u0000b')).toMatch(/NUL/);
  });
  it.each([
    ['a lone high surrogate at the end', 'text \uD83D'],
    ['a lone high surrogate followed by a letter', '\uD83Dx'],
    ['a lone low surrogate', 'x\uDE00'],
    ['a low surrogate before a high one (reversed pair)', '\uDE00\uD83D'],
  ])('refuses %s', (_name, s) => {
    expect(wellFormedText(s)).toBe(false);
    expect(unstorableTextReason(s)).toMatch(/unpaired surrogate \(U\+D[89A-F][0-9A-F]{2}/);
  });
  it.each([
    ['plain text', 'No acute abnormality.'],
    ['a surrogate pair (emoji)', 'ok 👍'],
    ['astral CJK', '𠮷野家'],
    ['zero-width characters (stored as written; they just do not count as words)', '\u200B'],
    ['other control characters and noncharacters', '\u0001\uFFFE'],
    ['empty', ''],
  ])('keeps %s', (_name, s) => {
    expect(wellFormedText(s)).toBe(true);
    expect(unstorableTextReason(s)).toBeNull();
  });
  it('agrees with String.prototype.isWellFormed where the runtime has it (NUL aside)', () => {
    const samples = ['a', '\uD800', '\uDC00', '\uD800\uDC00', 'x\uD800y', '\uDBFF\uDFFF', '\uDFFF\uDBFF'];
    const native = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;
    if (!native) return;
    for (const s of samples) expect(wellFormedText(s)).toBe(native.call(s));
  });
});
