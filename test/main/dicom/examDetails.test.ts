// The exam details a report is bound to (issue 6, line 3), as the DICOM index gives them:
// DicomIndexService.exam(studyUid). Real files from ../shared/dicom first (requester present and
// absent, requesting service, old-style date and time), then synthetic files for what the corpus
// lacks (padding, character sets, disagreeing files, oversized values), then an index written
// before migration 0040 that must yield the same details without the user doing anything.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractError } from '../../../common/contract.ts';
import { ExamDetails, requesterUnknown } from '../../../common/report.ts';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { MIGRATIONS } from '../../../main/db/migrations/index.ts';
import { DicomIndexService, HEADER_VERSION } from '../../../main/dicom/DicomIndexService.ts';
import { readFileHeader } from '../../../main/dicom/fileSource.ts';
import { corpus, readManifest } from './corpus.ts';
import { image, type El } from './synth.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-exam-'));

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const manifest = readManifest();
const row = (file: string): Record<string, string> => {
  const m = manifest.find((r) => r.file === file);
  if (!m) throw new Error(`${file} is not in the manifest`);
  return m;
};

/** Thrown error of `fn`, or a failure when it does not throw. */
function thrown(fn: () => unknown): ContractError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return err as ContractError;
  }
  throw new Error('expected a ContractError');
}

const PN = (tag: number, value: string | Uint8Array): El => ({ tag, vr: 'PN', value });
const REFERRING = 0x00080090;
const ACCESSION = 0x00080050;
const REQUESTING_SERVICE = 0x00321033;
const STUDY_TIME = 0x00080030;
const CHARSET = 0x00080005;
const PATIENT_NAME = 0x00100010;

describe('exam details of real files (whole corpus, own database)', () => {
  let db: Db;
  let index: DicomIndexService;
  let errors: Set<string>;
  beforeAll(async () => {
    db = openDatabase(':memory:');
    index = new DicomIndexService(db);
    const r = await index.indexFolder(corpus);
    errors = new Set(r.errors.map((e) => path.relative(corpus, e.path)));
  });
  afterAll(() => db.close());

  it('gives every field of an ECG with a referring physician, an accession and a study time', () => {
    const m = row('python3-pydicom/test_files/waveform_ecg.dcm');
    const exam = index.exam(m.study_uid!);
    expect(exam).toEqual({
      patientName: 'Anonymous',
      birthDate: '19710123',
      sex: 'F',
      accession: '03028041970546',
      modality: m.modality,
      studyDescription: 'ECG',
      studyDate: m.study_date,
      studyTime: '105919',
      referringPhysician: '2721',
      requestingService: '',
    });
    expect(requesterUnknown(exam)).toBe(false);
    expect(index.knownExam(m.study_uid!)).toEqual(exam);
  });

  it('gives the Requesting Service where a file has one (no referring physician): the requester is known', () => {
    const m = row('python3-pydicom/dicomdirtests/77654033/CT2/17106');
    const exam = index.exam(m.study_uid!)!;
    expect(exam).toMatchObject({ patientName: 'Doe^Archibald', accession: '2', requestingService: '177', referringPhysician: '', studyDate: m.study_date, studyTime: '173032', modality: 'CT' });
    expect(exam.studyDescription).toBe('CT, HEAD/BRAIN WO CONTRAST');
    expect(requesterUnknown(exam)).toBe(false);
  });

  it("flags 'requester unknown' for a study whose files name no requester, with '' for what is absent", () => {
    const m = row('python3-pydicom/test_files/CT_small.dcm');
    const exam = index.exam(m.study_uid!)!;
    expect(exam).toMatchObject({ patientName: 'CompressedSamples^CT1', accession: '', referringPhysician: '', requestingService: '', studyTime: '072730', modality: 'CT' });
    expect(requesterUnknown(exam)).toBe(true);
    // The sample CT shipped with the app has an accession but no requester either.
    const sample = index.exam(row('derived-invesalius/current/CT_001.dcm').study_uid!)!;
    expect(sample.accession).toBe('INV20240315');
    expect(requesterUnknown(sample)).toBe(true);
  });

  it('keeps an old ACR-NEMA style date and time exactly as the file gives them', () => {
    const m = row('octave-dicom/CT-MONO2-16-ankle.dcm');
    expect(index.exam(m.study_uid!)).toMatchObject({ studyDate: '1993.04.30', studyTime: '11:27:24', referringPhysician: 'Anonymized', studyDescription: 'RT ANKLE' });
  });

  it('gives valid details for every indexed study, agreeing with the manifest on date and modalities', () => {
    const indexed = manifest.filter((m) => m.sop_instance_uid !== '' && !errors.has(m.file!));
    const studies = new Map<string, Record<string, string>[]>();
    for (const m of indexed) studies.set(m.study_uid!, [...(studies.get(m.study_uid!) ?? []), m]);
    expect(studies.size).toBeGreaterThanOrEqual(40);
    for (const [uid, rows] of studies) {
      const exam = index.exam(uid);
      expect(ExamDetails.parse(exam), uid).toEqual(exam);
      expect(exam!.studyDate, uid).toBe(rows[0]!.study_date);
      expect(exam!.modality, uid).toBe([...new Set(rows.map((r) => r.modality).filter((x) => x !== ''))].sort().join('\\'));
    }
    // The corpus's files agree within each study: nothing to warn about.
    expect(index.warnings()).toEqual([]);
  });

  it('answers null for a study that is not in the index', () => {
    expect(index.exam('1.2.3.999999')).toBeNull();
    expect(index.exam('')).toBeNull();
    expect(index.knownExam('1.2.3.999999')).toBeNull();
  });
});

