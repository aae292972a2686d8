// Issue 6, acceptance line 1: the report states and the roles are written in ONE place,
// common/lifecycle.ts. This test reads every source file of the product (common, main, preload,
// renderer, server, scripts) and fails when another file restates a role list or a report-state
// list: two or more role names, or two or more report states (the old 'signed' counts), together
// in one comma-separated list of literals (array, z.enum, function arguments, SQL IN/CHECK list,
// even inside a string), one union of literals, or as keys of one object literal. Comments are
// ignored; a single name is not a list. Files must import the lists (or build SQL from them).
//
// Exempt, by name and for a stated reason, are only texts that may never change: migrations that
// have shipped (a shipped migration's text is frozen; later migrations rebuild their CHECKs from
// the constants). Each exemption must still be needed, so the list cannot go stale.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, sourceFiles as sourceFilesIn } from '../support/sourceFiles.ts';
import { REPORT_STATES, ROLES } from '../../common/lifecycle.ts';

const ROOT = REPO_ROOT;
const SCANNED = ['common', 'main', 'preload', 'renderer', 'server', 'scripts'];
const EXTENSIONS = /\.(ts|tsx|mts|cts|js|mjs|cjs|sql)$/;
const THE_SOURCE = 'common/lifecycle.ts';

const ROLE_NAMES = new Set<string>(ROLES);
/** The report states, and 'signed', the state the life cycle replaced. */
const STATE_NAMES = new Set<string>([...REPORT_STATES, 'signed']);

interface Exemption {
  file: string;
  reason: string;
  /** Exempt only this part of the file: from the first match of `from` to the first match of `to` after it. */
  region?: { from: RegExp; to: RegExp };
}

const EXEMPT: Exemption[] = [
  { file: THE_SOURCE, reason: 'the one place the lists are written' },
  {
    file: 'main/db/migrations/0010-reports.ts',
    reason: "workstation migration 10, shipped (release 865b120): its CHECK (status IN ('draft','signed')) is frozen; migration 0050 replaces it with a list built from common/lifecycle.ts",
  },
  {
    file: 'server/db/migrations.ts',
    reason: 'hub migrations 1 and 2, shipped (release 865b120), with the role list migration 1 interpolates: frozen; migrations from 3 on build their lists from common/lifecycle.ts',
    region: { from: /^const ROLES = /m, to: /^\s*id: 3,/m },
  },
];

export interface Finding {
  line: number;
  kind: 'list' | 'union' | 'object keys';
  text: string;
  names: string[];
}

