// Issue 7, finding 1 and acceptance line 1: one patient identity. A patient is Issuer of Patient ID
// (0010,0021) + Patient ID + Patient's Name + Birth Date as DICOM gives them. A study whose
// identity conflicts with an indexed one (same issuer and ID, another name or birth date) is kept
// as a separate patient, never merged or renamed, and both are flagged "identity conflict"; a file
// of an indexed study that names another patient is refused with a reason; priors are the same
// identity and strictly earlier. Real files from ../shared/dicom (the InVesalius pair, Doe^Peter's
// studies of one day), some edited byte for byte, and synthetic files for what the corpus lacks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { PatientSummary } from '../../../common/contract.ts';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { DicomIndexService } from '../../../main/dicom/DicomIndexService.ts';
import { corpus, readManifest } from './corpus.ts';
import { image, type El } from './synth.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-identity-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const manifest = readManifest();
const NAME = 0x00100010;
const ISSUER = 0x00100021;
const BIRTH = 0x00100030;
const STUDY_DATE = 0x00080020;
const STUDY_TIME = 0x00080030;

interface Who {
  name: string;
  birth?: string;
  issuer?: string;
  date?: string;
  time?: string;
}
const who = (w: Who): El[] => [
  { tag: NAME, vr: 'PN', value: w.name },
  ...(w.birth === undefined ? [] : [{ tag: BIRTH, vr: 'DA', value: w.birth }]),
  ...(w.issuer === undefined ? [] : [{ tag: ISSUER, vr: 'LO', value: w.issuer }]),
  ...(w.date === undefined ? [] : [{ tag: STUDY_DATE, vr: 'DA', value: w.date }]),
  ...(w.time === undefined ? [] : [{ tag: STUDY_TIME, vr: 'TM', value: w.time }]),
];

let db: Db;
let index: DicomIndexService;
let n = 0;
beforeEach(() => {
  db?.close();
  db = openDatabase(':memory:');
  index = new DicomIndexService(db);
});
afterAll(() => db.close());

/** A synthetic one-image study: `uid` is the study, its series `uid.9`, its instance `uid.<k>`. */
function study(uid: string, patientId: string, w: Who, k = 1): Parameters<typeof image>[0] {
  return { sop: `${uid}.${k}`, study: uid, series: `${uid}.9`, patientId, elements: who(w) };
}

/** Writes each file into its own fresh folder and indexes the folders one at a time, in order. */
async function indexInOrder(files: Parameters<typeof image>[0][]): Promise<string[]> {
  const paths: string[] = [];
  for (const o of files) {
    const dir = path.join(tmp, `s${++n}`);
    fs.mkdirSync(dir);
    const file = path.join(dir, 'img.dcm');
    fs.writeFileSync(file, image(o));
    await index.indexFolder(dir);
    paths.push(file);
  }
  return paths;
}

const patientsWithId = (id: string): PatientSummary[] => index.listPatients().filter((p) => p.patientId === id);
const patientOf = (studyUid: string): PatientSummary => {
  const p = index.listPatients().find((x) => x.studies.some((s) => s.studyUid === studyUid));
  if (!p) throw new Error(`study ${studyUid} is not in the library`);
  return p;
};

