// Process-level guards (issue 8 line 7): an error that escapes every handler is logged (name and
// message only, once a minute per error) and the process goes on.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { containEscapedErrors, type GuardEvent } from '../../common/processGuards.ts';

describe('containEscapedErrors', () => {
  it('logs an escaped error or rejection once a minute, by name and message only', () => {
    const handlers = new Map<GuardEvent, (e: unknown) => void>();
    const lines: string[] = [];
    let t = 0;
    containEscapedErrors('Failsafe', (ev, h) => handlers.set(ev, h), (l) => lines.push(l), () => t);
    const err = Object.assign(new Error('read EIO'), { body: 'PATIENT NAME in a body' });
    handlers.get('uncaughtException')!(err);
    handlers.get('uncaughtException')!(err);
    handlers.get('unhandledRejection')!('a plain reason');
    expect(lines).toEqual([
      'Failsafe: an unexpected error caught and contained (Error: read EIO); still running.',
      'Failsafe: an unhandled rejection caught and contained (Error: a plain reason); still running.',
    ]);
    t += 60_001;
    handlers.get('uncaughtException')!(err);
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).not.toContain('PATIENT');
  });

  it('a process with the guards outlives a stream error nobody listened for and an unawaited rejection', () => {
    // The module as the bundles ship it (Node 20 runs no TypeScript).
    const guards = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-guards-')), 'processGuards.mjs');
    fs.writeFileSync(guards, transformSync(fs.readFileSync(path.resolve(import.meta.dirname, '../../common/processGuards.ts'), 'utf8'), { loader: 'ts', format: 'esm' }).code);
    const script = `
      const { containEscapedErrors } = await import(${JSON.stringify(guards)});
      const { Readable } = await import('node:stream');
      containEscapedErrors('T', (ev, h) => process.on(ev, h), (l) => console.log(l), Date.now);
      const s = new Readable({ read() { this.destroy(new Error('EMFILE: too many open files')); } });
      s.resume();
      Promise.reject(new Error('nobody awaited this'));
      setTimeout(() => console.log('still alive'), 100);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stdout).toContain('T: an unexpected error caught and contained (Error: EMFILE: too many open files); still running.');
    expect(r.stdout).toContain('T: an unhandled rejection caught and contained (Error: nobody awaited this); still running.');
    expect(r.stdout).toContain('still alive');
    expect(r.status).toBe(0);
  });
});