/** The text with comments blanked out (strings and template literals kept, line numbers kept). */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    const d = src[i + 1];
    if (c === '/' && d === '/') {
      while (i < n && src[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && d === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      for (; i < stop; i++) out += src[i] === '\n' ? '\n' : ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      out += c;
      i++;
      while (i < n && src[i] !== c) {
        if (src[i] === '\\') {
          out += src[i]! + (src[i + 1] ?? '');
          i += 2;
          continue;
        }
        if (c !== '`' && src[i] === '\n') break;
        out += src[i];
        i++;
      }
      if (i < n) {
        out += src[i];
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const LITERAL = String.raw`(?:'[^'\n]*'|"[^"\n]*")`;
const LIST = new RegExp(`${LITERAL}(?:\\s*,\\s*${LITERAL})+`, 'g');
const UNION = new RegExp(`${LITERAL}(?:\\s*\\|\\s*${LITERAL})+`, 'g');
const OBJECT = /\{([^{}]*)\}/g;
const KEY = /(?:^|[{,])\s*(?:'([^'\n]+)'|"([^"\n]+)"|([A-Za-z_$][\w$-]*))\s*:/g;

const literals = (text: string): string[] => [...text.matchAll(/'([^'\n]*)'|"([^"\n]*)"/g)].map((m) => m[1] ?? m[2] ?? '');

function restated(names: string[]): string[] | null {
  const roles = [...new Set(names.filter((x) => ROLE_NAMES.has(x)))];
  const states = [...new Set(names.filter((x) => STATE_NAMES.has(x)))];
  if (roles.length >= 2) return roles;
  if (states.length >= 2) return states;
  return null;
}

/** Every restatement of a role list or a state list in `src`. */
export function findRestatements(src: string): Finding[] {
  const text = stripComments(src);
  const lineOf = (index: number): number => text.slice(0, index).split('\n').length;
  const found: Finding[] = [];
  const add = (kind: Finding['kind'], index: number, match: string, names: string[]): void => {
    const hit = restated(names);
    if (hit) found.push({ line: lineOf(index), kind, text: match.replace(/\s+/g, ' ').slice(0, 160), names: hit });
  };
  for (const m of text.matchAll(LIST)) add('list', m.index, m[0], literals(m[0]));
  for (const m of text.matchAll(UNION)) add('union', m.index, m[0], literals(m[0]));
  for (const m of text.matchAll(OBJECT)) {
    const keys = [...m[1]!.replace(/^/, '{').matchAll(KEY)].map((k) => k[1] ?? k[2] ?? k[3] ?? '');
    const roles = keys.filter((k) => ROLE_NAMES.has(k));
    const states = keys.filter((k) => STATE_NAMES.has(k));
    // Bare words like `draft:` are common keys; three states (or two roles) as keys is a table of them.
    if (new Set(roles).size >= 2 || new Set(states).size >= 3) add('object keys', m.index, m[0], [...roles, ...states, ...roles]);
  }
  return found.sort((a, b) => a.line - b.line);
}

const sourceFiles = (): string[] => sourceFilesIn(SCANNED, EXTENSIONS);

/** Findings outside the exempt part of the file, and whether an exemption was used. */
function check(file: string, src: string): { findings: Finding[]; exemptionUsed: boolean } {
  const all = findRestatements(src);
  const ex = EXEMPT.find((e) => e.file === file);
  if (!ex) return { findings: all, exemptionUsed: false };
  if (!ex.region) return { findings: [], exemptionUsed: all.length > 0 };
  const start = src.search(ex.region.from);
  const endRel = start === -1 ? -1 : src.slice(start).search(ex.region.to);
  if (start === -1 || endRel === -1) return { findings: all, exemptionUsed: false };
  const [from, to] = [src.slice(0, start).split('\n').length, src.slice(0, start + endRel).split('\n').length];
  const inside = (f: Finding): boolean => f.line >= from && f.line <= to;
  return { findings: all.filter((f) => !inside(f)), exemptionUsed: all.some(inside) };
}

describe('the detector (controls on temporary strings)', () => {
  it('catches a restated state list: union, array, z.enum, SQL CHECK, inside a string, object keys', () => {
    const restatements = [
      `type S = 'draft' | 'signed';`,
      `const S = ['draft', 'final', 'provisional'] as const;`,
      `const S = z.enum(["draft", "provisional"]);`,
      "db.exec(`CREATE TABLE r (state TEXT CHECK (state IN ('draft','signed')))`);",
      `const SQL = "status IN ('final', 'appended')";`,
      `const LABELS = { draft: 'Draft', provisional: 'Provisional', final: 'Final' };`,
      `const x = new Set([\n  'final',\n  'appended',\n]);`,
    ];
    for (const s of restatements) expect(findRestatements(s), s).toHaveLength(1);
  });

  it('catches a restated role list: array, union, SQL string, object keys', () => {
    const restatements = [
      `export const SIGNING_ROLES: readonly Role[] = ['radiologist', 'radiographer', 'locum', 'trainer'];`,
      `type Signer = 'trainee' | 'trainer';`,
      `const ROLES = "'radiologist','radiographer','locum','trainee','trainer','referrer','safety-lead'";`,
      `const LABELS = { radiologist: 'Radiologist', 'safety-lead': 'Safety lead' };`,
      `if (['referrer', 'safety-lead'].includes(role)) return;`,
    ];
    for (const s of restatements) expect(findRestatements(s), s).toHaveLength(1);
    expect(findRestatements(restatements[0]!)[0]).toMatchObject({ line: 1, kind: 'list', names: ['radiologist', 'radiographer', 'locum', 'trainer'] });
  });

  it('leaves alone single names, other lists, comments and the constants used by name', () => {
    const fine = [
      `if (report.state === 'draft') return;`,
      `roleMay('trainee', 'draft:write');`,
      `const kinds = ['report', 'addendum', 'verification'];`,
      `type Sync = 'pending' | 'synced' | 'failed';`,
      `const m = z.enum(['final-report', 'provisional']);`,
      `// the old model: 'draft' | 'signed', and ['radiologist', 'trainer']`,
      `/* CHECK (status IN ('draft','signed')) */ const x = 1;`,
      "const SQL = `state TEXT CHECK (state IN ${sqlList(REPORT_STATES)})`;",
      `const s = { draft: report, final: null };`,
      `const url = 'http://x/' + 'y'; // 'draft', 'final'`,
    ];
    for (const s of fine) expect(findRestatements(s), s).toEqual([]);
  });

  it('finds the restatements in the shipped texts it exempts, so exempting them is not a no-op', () => {
    const shipped = fs.readFileSync(path.join(ROOT, 'main/db/migrations/0010-reports.ts'), 'utf8');
    expect(findRestatements(shipped).map((f) => f.names)).toContainEqual(['draft', 'signed']);
    expect(findRestatements(fs.readFileSync(path.join(ROOT, THE_SOURCE), 'utf8')).length).toBeGreaterThan(0);
  });

  it('a copy of a clean file with one restatement added fails', () => {
    const file = sourceFiles().find((f) => f.startsWith('main/reports/'))!;
    const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
    expect(check(file, src).findings).toEqual([]);
    const tampered = `${src}\nexport const SIGNING_ROLES = ['radiologist', 'radiographer', 'locum', 'trainer'];\n`;
    expect(check(file, tampered).findings).toHaveLength(1);
  });
});

describe('no file but common/lifecycle.ts restates a role list or a state list', () => {
  const files = sourceFiles();

  it('scans the product source', () => {
    for (const d of ['common', 'main', 'renderer', 'server']) expect(files.some((f) => f.startsWith(`${d}/`)), d).toBe(true);
    expect(files).toContain(THE_SOURCE);
  });

  it('every exemption names an existing file and is still needed', () => {
    for (const ex of EXEMPT) {
      expect(files, ex.file).toContain(ex.file);
      expect(check(ex.file, fs.readFileSync(path.join(ROOT, ex.file), 'utf8')).exemptionUsed, `${ex.file}: ${ex.reason}`).toBe(true);
    }
  });

  it('no restatement anywhere else', () => {
    const report: string[] = [];
    for (const f of files) {
      for (const x of check(f, fs.readFileSync(path.join(ROOT, f), 'utf8')).findings) {
        report.push(`${f}:${x.line} ${x.kind} [${x.names.join(', ')}]: ${x.text}`);
      }
    }
    expect(report, `import the lists from ${THE_SOURCE} instead:\n${report.join('\n')}`).toEqual([]);
  });
});
