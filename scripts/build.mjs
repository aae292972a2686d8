// Builds everything `npm start` needs: the renderer (Vite) and the Node/Electron bundles (esbuild).
// Native and large runtime packages stay external and load from node_modules.
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const external = ['better-sqlite3', 'electron', 'pg', 'pg-native', '@electric-sql/pglite', 'fastify', 'zod', 'ws'];
const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning', absWorkingDir: root, external };

const started = Date.now();
await Promise.all([
  esbuild({ ...common, entryPoints: ['main/start.ts'], outfile: 'dist/node/start.mjs', format: 'esm',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } }),
  esbuild({ ...common, entryPoints: ['server/cli.ts'], outfile: 'dist/node/hub.mjs', format: 'esm',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" } }),
  esbuild({ ...common, entryPoints: ['main/electron/main.ts'], outfile: 'dist/electron/main.cjs', format: 'cjs' }),
  // Sandboxed preloads cannot require anything but electron: bundle the channel list in.
  esbuild({ ...common, entryPoints: ['preload/preload.ts'], outfile: 'dist/electron/preload.cjs', format: 'cjs', external: ['electron'] }),
  viteBuild({ configFile: path.join(root, 'vite.config.ts'), logLevel: 'warn' }),
]);
console.log(`build: ok in ${Date.now() - started} ms`);