describe('exam details of synthetic files (own database)', () => {
  let db: Db;
  let index: DicomIndexService;
  let n = 0;
  /** Writes `files` (name → options) into a fresh folder and indexes it. */
  async function indexFiles(files: Record<string, Parameters<typeof image>[0]>): Promise<string> {
    const dir = path.join(tmp, `synth-${++n}`);
    fs.mkdirSync(dir);
    for (const [name, o] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), image(o));
    await index.indexFolder(dir);
    return dir;
  }
  beforeAll(() => {
    db = openDatabase(':memory:');
    index = new DicomIndexService(db);
  });
  afterAll(() => db.close());

  it('reads a Requesting Service and a referring physician, trims odd padding (NULs, spaces) but nothing else', async () => {
    const bytes = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));
    await indexFiles({
      'a.dcm': {
        sop: '7.1.1',
        study: '7.1',
        series: '7.1.9',
        elements: [
          { tag: ACCESSION, vr: 'SH', value: bytes('ACC-7\0\0\0') },
          { tag: STUDY_TIME, vr: 'TM', value: bytes('0930  ') },
          PN(REFERRING, bytes(' Smith^Jane^^Dr\0')),
          { tag: REQUESTING_SERVICE, vr: 'LO', value: 'Cardiology  ' },
        ],
      },
    });
    const exam = index.exam('7.1')!;
    expect(exam).toMatchObject({ accession: 'ACC-7', studyTime: '0930', referringPhysician: 'Smith^Jane^^Dr', requestingService: 'Cardiology', modality: 'OT', patientName: 'Synth^Patient', studyDate: '20240102' });
    expect(requesterUnknown(exam)).toBe(false);
  });

  it("gives '' for an absent requester and an empty-component name, and flags both 'requester unknown'", async () => {
    await indexFiles({
      'none.dcm': { sop: '7.2.1', study: '7.2', series: '7.2.9' },
      'carets.dcm': { sop: '7.3.1', study: '7.3', series: '7.3.9', elements: [PN(REFERRING, '^^^^'), { tag: REQUESTING_SERVICE, vr: 'LO', value: '  ' }] },
    });
    const none = index.exam('7.2')!;
    expect(none.referringPhysician).toBe('');
    expect(none.requestingService).toBe('');
    expect(none.accession).toBe('');
    expect(requesterUnknown(none)).toBe(true);
    const carets = index.exam('7.3')!;
    expect(carets.referringPhysician).toBe('^^^^');
    expect(carets.requestingService).toBe('');
    expect(requesterUnknown(carets)).toBe(true);
  });

  it('decodes non-ASCII names with the Specific Character Set (UTF-8 and Latin-1)', async () => {
    await indexFiles({
      'utf8.dcm': {
        sop: '7.4.1',
        study: '7.4',
        series: '7.4.9',
        elements: [{ tag: CHARSET, vr: 'CS', value: 'ISO_IR 192' }, PN(PATIENT_NAME, 'Ødegård^Åse'), PN(REFERRING, 'Müller^Jürgen=山田^太郎'), { tag: REQUESTING_SERVICE, vr: 'LO', value: 'Médecine nucléaire' }],
      },
      'latin1.dcm': {
        sop: '7.5.1',
        study: '7.5',
        series: '7.5.9',
        patientId: 'SYN-5',
        elements: [{ tag: CHARSET, vr: 'CS', value: 'ISO_IR 100' }, PN(PATIENT_NAME, new Uint8Array([0x47, 0x61, 0xeb, 0x6c, 0x6c, 0x65, 0x5e, 0xc9])), PN(REFERRING, new Uint8Array([0x4e, 0xfc, 0xf1, 0x65, 0x7a, 0x5e, 0x4a]))],
      },
    });
    expect(index.exam('7.4')).toMatchObject({ patientName: 'Ødegård^Åse', referringPhysician: 'Müller^Jürgen=山田^太郎', requestingService: 'Médecine nucléaire' });
    expect(index.exam('7.5')).toMatchObject({ patientName: 'Gaëlle^É', referringPhysician: 'Nüñez^J' });
  });

  it('joins the modalities of all series of the study, sorted, with a backslash', async () => {
    await indexFiles({
      'ct.dcm': { sop: '7.6.1', study: '7.6', series: '7.6.1', elements: [{ tag: 0x00080060, vr: 'CS', value: 'CT' }] },
      'sr.dcm': { sop: '7.6.2', study: '7.6', series: '7.6.2', elements: [{ tag: 0x00080060, vr: 'CS', value: 'SR' }] },
      'ct2.dcm': { sop: '7.6.3', study: '7.6', series: '7.6.3', elements: [{ tag: 0x00080060, vr: 'CS', value: 'CT' }] },
      'pr.dcm': { sop: '7.6.4', study: '7.6', series: '7.6.4', elements: [{ tag: 0x00080060, vr: 'CS', value: 'PR' }] },
    });
    expect(index.exam('7.6')!.modality).toBe('CT\\PR\\SR');
  });

  it('keeps the first accession and referring physician when files of one study disagree, and lists each disagreeing file', async () => {
    const exam = (ref: string, acc: string, svc?: string): El[] => [
      PN(REFERRING, ref),
      { tag: ACCESSION, vr: 'SH', value: acc },
      ...(svc === undefined ? [] : [{ tag: REQUESTING_SERVICE, vr: 'LO', value: svc }]),
    ];
    const dir = await indexFiles({
      // Natural order: 1 before 2 before 10.
      'img1.dcm': { sop: '8.1.1', study: '8.1', series: '8.1.9', elements: exam('Smith^Jane', 'A100', 'Renal') },
      'img2.dcm': { sop: '8.1.2', study: '8.1', series: '8.1.9', elements: exam('Jones^Tom', 'A100', 'Renal') },
      'img10.dcm': { sop: '8.1.3', study: '8.1', series: '8.1.9', elements: exam('Smith^Jane^^^', 'B200', 'Urology') },
      // No requester and no accession in this one: it fills nothing and disagrees with nothing.
      'img11.dcm': { sop: '8.1.4', study: '8.1', series: '8.1.9' },
    });
    const check = (): void => {
      expect(index.exam('8.1')).toMatchObject({ referringPhysician: 'Smith^Jane', accession: 'A100', requestingService: 'Renal' });
      const w = index.warnings('8.1');
      expect(w.map((x) => path.basename(x.path))).toEqual(['img10.dcm', 'img10.dcm', 'img2.dcm']);
      expect(w[0]!.reason).toMatch(/Accession Number \(0008,0050\) is "B200" in this file but "A100" in the first file indexed for study 8\.1: the study keeps "A100"/);
      expect(w[1]!.reason).toMatch(/Requesting Service \(0032,1033\) is "Urology" .* keeps "Renal"/);
      expect(w[2]!.reason).toMatch(/Referring Physician's Name \(0008,0090\) is "Jones\^Tom" .* keeps "Smith\^Jane"/);
      // Trailing empty name components ("Smith^Jane^^^") are the same name: no warning for it.
      expect(w.some((x) => x.path.endsWith('img10.dcm') && /Referring/.test(x.reason))).toBe(false);
      // Warned files are indexed, not refused.
      expect(index.seriesImages('8.1.9')).toHaveLength(4);
      expect(index.errors().some((e) => e.path.startsWith(dir))).toBe(false);
      expect(index.warnings()).toEqual(w);
    };
    check();
    // Indexing again changes nothing: same kept values, same warnings, none duplicated.
    await index.indexFolder(dir);
    check();
    // The disagreeing file is corrected: its warning goes. The other file is deleted: its warnings go.
    fs.writeFileSync(path.join(dir, 'img2.dcm'), image({ sop: '8.1.2', study: '8.1', series: '8.1.9', elements: exam('Smith^Jane', 'A100') }));
    fs.rmSync(path.join(dir, 'img10.dcm'));
    await index.indexFolder(dir);
    expect(index.warnings('8.1')).toEqual([]);
    expect(index.exam('8.1')).toMatchObject({ referringPhysician: 'Smith^Jane', accession: 'A100', requestingService: 'Renal' });
  });

  it("binds each study to its own files' patient name, birth date and sex, even when another study shares the Patient ID", async () => {
    const who = (name: string, birth: string, sex: string): El[] => [PN(PATIENT_NAME, name), { tag: 0x00100030, vr: 'DA', value: birth }, { tag: 0x00100040, vr: 'CS', value: sex }];
    await indexFiles({
      'p1.dcm': { sop: '8.5.1', study: '8.5', series: '8.5.9', patientId: 'REUSED', elements: who('Able^Ann', '19500101', 'F') },
      'p2.dcm': { sop: '8.6.1', study: '8.6', series: '8.6.9', patientId: 'REUSED', elements: who('Baker^Bob', '19600202', 'M') },
      // Within one study a file names another patient: refused (patient identity, issue 7), the study keeps the first.
      'p3.dcm': { sop: '8.6.2', study: '8.6', series: '8.6.9', patientId: 'REUSED', elements: who('Carter^Cy', '19600202', 'M') },
      // Another sex is not another identity: indexed, the first kept, the file listed.
      'p4.dcm': { sop: '8.6.3', study: '8.6', series: '8.6.9', patientId: 'REUSED', elements: who('Baker^Bob', '19600202', 'F') },
    });
    expect(index.exam('8.5')).toMatchObject({ patientName: 'Able^Ann', birthDate: '19500101', sex: 'F' });
    expect(index.exam('8.6')).toMatchObject({ patientName: 'Baker^Bob', birthDate: '19600202', sex: 'M' });
    expect(index.errors().find((e) => e.path.endsWith('p3.dcm'))?.reason).toMatch(/already in the library for patient "Baker\^Bob".*this file names "Carter\^Cy"/);
    const w = index.warnings('8.6');
    expect(w).toHaveLength(1);
    expect(w[0]!.path.endsWith('p4.dcm')).toBe(true);
    expect(w[0]!.reason).toMatch(/Patient's Sex \(0010,0040\) is "F" .* keeps "M"/);
  });

  it('fills a requester the first file lacks from a later file, without a warning', async () => {
    await indexFiles({
      'a.dcm': { sop: '8.2.1', study: '8.2', series: '8.2.9' },
      'b.dcm': { sop: '8.2.2', study: '8.2', series: '8.2.9', elements: [PN(REFERRING, 'Later^Found')] },
    });
    expect(index.exam('8.2')!.referringPhysician).toBe('Later^Found');
    expect(index.warnings('8.2')).toEqual([]);
  });

  it('refuses, with the field named, to cut a value longer than a report can carry, and still indexes the file', async () => {
    await indexFiles({ 'long.dcm': { sop: '8.3.1', study: '8.3', series: '8.3.9', elements: [PN(REFERRING, `${'X'.repeat(600)}^Y`)] } });
    expect(index.study('8.3')).not.toBeNull();
    const e = thrown(() => index.exam('8.3'));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toMatch(/study 8\.3[\s\S]*referringPhysician/);
    // For showing, not binding: no details rather than an error.
    expect(index.knownExam('8.3')).toBeNull();
  });

  it('refuses a file whose requester element declares more bytes than the file holds', async () => {
    const dir = await indexFiles({ 'lie.dcm': { sop: '8.4.1', study: '8.4', series: '8.4.9', elements: [{ tag: REFERRING, vr: 'PN', value: 'Ab', length: 60000 }] } });
    expect(index.exam('8.4')).toBeNull();
    expect(index.errors().find((x) => x.path === path.join(dir, 'lie.dcm'))?.reason).toMatch(/\(0008,0090\) at byte \d+ declares a length of 60000 bytes, but only \d+ bytes remain/);
  });
});

