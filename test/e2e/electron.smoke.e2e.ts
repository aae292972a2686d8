// Electron smoke test: launches the real desktop app with Playwright's _electron where the
// Electron binary exists. Where it does not (no internet when node_modules was installed), the
// test reports itself skipped and prints why.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { _electron } from 'playwright-core';
import { findElectron } from '../../main/electronBinary.ts';
import { repoRoot } from './harness.ts';

const electron = findElectron(repoRoot);
const reason = 'missing' in electron ? `Electron binary not available: ${electron.missing}` : null;
if (reason) console.log(`electron smoke test SKIPPED: ${reason}`);

describe.skipIf(reason !== null)('Electron desktop app (smoke)', () => {
  it('opens a sandboxed, context-isolated window whose contract works', async () => {
    const bin = (electron as { binary: string }).binary;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-electron-'));
    const app = await _electron.launch({ executablePath: bin, args: [path.join(repoRoot, 'dist', 'electron', 'main.cjs'), `--data-dir=${dataDir}`, '--no-sandbox'] });
    try {
      const win = await app.firstWindow();
      expect(win.url()).toMatch(/^app:\/\/failsafe\//);
      const probe = await win.evaluate(async () => {
        const w = window as unknown as { failsafe: Record<string, (i: unknown) => Promise<{ ok: boolean; value: { mode: string } }>>; require?: unknown; process?: unknown };
        const info = await w.failsafe['app:info']!({});
        return { mode: info.ok ? info.value.mode : 'error', hasRequire: typeof w.require, hasProcess: typeof w.process };
      });
      expect(probe).toEqual({ mode: 'electron', hasRequire: 'undefined', hasProcess: 'undefined' });
      // Navigation away from the app is cancelled.
      await win.evaluate(() => {
        window.location.href = 'https://example.org/';
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(win.url()).toMatch(/^app:\/\/failsafe\//);
    } finally {
      await app.close();
    }
  });
});
