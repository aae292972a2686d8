// `npm test`: everything, in order: typecheck (per layer), lint (layer rules), build, unit and
// integration tests (vitest), end-to-end tests in Chromium against browser mode, and the
// Electron smoke test (which says why when it cannot run). Ends with one "N passed, N failed" line.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureChromium } from './chromium.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const reportDir = path.join(root, 'node_modules', '.cache', 'failsafe-test');
fs.mkdirSync(reportDir, { recursive: true });
const totals = { passed: 0, failed: 0, skipped: 0 };
let ok = true;

function step(name, cmd, args, env = {}) {
  const started = Date.now();
  console.log(`\n=== ${name} ===`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const good = r.status === 0;
  console.log(`=== ${name}: ${good ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!good) ok = false;
  return good;
}

function vitest(name, config, outFile, env = {}) {
  const json = path.join(reportDir, outFile);
  fs.rmSync(json, { force: true });
  const args = [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${json}`];
  if (config) args.push('--config', config);
  step(name, process.execPath, args, env);
  if (fs.existsSync(json)) {
    const r = JSON.parse(fs.readFileSync(json, 'utf8'));
    totals.passed += r.numPassedTests;
    totals.failed += r.numFailedTests;
    totals.skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  } else {
    totals.failed += 1;
  }
}

const node = process.execPath;
step('typecheck', node, ['scripts/typecheck.mjs']);
step('lint', node, [path.join(root, 'node_modules', 'oxlint', 'bin', 'oxlint'), '-c', '.oxlintrc.json', '--deny-warnings', 'common', 'main', 'preload', 'renderer', 'server', 'test', 'bench', 'scripts']);
const built = step('build', node, ['scripts/build.mjs']);
vitest('unit and integration tests', null, 'unit.json');
if (built) {
  let chromium;
  try {
    chromium = ensureChromium();
  } catch (err) {
    console.error(String(err));
    ok = false;
  }
  vitest('end-to-end tests (Chromium, browser mode)', 'vitest.e2e.config.ts', 'e2e.json', chromium ? { CHROMIUM_PATH: chromium } : {});
} else {
  totals.failed += 1;
}
if (totals.failed > 0) ok = false;
console.log(`\nfailsafe: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(ok ? 0 : 1);
