// Contract-shaped mutations: a seeded generator that starts from a VALID request body and breaks
// it the ways a hostile or broken client would (issue 8 acceptance 10). Pure: the same seed gives
// the same mutations; nothing here does I/O, so the fuzz tests and bench/fuzz.bench.ts share it.
//
// A body is held as a tree whose objects keep their entries in order and may repeat a key (JSON
// allows duplicated keys; JSON.stringify cannot write them) and whose leaves are JSON text, so a
// number JSON.stringify cannot write (-0, 2^53+1, 1e999) and a key like "__proto__" reach the
// server exactly as written.
import { mulberry32 } from '../support/faultProxy.ts';

export type JsonNode =
  | { t: 'obj'; entries: [string, JsonNode][] }
  | { t: 'arr'; items: JsonNode[] }
  | { t: 'leaf'; text: string };

/** A seeded random source (mulberry32); `seed` names the run so a failure can be replayed. */
export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(items.length)]!;
  }
  /** Picks by weight: `[[weight, value], …]`. */
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let r = this.next() * items.reduce((s, [w]) => s + w, 0);
    for (const [w, v] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1]![1];
  }
  /** A deterministic UUID-shaped id. */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  }
}

// ---- the tree -----------------------------------------------------------------------------------

export function toNode(value: unknown): JsonNode {
  if (Array.isArray(value)) return { t: 'arr', items: value.map(toNode) };
  if (value !== null && typeof value === 'object') {
    return { t: 'obj', entries: Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toNode(v)]) };
  }
  return { t: 'leaf', text: JSON.stringify(value) ?? 'null' };
}

export function nodeText(n: JsonNode): string {
  if (n.t === 'leaf') return n.text;
  // Deep nesting is built as one leaf of text (below), so this recursion stays shallow.
  if (n.t === 'arr') return `[${n.items.map(nodeText).join(',')}]`;
  return `{${n.entries.map(([k, v]) => `${JSON.stringify(k)}:${nodeText(v)}`).join(',')}}`;
}

const leaf = (text: string): JsonNode => ({ t: 'leaf', text });
const str = (s: string): JsonNode => leaf(JSON.stringify(s));

interface Slot {
  node: JsonNode;
  /** Replaces this node in its parent (the root's slot replaces the root). */
  set(n: JsonNode): void;
  /** The object this node is a value of, and its index there; null for array items and the root. */
  owner: { obj: Extract<JsonNode, { t: 'obj' }>; index: number } | null;
}

function slots(root: { value: JsonNode }): Slot[] {
  const out: Slot[] = [];
  const walk = (node: JsonNode, set: (n: JsonNode) => void, owner: Slot['owner']): void => {
    out.push({ node, set, owner });
    if (node.t === 'arr') node.items.forEach((c, i) => walk(c, (n) => (node.items[i] = n), null));
    if (node.t === 'obj') node.entries.forEach((e, i) => walk(e[1], (n) => (e[1] = n), { obj: node, index: i }));
  };
  walk(root.value, (n) => (root.value = n), null);
  return out;
}

// ---- edge values ------------------------------------------------------------------------------

/** Unicode a store or a terminal may choke on: NUL, lone surrogates, invisible and direction marks. */
export const EDGE_CHARS = [
  '\u0000', '\uD800', '\uDC00', '\uDBFF', '\u200B', '\u200E', '\u200F', '\u202E', '\u2066', '\uFEFF', '\uFFFF', '\uFFFE',
  '\u0301', '\u{1F600}', '\u{10FFFF}', '\r\n', '\t', '\u2028', '\u0085', '\\', '"', '\u001B[31m', '%00', '\'; DROP TABLE users; --',
];

