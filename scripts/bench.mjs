// `npm run bench`: bundles each bench/*.bench.ts with esbuild, runs it in its own Node process,
// and writes the results with the machine's description to docs/benchmarks.md.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);
const outDir = path.join(root, 'node_modules', '.cache', 'failsafe-bench');
fs.mkdirSync(outDir, { recursive: true });
const files = fs.readdirSync(path.join(root, 'bench')).filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o))).sort();

const results = [];
for (const f of files) {
  const out = path.join(outDir, f.replace(/\.ts$/, '.mjs'));
  await build({ entryPoints: [path.join(root, 'bench', f)], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    external: ['better-sqlite3', 'pg', '@electric-sql/pglite', 'fastify', 'playwright-core', 'esbuild', 'vite', 'zod'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }, logLevel: 'warning' });
  const runner = path.join(outDir, 'run-one.mjs');
  fs.writeFileSync(runner, `const m = await import(process.argv[2]); const r = await m.default(); console.log('BENCH_RESULT ' + JSON.stringify(r)); process.exit(0);\n`);
  console.log(`bench: ${f} …`);
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--expose-gc', runner, out], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (r.status !== 0 || !line) {
    console.error(r.stdout);
    results.push({ name: f, rows: [], notes: `FAILED (exit ${r.status})` });
    continue;
  }
  const result = JSON.parse(line.slice('BENCH_RESULT '.length));
  result.seconds = Math.round((Date.now() - started) / 100) / 10;
  results.push(result);
  for (const row of result.rows) console.log(`  ${row.metric}: ${row.value} ${row.unit}${row.target ? ` (target ${row.target})` : ''}`);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const machine = `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 2 : 1)) : String(v));
let md = `# Benchmarks\n\nWritten by \`npm run bench\` (scripts/bench.mjs) on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC.\n\nMachine: ${machine}.\n\n`;
const docPath = path.join(root, 'docs', 'benchmarks.md');
for (const r of results) {
  md += `## ${r.name}\n\n`;
  if (r.notes) md += `${r.notes}\n\n`;
  if (r.rows.length) {
    md += `| metric | value | unit | target |\n|---|---|---|---|\n`;
    for (const row of r.rows) md += `| ${row.metric} | ${fmt(row.value)} | ${row.unit} | ${row.target ?? ''} |\n`;
    md += `\n`;
  }
  if (r.seconds) md += `(${r.seconds} s)\n\n`;
}
if (only.length > 0 && fs.existsSync(docPath)) {
  // A partial run replaces only its own benchmarks' sections (each "## " section names its file)
  // and says when and on what machine each was run; the others keep theirs.
  let doc = fs.readFileSync(docPath, 'utf8');
  for (const r of results) {
    const section = md.slice(md.indexOf(`## ${r.name}\n`)).split(/\n(?=## )/)[0].trimEnd() +
      `\n\n(this section: partial run \`npm run bench -- ${only.join(' ')}\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine})\n`;
    const parts = doc.split(/\n(?=## )/);
    const at = parts.findIndex((x) => x.startsWith(`## ${r.name}\n`));
    if (at >= 0) parts[at] = section.trimEnd() + '\n';
    else parts.push(section.trimEnd() + '\n');
    doc = parts.join('\n');
  }
  fs.writeFileSync(docPath, doc);
  console.log(`bench: partial run; its sections of ${path.relative(root, docPath)} replaced. Results:\n` + md);
} else {
  fs.mkdirSync(path.dirname(docPath), { recursive: true });
  fs.writeFileSync(docPath, md);
  console.log(`bench: wrote ${path.relative(root, docPath)}`);
}
process.exit(results.some((r) => r.notes?.startsWith('FAILED')) ? 1 : 0);
