// Issue 6, acceptance line 7: one of each, in the layer that owns it. This test reads every source
// file of the product and its shared test tools (common, main, preload, renderer, server, scripts,
// bench, test/support) and fails when a file other than the owner does the owner's job again:
//   - reads or writes an event stream by hand (blank-line blocks, `data:` lines) → common/sse.ts;
//   - declares a HubError class → common/hubError.ts (server/errors.ts only types that one class);
//   - formats dates, times or durations for people (month names, clock fields put into text, "ago", Intl/toLocale
//     date formatting) → common/format.ts;
//   - declares a phone-call record (a schema or type with clinician and role) → common/contract.ts's
//     PhoneCall. (common/report.ts's VerbalCommunication, built from the report's own text fields,
//     is the report's content: what the signed report says was communicated, blank while drafting,
//     bound into the hash; not the workstation's log of a call made because the hub was unreachable.)
// Comments are ignored. (zod issues in words, common/validation.ts, join this list once
// main/reports/ReportRepository.ts and main/dicom/DicomIndexService.ts use issueText.)
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, sourceFiles as sourceFilesIn } from '../support/sourceFiles.ts';

const ROOT = REPO_ROOT;
const SCANNED = ['common', 'main', 'preload', 'renderer', 'server', 'scripts', 'bench', 'test/support'];
const EXTENSIONS = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;

interface Family {
  name: string;
  owner: string;
  patterns: RegExp[];
}

export const FAMILIES: Family[] = [
  {
    name: 'event-stream parser or writer',
    owner: 'common/sse.ts',
    patterns: [
      /indexOf\(\s*['"`]\\n\\n['"`]\s*\)/,
      /split\(\s*['"`]\\n\\n['"`]\s*\)/,
      /startsWith\(\s*['`](data|event|id|retry):/,
      /['"`][^'"`\n]*(data|event): [^'"`\n]*\\n\\n/,
      /['"`]: ?(ping|connected)?\\n\\n['"`]/,
    ],
  },
  {
    name: 'validation-error formatter',
    owner: 'common/validation.ts',
    patterns: [/\.issues\s*(\.\s*(map|slice|forEach|filter|reduce|flatMap|join)\b|\[)/, /\bz\.(prettifyError|flattenError|treeifyError)\(/, /\.(format|flatten)\(\)\s*\.\s*(_errors|fieldErrors)/],
  },
  {
    name: 'HubError class',
    owner: 'common/hubError.ts',
    patterns: [/\bclass\s+HubError\b/],
  },
  {
    name: 'date/time/duration formatter',
    owner: 'common/format.ts',
    patterns: [
      /['"]Jan['"]\s*,\s*['"]Feb['"]/,
      /\$\{[^}]*\.get(UTC)?(Hours|Minutes|Seconds|Date|Month|FullYear)\(\)/,
      /\bIntl\.(DateTimeFormat|RelativeTimeFormat|DurationFormat)\b/,
      /\.toLocale(Date|Time)?String\(/,
      /\b(min|minutes|h|hours|days?) ago\b/,
    ],
  },
  {
    name: 'phone-call record',
    owner: 'common/contract.ts',
    patterns: [/\bclinician\s*[?]?:\s*(z\.|string\b)[^]*?\brole\s*[?]?:\s*(z\.|string\b)/],
  },
];

/** The text with comments blanked out (strings kept, line numbers kept). */
export function stripComments(src: string): string {
  return src
    .replace(/\/\*[^]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/(^|[\s;{}(),])\/\/[^\n]*/g, (m, lead: string) => lead + ' '.repeat(m.length - lead.length));
}

export function findIn(src: string, family: Family): { line: number; text: string }[] {
  const text = stripComments(src);
  const found: { line: number; text: string }[] = [];
  for (const p of family.patterns) {
    const g = new RegExp(p.source, p.flags.includes('g') ? p.flags : `${p.flags}g`);
    for (const m of text.matchAll(g)) {
      const line = text.slice(0, m.index).split('\n').length;
      found.push({ line, text: (src.split('\n')[line - 1] ?? '').trim().slice(0, 160) });
    }
  }
  return found;
}

const sourceFiles = (): string[] => sourceFilesIn(SCANNED, EXTENSIONS);

describe('the scanner', () => {
  const family = (name: string): Family => FAMILIES.find((f) => f.name.startsWith(name))!;

  it('catches hand-written event-stream parsing and writing, and not the shared module used by name', () => {
    const f = family('event-stream');
    expect(findIn("while ((i = buf.indexOf('\\n\\n')) >= 0) {", f)).toHaveLength(1);
    expect(findIn(".filter((l) => l.startsWith('data:'))", f)).toHaveLength(1);
    expect(findIn('res.write(`id: ${e.seq}\\ndata: ${JSON.stringify(e)}\\n\\n`);', f)).toHaveLength(1);
    expect(findIn("res.write(': ping\\n\\n');", f)).toHaveLength(1);
    expect(findIn("res.write(formatSseEvent({ data }));\nconst p = new SseParser();\n// split('\\n\\n') in a comment", f)).toEqual([]);
  });

  it('catches zod issues turned into words by hand', () => {
    const f = family('validation');
    expect(findIn("r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')", f)).toHaveLength(1);
    expect(findIn('ev.error.issues[0]?.message', f)).toHaveLength(1);
    expect(findIn('z.prettifyError(parsed.error)', f)).toHaveLength(1);
    expect(findIn('issueText(parsed.error, { root: "(body)" }); const issues = 3;', f)).toEqual([]);
  });

  it('catches date and duration formatting', () => {
    const f = family('date');
    expect(findIn("const MONTHS = ['Jan', 'Feb', 'Mar'];", f)).toHaveLength(1);
    expect(findIn('`${pad(d.getHours())}:${pad(d.getMinutes())}`', f)).toHaveLength(2);
    expect(findIn('new Intl.DateTimeFormat("en-GB").format(d)', f)).toHaveLength(1);
    expect(findIn('d.toLocaleString()', f)).toHaveLength(1);
    expect(findIn('return `${minutes} min ago`;', f)).toHaveLength(1);
    expect(findIn("formatDateTime(iso, 'utc'); Date.now(); new Date().toISOString(); const collator = new Intl.Collator('en');", f)).toEqual([]);
    // Reading a date's fields to check or compute it is not formatting it for people.
    expect(findIn('if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1) return null;', f)).toEqual([]);
  });

  it('catches another phone-call record, as a schema or a type', () => {
    const f = family('phone');
    expect(findIn("z.object({ clinician: z.string().min(1), role: z.string().min(1), time: z.string() })", f)).toHaveLength(1);
    expect(findIn('call: { clinician: string; role: string; time: string }', f)).toHaveLength(1);
    expect(findIn('const c = { clinician: x.clinician, role: x.role };', f)).toEqual([]);
  });
});

describe('one of each, in the layer that owns it', () => {
  const files = sourceFiles();
  const sources = new Map(files.map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8')]));

  it('finds the owners (the scan reads the real tree)', () => {
    for (const f of FAMILIES) expect(files).toContain(f.owner);
    expect(files.length).toBeGreaterThan(100);
  });

  it.each(FAMILIES.map((f) => [f.name, f] as const))('%s: only its owner', (_name, family) => {
    const offenders: string[] = [];
    for (const [file, src] of sources) {
      if (file === family.owner) continue;
      for (const hit of findIn(src, family)) offenders.push(`${file}:${hit.line}: ${hit.text}`);
    }
    expect(offenders, `restated outside ${family.owner}; use it instead`).toEqual([]);
  });
});
