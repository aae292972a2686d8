// Builds everything `npm start` needs: the renderer and the hub's page (Vite) and the Node/Electron bundles (esbuild).
// Native and large runtime packages stay external and load from node_modules.
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const external = ['better-sqlite3', 'electron', 'pg', 'pg-native', '@electric-sql/pglite', 'fastify', 'zod', 'ws'];
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning', absWorkingDir: root, external };

const esm = { format: 'esm', banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } };

const started = Date.now();
// The launcher loads the services, database and bridge as a chunk of their own (dynamic import)
// so it can start the embedded hub child before it loads them.
// The hub's entry (server/cli.ts) likewise starts opening the embedded hub's database before it
// loads the rest of the hub.
const split = { ...common, ...esm, splitting: true, chunkNames: 'chunks/[name]-[hash]', outExtension: { '.js': '.mjs' } };
for (const dir of ['node', 'electron']) fs.rmSync(path.join(root, 'dist', dir, 'chunks'), { recursive: true, force: true });
await Promise.all([
  esbuild({ ...split, entryPoints: { start: 'main/start.ts', hub: 'server/cli.ts' }, outdir: 'dist/node' }),
  // The desktop app runs the same embedded hub as an Electron utility process (packaged with
  // dist/electron/**; the runAsNode fuse is off, so it cannot be a plain Node child there).
  esbuild({ ...split, entryPoints: { hub: 'server/cli.ts' }, outdir: 'dist/electron' }),
  esbuild({ ...common, entryPoints: ['main/electron/main.ts'], outfile: 'dist/electron/main.cjs', format: 'cjs' }),
  // Sandboxed preloads cannot require anything but electron: bundle the channel list in.
  esbuild({ ...common, entryPoints: ['preload/preload.ts'], outfile: 'dist/electron/preload.cjs', format: 'cjs', external: ['electron'] }),
  viteBuild({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' }),
  // The hub's own web page (referrer alerts, safety dashboard): a bundle of its own, served by the hub.
  viteBuild({ configFile: path.join(root, 'vite.hub.config.ts'), logLevel: 'warn' }),
]);
console.log(`build: ok in ${Date.now() - started} ms`);
