// Issue 9 line 2, the commands a hospital's IT team runs: `npm run hub -- directory import FILE.csv`,
// `user add --team`, `user email`, `directory duty`, `directory show`; a bad file changes nothing
// and says which line is at fault. Run in-process against a PostgreSQL schema of its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { failure, main } from '../../server/cliMain.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { PG_URL, testDb, type TestDb } from './support.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-dircli-'));

describe('hub directory commands', () => {
  let d: TestDb & { db: HubDb };
  const saved = { ...process.env };

  /** Runs one command; its output lines and exit code (a thrown error as the entry reports it). */
  async function hub(...argv: string[]): Promise<{ code: number; out: string }> {
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
    try {
      return { code: await main(argv), out: lines.join('\n') };
    } catch (e) {
      const f = failure(e);
      return { code: f.code, out: [...lines, f.message].join('\n') };
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
  }

  beforeAll(async () => {
    d = await testDb('postgres', 'dircli');
    process.env['DATABASE_URL'] = PG_URL;
    process.env['FAILSAFE_HUB_DB_SCHEMA'] = d.schema!;
  }, 60_000);
  afterAll(async () => {
    process.env = saved;
    await d.cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('imports a directory, adds people to teams and duties, and shows it', async () => {
    const add = (u: string, role: string, ...more: string[]) =>
      hub('user', 'add', '--username', u, '--name', `Dr ${u}`, '--role', role, '--registration', `GMC ${u}`, '--password', 'a long enough password', ...more);
    expect((await add('edcons', 'referrer')).code).toBe(0);
    expect((await add('edreg', 'referrer', '--team', 'ED', '--email', 'edreg@example.nhs.uk')).out).toMatch(/created, on team ED/);
    expect((await add('duty1', 'radiologist')).code).toBe(0);
    const file = path.join(tmp, 'directory.csv');
    fs.writeFileSync(file, '\uFEFFteam,team name,referring physician,requesting service,consultant,members\r\nED,Emergency Department,SMITH^JANE^^DR,Emergency Department,edcons,edreg\r\n');
    const imported = await hub('directory', 'import', file);
    expect(imported).toEqual({ code: 0, out: 'hub: directory imported: 2 requester mappings to 1 team, 1 membership' });
    expect((await hub('directory', 'duty', 'duty-radiologist', '--username', 'duty1')).code).toBe(0);
    const shown = (await hub('directory', 'show')).out;
    expect(shown).toContain('team ED (Emergency Department); consultant: edcons; members: edreg');
    expect(shown).toContain('referring physician "SMITH^JANE^^DR"');
    expect(shown).toContain('duty duty-radiologist: duty1');
    expect(shown).toContain('duty cancer-pathway-lead: NOBODY');
    const { rows } = await d.db.query<{ email: string }>(`SELECT email FROM users WHERE username = 'edreg'`);
    expect(rows[0]!.email).toBe('edreg@example.nhs.uk');
  });

  it('a bad file, an unknown duty or account: refused in words, exit 2, nothing changed', async () => {
    const before = await d.db.query('SELECT kind, key, team_id FROM directory_requesters ORDER BY 1, 2');
    const bad = path.join(tmp, 'bad.csv');
    fs.writeFileSync(bad, 'team,team name,referring physician,requesting service,consultant,members\nED,,NEW^PERSON,,,ghost\n');
    expect(await hub('directory', 'import', bad)).toEqual({ code: 2, out: 'hub: Line 2: no hub account "ghost": add it first (npm run hub -- user add …).' });
    fs.writeFileSync(bad, 'team,team name,referring physician\nED,x,"unterminated\n');
    expect((await hub('directory', 'import', bad)).code).toBe(2);
    expect((await hub('directory', 'import', path.join(tmp, 'missing.csv'))).out).toMatch(/cannot read the directory file/);
    expect((await hub('directory', 'duty', 'tea-maker', '--username', 'duty1')).out).toMatch(/"tea-maker" is not a site duty/);
    expect((await hub('user', 'email', '--username', 'edreg', '--email', 'not an address')).out).toMatch(/is not an e-mail address/);
    expect((await d.db.query('SELECT kind, key, team_id FROM directory_requesters ORDER BY 1, 2')).rows).toEqual(before.rows);
  });
});
