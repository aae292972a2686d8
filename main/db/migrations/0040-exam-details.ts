// Exam details in the DICOM index (issue 6, line 3): what a signed report binds besides the study
// UID (common/report.ts ExamDetails). Study date/time, description and accession were indexed per
// study already; this adds the requester, the patient's demographics as the study's own files give
// them, and a way to catch up old rows.
// - dicom_study.referring_physician (0008,0090), requesting_service (0032,1033), patient_name,
//   birth_date, sex: NULL means "not read yet" (a study indexed before this migration), '' means
//   "read: the files have none". The patient's fields stay on dicom_patient for the library; the
//   study's copy is what a report binds, so a study never shows another study's patient name
//   because the two share a Patient ID. DicomIndexService.exam() fills NULL columns by re-reading
//   one file of the study.
// - dicom_instance.header_version: which parser version read the row (0 = before this migration).
//   An unchanged file whose row was read by an older version is read again on the next indexing,
//   so every file of an old study is re-read once and disagreements are found (see below).
// - dicom_index_warning: a file that was indexed but disagrees with its study on an exam detail
//   (another patient name, accession or requester than the first file's): the first value is kept and
//   the disagreement is listed per file and field, never dropped silently.
import type { Migration } from './index.ts';

const migration: Migration = {
  version: 40,
  name: 'exam-details',
  up(db) {
    db.exec(`
      ALTER TABLE dicom_study ADD COLUMN referring_physician TEXT;
      ALTER TABLE dicom_study ADD COLUMN requesting_service TEXT;
      ALTER TABLE dicom_study ADD COLUMN patient_name TEXT;
      ALTER TABLE dicom_study ADD COLUMN birth_date TEXT;
      ALTER TABLE dicom_study ADD COLUMN sex TEXT;
      ALTER TABLE dicom_instance ADD COLUMN header_version INTEGER NOT NULL DEFAULT 0;

      CREATE TABLE dicom_index_warning (
        path TEXT NOT NULL,
        study_uid TEXT NOT NULL,
        field TEXT NOT NULL,
        kept TEXT NOT NULL,
        found TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (path, field)
      );
      CREATE INDEX dicom_index_warning_study ON dicom_index_warning(study_uid);
    `);
  },
};
export default migration;
