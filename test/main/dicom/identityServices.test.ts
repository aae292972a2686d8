// Patient identity through the contract handlers (main/services.ts, what the renderer calls):
// library:list and study:priors as the screens get them, and the report binding. Two people
// share a Patient ID: each keeps their name on every list, neither's study is offered as the
// other's prior, and a report written on one's study binds that person, whatever is indexed later
// (a file of the study naming the other is refused, a save naming the other's study is refused).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError, type Handlers } from '../../../common/contract.ts';
import type { StudyRef } from '../../../common/report.ts';
import type { Services } from '../../../main/services.ts';
import { RADIOLOGIST, signableContent } from '../reports/fixtures.ts';
import { image, type El } from './synth.ts';
import { callHandler, testServices, type HandlerOutput } from '../../support/callHandler.ts';

let services: Services;
let dataDir: string;
/** Where the test's image folders are: beside the data folder (the indexer never reads inside it). */
let imagesDir: string;

/** Calls a handler as the bridge does (test/support/callHandler.ts). */
const call = <C extends keyof Handlers>(channel: C, input: unknown): Promise<HandlerOutput<C>> => callHandler(services, channel, input);

const person = (name: string, birth: string, date: string): El[] => [
  { tag: 0x00100010, vr: 'PN', value: name },
  { tag: 0x00100030, vr: 'DA', value: birth },
  { tag: 0x00080020, vr: 'DA', value: date },
];
const ANN: StudyRef = { patientId: 'SHARED-7', studyUid: '70.1' };
const BOB: StudyRef = { patientId: 'SHARED-7', studyUid: '70.2' };

/** Writes one synthetic file into a new folder and indexes it through library:openFolder. */
async function openFolder(name: string, o: Parameters<typeof image>[0]): Promise<Awaited<ReturnType<Handlers['library:openFolder']>>> {
  const dir = path.join(imagesDir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'img.dcm'), image(o));
  return call('library:openFolder', { path: dir });
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-identity-services-'));
  imagesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-identity-images-'));
  services = await testServices(dataDir);
  // Ann's study is earlier; Bob's, under the same Patient ID, indexed after it.
  await openFolder('ann', { sop: '70.1.1', study: '70.1', series: '70.1.9', patientId: ANN.patientId, elements: person('Able^Ann', '19500101', '20230101') });
  await openFolder('bob', { sop: '70.2.1', study: '70.2', series: '70.2.9', patientId: BOB.patientId, elements: person('Baker^Bob', '19600202', '20240101') });
}, 60_000);

afterAll(async () => {
  await services.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(imagesDir, { recursive: true, force: true });
});

describe('two people under one Patient ID, through the contract', () => {
  it('library:list shows two patients, each with their own name and the conflict flag', async () => {
    const shared = (await call('library:list', {})).filter((p) => p.patientId === 'SHARED-7');
    expect(shared.map((p) => [p.patientName, p.studies.map((s) => s.studyUid)]).sort()).toEqual([
      ['Able^Ann', ['70.1']],
      ['Baker^Bob', ['70.2']],
    ]);
    expect(new Set(shared.map((p) => p.identityKey)).size).toBe(2);
    for (const p of shared) {
      expect(p.identityConflict).toMatch(/^Identity conflict: Patient ID "SHARED-7"/);
      expect(p.studies[0]!.identityConflict).toBe(p.identityConflict);
    }
  });

  it("study:priors never offers the other person's earlier study", async () => {
    expect(await call('study:priors', BOB)).toEqual([]);
    expect(await call('study:priors', ANN)).toEqual([]);
  });

  it("a report on Ann's study binds Ann, and stays hers when a file of her study naming Bob arrives", async () => {
    await call('profile:set', RADIOLOGIST);
    const report = await call('reports:open', { study: ANN });
    expect(report.exam).toMatchObject({ patientName: 'Able^Ann', birthDate: '19500101' });
    const saved = await call('reports:save', { reportId: report.id, study: ANN, content: signableContent(), baseRevision: report.revision });
    // Saving Ann's report as Bob's study (same Patient ID) is refused: a report never moves to the other person.
    await expect(call('reports:save', { reportId: report.id, study: BOB, content: signableContent(), baseRevision: saved.revision })).rejects.toMatchObject({ code: 'wrong-study' });
    const r = await openFolder('intruder', { sop: '70.1.2', study: '70.1', series: '70.1.9', patientId: ANN.patientId, elements: person('Baker^Bob', '19600202', '20230101') });
    expect(r.indexed).toBe(0);
    expect(r.errors[0]!.reason).toMatch(/Study Instance UID 70\.1 is already in the library for patient "Able\^Ann".*this file names "Baker\^Bob"/);
    expect((await call('library:errors', {})).some((e) => e.reason === r.errors[0]!.reason)).toBe(true);
    const signed = await call('reports:sign', { reportId: report.id, study: ANN, revision: saved.revision });
    expect(signed.exam).toMatchObject({ patientName: 'Able^Ann', birthDate: '19500101' });
    // Bob's study gets a report of its own, naming Bob.
    const bobs = await call('reports:open', { study: BOB });
    expect(bobs.id).not.toBe(report.id);
    expect(bobs.exam).toMatchObject({ patientName: 'Baker^Bob' });
  });

  it('a study ref with another Patient ID is refused (wrong-study), as before', async () => {
    const e = await call('study:priors', { patientId: 'SOMEONE-ELSE', studyUid: ANN.studyUid }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ContractError);
    expect((e as ContractError).code).toBe('wrong-study');
  });

  it("after Ann's images leave the library, her report keeps the study hers: a file of it naming Bob is refused, hers comes back", async () => {
    fs.rmSync(path.join(imagesDir, 'ann', 'img.dcm'));
    await call('library:openFolder', { path: path.join(imagesDir, 'ann') });
    expect(services.index.study(ANN.studyUid)).toBeNull();
    const r = await openFolder('intruder-later', { sop: '70.1.3', study: '70.1', series: '70.1.9', patientId: ANN.patientId, elements: person('Baker^Bob', '19600202', '20230101') });
    expect(r.indexed).toBe(0);
    expect(r.errors[0]!.reason).toMatch(/Study Instance UID 70\.1 was indexed, and a report of it is on this workstation, for patient "Able\^Ann".*this file names "Baker\^Bob" \(ID SHARED-7, born 19600202\): not indexed/);
    expect(services.index.study(ANN.studyUid)).toBeNull();
    const back = await openFolder('ann-again', { sop: '70.1.1', study: '70.1', series: '70.1.9', patientId: ANN.patientId, elements: person('Able^Ann', '19500101', '20230101') });
    expect(back.errors).toEqual([]);
    expect(services.index.exam(ANN.studyUid)).toMatchObject({ patientName: 'Able^Ann' });
  });
});
