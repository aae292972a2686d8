// Upgrading an index written before migration 0060 (patient identity, issue 7 line 1). The old
// index keyed a patient by Patient ID alone, the last file indexed renaming everyone under it.
// After the upgrade every study has an identity key: studies whose own files named another person
// (kept per study since 0040) are separate, flagged patients at once; a study indexed before 0040
// (its own patient never kept) gives no priors and is no one's prior until its files are read,
// which exam() and the next indexing do; after the next indexing the library is what a fresh index
// of the same files gives.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { MIGRATIONS } from '../../../main/db/migrations/index.ts';
import { DicomIndexService } from '../../../main/dicom/DicomIndexService.ts';
import { readFileHeader } from '../../../main/dicom/fileSource.ts';
import { corpus, readManifest } from './corpus.ts';
import { image, type El } from './synth.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-identity-migration-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const person = (name: string, birth: string, date: string): El[] => [
  { tag: 0x00100010, vr: 'PN', value: name },
  { tag: 0x00100030, vr: 'DA', value: birth },
  { tag: 0x00080020, vr: 'DA', value: date },
];

/**
 * What the releases with migrations 0040–0050 wrote for `files` (`pre0040`: the release before
 * 0040, no per-study patient): a patient row per Patient ID whose name and birth date the last
 * file indexed set, the study's own patient copy kept from its first file.
 */