/**
 * What the release before migration 0040 wrote for `files`: the 0020 tables filled from each
 * header, with that release's rule (last non-empty value wins) and no requester columns.
 */
function legacyIndex(db: Db, files: string[]): void {
  for (const file of files) {
    const { header: h, size, mtimeMs } = readFileHeader(file);
    const patient = db
      .prepare(
        `INSERT INTO dicom_patient (patient_key, patient_id, patient_name, birth_date, sex) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(patient_key) DO UPDATE SET patient_name = excluded.patient_name RETURNING id`,
      )
      .get(h.patientId || `study:${h.studyUid}`, h.patientId, h.patientName, h.birthDate, h.sex) as { id: number };
    const study = db
      .prepare(
        `INSERT INTO dicom_study (study_uid, patient_ref, study_date, study_time, description, accession) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(study_uid) DO UPDATE SET accession = CASE WHEN excluded.accession <> '' THEN excluded.accession ELSE accession END RETURNING id`,
      )
      .get(h.studyUid, patient.id, h.studyDate, h.studyTime, h.studyDescription, h.accession) as { id: number };
    const series = db
      .prepare('INSERT INTO dicom_series (series_uid, study_ref, modality) VALUES (?, ?, ?) ON CONFLICT(series_uid) DO UPDATE SET modality = excluded.modality RETURNING id')
      .get(h.seriesUid, study.id, h.modality) as { id: number };
    db.prepare(
      `INSERT INTO dicom_instance (sop_instance_uid, series_ref, path, file_size, file_mtime_ms, transfer_syntax_uid, has_pixel_data, rows, columns, frames, indexed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(h.sopInstanceUid, series.id, file, size, mtimeMs, h.transferSyntaxUid, h.hasPixelData ? 1 : 0, h.rows, h.columns, h.frames, '2026-01-01T00:00:00.000Z');
  }
}

describe('an index written before migration 0040', () => {
  const upTo30 = MIGRATIONS.filter((m) => m.version <= 30);
  const ecg = row('python3-pydicom/test_files/waveform_ecg.dcm');
  const ct2 = row('python3-pydicom/dicomdirtests/77654033/CT2/17106');
  const ctSmall = row('python3-pydicom/test_files/CT_small.dcm');
  let dir: string;
  let dbFile: string;
  let fresh: Map<string, ExamDetails | null>;

  beforeAll(async () => {
    dir = path.join(tmp, 'old-index');
    fs.mkdirSync(dir);
    const copies: string[] = [];
    for (const m of [ecg, ctSmall, ...manifest.filter((r) => r.study_uid === ct2.study_uid)]) {
      const to = path.join(dir, m.file!.replace(/\//g, '_'));
      fs.copyFileSync(path.join(corpus, m.file!), to);
      copies.push(to);
    }
    // Two synthetic files of one study that disagree on the requester: the old release kept no requester at all.
    for (const [k, name, ref] of [
      [1, 'old_a.dcm', 'First^Doctor'],
      [2, 'old_b.dcm', 'Second^Doctor'],
    ] as const) {
      fs.writeFileSync(path.join(dir, name), image({ sop: `9.1.${k}`, study: '9.1', series: '9.1.9', elements: [PN(REFERRING, ref)] }));
      copies.push(path.join(dir, name));
    }
    // What a fresh index of the same files says: the reference.
    const ref = openDatabase(':memory:');
    const refIndex = new DicomIndexService(ref);
    await refIndex.indexFolder(dir);
    fresh = new Map([ecg.study_uid!, ct2.study_uid!, ctSmall.study_uid!, '9.1'].map((u) => [u, refIndex.exam(u)]));
    ref.close();

    dbFile = path.join(tmp, 'v30.sqlite');
    const old = openDatabase(dbFile, { migrations: upTo30 });
    expect(old.pragma('user_version', { simple: true })).toBe(30);
    legacyIndex(old, copies);
    old.close();
  });

  it('yields the same exam details as a fresh index, reading one file per study when first asked', () => {
    const db = openDatabase(dbFile);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
      const requester = (uid: string): unknown => db.prepare('SELECT referring_physician, requesting_service, patient_name FROM dicom_study WHERE study_uid = ?').get(uid);
      // Migrated: not read yet (NULL), never a made-up ''.
      expect(requester(ecg.study_uid!)).toEqual({ referring_physician: null, requesting_service: null, patient_name: null });
      const index = new DicomIndexService(db);
      // knownExam never reads files: nothing known yet, and still nothing read.
      expect(index.knownExam(ecg.study_uid!)).toBeNull();
      expect(requester(ecg.study_uid!)).toEqual({ referring_physician: null, requesting_service: null, patient_name: null });
      for (const uid of [ecg.study_uid!, ct2.study_uid!, ctSmall.study_uid!]) expect(index.exam(uid), uid).toEqual(fresh.get(uid));
      expect(index.knownExam(ecg.study_uid!)).toEqual(fresh.get(ecg.study_uid!));
      expect(requester(ecg.study_uid!)).toEqual({ referring_physician: '2721', requesting_service: '', patient_name: 'Anonymous' });
      expect(requesterUnknown(index.exam(ctSmall.study_uid!))).toBe(true);
      expect(index.exam(ct2.study_uid!)!.requestingService).toBe('177');
      // The first file of the study is read: the first file's requester, as a fresh index keeps it.
      expect(index.exam('9.1')!.referringPhysician).toBe('First^Doctor');
    } finally {
      db.close();
    }
  });

  it('reads the old files again on the next indexing, finding disagreements the old release never looked for', async () => {
    const db = openDatabase(dbFile);
    try {
      const index = new DicomIndexService(db);
      const versions = (): number[] => db.prepare('SELECT DISTINCT header_version FROM dicom_instance').pluck().all() as number[];
      expect(versions()).toContain(0);
      const r = await index.indexFolder(dir);
      expect(r.errors).toEqual([]);
      expect(versions()).toEqual([HEADER_VERSION]);
      expect(index.warnings('9.1').map((w) => path.basename(w.path))).toEqual(['old_b.dcm']);
      for (const [uid, exam] of fresh) expect(index.exam(uid), uid).toEqual(exam);
    } finally {
      db.close();
    }
  });

  it('says which files it tried and why when the files of an old study are gone or replaced', async () => {
    // A second old database, so the first file can vanish and the second be replaced by another instance.
    const gone = path.join(tmp, 'gone');
    fs.mkdirSync(gone);
    const files = ['x1.dcm', 'x2.dcm', 'x3.dcm'].map((f) => path.join(gone, f));
    files.forEach((f, k) => fs.writeFileSync(f, image({ sop: `9.2.${k + 1}`, study: '9.2', series: '9.2.9', elements: [PN(REFERRING, 'Still^Here')] })));
    const file = path.join(tmp, 'v30-gone.sqlite');
    const old = openDatabase(file, { migrations: upTo30 });
    legacyIndex(old, files);
    old.close();
    fs.rmSync(files[0]!);
    fs.writeFileSync(files[1]!, image({ sop: '9.3.1', study: '9.3', series: '9.3.9' }));
    const db = openDatabase(file);
    try {
      const index = new DicomIndexService(db);
      // x1 is gone and x2 holds another instance now, but x3 still reads: details from x3.
      expect(index.exam('9.2')!.referringPhysician).toBe('Still^Here');
      // Undo the fill and remove x3 too: nothing can be read, and the error names every file tried.
      db.prepare('UPDATE dicom_study SET referring_physician = NULL, requesting_service = NULL').run();
      fs.rmSync(files[2]!);
      const e = thrown(() => index.exam('9.2'));
      expect(e.code).toBe('unavailable');
      expect(index.knownExam('9.2')).toBeNull();
      expect(e.message).toContain(`${files[0]}: The file no longer exists.`);
      expect(e.message).toContain(`${files[1]}: the file now holds another instance (9.3.1, study 9.3)`);
      expect(e.message).toContain(`${files[2]}: The file no longer exists.`);
      expect(e.message).toMatch(/study 9\.2 .*none of the 3 tried could be read[\s\S]*Open the folder that holds the study again/);
      // Nothing was made up: the requester stays unread.
      expect(db.prepare("SELECT referring_physician FROM dicom_study WHERE study_uid = '9.2'").pluck().get()).toBeNull();
    } finally {
      db.close();
    }
  });
});