describe('same Patient ID, another name or birth date (finding 1)', () => {
  const ann = study('10.1', 'REUSED', { name: 'Able^Ann', birth: '19500101', date: '20240101' });
  const bob = study('10.2', 'REUSED', { name: 'Baker^Bob', birth: '19600202', date: '20240301' });

  for (const [label, order] of [
    ['Ann first', [ann, bob]],
    ['Bob first', [bob, ann]],
  ] as const) {
    it(`keeps two patients, neither renamed, both flagged with what differs (${label})`, async () => {
      await indexInOrder([...order]);
      const both = patientsWithId('REUSED');
      expect(both).toHaveLength(2);
      const a = patientOf('10.1');
      const b = patientOf('10.2');
      expect(a.patientName).toBe('Able^Ann');
      expect(a.birthDate).toBe('19500101');
      expect(b.patientName).toBe('Baker^Bob');
      expect(b.birthDate).toBe('19600202');
      expect(a.studies.map((s) => s.studyUid)).toEqual(['10.1']);
      expect(b.studies.map((s) => s.studyUid)).toEqual(['10.2']);
      // Every screen's source says so: the patient, each of its studies, the single study.
      expect(a.identityConflict).toMatch(/Patient ID "REUSED".*"Baker\^Bob".*born 19600202/);
      expect(b.identityConflict).toMatch(/Patient ID "REUSED".*"Able\^Ann".*born 19500101/);
      expect(a.studies[0]!.identityConflict).toBe(a.identityConflict);
      expect(index.study('10.1')!.patientName).toBe('Able^Ann');
      expect(index.study('10.1')!.identityConflict).toBe(a.identityConflict);
      expect(index.study('10.2')!.patientName).toBe('Baker^Bob');
      // The exam a report binds names each study's own patient.
      expect(index.exam('10.1')).toMatchObject({ patientName: 'Able^Ann', birthDate: '19500101' });
      expect(index.exam('10.2')).toMatchObject({ patientName: 'Baker^Bob', birthDate: '19600202' });
      // The other person's study is never offered as a prior, whichever is the later one.
      expect(index.priors({ patientId: 'REUSED', studyUid: '10.1' })).toEqual([]);
      expect(index.priors({ patientId: 'REUSED', studyUid: '10.2' })).toEqual([]);
    });
  }

  it('same ID and name, another birth date: two patients, flagged, the reason names the birth dates', async () => {
    await indexInOrder([study('11.1', 'P11', { name: 'Same^Name', birth: '19700101', date: '20200101' }), study('11.2', 'P11', { name: 'Same^Name', birth: '19700110', date: '20210101' })]);
    const both = patientsWithId('P11');
    expect(both.map((p) => p.birthDate).sort()).toEqual(['19700101', '19700110']);
    for (const p of both) expect(p.identityConflict).toMatch(/birth date/);
    expect(patientOf('11.1').identityConflict).toMatch(/born 19700110/);
    expect(index.priors({ patientId: 'P11', studyUid: '11.2' })).toEqual([]);
  });

  it('a birth date present in one study and absent in the other is a conflict too (never guessed to be the same)', async () => {
    await indexInOrder([study('11.5', 'P15', { name: 'Some^One', birth: '19700101' }), study('11.6', 'P15', { name: 'Some^One' })]);
    const both = patientsWithId('P15');
    expect(both).toHaveLength(2);
    expect(patientOf('11.5').identityConflict).toMatch(/no birth date/);
  });

  it('only DICOM padding and trailing empty name components are ignored: the same patient, no flag', async () => {
    await indexInOrder([
      study('12.1', 'P12', { name: 'Doe^Jane', birth: '19800101', date: '20200101' }),
      study('12.2', 'P12', { name: 'Doe^Jane^^^', birth: '19800101', date: '20210101' }),
      study('12.3', 'P12', { name: 'Doe^Jane^=', birth: '19800101 ', date: '20220101' }),
    ]);
    const p = patientsWithId('P12');
    expect(p).toHaveLength(1);
    expect(p[0]!.identityConflict).toBeNull();
    expect(p[0]!.studies.map((s) => s.studyUid)).toEqual(['12.3', '12.2', '12.1']);
    // Case is not padding: DOE^JANE is another name as DICOM gives it.
    await indexInOrder([study('12.4', 'P12', { name: 'DOE^JANE', birth: '19800101', date: '20230101' })]);
    expect(patientsWithId('P12')).toHaveLength(2);
    expect(patientOf('12.1').identityConflict).toMatch(/"DOE\^JANE"/);
  });

  it('a third identity under the same ID: every one is flagged and names both others', async () => {
    await indexInOrder([study('13.1', 'P13', { name: 'A^A' }), study('13.2', 'P13', { name: 'B^B' }), study('13.3', 'P13', { name: 'C^C' })]);
    expect(patientsWithId('P13')).toHaveLength(3);
    expect(patientOf('13.1').identityConflict).toMatch(/"B\^B"[\s\S]*"C\^C"/);
    expect(patientOf('13.2').identityConflict).toMatch(/"A\^A"[\s\S]*"C\^C"/);
  });

  it('the flag goes when the conflicting study leaves the library', async () => {
    const [, second] = await indexInOrder([study('14.1', 'P14', { name: 'Keep^Me' }), study('14.2', 'P14', { name: 'Other^Person' })]);
    expect(patientOf('14.1').identityConflict).not.toBeNull();
    fs.rmSync(second!);
    await index.indexFolder(path.dirname(second!));
    expect(patientsWithId('P14')).toHaveLength(1);
    expect(patientOf('14.1').identityConflict).toBeNull();
    expect(patientOf('14.1').patientName).toBe('Keep^Me');
  });
});

