// Patient identity in the DICOM index (issue 7, line 1): a patient is Issuer of Patient ID +
// Patient ID + Patient's Name + Birth Date (main/dicom/identity.ts), no longer the Patient ID alone,
// under which the last file indexed renamed everyone sharing the ID.
// - dicom_patient.issuer: Issuer of Patient ID (0010,0021), '' when absent or not read yet.
// - dicom_patient.patient_key: identityKey() of the identity (was the Patient ID, or
//   'study:<uid>' without one). Each study of an older index is keyed with what that index knew:
//   its own patient name and birth date (kept per study since 0040) or, for a study indexed
//   before 0040, its patient row's; no issuer (never read before). Studies that the old key
//   merged but whose own names differ become separate patients here.
// - dicom_study.identity_read: 0 = the identity comes from an older index and was not read from
//   the study's files by this version yet (the issuer is unknown; before 0040 the name may be
//   another study's). The first file of the study read again (next indexing, or exam()) sets its
//   identity; from then on a file naming another patient is refused. 1 for everything indexed now.
// - dicom_study_binding: the identity each study UID was indexed for (identity_read = 1), kept
//   after the study's files are gone for as long as a report of the study is on this workstation,
//   so that files naming another patient under that UID are refused then too: a report never ends
//   up on another person's images. Pruned with the study when no report names it.
import type { Migration } from './index.ts';
import { identityKey } from '../../dicom/identity.ts';

const migration: Migration = {
  version: 60,
  name: 'patient-identity',
  up(db) {
    db.exec(`
      ALTER TABLE dicom_patient ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
      ALTER TABLE dicom_study ADD COLUMN identity_read INTEGER NOT NULL DEFAULT 1 CHECK (identity_read IN (0, 1));
      UPDATE dicom_study SET identity_read = 0;
      CREATE TABLE dicom_study_binding (
        study_uid TEXT PRIMARY KEY,
        patient_key TEXT NOT NULL,
        issuer TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        patient_name TEXT NOT NULL,
        birth_date TEXT NOT NULL
      );
    `);
    const studies = db
      .prepare(
        `SELECT s.id, s.study_uid, p.patient_id, coalesce(s.patient_name, p.patient_name) AS patient_name,
                coalesce(s.birth_date, p.birth_date) AS birth_date, coalesce(nullif(s.sex, ''), p.sex) AS sex
         FROM dicom_study s JOIN dicom_patient p ON p.id = s.patient_ref ORDER BY s.id`,
      )
      .all() as { id: number; study_uid: string; patient_id: string; patient_name: string; birth_date: string; sex: string }[];
    const insert = db.prepare(
      `INSERT INTO dicom_patient (patient_key, patient_id, issuer, patient_name, birth_date, sex) VALUES (?, ?, '', ?, ?, ?)
       ON CONFLICT(patient_key) DO UPDATE SET sex = CASE WHEN sex = '' THEN excluded.sex ELSE sex END RETURNING id`,
    );
    const move = db.prepare('UPDATE dicom_study SET patient_ref = ? WHERE id = ?');
    // Old keys (an ID, 'study:<uid>') never look like a JSON array, so old and new rows cannot collide.
    const old = db.prepare('SELECT id FROM dicom_patient').pluck().all() as number[];
    for (const s of studies) {
      const key = identityKey({ issuer: '', patientId: s.patient_id, patientName: s.patient_name, birthDate: s.birth_date }, s.study_uid);
      const patient = insert.get(key, s.patient_id, s.patient_name, s.birth_date, s.sex) as { id: number };
      move.run(patient.id, s.id);
    }
    const drop = db.prepare('DELETE FROM dicom_patient WHERE id = ?');
    for (const id of old) drop.run(id);
  },
};
export default migration;
