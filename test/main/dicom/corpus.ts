// The real DICOM corpus (../shared/dicom) and its manifest, for the DICOM tests.
import fs from 'node:fs';
import path from 'node:path';

export const corpus = path.resolve(import.meta.dirname, '..', '..', '..', '..', 'shared', 'dicom');

/** Minimal CSV reader for manifest.csv (quoted fields may hold commas). */
export function readManifest(): Record<string, string>[] {
  const lines = fs.readFileSync(path.join(corpus, 'manifest.csv'), 'utf8').trim().split('\n');
  const split = (line: string): string[] => {
    const out: string[] = [];
    let cur = '';
    let quoted = false;
    for (const ch of line) {
      if (ch === '"') quoted = !quoted;
      else if (ch === ',' && !quoted) {
        out.push(cur);
        cur = '';
      } else cur += ch;
    }
    out.push(cur);
    return out;
  };
  const header = split(lines[0]!);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [header[i]!, v])));
}
