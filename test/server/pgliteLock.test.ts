// One process per PGlite folder: a second opener (a CLI command while the hub serves, two embedded
// hubs on one data folder) is refused in words instead of corrupting the hub's database; a lock a
// crashed process left behind is taken over.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderInUseError, openPglite } from '../../server/db/pglite.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-pglite-lock-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the PGlite folder lock', () => {
  it('refuses a second opener while the first holds it, lets it in once the first closed, and takes over a crashed holder\'s lock', async () => {
    const dir = path.join(tmp, 'hub');
    fs.mkdirSync(dir);
    const first = await openPglite({ dataDir: dir });
    await first.query('CREATE TABLE kept (n int)');
    await first.query('INSERT INTO kept VALUES (1)');
    await expect(openPglite({ dataDir: dir })).rejects.toThrow(FolderInUseError);
    await expect(openPglite({ dataDir: dir })).rejects.toThrow(new RegExp(`in use by process ${process.pid} .*Stop that hub first`));
    // A process on this machine that holds it: refused too.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    await first.close();
    fs.writeFileSync(path.join(dir, 'failsafe-hub.lock'), String(other.pid));
    await expect(openPglite({ dataDir: dir })).rejects.toThrow(`in use by process ${other.pid}`);
    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    // Its process is gone (a crash): the lock is taken over, and the data is there.
    const again = await openPglite({ dataDir: dir });
    expect((await again.query<{ n: number }>('SELECT n FROM kept')).rows).toEqual([{ n: 1 }]);
    await again.close();
    expect(fs.existsSync(path.join(dir, 'failsafe-hub.lock'))).toBe(false);
  }, 60_000);
});