describe('the same name and birth date under another Patient ID', () => {
  it('is another patient, not a conflict: no flag, no priors across the two IDs', async () => {
    await indexInOrder([study('15.1', 'ID-A', { name: 'Smith^John', birth: '19450505', date: '20200101' }), study('15.2', 'ID-B', { name: 'Smith^John', birth: '19450505', date: '20210101' })]);
    expect(patientOf('15.1').studies.map((s) => s.studyUid)).toEqual(['15.1']);
    expect(patientOf('15.2').studies.map((s) => s.studyUid)).toEqual(['15.2']);
    expect(patientOf('15.1').identityConflict).toBeNull();
    expect(patientOf('15.2').identityConflict).toBeNull();
    expect(index.priors({ patientId: 'ID-B', studyUid: '15.2' })).toEqual([]);
  });
});

describe('issuer of Patient ID', () => {
  it('the same ID from two issuers: two patients, no conflict (they are different registers)', async () => {
    await indexInOrder([
      study('20.1', '12345', { name: 'North^Nora', issuer: 'HOSP-NORTH', date: '20200101' }),
      study('20.2', '12345', { name: 'South^Sam', issuer: 'HOSP-SOUTH', date: '20210101' }),
    ]);
    const both = patientsWithId('12345');
    expect(both).toHaveLength(2);
    expect(both.map((p) => p.issuer).sort()).toEqual(['HOSP-NORTH', 'HOSP-SOUTH']);
    for (const p of both) expect(p.identityConflict).toBeNull();
    expect(index.priors({ patientId: '12345', studyUid: '20.2' })).toEqual([]);
  });

  it('the same ID and person from two issuers are still two patients: no priors across registers', async () => {
    await indexInOrder([
      study('21.1', '777', { name: 'Same^Person', birth: '19900101', issuer: 'A', date: '20200101' }),
      study('21.2', '777', { name: 'Same^Person', birth: '19900101', issuer: 'B', date: '20210101' }),
      study('21.3', '777', { name: 'Same^Person', birth: '19900101', issuer: 'B', date: '20220101' }),
    ]);
    expect(patientsWithId('777')).toHaveLength(2);
    expect(index.priors({ patientId: '777', studyUid: '21.3' }).map((s) => s.studyUid)).toEqual(['21.2']);
    // A conflict within one issuer names it.
    await indexInOrder([study('21.4', '777', { name: 'Not^Same', birth: '19900101', issuer: 'B' })]);
    expect(patientOf('21.2').identityConflict).toMatch(/issuer "B"/);
    expect(patientOf('21.1').identityConflict).toBeNull();
  });
});

