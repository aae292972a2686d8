// Text values under DICOM's Specific Character Set (0008,0005), PS3.5 §6.1 and Annexes H–K:
// single-byte sets (ISO_IR 100…203, 166, 13), UTF-8 (ISO_IR 192), GB18030, GBK, and the ISO 2022
// code extensions, where escape sequences switch the G0 (bytes 21–7E) and G1 (bytes A1–FE) sets
// inside a value: Japanese (IR 13 katakana, IR 87 JIS X 0208, IR 159 JIS X 0212), Korean (IR 149
// KS X 1001), Chinese (IR 58 GB 2312) and the ISO 8859 parts.
//
// The bytes between two escape sequences are decoded with the platform's TextDecoder (Node's and
// Electron's ICU: euc-jp, euc-kr, gbk, iso-8859-x, windows-874): a 94×94 G0 set is turned into its
// EUC form (each byte | 0x80; JIS X 0212 behind 0x8F) and read by euc-jp; a G1 set is read with
// ASCII in G0 by its EUC/8859 decoder as it is. Every value, and for PN every component ('^') and
// component group ('='), starts again in the sets the first value of (0008,0005) designates
// (PS3.5 §6.1.2.5.3: an encoder switches back before each delimiter). Bytes no set can decode
// become U+FFFD (visibly wrong, never silently another name).

import { TextDecoder } from 'node:util';

/** One coded character set as ISO 2022 designates it. */
interface CodeSet {
  /** 'ascii' and 'romaji' (JIS X 0201 Roman) are single-byte G0 sets; 'jis0208' and 'jis0212' double-byte G0 sets. */
  kind: 'ascii' | 'romaji' | 'jis0208' | 'jis0212' | 'katakana' | 'gr';
  /** For 'gr': the TextDecoder label that reads ASCII + this G1 set. */
  label?: string;
}

const ASCII: CodeSet = { kind: 'ascii' };
const ROMAJI: CodeSet = { kind: 'romaji' };
const JIS0208: CodeSet = { kind: 'jis0208' };
const JIS0212: CodeSet = { kind: 'jis0212' };
const KATAKANA: CodeSet = { kind: 'katakana' };
const gr = (label: string): CodeSet => ({ kind: 'gr', label });

/** A defined term: the sets it designates at the start of a value, and for the ISO 2022 terms the escape sequences that designate them. */
interface Term {
  g0: CodeSet;
  g1: CodeSet | null;
  /** A whole-value encoding without code extensions (UTF-8, GB18030, GBK, or a single-byte set without ISO 2022). */
  whole?: string;
}

/** Latin/Cyrillic/Arabic/Greek/Hebrew/Thai parts: ISO_IR nnn and ISO 2022 IR nnn, G1 designated by ESC - F. */
const PARTS: [ir: string, label: string][] = [
  ['100', 'iso-8859-1'],
  ['101', 'iso-8859-2'],
  ['109', 'iso-8859-3'],
  ['110', 'iso-8859-4'],
  ['144', 'iso-8859-5'],
  ['127', 'iso-8859-6'],
  ['126', 'iso-8859-7'],
  ['138', 'iso-8859-8'],
  ['148', 'iso-8859-9'],
  ['203', 'iso-8859-15'],
  ['166', 'windows-874'],
];

const TERMS = new Map<string, Term>([
  ['', { g0: ASCII, g1: null }],
  ['ISO_IR 6', { g0: ASCII, g1: null }],
  ['ISO 2022 IR 6', { g0: ASCII, g1: null }],
  ['ISO_IR 13', { g0: ROMAJI, g1: KATAKANA }],
  ['ISO 2022 IR 13', { g0: ROMAJI, g1: KATAKANA }],
  ['ISO 2022 IR 87', { g0: JIS0208, g1: null }],
  ['ISO 2022 IR 159', { g0: JIS0212, g1: null }],
  ['ISO 2022 IR 149', { g0: ASCII, g1: gr('euc-kr') }],
  ['ISO 2022 IR 58', { g0: ASCII, g1: gr('gbk') }],
  ['ISO_IR 192', { g0: ASCII, g1: null, whole: 'utf-8' }],
  ['GB18030', { g0: ASCII, g1: null, whole: 'gb18030' }],
  ['GBK', { g0: ASCII, g1: null, whole: 'gbk' }],
  ...PARTS.flatMap(([ir, label]): [string, Term][] => [
    [`ISO_IR ${ir}`, { g0: ASCII, g1: gr(label), whole: label }],
    [`ISO 2022 IR ${ir}`, { g0: ASCII, g1: gr(label) }],
  ]),
]);

/** ISO 2022 escape sequences (the bytes after ESC) → [which graphic set, the set]. */
const ESCAPES: [bytes: string, g: 0 | 1, set: CodeSet][] = [
  ['(B', 0, ASCII],
  ['(J', 0, ROMAJI],
  ['$B', 0, JIS0208],
  ['$@', 0, JIS0208],
  ['$(D', 0, JIS0212],
  [')I', 1, KATAKANA],
  ['$)C', 1, gr('euc-kr')],
  ['$)A', 1, gr('gbk')],
  ['-A', 1, gr('iso-8859-1')],
  ['-B', 1, gr('iso-8859-2')],
  ['-C', 1, gr('iso-8859-3')],
  ['-D', 1, gr('iso-8859-4')],
  ['-L', 1, gr('iso-8859-5')],
  ['-G', 1, gr('iso-8859-6')],
  ['-F', 1, gr('iso-8859-7')],
  ['-H', 1, gr('iso-8859-8')],
  ['-M', 1, gr('iso-8859-9')],
  ['-b', 1, gr('iso-8859-15')],
  ['-T', 1, gr('windows-874')],
];

