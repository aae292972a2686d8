// The local DICOM index: patient → study → series → instance, with the header fields the
// workstation needs cached per instance. Files are not copied; `path` points at them. Files
// that could not be indexed are kept per path with the reason from the latest run.
import type { Migration } from './index.ts';

const migration: Migration = {
  version: 20,
  name: 'dicom-index',
  up(db) {
    db.exec(`
      CREATE TABLE dicom_patient (
        id INTEGER PRIMARY KEY,
        -- The Patient ID when there is one; otherwise 'study:<StudyInstanceUID>', so that
        -- unrelated studies without an ID are never merged into one "patient".
        patient_key TEXT NOT NULL UNIQUE,
        patient_id TEXT NOT NULL,
        patient_name TEXT NOT NULL DEFAULT '',
        birth_date TEXT NOT NULL DEFAULT '',
        sex TEXT NOT NULL DEFAULT ''
      );

      CREATE TABLE dicom_study (
        id INTEGER PRIMARY KEY,
        study_uid TEXT NOT NULL UNIQUE,
        patient_ref INTEGER NOT NULL REFERENCES dicom_patient(id) ON DELETE CASCADE,
        study_date TEXT NOT NULL DEFAULT '',
        study_time TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        accession TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX dicom_study_patient ON dicom_study(patient_ref);

      CREATE TABLE dicom_series (
        id INTEGER PRIMARY KEY,
        series_uid TEXT NOT NULL UNIQUE,
        study_ref INTEGER NOT NULL REFERENCES dicom_study(id) ON DELETE CASCADE,
        modality TEXT NOT NULL DEFAULT '',
        series_number INTEGER,
        description TEXT NOT NULL DEFAULT ''
      );
      CREATE INDEX dicom_series_study ON dicom_series(study_ref);

      CREATE TABLE dicom_instance (
        id INTEGER PRIMARY KEY,
        sop_instance_uid TEXT NOT NULL UNIQUE,
        series_ref INTEGER NOT NULL REFERENCES dicom_series(id) ON DELETE CASCADE,
        sop_class_uid TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL,
        file_size INTEGER NOT NULL,
        file_mtime_ms REAL NOT NULL,
        transfer_syntax_uid TEXT NOT NULL,
        instance_number INTEGER,
        has_pixel_data INTEGER NOT NULL CHECK (has_pixel_data IN (0, 1)),
        rows INTEGER,
        columns INTEGER,
        frames INTEGER,
        samples_per_pixel INTEGER,
        bits_allocated INTEGER,
        bits_stored INTEGER,
        pixel_representation INTEGER,
        photometric TEXT NOT NULL DEFAULT '',
        -- JSON arrays of numbers, or NULL.
        image_position TEXT,
        image_orientation TEXT,
        pixel_spacing TEXT,
        slice_location REAL,
        slice_thickness REAL,
        window_center REAL,
        window_width REAL,
        rescale_slope REAL,
        rescale_intercept REAL,
        indexed_at TEXT NOT NULL
      );
      CREATE INDEX dicom_instance_series ON dicom_instance(series_ref);
      CREATE INDEX dicom_instance_path ON dicom_instance(path);

      CREATE TABLE dicom_index_error (
        path TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
      );
    `);
  },
};
export default migration;