const EDGE_STRINGS = [
  '', ' ', '\u200B', '\u200B\u200B\u200B', '\u0000', 'a\u0000b', '\uD800', 'x\uDC00y', '\u202Eevil', '\u200F\u200E', '...', '-',
  '\uFEFF', 'NaN', 'Infinity', 'null', 'undefined', 'true', '0', '-0', '1e308', '__proto__', 'constructor', '<script>alert(1)</script>',
  '../../etc/passwd', '%E0%A4%A', '😀'.repeat(20), 'Ω≈ç√∫', '\u0301\u0301\u0301', 'A'.repeat(65), 'A'.repeat(257), '2026-02-30T25:61:00Z',
  '9999-12-31T23:59:59.999Z', '0000-01-01T00:00:00Z',
];

/** Numbers as JSON text: some that JSON.stringify cannot write, some as strings. */
const EDGE_NUMBERS = [
  '0', '-0', '-1', '1', '0.5', '-0.0', '1e308', '-1e308', '1e999', '-1e999', '1e-400', '9007199254740993', '-9007199254740993',
  '18446744073709551616', '2147483648', '"NaN"', '"Infinity"', '"-0"', '"1"', '4.9e-324', '123456789012345678901234567890',
];

/** Keys a prototype-polluting or sloppy server may honour. */
const EDGE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', '\u0000', '\uD800', 'sneaky', 'a'.repeat(300), '$where', 'id'];

const WRONG_TYPES = ['null', 'true', 'false', '0', '""', '[]', '{}', '"NaN"', '[null]', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}'];

/** Sizes of huge strings: small-large, around the body limit, and just over it. */
function hugeSize(rng: Rng, bodyLimit: number): number {
  return rng.weighted([
    [4, 1_001],
    [3, 70_000],
    [2, 100_001],
    [1, Math.max(1, bodyLimit - 2_048)],
    [1, bodyLimit + 1],
  ]);
}

