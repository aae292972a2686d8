// Builds the app once if it has not been built (npm test builds before; this serves
// `npx vitest run --config vitest.e2e.config.ts` on its own).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '..', '..');
  if (['node/start.mjs', 'renderer/index.html', 'hub-web/index.html'].every((f) => fs.existsSync(path.join(root, 'dist', f)))) return;
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('build failed');
}
