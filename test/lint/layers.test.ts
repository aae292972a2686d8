// The layer import rules really bite: oxlint with the project's .oxlintrc.json, run on probe
// files placed in a scratch copy of the layout, flags every forbidden import and no allowed one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const probes: Record<string, { code: string; forbidden: boolean }> = {
  'common/a.ts': { code: "import fs from 'node:fs';\nexport const a = fs;\n", forbidden: true },
  'common/b.ts': { code: "import { x } from '../main/x.ts';\nexport const b = x;\n", forbidden: true },
  'common/c.ts': { code: "import { z } from 'zod';\nexport const c = z;\n", forbidden: false },
  'main/a.ts': { code: "import { app } from 'electron';\nexport const a = app;\n", forbidden: true },
  'main/b.ts': { code: "import { V } from '../renderer/v.ts';\nexport const b = V;\n", forbidden: true },
  'main/c.ts': { code: "import fs from 'node:fs';\nimport { c } from '../common/c.ts';\nexport const d = [fs, c];\n", forbidden: false },
  'main/electron/a.ts': { code: "import { app } from 'electron';\nexport const a = app;\n", forbidden: false },
  'renderer/a.ts': { code: "import cs from 'cornerstone-core';\nexport const a = cs;\n", forbidden: true },
  'renderer/b.ts': { code: "import fs from 'node:fs';\nexport const b = fs;\n", forbidden: true },
  'renderer/c.ts': { code: "import { s } from '../main/services.ts';\nexport const c = s;\n", forbidden: true },
  'renderer/viewer/a.ts': { code: "import cs from 'cornerstone-core';\nexport const a = cs;\n", forbidden: false },
  'preload/a.ts': { code: "import { z } from 'zod';\nexport const a = z;\n", forbidden: true },
  'preload/b.ts': { code: "import { CHANNELS } from '../common/channels.ts';\nexport const b = CHANNELS;\n", forbidden: false },
  'server/a.ts': { code: "import { x } from '../main/x.ts';\nexport const a = x;\n", forbidden: true },
  'server/b.ts': { code: "import Fastify from 'fastify';\nexport const b = Fastify;\n", forbidden: false },
  'server/c.ts': { code: "import { useState } from 'react';\nexport const c = useState;\n", forbidden: true },
  // The hub's page (a browser bundle): React and the pure signed-report components, never Node, the hub's code or the workstation's bridge.
  'server/web/page/a.ts': { code: "import { useState } from 'react';\nimport { ReportContentView } from '../../../renderer/report/ReportContentView.tsx';\nexport const a = [useState, ReportContentView];\n", forbidden: false },
  'server/web/page/b.ts': { code: "import fs from 'node:fs';\nexport const b = fs;\n", forbidden: true },
  'server/web/page/c.ts': { code: "import { createClient } from '../../../renderer/api.ts';\nexport const c = createClient;\n", forbidden: true },
  'server/web/page/d.ts': { code: "import { listAlerts } from '../../alerts.ts';\nexport const d = listAlerts;\n", forbidden: true },
};

let output = '';
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-lint-'));
  fs.copyFileSync(path.join(repoRoot, '.oxlintrc.json'), path.join(dir, '.oxlintrc.json'));
  for (const [file, { code }] of Object.entries(probes)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), code);
  }
  const bin = path.join(repoRoot, 'node_modules', 'oxlint', 'bin', 'oxlint');
  const r = spawnSync(process.execPath, [bin, '-c', '.oxlintrc.json', '--format', 'unix', ...Object.keys(probes)], { cwd: dir, encoding: 'utf8' });
  output = r.stdout + r.stderr;
});

describe('layer import rules', () => {
  it.each(Object.entries(probes))('%s', (file, { forbidden }) => {
    const flagged = output.split('\n').some((l) => l.startsWith(`${file}:`) && l.includes('no-restricted-imports'));
    expect(flagged, output).toBe(forbidden);
  });
});