const ESC = 0x1b;
/** Value delimiters after which every value starts again in the initial sets (PS3.5 §6.1.2.5.3). */
const DELIMITERS = new Set([0x5c, 0x0d, 0x0a, 0x09, 0x0c]);
const PN_DELIMITERS = new Set([...DELIMITERS, 0x5e, 0x3d]);

const decoders = new Map<string, TextDecoder>();
function decoder(label: string): TextDecoder {
  let d = decoders.get(label);
  if (!d) decoders.set(label, (d = new TextDecoder(label)));
  return d;
}

/** How a data set's text is read: from the values of its Specific Character Set. */
export interface CharacterSets {
  /** The terms as written, trimmed ('' for an empty first value). */
  readonly terms: readonly string[];
  /** Terms this decoder does not know (their text is read as ASCII, other bytes as U+FFFD). */
  readonly unknown: readonly string[];
  /** Decodes one text element's bytes; `personName` for VR PN (resets at '^' and '='). */
  decode(bytes: Uint8Array, personName?: boolean): string;
}

/** The decoder for a Specific Character Set value as written (backslash-separated terms); null or '' = the default repertoire. */
export function characterSets(specificCharacterSet: string | null): CharacterSets {
  const terms = (specificCharacterSet ?? '').split('\\').map((t) => t.trim().toUpperCase().replace(/^ISO_IR_/, 'ISO_IR ').replace(/\s+/g, ' '));
  const unknown = terms.filter((t) => !TERMS.has(t));
  const first = TERMS.get(terms[0] ?? '') ?? { g0: ASCII, g1: null };
  if (first.whole !== undefined && (terms.length === 1 || first.g1 === null)) {
    const d = decoder(first.whole);
    return { terms, unknown, decode: (bytes) => d.decode(bytes) };
  }
  // ISO 2022: the first value designates G0 and G1 at the start of each value. A file that lists
  // one G1 set among its extensions but never designates it by escape (seen from some Korean and
  // Chinese systems) gets that set for its high bytes. Where no G1 set is declared at all, high
  // bytes are read as ISO 8859-1, as other toolkits do for the default repertoire; under a term
  // this decoder does not know they become U+FFFD.
  const g1Declared = terms
    .slice(1)
    .map((t) => TERMS.get(t)?.g1 ?? null)
    .filter((s): s is CodeSet => s !== null);
  const fallback = unknown.length > 0 ? null : gr('iso-8859-1');
  const initial = { g0: first.g0, g1: first.g1 ?? (g1Declared.length === 1 ? g1Declared[0]! : fallback) };
  return { terms, unknown, decode: (bytes, personName = false) => decode2022(bytes, initial, personName ? PN_DELIMITERS : DELIMITERS) };
}

function decode2022(bytes: Uint8Array, initial: { g0: CodeSet; g1: CodeSet | null }, delimiters: ReadonlySet<number>): string {
  let g0 = initial.g0;
  let g1 = initial.g1;
  let out = '';
  let run: number[] = [];
  const flush = (): void => {
    if (run.length > 0) out += decodeRun(Uint8Array.from(run), g0, g1);
    run = [];
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === ESC) {
      const hit = ESCAPES.find(([seq]) => seq.split('').every((c, k) => bytes[i + 1 + k] === c.charCodeAt(0)));
      flush();
      if (hit) {
        if (hit[1] === 0) g0 = hit[2];
        else g1 = hit[2];
        i += 1 + hit[0].length;
      } else {
        // An escape sequence no DICOM set uses: what it designates cannot be known.
        out += '\uFFFD';
        i += 1;
      }
      continue;
    }
    const doubleG0 = g0.kind === 'jis0208' || g0.kind === 'jis0212';
    if (!doubleG0 && delimiters.has(b)) {
      flush();
      out += String.fromCharCode(b);
      g0 = initial.g0;
      g1 = initial.g1;
      i += 1;
      continue;
    }
    run.push(b);
    i += 1;
  }
  flush();
  return out;
}

/** Bytes between escape sequences, read in the sets designated for them. */
function decodeRun(run: Uint8Array, g0: CodeSet, g1: CodeSet | null): string {
  if (g0.kind === 'jis0208' || g0.kind === 'jis0212') {
    // 94×94 set in G0: pairs of bytes 21–7E; as EUC-JP (0212 behind the SS3 byte 8F).
    const euc: number[] = [];
    for (let k = 0; k < run.length; k++) {
      const b = run[k]!;
      if (b < 0x21 || b > 0x7e) {
        euc.push(b < 0x20 ? b : 0x3f);
        continue;
      }
      if (g0.kind === 'jis0212') euc.push(0x8f);
      euc.push(b | 0x80, (run[k + 1] ?? 0) | 0x80);
      k += 1;
    }
    return decoder('euc-jp').decode(Uint8Array.from(euc));
  }
  let out = '';
  let high: number[] = [];
  const flushHigh = (): void => {
    if (high.length === 0) return;
    if (g1 === null) out += '\uFFFD'.repeat(high.length);
    else if (g1.kind === 'katakana') out += high.map((b) => (b >= 0xa1 && b <= 0xdf ? String.fromCharCode(0xff61 + b - 0xa1) : '\uFFFD')).join('');
    else out += decoder(g1.label ?? 'latin1').decode(Uint8Array.from(high));
    high = [];
  };
  for (const b of run) {
    if (b >= 0x80) {
      high.push(b);
      continue;
    }
    flushHigh();
    // JIS X 0201 Roman is read as ASCII (as WHATWG's Shift_JIS and other toolkits read it).
    out += String.fromCharCode(b);
  }
  flushHigh();
  return out;
}
