// The signed hash is taken over canonicalJson's text: a change of implementation must not change
// one byte of it, or every stored signature would stop verifying. Compared here against the
// definition it replaced (entries, filter, sort by <, map, join), on fixed cases and on random values.
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../common/report.ts';

function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
}

/** A small deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'B', 'b', 'Z', '', ' ', '10', '9', 'é', 'e\u0301', '\u{1F600}', '\uFFFF', 'key "quoted"', 'new\nline', '__proto__x', 'zzz'];
const STRINGS = ['', 'text', 'Brain parenchyma: normal.', '\u200b', 'naïve', '\u{1F9E0} brain', 'line\nbreak', 'quote " and \\ backslash', '\u0000', '\uD800'];

function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 3 || pick < 0.35) {
    const k = Math.floor(r() * 7);
    if (k === 0) return null;
    if (k === 1) return r() < 0.5;
    if (k === 2) return Math.floor(r() * 2000) - 1000;
    if (k === 3) return (r() - 0.5) * 1e6;
    if (k === 4) return undefined;
    return STRINGS[Math.floor(r() * STRINGS.length)];
  }
  if (pick < 0.6) return Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 6); i > 0; i--) o[KEYS[Math.floor(r() * KEYS.length)]!] = randomValue(r, depth + 1);
  return o;
}

describe('canonicalJson', () => {
  it('sorts keys by UTF-16 code units, leaves out undefined members, writes no white space', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, B: { y: 2, x: 1 } })).toBe('{"B":{"x":1,"y":2},"a":[true,null,"x"],"b":1}');
    expect(canonicalJson(['\u{1F600}', undefined, { '\uFFFF': 1, '\u{1F600}': 2 }])).toBe('["\u{1F600}",null,{"\u{1F600}":2,"\uFFFF":1}]');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow('non-finite number');
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow('non-finite number');
  });

  it('writes exactly the text of the definition it replaced, for 5,000 random values', () => {
    const r = rng(20261128);
    for (let i = 0; i < 5000; i++) {
      const v = randomValue(r, 0);
      expect(canonicalJson(v)).toBe(reference(v));
    }
  });

  it('keeps an array hole as join() wrote it (no JSON input has one; the text must still not change)', () => {
    // eslint-disable-next-line no-sparse-arrays
    const holey = [1, , 3];
    expect(canonicalJson(holey)).toBe(reference(holey));
  });
});
