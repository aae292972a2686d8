// When is text written? One rule for every layer (editor, workstation store, hub): a required
// field, an unexpected finding, a cancer site, the verbal record or an addendum counts as written
// only if it says something a reader can see. And text must be storable everywhere it goes.

/**
 * What carries no words, removed before asking whether anything is left:
 * - whitespace and separators (White_Space, Z*), control characters (Cc);
 * - format characters (Cf: zero-width space U+200B, ZWNJ/ZWJ U+200C/D, word joiner U+2060, BOM
 *   U+FEFF, soft hyphen U+00AD, bidi marks and embeddings U+200E/F, U+202A–E, U+2066–9, …);
 * - every other default-ignorable code point: characters that render as nothing although some are
 *   classed as letters (Hangul fillers U+115F, U+1160, U+3164, U+FFA0), variation selectors, the
 *   combining grapheme joiner;
 * - punctuation (P*: ".", "—", "…", "?"), so "." or "-" is not a conclusion;
 * - symbols (S*: "+", "→", "✓", "°", emoji, the blank braille pattern U+2800). Decided: a symbol
 *   alone is not a finding a colleague can act on ("✓" or "👍" as a conclusion says nothing to the
 *   referrer), and a sentence that uses a symbol ("lesion 5 mm → 7 mm") always has letters or digits;
 * - combining marks (M*) left without a base letter (a mark alone draws only a dot or an accent;
 *   within a word the base letter remains), and modifier letters (Lm: the Arabic tatweel "ـ" that
 *   only stretches a line, "ˆ", the Japanese length mark "ー"), which modify a letter and say
 *   nothing alone (within a word the letters they modify remain);
 * - unassigned (Cn), private-use (Co) and surrogate (Cs) code points: no meaning any reader shares.
 * What can remain is a letter (other than a modifier) or a digit of any script (Latin, Arabic, CJK,
 * Devanagari, …).
 */
const CARRIES_NO_WORDS = /[\p{White_Space}\p{Z}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}\p{P}\p{S}\p{M}\p{Lm}\p{Cn}\p{Co}\p{Cs}]/gu;

/** True when the text says something: after removing what carries no words (above), something remains. */
export function isMeaningfulText(s: string | null | undefined): boolean {
  if (typeof s !== 'string' || s === '') return false;
  return s.replace(CARRIES_NO_WORDS, '').length > 0;
}

/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why this text cannot be stored, or null when it can. PostgreSQL's `text` and `jsonb` (the hub)
 * cannot hold NUL (U+0000: "invalid byte sequence", and `\u0000` is refused in jsonb), and UTF-8
 * (every database, file and HTTP body) cannot encode a lone surrogate: the driver would replace
 * it with U+FFFD, silently changing signed text so its hash no longer matches. Everything else
 * Unicode defines (including noncharacters such as U+FFFE, and other control characters) is valid
 * UTF-8 and stored as written; control characters are simply not counted as writing.
 * String.prototype.isWellFormed is not used: it is missing from older runtimes this code may meet.
 */
export function unstorableTextReason(s: string): string | null {
  if (s.includes('\u0000')) return 'contains a NUL character (U+0000), which cannot be stored';
  const m = LONE_SURROGATE.exec(s);
  if (m) {
    const code = m[0].charCodeAt(0).toString(16).toUpperCase();
    return `contains an unpaired surrogate (U+${code}, half of a character, usually from a damaged copy and paste), which cannot be stored`;
  }
  return null;
}

/** Well-formed Unicode without NUL: text every store (workstation, hub, PostgreSQL) keeps exactly as written. */
export function wellFormedText(s: string): boolean {
  return unstorableTextReason(s) === null;
}
