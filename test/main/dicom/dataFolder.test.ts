// The workstation's data folder is never read as images (issue 8 finding 1). Opening one of the
// database's files in this process, even only to read a header, and closing it drops SQLite's
// POSIX locks on it; the next connection could then delete the live WAL, and a crash lose a
// signed report. Tried the ways a user would: "Open folder" on the data folder, on the folder
// holding it (a home folder), on a folder with a link to the database or to the data folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError, type Handlers } from '../../../common/contract.ts';
import type { Services } from '../../../main/services.ts';
import { RADIOLOGIST, signableContent } from '../reports/fixtures.ts';
import { image } from './synth.ts';
import { callHandler, testServices, type HandlerOutput } from '../../support/callHandler.ts';

let root: string;
let dataDir: string;
let services: Services;

/** Calls a handler as the bridge does (test/support/callHandler.ts). */
const call = <C extends keyof Handlers>(channel: C, input: unknown): Promise<HandlerOutput<C>> => callHandler(services, channel, input);

const open = (): Promise<Services> =>
  testServices(dataDir);

beforeAll(async () => {
  // A home folder: the data folder and the images side by side.
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-home-'));
  dataDir = path.join(root, 'failsafe-data');
  const images = path.join(root, 'images');
  fs.mkdirSync(images, { recursive: true });
  fs.writeFileSync(path.join(images, 'ct.dcm'), image({ sop: '81.1.1', study: '81.1', series: '81.1.9', patientId: 'HOME-1' }));
  // Links a user (or an attacker) could leave among the images.
  fs.symlinkSync(path.join(dataDir, 'failsafe.sqlite'), path.join(images, 'db-link.dcm'));
  fs.symlinkSync(dataDir, path.join(images, 'data-link'));
  services = await open();
}, 60_000);

afterAll(async () => {
  await services.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the data folder is never read as images', () => {
  it('"Open folder" on the data folder, or a folder inside it, is refused in words and reads nothing', async () => {
    for (const target of [dataDir, path.join(dataDir, 'uploads')]) {
      fs.mkdirSync(target, { recursive: true });
      const err = await call('library:openFolder', { path: target }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ContractError);
      expect((err as ContractError).message).toMatch(/Failsafe's own data folder/);
    }
    expect(await call('library:errors', {})).toEqual([]);
  });

  it('a signed report, then the folder holding the data folder opened: the images are indexed, the data folder and the links into it are listed as not read, no database file was parsed, and the report is there after a restart', async () => {
    services.handlers['profile:set'](RADIOLOGIST);
    const study = { patientId: 'HOME-1', studyUid: '81.1' };
    const home = await call('library:openFolder', { path: path.join(root, 'images') });
    expect(home.indexed).toBe(1);
    const r = await call('reports:open', { study });
    const saved = await call('reports:save', { reportId: r.id, study, content: signableContent(), baseRevision: r.revision });
    const signed = await call('reports:sign', { reportId: r.id, study, revision: saved.revision });
    expect(signed.state).toBe('final');

    const result = await call('library:openFolder', { path: root });
    expect(result.indexed).toBe(1);
    const notRead = result.errors.filter((e) => /Failsafe's own data folder/.test(e.reason)).map((e) => e.path).sort();
    expect(notRead).toEqual([dataDir, path.join(root, 'images', 'data-link'), path.join(root, 'images', 'db-link.dcm')].sort());
    // Nothing under the data folder was read as a (failed) DICOM file.
    expect(result.errors.filter((e) => e.path.startsWith(dataDir) && !/Failsafe's own data folder/.test(e.reason))).toEqual([]);

    await services.close();
    services = await open();
    const again = await call('reports:get', { reportId: r.id });
    expect(again.state).toBe('final');
    expect(again.signatures.map((s) => s.contentHash)).toEqual(signed.signatures.map((s) => s.contentHash));
  });
});