function legacyIndex(db: Db, files: string[], pre0040: boolean): void {
  for (const file of files) {
    const { header: h, size, mtimeMs } = readFileHeader(file);
    const patient = db
      .prepare(
        `INSERT INTO dicom_patient (patient_key, patient_id, patient_name, birth_date, sex) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(patient_key) DO UPDATE SET
           patient_name = CASE WHEN excluded.patient_name <> '' THEN excluded.patient_name ELSE patient_name END,
           birth_date = CASE WHEN excluded.birth_date <> '' THEN excluded.birth_date ELSE birth_date END
         RETURNING id`,
      )
      .get(h.patientId || `study:${h.studyUid}`, h.patientId, h.patientName, h.birthDate, h.sex) as { id: number };
    const own = pre0040 ? [null, null, null, null, null] : [h.referringPhysician, h.requestingService, h.patientName, h.birthDate, h.sex];
    const study = db
      .prepare(
        `INSERT INTO dicom_study (study_uid, patient_ref, study_date, study_time, description, accession, referring_physician, requesting_service, patient_name, birth_date, sex)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(study_uid) DO UPDATE SET patient_ref = excluded.patient_ref RETURNING id`,
      )
      .get(h.studyUid, patient.id, h.studyDate, h.studyTime, h.studyDescription, h.accession, ...own) as { id: number };
    const series = db
      .prepare('INSERT INTO dicom_series (series_uid, study_ref, modality) VALUES (?, ?, ?) ON CONFLICT(series_uid) DO UPDATE SET modality = excluded.modality RETURNING id')
      .get(h.seriesUid, study.id, h.modality) as { id: number };
    db.prepare(
      `INSERT INTO dicom_instance (sop_instance_uid, series_ref, path, file_size, file_mtime_ms, transfer_syntax_uid, has_pixel_data, rows, columns, frames, indexed_at, header_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(h.sopInstanceUid, series.id, file, size, mtimeMs, h.transferSyntaxUid, h.hasPixelData ? 1 : 0, h.rows, h.columns, h.frames, '2026-01-01T00:00:00.000Z', pre0040 ? 0 : 1);
  }
}

describe('an index written before migration 0060', () => {
  const upTo50 = MIGRATIONS.filter((m) => m.version <= 50);
  const invesalius = readManifest().filter((m) => m.file!.startsWith('derived-invesalius/'));
  const current = invesalius.find((m) => m.file!.startsWith('derived-invesalius/current/'))!;
  const prior = invesalius.find((m) => m.file!.startsWith('derived-invesalius/prior/'))!;
  let dir: string;
  let dbFile: string;

  beforeAll(() => {
    dir = path.join(tmp, 'library');
    fs.mkdirSync(dir);
    const write = (name: string, o: Parameters<typeof image>[0]): string => {
      fs.writeFileSync(path.join(dir, name), image(o));
      return path.join(dir, name);
    };
    // Indexed by the 0040–0050 releases: two people under one ID (the second renamed the first's patient row).
    const since0040 = [
      write('ann.dcm', { sop: '60.1.1', study: '60.1', series: '60.1.9', patientId: 'REUSED', elements: person('Able^Ann', '19500101', '20230101') }),
      write('bob.dcm', { sop: '60.2.1', study: '60.2', series: '60.2.9', patientId: 'REUSED', elements: person('Baker^Bob', '19600202', '20240101') }),
    ];
    const realDir = path.join(dir, 'invesalius');
    fs.mkdirSync(realDir);
    for (const m of invesalius) {
      const to = path.join(realDir, m.file!.replace(/\//g, '_'));
      fs.copyFileSync(path.join(corpus, m.file!), to);
      since0040.push(to);
    }
    // Indexed by the release before 0040: the patient row says Dora for Carl's study too.
    const before0040 = [
      write('carl.dcm', { sop: '60.3.1', study: '60.3', series: '60.3.9', patientId: 'OLD', elements: person('Carl^Old', '19300303', '20200101') }),
      write('dora.dcm', { sop: '60.4.1', study: '60.4', series: '60.4.9', patientId: 'OLD', elements: person('Dora^Old', '19400404', '20210101') }),
    ];
    dbFile = path.join(tmp, 'v50.sqlite');
    const old = openDatabase(dbFile, { migrations: upTo50 });
    expect(old.pragma('user_version', { simple: true })).toBe(50);
    legacyIndex(old, before0040, true);
    legacyIndex(old, since0040, false);
    // The old bug, as shipped: one patient "Baker^Bob" holds Ann's study.
    expect(old.prepare("SELECT patient_name FROM dicom_patient WHERE patient_id = 'REUSED'").pluck().all()).toEqual(['Baker^Bob']);
    old.close();
  });

  it('gives every study an identity key; people the study files told apart are separate, flagged patients at once', () => {
    const db = openDatabase(dbFile);
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
      const keys = db.prepare('SELECT s.study_uid, p.patient_key FROM dicom_study s JOIN dicom_patient p ON p.id = s.patient_ref').all() as { study_uid: string; patient_key: string }[];
      expect(keys.length).toBe(4 + new Set(invesalius.map((m) => m.study_uid)).size);
      for (const k of keys) expect(() => JSON.parse(k.patient_key), k.study_uid).not.toThrow();
      expect(db.prepare('SELECT DISTINCT identity_read FROM dicom_study').pluck().all()).toEqual([0]);
      const index = new DicomIndexService(db);
      const of = (uid: string) => index.listPatients().find((p) => p.studies.some((s) => s.studyUid === uid))!;
      expect(of('60.1').patientName).toBe('Able^Ann');
      expect(of('60.2').patientName).toBe('Baker^Bob');
      expect(of('60.1').identityConflict).toMatch(/"Baker\^Bob"/);
      expect(of('60.2').identityConflict).toMatch(/"Able\^Ann"/);
      expect(index.priors({ patientId: 'REUSED', studyUid: '60.2' })).toEqual([]);
      // Real files indexed by 0040–0050: priors work straight away, earlier only.
      expect(index.priors({ patientId: current.patient_id!, studyUid: current.study_uid! }).map((s) => s.studyUid)).toEqual([prior.study_uid]);
      expect(index.priors({ patientId: current.patient_id!, studyUid: prior.study_uid! })).toEqual([]);
      // Before 0040 the old index merged Carl into Dora's row: no priors either way until the files are read.
      expect(of('60.3').patientName).toBe('Dora^Old');
      expect(index.priors({ patientId: 'OLD', studyUid: '60.4' })).toEqual([]);
      expect(index.priors({ patientId: 'OLD', studyUid: '60.3' })).toEqual([]);
      // exam() (what a signature binds) reads the study's file: Carl is Carl, a patient of his own, flagged.
      expect(index.exam('60.3')).toMatchObject({ patientName: 'Carl^Old', birthDate: '19300303' });
      expect(of('60.3').patientName).toBe('Carl^Old');
      expect(of('60.3').studies.map((s) => s.studyUid)).toEqual(['60.3']);
      expect(of('60.3').identityConflict).toMatch(/"Dora\^Old"/);
    } finally {
      db.close();
    }
  });

  it('after the next indexing of the folder the library is what a fresh index of the same files gives', async () => {
    const freshDb = openDatabase(':memory:');
    const fresh = new DicomIndexService(freshDb);
    await fresh.indexFolder(dir);
    const db = openDatabase(dbFile);
    try {
      const index = new DicomIndexService(db);
      const r = await index.indexFolder(dir);
      expect(r.errors).toEqual([]);
      expect(db.prepare('SELECT DISTINCT identity_read FROM dicom_study').pluck().all()).toEqual([1]);
      expect(index.listPatients()).toEqual(fresh.listPatients());
      for (const uid of ['60.1', '60.2', '60.3', '60.4', current.study_uid!]) {
        expect(index.priors({ patientId: index.study(uid)!.patientId, studyUid: uid }), uid).toEqual(fresh.priors({ patientId: fresh.study(uid)!.patientId, studyUid: uid }));
        expect(index.exam(uid), uid).toEqual(fresh.exam(uid));
      }
      expect(index.listPatients().filter((p) => p.patientId === 'OLD').map((p) => p.patientName).sort()).toEqual(['Carl^Old', 'Dora^Old']);
    } finally {
      db.close();
      freshDb.close();
    }
  });
});
