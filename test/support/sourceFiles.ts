// The project's own source files, for tests that scan the tree (single-source guards): every file
// under the given top-level folders whose name matches, as repository-relative paths with '/',
// sorted; node_modules, dist and dot-folders are skipped.
import fs from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export function sourceFiles(folders: readonly string[], extensions: RegExp): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (extensions.test(e.name)) files.push(path.relative(REPO_ROOT, p).split(path.sep).join('/'));
    }
  };
  for (const d of folders) if (fs.existsSync(path.join(REPO_ROOT, d))) walk(path.join(REPO_ROOT, d));
  return files.sort();
}
