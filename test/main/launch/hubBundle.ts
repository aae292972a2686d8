// The real embedded hub for launcher tests: server/cli.ts bundled with esbuild (as
// scripts/build.mjs does for dist/node/hub.mjs) into node_modules/.cache, so its external
// packages resolve from the repository's node_modules. Once per test file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const outDir = path.join(repoRoot, 'node_modules', '.cache', 'failsafe-test');
const external = ['better-sqlite3', 'electron', 'pg', 'pg-native', '@electric-sql/pglite', 'fastify', 'zod', 'ws'];
const banner = { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" };

/** Bundles `entry` (a path in the repository) to an .mjs runnable with `node`; returns its path. */
export async function bundle(entry: string, name: string): Promise<string> {
  fs.mkdirSync(outDir, { recursive: true });
  const outfile = path.join(outDir, `${name}-${process.pid}.mjs`);
  await build({ entryPoints: [path.join(repoRoot, entry)], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', external, banner, logLevel: 'error' });
  return outfile;
}

/** `hub embedded` as the launcher runs it. */
export const hubBundle = (): Promise<string> => bundle('server/cli.ts', 'hub');

/** Is process `pid` gone (or a zombie no longer running)? */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\S+\s+\S+\s+Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/\(.*\)/, 'x'));
  } catch {
    return false;
  }
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
