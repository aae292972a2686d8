// The data folder is owner only (issue 8 finding 4): another account on a shared PC read patient
// data from a 0755 folder with 0644 database files and 0666 embedded-hub files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makePrivate } from '../../main/privateFolder.ts';
import { DataFolderError } from '../../main/services.ts';
import { testServices } from '../support/callHandler.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-private-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Every file and folder under `dir` (links not followed) with its permission bits. */
function modes(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) return;
    out.set(path.relative(dir, p) || '.', st.mode & 0o777);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(p, n));
  };
  walk(dir);
  return out;
}

describe.skipIf(process.platform === 'win32')('private data folder', () => {
  it('repairs a folder an older version left open: folders 0700, files 0600; links and their targets untouched', () => {
    const dir = path.join(tmp, 'old');
    fs.mkdirSync(path.join(dir, 'hub', 'base'), { recursive: true });
    fs.chmodSync(dir, 0o755);
    fs.chmodSync(path.join(dir, 'hub'), 0o777);
    fs.writeFileSync(path.join(dir, 'failsafe.sqlite'), 'x', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'hub', 'base', 'pg_control'), 'x', { mode: 0o666 });
    const outside = path.join(tmp, 'outside.txt');
    fs.writeFileSync(outside, 'not ours', { mode: 0o644 });
    fs.symlinkSync(outside, path.join(dir, 'link'));
    const repaired = makePrivate(dir);
    expect(repaired.map((p) => path.relative(dir, p) || '.').sort()).toEqual(['.', 'failsafe.sqlite', 'hub', 'hub/base', 'hub/base/pg_control']);
    expect(Object.fromEntries(modes(dir))).toEqual({ '.': 0o700, hub: 0o700, 'hub/base': 0o700, 'failsafe.sqlite': 0o600, 'hub/base/pg_control': 0o600 });
    expect(fs.statSync(outside).mode & 0o777).toBe(0o644);
    // Nothing to repair the second time.
    expect(makePrivate(dir)).toEqual([]);
  });

  it('the workstation starts with its folder and every file it creates owner only (database, WAL, uploads)', async () => {
    const dataDir = path.join(tmp, 'fresh');
    const services = await testServices(dataDir);
    try {
      // An upload is written into the data folder (refused as DICOM, but stored first).
      await Promise.resolve(services.handlers['library:importFiles']({ files: [{ name: 'x.dcm', dataBase64: Buffer.from('not dicom').toString('base64') }] })).catch(() => undefined);
      const open = [...modes(dataDir)].filter(([, m]) => (m & 0o077) !== 0);
      expect(open).toEqual([]);
      expect(modes(dataDir).get('failsafe.sqlite')).toBe(0o600);
    } finally {
      await services.close();
    }
  });
});

describe('a data folder that cannot be used', () => {
  it('is refused in words with its path and the next step, and nothing is created or changed (issue 8 line 3)', async () => {
    const notAFolder = path.join(tmp, 'a-file-not-a-folder');
    fs.writeFileSync(notAFolder, 'keep me');
    await expect(testServices(notAFolder)).rejects.toThrow(DataFolderError);
    await expect(testServices(path.join(notAFolder, 'inside'))).rejects.toThrow(/data folder .*inside cannot be used \(ENOTDIR: .*Nothing was changed\. Next step: check that this account owns the folder/);
    expect(fs.readFileSync(notAFolder, 'utf8')).toBe('keep me');
  });
});
