// Type-checks each layer with its own tsconfig: the lib/types of each config are what that
// layer may use (common: no DOM, no node; renderer and hubweb, the hub's page: DOM, no node). Fails on the first error.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const layers = ['common', 'main', 'preload', 'renderer', 'server', 'hubweb', 'test'];
let failed = false;
for (const layer of layers) {
  const r = spawnSync(process.execPath, [tsc, '-p', `tsconfig.${layer}.json`], { stdio: 'inherit', cwd: root });
  console.log(`typecheck ${layer}: ${r.status === 0 ? 'ok' : 'FAILED'}`);
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