describe('a file naming another patient for a study already indexed', () => {
  it('is refused with a reason in the index errors; the study and its images are unchanged', async () => {
    const dir = path.join(tmp, `same-uid-${++n}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a1.dcm'), image(study('30.1', 'P30', { name: 'Right^Patient', birth: '19500505', date: '20240101' }, 1)));
    fs.writeFileSync(path.join(dir, 'a2.dcm'), image(study('30.1', 'P30', { name: 'Right^Patient', birth: '19500505', date: '20240101' }, 2)));
    await index.indexFolder(dir);
    const before = { study: index.study('30.1'), images: index.seriesImages('30.1.9'), patients: index.listPatients() };
    expect(before.images).toHaveLength(2);
    // Another name, another birth date, another ID, no ID, another issuer: each refused for this study.
    const intruders: [string, string, Who][] = [
      ['name.dcm', 'P30', { name: 'Wrong^Patient', birth: '19500505' }],
      ['birth.dcm', 'P30', { name: 'Right^Patient', birth: '19600606' }],
      ['id.dcm', 'P31', { name: 'Right^Patient', birth: '19500505' }],
      ['noid.dcm', '', { name: 'Right^Patient', birth: '19500505' }],
      ['issuer.dcm', 'P30', { name: 'Right^Patient', birth: '19500505', issuer: 'ELSEWHERE' }],
    ];
    for (const [file, id, w] of intruders) fs.writeFileSync(path.join(dir, file), image({ ...study('30.1', id, w, 10 + intruders.findIndex((x) => x[0] === file)) }));
    const r = await index.indexFolder(dir);
    expect(r.indexed).toBe(2);
    for (const [file] of intruders) {
      const e = r.errors.find((x) => x.path === path.join(dir, file));
      expect(e?.reason, file).toMatch(/Study Instance UID 30\.1 is already in the library for patient "Right\^Patient" \(ID P30, born 19500505\)/);
      expect(e?.reason, file).toMatch(/not indexed/);
      expect(index.errors().some((x) => x.path === path.join(dir, file))).toBe(true);
    }
    expect(r.errors.find((x) => x.path.endsWith('name.dcm'))!.reason).toMatch(/"Wrong\^Patient"/);
    expect(index.study('30.1')).toEqual(before.study);
    expect(index.seriesImages('30.1.9')).toEqual(before.images);
    expect(index.listPatients()).toEqual(before.patients);
    expect(index.exam('30.1')).toMatchObject({ patientName: 'Right^Patient', birthDate: '19500505' });
    // Indexing again refuses again and changes nothing.
    const again = await index.indexFolder(dir);
    expect(again.errors).toHaveLength(intruders.length);
    expect(index.listPatients()).toEqual(before.patients);
  });

  it('a file replaced by one naming another patient: its old image goes, the study keeps its patient', async () => {
    const dir = path.join(tmp, `replaced-${++n}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a1.dcm'), image(study('31.1', 'P32', { name: 'First^Person' }, 1)));
    fs.writeFileSync(path.join(dir, 'a2.dcm'), image(study('31.1', 'P32', { name: 'First^Person' }, 2)));
    await index.indexFolder(dir);
    fs.writeFileSync(path.join(dir, 'a2.dcm'), image(study('31.1', 'P32', { name: 'Second^Person' }, 3)));
    const r = await index.indexFolder(dir);
    expect(r.errors.map((e) => path.basename(e.path))).toEqual(['a2.dcm']);
    expect(index.seriesImages('31.1.9').map((i) => i.sopInstanceUid)).toEqual(['31.1.1']);
    expect(patientOf('31.1').patientName).toBe('First^Person');
    expect(patientsWithId('P32')).toHaveLength(1);
  });

  it('a study whose files are gone and which has no report can come back under another patient (a corrected study)', async () => {
    const [first] = await indexInOrder([study('33.1', 'P34', { name: 'Wrong^Label' })]);
    fs.rmSync(first!);
    await index.indexFolder(path.dirname(first!));
    expect(index.study('33.1')).toBeNull();
    await indexInOrder([study('33.1', 'P34', { name: 'Right^Label' }, 2)]);
    expect(patientOf('33.1').patientName).toBe('Right^Label');
    expect(patientsWithId('P34')).toHaveLength(1);
  });

  it('within one folder run, the first file indexed binds the study; a later file naming another patient is refused', async () => {
    const dir = path.join(tmp, `one-run-${++n}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'img1.dcm'), image(study('32.1', 'P33', { name: 'Early^Bird' }, 1)));
    fs.writeFileSync(path.join(dir, 'img2.dcm'), image(study('32.1', 'P33', { name: 'Late^Comer' }, 2)));
    const r = await index.indexFolder(dir);
    expect(r.errors.map((e) => path.basename(e.path))).toEqual(['img2.dcm']);
    expect(patientOf('32.1').patientName).toBe('Early^Bird');
    expect(patientsWithId('P33')).toHaveLength(1);
  });
});

describe('files without a Patient ID', () => {
  it('are their own patient per study: never joined to a patient with an ID, nor to each other, no priors', async () => {
    await indexInOrder([
      study('40.1', 'P40', { name: 'Has^Id', birth: '19500101', date: '20200101' }),
      study('40.2', '', { name: 'Has^Id', birth: '19500101', date: '20210101' }),
      study('40.3', '', { name: 'Has^Id', birth: '19500101', date: '20220101' }),
    ]);
    expect(patientOf('40.1').studies.map((s) => s.studyUid)).toEqual(['40.1']);
    expect(patientOf('40.2').studies.map((s) => s.studyUid)).toEqual(['40.2']);
    expect(patientOf('40.3').studies.map((s) => s.studyUid)).toEqual(['40.3']);
    expect(index.priors({ patientId: '', studyUid: '40.3' })).toEqual([]);
    expect(index.priors({ patientId: 'P40', studyUid: '40.1' })).toEqual([]);
    // No ID is no conflict: nothing to conflict with.
    expect(patientOf('40.2').identityConflict).toBeNull();
    expect(patientOf('40.1').identityConflict).toBeNull();
    // Each has its own key in the library (the list keys by it).
    const keys = index.listPatients().map((p) => p.identityKey);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('priors: the same identity, strictly earlier (finding 8)', () => {
  it('lists only earlier studies of the same identity, newest first; never a later one', async () => {
    const p = (uid: string, date: string, time?: string): Parameters<typeof image>[0] => study(uid, 'P50', { name: 'Prior^Patient', birth: '19400101', date, ...(time === undefined ? {} : { time }) });
    await indexInOrder([p('50.1', '20200101'), p('50.2', '20220101', '0800'), p('50.3', '20220101', '1400'), p('50.4', '20240101'), p('50.5', '')]);
    const priors = (uid: string): string[] => index.priors({ patientId: 'P50', studyUid: uid }).map((s) => s.studyUid);
    expect(priors('50.1')).toEqual([]);
    expect(priors('50.2')).toEqual(['50.1']);
    expect(priors('50.3')).toEqual(['50.2', '50.1']);
    expect(priors('50.4')).toEqual(['50.3', '50.2', '50.1']);
    // An undated study cannot be placed in time: it is never offered as a prior, and gets none.
    expect(priors('50.5')).toEqual([]);
    // A same-day study without a time cannot be shown to be earlier or later than a timed one.
    await indexInOrder([p('50.6', '20220101')]);
    expect(priors('50.6')).toEqual(['50.1']);
    expect(priors('50.3')).toEqual(['50.2', '50.1']);
    // A conflicting identity's earlier study is not offered.
    // It is earlier than a study of a later day, though (same-day ones without a time listed after timed ones).
    expect(priors('50.4')).toEqual(['50.3', '50.2', '50.6', '50.1']);
    await indexInOrder([study('50.7', 'P50', { name: 'Someone^Else', birth: '19400101', date: '20100101' })]);
    expect(priors('50.4')).toEqual(['50.3', '50.2', '50.6', '50.1']);
    expect(index.study('50.4')!.identityConflict).toMatch(/"Someone\^Else"/);
  });

  it('real files: the InVesalius 2023 study is a prior of the 2024 one, never the reverse', async () => {
    const files = manifest.filter((m) => m.file!.startsWith('derived-invesalius/'));
    const current = files.find((m) => m.file!.startsWith('derived-invesalius/current/'))!;
    const prior = files.find((m) => m.file!.startsWith('derived-invesalius/prior/'))!;
    await index.indexFolder(path.join(corpus, 'derived-invesalius'));
    const id = current.patient_id!;
    expect(index.priors({ patientId: id, studyUid: current.study_uid! }).map((s) => s.studyUid)).toEqual([prior.study_uid]);
    expect(index.priors({ patientId: id, studyUid: prior.study_uid! })).toEqual([]);
  });

  it("real files: Doe^Peter's three studies of 2003-05-05 are ordered by study time", async () => {
    await index.indexFolder(path.join(corpus, 'python3-pydicom', 'dicomdirtests'));
    const peter = patientsWithId('98890234');
    expect(peter).toHaveLength(1);
    const byTime = [...peter[0]!.studies].filter((s) => s.studyDate === '20030505');
    expect(byTime).toHaveLength(3);
    const times = byTime.map((s) => index.exam(s.studyUid)!.studyTime);
    // Newest first in the library; each study's priors are exactly those before it.
    expect(times).toEqual([...times].sort().reverse());
    const [latest, middle, earliest] = byTime;
    const priors = (uid: string): string[] => index.priors({ patientId: '98890234', studyUid: uid }).map((s) => s.studyUid);
    const older2001 = peter[0]!.studies.filter((s) => s.studyDate === '20010101').map((s) => s.studyUid);
    expect(priors(earliest!.studyUid)).toEqual(older2001);
    expect(priors(middle!.studyUid)).toEqual([earliest!.studyUid, ...older2001]);
    expect(priors(latest!.studyUid)).toEqual([middle!.studyUid, earliest!.studyUid, ...older2001]);
  });
});

describe('real files edited byte for byte: another person under the same Patient ID', () => {
  /** A corpus file with same-length ASCII replacements (names, UIDs), written to `to`. */
  function edited(file: string, to: string, swaps: [string, string][]): void {
    let bytes = Buffer.from(fs.readFileSync(path.join(corpus, file)));
    for (const [from, by] of swaps) {
      expect(by.length).toBe(from.length);
      const at = bytes.indexOf(from, 0, 'latin1');
      expect(at, `${from} in ${file}`).toBeGreaterThan(-1);
      bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(by, 'latin1'), bytes.subarray(at + from.length)]);
    }
    fs.writeFileSync(to, bytes);
  }

  it('the InVesalius current study renamed is a second patient: the real prior keeps its name and is not its prior', async () => {
    const prior = manifest.filter((m) => m.file!.startsWith('derived-invesalius/prior/'));
    const cur = manifest.find((m) => m.file === 'derived-invesalius/current/CT_001.dcm')!;
    await index.indexFolder(path.join(corpus, 'derived-invesalius', 'prior'));
    const dir = path.join(tmp, `edited-${++n}`);
    fs.mkdirSync(dir);
    edited(cur.file!, path.join(dir, 'CT_001.dcm'), [['Cranium^InVesalius', 'Cranium^InVesaliuX']]);
    await index.indexFolder(dir);
    const id = cur.patient_id!;
    expect(patientsWithId(id)).toHaveLength(2);
    expect(patientOf(prior[0]!.study_uid!).patientName).toBe('Cranium^InVesalius');
    expect(patientOf(cur.study_uid!).patientName).toBe('Cranium^InVesaliuX');
    expect(index.priors({ patientId: id, studyUid: cur.study_uid! })).toEqual([]);
    expect(patientOf(prior[0]!.study_uid!).identityConflict).toMatch(/"Cranium\^InVesaliuX"/);
    expect(patientOf(cur.study_uid!).identityConflict).toMatch(/"Cranium\^InVesalius"/);
  });
});
