// Builds the app once if it has not been built (npm test builds before; this serves
// `npx vitest run --config vitest.e2e.config.ts` on its own).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '..', '..');
  if (fs.existsSync(path.join(root, 'dist', 'node', 'start.mjs')) && fs.existsSync(path.join(root, 'dist', 'renderer', 'index.html'))) return;
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('build failed');
}