function hugeString(rng: Rng, size: number): string {
  const unit = rng.pick(['a', 'é', '😀', '\u200B', 'ab\u0000', 'x ']);
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

/** JSON text nested `depth` deep: arrays, objects or both. */
function nested(rng: Rng, depth: number): string {
  const kind = rng.int(3);
  if (kind === 0) return `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  if (kind === 1) return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  return `${'[{"a":'.repeat(depth)}1${'}]'.repeat(depth)}`;
}

// ---- one mutation ------------------------------------------------------------------------------

export const VALUE_MUTATIONS = [
  'drop-field', 'add-field', 'duplicate-key', 'wrong-type', 'edge-string', 'insert-char', 'huge-string', 'edge-number',
  'deep-nesting', 'array-for-object', 'object-for-array', 'null', 'pollution-key',
] as const;
export type ValueMutation = (typeof VALUE_MUTATIONS)[number];

function mutateOnce(rng: Rng, root: { value: JsonNode }, bodyLimit: number): ValueMutation {
  const all = slots(root);
  const kind = rng.pick(VALUE_MUTATIONS);
  const objs = all.filter((s) => s.node.t === 'obj');
  const strings = all.filter((s) => s.node.t === 'leaf' && s.node.text.startsWith('"'));
  const s = rng.pick(all);
  switch (kind) {
    case 'drop-field': {
      const owned = all.filter((x) => x.owner);
      if (owned.length === 0) return mutateAsWrongType(rng, s);
      const o = rng.pick(owned).owner!;
      o.obj.entries.splice(o.index, 1);
      return kind;
    }
    case 'add-field':
    case 'pollution-key': {
      const target = objs.length ? rng.pick(objs).node as Extract<JsonNode, { t: 'obj' }> : null;
      if (!target) return mutateAsWrongType(rng, s);
      const key = kind === 'pollution-key' ? rng.pick(['__proto__', 'constructor', 'prototype']) : rng.pick(EDGE_KEYS);
      const value = kind === 'pollution-key' ? leaf(rng.pick(['{"admin":true}', '{"prototype":{"polluted":1}}', '"x"', 'null'])) : leaf(rng.pick(WRONG_TYPES));
      target.entries.splice(rng.int(target.entries.length + 1), 0, [key, value]);
      return kind;
    }
    case 'duplicate-key': {
      const withEntries = objs.filter((x) => (x.node as Extract<JsonNode, { t: 'obj' }>).entries.length > 0);
      if (withEntries.length === 0) return mutateAsWrongType(rng, s);
      const o = rng.pick(withEntries).node as Extract<JsonNode, { t: 'obj' }>;
      const [k] = rng.pick(o.entries);
      const value = rng.chance(0.5) ? leaf(rng.pick(WRONG_TYPES)) : str(rng.pick(EDGE_STRINGS));
      // Before (the later valid value wins in JSON.parse) or after (the bad value wins).
      o.entries.splice(rng.chance(0.5) ? 0 : o.entries.length, 0, [k, value]);
      return kind;
    }
    case 'wrong-type':
      return mutateAsWrongType(rng, s);
    case 'edge-string':
      (strings.length ? rng.pick(strings) : s).set(str(rng.pick(EDGE_STRINGS)));
      return kind;
    case 'insert-char': {
      const target = strings.length ? rng.pick(strings) : null;
      if (!target) return mutateAsWrongType(rng, s);
      const v = JSON.parse((target.node as { text: string }).text) as string;
      const at = rng.int(v.length + 1);
      target.set(str(`${v.slice(0, at)}${rng.pick(EDGE_CHARS)}${v.slice(at)}`));
      return kind;
    }
    case 'huge-string':
      (strings.length ? rng.pick(strings) : s).set(str(hugeString(rng, hugeSize(rng, bodyLimit))));
      return kind;
    case 'edge-number': {
      const numbers = all.filter((x) => x.node.t === 'leaf' && /^-?\d/.test(x.node.text));
      (numbers.length ? rng.pick(numbers) : s).set(leaf(rng.pick(EDGE_NUMBERS)));
      return kind;
    }
    case 'deep-nesting':
      s.set(leaf(nested(rng, rng.pick([8, 64, 1_000, 20_000, 200_000]))));
      return kind;
    case 'array-for-object': {
      const target = objs.length ? rng.pick(objs) : s;
      target.set(target.node.t === 'obj' && rng.chance(0.5) ? { t: 'arr', items: target.node.entries.map(([, v]) => v) } : { t: 'arr', items: [target.node] });
      return kind;
    }
    case 'object-for-array': {
      const arrays = all.filter((x) => x.node.t === 'arr');
      const target = arrays.length ? rng.pick(arrays) : s;
      target.set(target.node.t === 'arr' ? { t: 'obj', entries: target.node.items.map((v, i) => [String(i), v]) } : { t: 'obj', entries: [['0', target.node]] });
      return kind;
    }
    case 'null':
      s.set(leaf('null'));
      return kind;
  }
}

function mutateAsWrongType(rng: Rng, s: Slot): ValueMutation {
  const current = s.node.t === 'leaf' ? s.node.text : null;
  const choices = WRONG_TYPES.filter((t) => t !== current);
  s.set(leaf(rng.pick(choices)));
  return 'wrong-type';
}

// ---- the body as bytes ----------------------------------------------------------------------------

export const TEXT_MUTATIONS = ['truncate', 'empty', 'invalid-utf8', 'not-json', 'trailing-garbage', 'bom', 'top-level-type'] as const;
export type TextMutation = (typeof TEXT_MUTATIONS)[number];

function mutateText(rng: Rng, text: string): { body: Buffer; kind: TextMutation } {
  const kind = rng.pick(TEXT_MUTATIONS);
  switch (kind) {
    case 'truncate':
      return { kind, body: Buffer.from(text.slice(0, rng.int(Math.max(1, text.length)))) };
    case 'empty':
      return { kind, body: Buffer.alloc(0) };
    case 'invalid-utf8': {
      const b = Buffer.from(text);
      const at = rng.int(b.length + 1);
      const bad = Buffer.from(rng.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]]));
      return { kind, body: Buffer.concat([b.subarray(0, at), bad, b.subarray(at)]) };
    }
    case 'not-json':
      return { kind, body: Buffer.from(rng.pick(["{'a':1}", '{"a":1,}', 'undefined', 'NaN', '{a:1}', '[1,2', '"unterminated', '<xml/>', 'a=1&b=2', '{"a":01}', '{"a":.5}', '//x\n{}'])) };
    case 'trailing-garbage':
      return { kind, body: Buffer.from(`${text}${rng.pick([' x', '}', ']', '\u0000', '{}', ',1'])}`) };
    case 'bom':
      return { kind, body: Buffer.from(`\uFEFF${text}`) };
    case 'top-level-type':
      return { kind, body: Buffer.from(rng.pick(['null', '[]', '"string"', '42', 'true', `[${text}]`])) };
  }
}

export interface MutatedBody {
  /** The bytes to send. */
  body: Buffer;
  /** What was done, for the failure message. */
  mutations: string[];
}

/**
 * A valid body mutated `1–3` times (value mutations on its tree, then, sometimes, one on its
 * bytes); `mutate: false` gives the valid body as it is. `bodyLimit` bounds huge strings.
 */
export function mutateBody(rng: Rng, valid: unknown, opts: { bodyLimit: number; mutate?: boolean }): MutatedBody {
  const root = { value: toNode(valid) };
  const mutations: string[] = [];
  if (opts.mutate === false) return { body: Buffer.from(nodeText(root.value)), mutations };
  const textOnly = rng.chance(0.15);
  if (!textOnly) {
    const n = 1 + rng.int(3);
    for (let i = 0; i < n; i++) mutations.push(mutateOnce(rng, root, opts.bodyLimit));
  }
  const text = nodeText(root.value);
  if (textOnly || rng.chance(0.05)) {
    const m = mutateText(rng, text);
    mutations.push(m.kind);
    return { body: m.body, mutations };
  }
  return { body: Buffer.from(text), mutations };
}

// ---- headers and paths ------------------------------------------------------------------------

/** Content-Types other than JSON, and JSON spelled oddly. `null`: no Content-Type. */
export const ODD_CONTENT_TYPES = [
  null, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json; charset=utf-16',
  'APPLICATION/JSON', 'application/json;;;', 'application/ld+json', '*/*', 'application/octet-stream', 'application/json, text/plain',
] as const;

/** A path segment with odd characters, already as it goes on the request line. */
export const ODD_PATH_SEGMENTS = [
  '%00', 'a%00b', '%2F', '..', '%2e%2e', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '%E0%A4%A', '%', '%ZZ', '%C0%AF', '%EF%BB%BF', '%E2%80%8B', '%E2%80%AE',
  '%ED%A0%80', '%F0%9F%98%80', 'x'.repeat(65), 'x'.repeat(257), 'x'.repeat(5000), '%20', '+', ';', 'a;b=c', '~', '%25', '%2525', '%3F', '%23',
  'NUL', 'CON', "'", '%27%20OR%201%3D1--', '*', '@', '%0D%0ASet-Cookie:%20a=b', '%FF', '%C3', '.',
] as const;

/** An odd value for a header the caller names (Idempotency-Key, Authorization…): Latin-1 only, as HTTP allows. */
export const ODD_HEADER_VALUES = [
  '', ' ', 'short', 'x'.repeat(129), 'x'.repeat(8000), 'a b c d e f g h', 'key/with/slashes', 'k\u00e9y-\u00e9\u00e9\u00e9\u00e9', '../../../../',
  'null', '0', '-1', '"quoted-key-1234"', 'a,b,c,d,e,f,g,h,i',
] as const;

export const ODD_METHODS = ['PATCH', 'DELETE', 'PUT', 'POST', 'GET', 'HEAD', 'OPTIONS'] as const;
