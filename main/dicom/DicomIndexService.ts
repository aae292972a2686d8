// The local DICOM index: walks folders (or takes uploads), reads each file's header with bounded
// memory and caches patient → study → series → instance in SQLite. Files stay where they are.
// A file that cannot be indexed is listed with its reason; it never stops the run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ContractError, type ImageRef, type IndexError, type IndexResult, type PatientSummary, type SeriesSummary, type StudySummary } from '../../common/contract.ts';
import { ExamDetails, type StudyRef } from '../../common/report.ts';
import { issueText } from '../../common/validation.ts';
import type { Db } from '../db/database.ts';
import { MAX_FILE_BYTES, readFileHeader } from './fileSource.ts';
import { conflictReason, describeIdentity, identityKey, type PatientIdentity } from './identity.ts';
import { DicomReadError, type DicomHeader } from './parseHeader.ts';

/** Files parsed between database writes (one transaction each) and event-loop yields. */
const CHUNK = 64;

/**
 * The version of what the index reads from a header (dicom_instance.header_version). Bump it when
 * parseHeader learns a field the index stores: an unchanged file read by an older version is read
 * again on its next indexing. 0 = before migration 0040; 1 = exam details (requester);
 * 2 = Issuer of Patient ID (the patient's identity, migration 0060); 3 = names decoded under every
 * Specific Character Set with its ISO 2022 code extensions (charset.ts), and the pixel payload and
 * Number of Frames checked (a file read by 2 that is cut short or over-long is refused on its next
 * indexing).
 */
const NAMES_DECODED_SINCE = 3;
export const HEADER_VERSION = 3;

/** Old index rows whose exam details are re-read: at most this many files of the study are tried. */
const EXAM_REREAD_ATTEMPTS = 5;

/**
 * Exam details kept per study (dicom_study) where the files of one study may disagree: the first
 * non-empty value indexed is kept, and a file that disagrees is indexed and listed in
 * dicom_index_warning. The patient's name, birth date and sex are kept per study too (as well as
 * per patient for the library), so a report is bound to what its own study's files say even when
 * another study shares the Patient ID. `since0040`: NULL in rows indexed before migration 0040.
 */
const STUDY_FIELDS = [
  { field: 'patientName', column: 'patient_name', label: "Patient's Name (0010,0010)", since0040: true },
  { field: 'birthDate', column: 'birth_date', label: "Patient's Birth Date (0010,0030)", since0040: true },
  { field: 'sex', column: 'sex', label: "Patient's Sex (0010,0040)", since0040: true },
  { field: 'accession', column: 'accession', label: 'Accession Number (0008,0050)', since0040: false },
  { field: 'referringPhysician', column: 'referring_physician', label: "Referring Physician's Name (0008,0090)", since0040: true },
  { field: 'requestingService', column: 'requesting_service', label: 'Requesting Service (0032,1033)', since0040: true },
] as const satisfies readonly { field: keyof DicomHeader; column: string; label: string; since0040: boolean }[];
type StudyField = (typeof STUDY_FIELDS)[number];
const LATE_FIELDS = STUDY_FIELDS.filter((f) => f.since0040);

/** Equal as DICOM values: trailing empty PN components ('^', '=') and spaces do not count. */
function sameValue(a: string, b: string): boolean {
  const norm = (v: string): string => v.replace(/[\s^=]+$/, '');
  return norm(a) === norm(b);
}

interface InstanceRow {
  id: number;
  sop_instance_uid: string;
  path: string;
  instance_number: number | null;
  frames: number | null;
  rows: number | null;
  columns: number | null;
  slice_location: number | null;
  window_center: number | null;
  window_width: number | null;
  image_position: string | null;
  image_orientation: string | null;
}

/** dicom_study's exam columns; NULL: indexed before migration 0040, not read yet. */
type ExamRow = { id: number; study_date: string; study_time: string; description: string; identity_read: number } & Record<StudyField['column'], string | null>;

/** False for a study indexed before migration 0040 whose new columns have not been read yet. */
const isRead = (row: ExamRow): boolean => LATE_FIELDS.every((f) => row[f.column] !== null);

interface StudyRow {
  id: number;
  study_uid: string;
  study_date: string;
  study_time: string;
  description: string;
  accession: string;
  patient_ref: number;
  patient_id: string;
  patient_name: string;
  /** The study's own copy of the name (dicom_study.patient_name): NULL = indexed before 0040, not read since. */
  study_patient_name: string | null;
}

interface PatientRow {
  id: number;
  patient_key: string;
  patient_id: string;
  issuer: string;
  patient_name: string;
  birth_date: string;
  sex: string;
}

const headerIdentity = (h: DicomHeader): PatientIdentity => ({ issuer: h.issuerOfPatientId, patientId: h.patientId, patientName: h.patientName, birthDate: h.birthDate });
const identityOf = (p: PatientRow): PatientIdentity => ({ issuer: p.issuer, patientId: p.patient_id, patientName: p.patient_name, birthDate: p.birth_date });

/**
 * When a study was done, comparable, or null when it cannot be placed in time (no date, or a date
 * that is not a date). DA as YYYYMMDD (or the old YYYY.MM.DD), TM as HHMMSS.frac (or HH:MM:SS);
 * the time is null when absent, and a study's time only matters against another of the same day.
 */
function studyMoment(date: string, time: string): { day: string; seconds: number | null } | null {
  const day = date.replace(/[.-]/g, '');
  if (!/^\d{8}$/.test(day)) return null;
  const t = /^(\d{2})(\d{2})?(\d{2})?(\.\d{1,6})?$/.exec(time.replace(/:/g, ''));
  const seconds = t ? Number(t[1]) * 3600 + Number(t[2] ?? 0) * 60 + Number(t[3] ?? 0) + Number(t[4] ?? 0) : null;
  return { day, seconds };
}

/** True when `a` was certainly done before `b` (an undated study is before nothing and after nothing). */
function strictlyEarlier(a: ReturnType<typeof studyMoment>, b: ReturnType<typeof studyMoment>): boolean {
  if (a === null || b === null) return false;
  if (a.day !== b.day) return a.day < b.day;
  return a.seconds !== null && b.seconds !== null && a.seconds < b.seconds;
}

type Outcome = { path: string; ok: true; header: DicomHeader; size: number; mtimeMs: number } | { path: string; ok: false; reason: string } | { path: string; ok: 'unchanged'; sop: string; studyUid: string };

const nowIso = (): string => new Date().toISOString();

function parseVector(json: string | null, n: number): number[] | null {
  if (json === null) return null;
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (v as number[]) : null;
  } catch {
    return null;
  }
}

const naturalCompare = new Intl.Collator('en', { numeric: true, sensitivity: 'base' }).compare;

/** A file name safe to create inside the uploads folder: no separators, no leading dots. */
export function safeFileName(name: string): string {
  const base = name.replace(/\\/g, '/').split('/').pop() ?? '';
  const cleaned = base
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^[.]+/, '')
    .slice(0, 100);
  return cleaned === '' ? 'upload' : cleaned;
}

/**
 * Sorts the images of one series for stacking: by ImagePositionPatient projected on the slice
 * normal (from ImageOrientationPatient) when every image has both, else by InstanceNumber when
 * every image has one, else by file name. Ties fall through to the next key.
 */
export function orderImages<T extends InstanceRow>(rows: T[]): T[] {
  const byName = (a: T, b: T): number => naturalCompare(path.basename(a.path), path.basename(b.path)) || naturalCompare(a.path, b.path);
  const byNumber = (a: T, b: T): number => (a.instance_number ?? 0) - (b.instance_number ?? 0) || byName(a, b);
  const geo = rows.map((r) => ({ r, pos: parseVector(r.image_position, 3), ori: parseVector(r.image_orientation, 6) }));
  const first = geo[0];
  if (first && geo.every((g) => g.pos !== null && g.ori !== null) && first.ori) {
    const [rx, ry, rz, cx, cy, cz] = first.ori as [number, number, number, number, number, number];
    const normal = [ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx] as const;
    if (Math.hypot(...normal) > 1e-6) {
      const key = new Map(geo.map((g) => [g.r, g.pos![0]! * normal[0] + g.pos![1]! * normal[1] + g.pos![2]! * normal[2]]));
      return [...rows].sort((a, b) => key.get(a)! - key.get(b)! || byNumber(a, b));
    }
  }
  if (rows.every((r) => r.instance_number !== null)) return [...rows].sort(byNumber);
  return [...rows].sort(byName);
}

export interface DicomIndexOptions {
  /**
   * Folders never read as images: the workstation's data folder (its database, the embedded
   * hub's). Opening one of its files in this process, even to read a header, and closing it,
   * drops SQLite's POSIX locks on it, and the next connection may then delete the live WAL with
   * signed reports in it (issue 8 finding 1).
   */
  neverRead?: readonly string[];
}

export class DicomIndexService {
  /** `neverRead`, each as given (resolved) and as its real path. */
  private readonly protectedRoots: string[];

  constructor(
    private readonly db: Db,
    opts: DicomIndexOptions = {},
  ) {
    this.protectedRoots = (opts.neverRead ?? []).flatMap((d) => {
      const resolved = path.resolve(d);
      try {
        return [resolved, fs.realpathSync(resolved)];
      } catch {
        return [resolved];
      }
    });
  }

  /** The protected folder `p` (a real or resolved path) is in, or null. */
  private protectedRootOf(p: string): string | null {
    return this.protectedRoots.find((r) => p === r || p.startsWith(r.endsWith(path.sep) ? r : r + path.sep)) ?? null;
  }

  private static readonly PROTECTED_REASON =
    "Failsafe's own data folder (the workstation's database): never read as images, so the database is only ever opened by the workstation.";

  /** Indexes every file under `folder` (recursively; hidden entries skipped; symlink loops not followed). */
  async indexFolder(folder: string): Promise<IndexResult> {
    const root = path.resolve(folder);
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(root);
    } catch {
      throw new ContractError('not-found', `Folder not found: ${root}`);
    }
    if (!st.isDirectory()) throw new ContractError('invalid-input', `Not a folder: ${root}`);
    const realRoot = await fs.promises.realpath(root).catch(() => root);
    if (this.protectedRootOf(root) !== null || this.protectedRootOf(realRoot) !== null) {
      throw new ContractError('invalid-input', `${root} is ${DicomIndexService.PROTECTED_REASON} Open the folder your DICOM files are in.`);
    }
    const walkErrors: IndexError[] = [];
    const files = await this.listFiles(root, walkErrors);
    const result = await this.indexPaths(files);
    this.pruneMissing(root, new Set(files));
    for (const e of walkErrors) this.recordError(e.path, e.reason);
    return { ...result, errors: [...walkErrors, ...result.errors] };
  }

  /** Writes uploads under `destDir` (content-addressed, safe names) and indexes them. */
  async importFiles(files: { name: string; data: Uint8Array }[], destDir: string): Promise<IndexResult> {
    const dir = path.resolve(destDir);
    await fs.promises.mkdir(dir, { recursive: true });
    const written: string[] = [];
    const refused: IndexError[] = [];
    for (const f of files) {
      const safe = safeFileName(f.name);
      if (f.data.length === 0) {
        refused.push({ path: f.name, reason: 'The file is empty (0 bytes).' });
        continue;
      }
      if (f.data.length > MAX_FILE_BYTES) {
        refused.push({ path: f.name, reason: `The file is larger than the ${MAX_FILE_BYTES / 1024 ** 3} GiB limit: not stored.` });
        continue;
      }
      const hash = crypto.createHash('sha256').update(f.data).digest('hex').slice(0, 16);
      const target = path.resolve(dir, `${hash}-${safe}`);
      if (path.dirname(target) !== dir) {
        refused.push({ path: f.name, reason: 'Unsafe file name: not stored.' });
        continue;
      }
      try {
        if (!fs.existsSync(target)) {
          const tmp = `${target}.${crypto.randomBytes(6).toString('hex')}.part`;
          await fs.promises.writeFile(tmp, f.data, { flag: 'wx' });
          await fs.promises.rename(tmp, target);
        }
        if (!written.includes(target)) written.push(target);
      } catch (err) {
        refused.push({ path: f.name, reason: `The upload could not be stored: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
    const result = await this.indexPaths(written);
    return { ...result, scanned: files.length, errors: [...refused, ...result.errors] };
  }

  /**
   * Every patient identity (issuer + ID + name + birth date) with its studies, newest first. Two
   * identities sharing an issuer and Patient ID are listed apart, each with `identityConflict`
   * saying who else has the ID.
   */
  listPatients(): PatientSummary[] {
    const patients = this.db
      .prepare('SELECT id, patient_key, patient_id, issuer, patient_name, birth_date, sex FROM dicom_patient ORDER BY patient_name COLLATE NOCASE, patient_id, issuer, birth_date, id')
      .all() as PatientRow[];
    const conflicts = this.conflicts(patients);
    const byPatient = new Map<number, StudyRow[]>();
    for (const s of this.studyRows('1 = 1', [])) byPatient.set(s.patient_ref, [...(byPatient.get(s.patient_ref) ?? []), s]);
    return patients.map((p) => ({
      patientId: p.patient_id,
      issuer: p.issuer,
      identityKey: p.patient_key,
      patientName: p.patient_name,
      birthDate: p.birth_date,
      sex: p.sex,
      identityConflict: conflicts.get(p.id) ?? null,
      studies: (byPatient.get(p.id) ?? []).map((s) => this.summary(s, conflicts)),
    }));
  }

  study(studyUid: string): StudySummary | null {
    const row = this.studyRows('s.study_uid = ?', [studyUid])[0];
    return row ? this.summary(row) : null;
  }

  /**
   * Priors of a study: the other studies of the same identity (issuer, Patient ID, name, birth
   * date) done strictly before it, newest first. Never a later or same-time study, never one of
   * another identity (a conflicting one included). An undated study has no priors and is no
   * one's prior; nor is a same-day study when either lacks a time. A study without a Patient ID,
   * and one indexed before migration 0040 whose patient was never read from its own files (the
   * old index may have merged two people under its ID), have none and are none.
   */
  priors(ref: StudyRef): StudySummary[] {
    if (ref.patientId.trim() === '') return [];
    const current = this.studyRows('s.study_uid = ?', [ref.studyUid])[0];
    if (!current || current.patient_id !== ref.patientId || current.study_patient_name === null) return [];
    const at = studyMoment(current.study_date, current.study_time);
    const conflicts = this.conflicts(this.patientsWithId(current.patient_ref));
    return this.studyRows('s.patient_ref = ? AND s.id <> ? AND s.patient_name IS NOT NULL', [current.patient_ref, current.id])
      .map((s) => ({ s, at: studyMoment(s.study_date, s.study_time) }))
      .filter((x) => strictlyEarlier(x.at, at))
      .sort((a, b) => (strictlyEarlier(a.at, b.at) ? 1 : strictlyEarlier(b.at, a.at) ? -1 : 0))
      .map((x) => this.summary(x.s, conflicts));
  }

  /** The series' instances that have pixel data, in stack order. */
  seriesImages(seriesUid: string): ImageRef[] {
    const rows = this.db
      .prepare(
        `SELECT i.id, i.sop_instance_uid, i.path, i.instance_number, i.frames, i.rows, i.columns, i.slice_location,
                i.window_center, i.window_width, i.image_position, i.image_orientation
         FROM dicom_instance i JOIN dicom_series se ON se.id = i.series_ref
         WHERE se.series_uid = ? AND i.has_pixel_data = 1`,
      )
      .all(seriesUid) as InstanceRow[];
    return orderImages(rows).map((r) => ({
      fileId: String(r.id),
      sopInstanceUid: r.sop_instance_uid,
      instanceNumber: r.instance_number,
      frames: r.frames !== null && r.frames > 0 ? r.frames : 1,
      rows: r.rows,
      columns: r.columns,
      sliceLocation: r.slice_location,
      windowCenter: r.window_center,
      windowWidth: r.window_width,
    }));
  }

  filePath(fileId: string): string | null {
    if (!/^[1-9][0-9]{0,14}$/.test(fileId)) return null;
    const row = this.db.prepare('SELECT path FROM dicom_instance WHERE id = ?').get(Number(fileId)) as { path: string } | undefined;
    return row?.path ?? null;
  }

  errors(): IndexError[] {
    return this.db.prepare('SELECT path, reason FROM dicom_index_error ORDER BY path').all() as IndexError[];
  }

  /**
   * The exam a report of `studyUid` is bound to (common/report.ts ExamDetails): patient name,
   * birth date, sex, accession, the study's modalities (sorted, joined with '\\'), description, date,
   * time, referring physician and requesting service, as the files give them ('' when absent).
   * Null when the study is not in the index. A study indexed before migration 0040 (requester and
   * per-study patient not kept yet) has them read now from one of its files; when none of them can be read this throws ContractError
   * 'unavailable' naming each file tried and why. A value too long for ExamDetails (a file far
   * outside DICOM's own limits) throws ContractError 'invalid-input' rather than being cut.
   */
  exam(studyUid: string): ExamDetails | null {
    const stored = this.examRow(studyUid);
    if (!stored) return null;
    let row = stored;
    // Before 0040 the patient was kept per Patient ID only (the last file won): read it from the study's own files.
    if (!isRead(stored)) {
      this.rereadExam(stored.id, studyUid);
      row = this.examRow(studyUid) ?? stored;
    }
    const parsed = this.examOf(row);
    if (!parsed.success) {
      throw new ContractError('invalid-input', `The exam details of study ${studyUid} cannot be bound to a report; the files hold values beyond DICOM's limits:\n${issueText(parsed.error)}`);
    }
    return parsed.data;
  }

  /**
   * What the index already holds of the exam, for showing (e.g. a draft's header): never reads a
   * file and never throws. Null when the study is not indexed, was indexed before exam details were
   * kept and not read again yet, or holds values exam() refuses. Bind a signature with exam().
   */
  knownExam(studyUid: string): ExamDetails | null {
    const row = this.examRow(studyUid);
    if (!row || !isRead(row)) return null;
    const parsed = this.examOf(row);
    return parsed.success ? parsed.data : null;
  }

  /** Files that were indexed but disagree with their study on an exam detail (the first value is kept). */
  warnings(studyUid?: string): IndexError[] {
    const rows = this.db
      .prepare(`SELECT path, study_uid, field, kept, found FROM dicom_index_warning ${studyUid === undefined ? '' : 'WHERE study_uid = ?'} ORDER BY path, field`)
      .all(...(studyUid === undefined ? [] : [studyUid])) as { path: string; study_uid: string; field: string; kept: string; found: string }[];
    return rows.map((r) => {
      const label = STUDY_FIELDS.find((f) => f.column === r.field)?.label ?? r.field;
      return { path: r.path, reason: `${label} is "${r.found}" in this file but "${r.kept}" in the first file indexed for study ${r.study_uid}: the study keeps "${r.kept}". Check which is right before reporting.` };
    });
  }

  // ---- internals ----

  private examRow(studyUid: string): ExamRow | undefined {
    return this.db
      .prepare(
        `SELECT id, study_date, study_time, description, identity_read, ${STUDY_FIELDS.map((f) => f.column).join(', ')} FROM dicom_study WHERE study_uid = ?`,
      )
      .get(studyUid) as ExamRow | undefined;
  }

  private examOf(row: ExamRow): ReturnType<typeof ExamDetails.safeParse> {
    const modalities = this.db
      .prepare("SELECT DISTINCT modality FROM dicom_series WHERE study_ref = ? AND modality <> '' ORDER BY modality")
      .pluck()
      .all(row.id) as string[];
    return ExamDetails.safeParse({
      ...Object.fromEntries(STUDY_FIELDS.map((f) => [f.field, row[f.column] ?? ''])),
      modality: modalities.join('\\'),
      studyDescription: row.description,
      studyDate: row.study_date,
      studyTime: row.study_time,
    });
  }

  /**
   * Fills a pre-0040 study's NULL exam columns from the first of its files that still reads as the
   * same instance; a study whose identity came from an older index (identity_read = 0) is bound to
   * the identity that file gives (confirmIdentity).
   */
  private rereadExam(studyId: number, studyUid: string): void {
    const files = this.db
      .prepare(
        `SELECT i.path, i.sop_instance_uid AS sop FROM dicom_instance i JOIN dicom_series se ON se.id = i.series_ref
         WHERE se.study_ref = ? ORDER BY i.id LIMIT ?`,
      )
      .all(studyId, EXAM_REREAD_ATTEMPTS) as { path: string; sop: string }[];
    const failures: string[] = [];
    for (const f of files) {
      let h: DicomHeader;
      try {
        h = readFileHeader(f.path).header;
      } catch (err) {
        failures.push(`${f.path}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      if (h.sopInstanceUid !== f.sop || h.studyUid !== studyUid) {
        failures.push(`${f.path}: the file now holds another instance (${h.sopInstanceUid}, study ${h.studyUid}).`);
        continue;
      }
      this.db.transaction(() => {
        this.confirmIdentity(studyId, h);
        this.db
          .prepare(`UPDATE dicom_study SET ${LATE_FIELDS.map((c) => `${c.column} = coalesce(${c.column}, ?)`).join(', ')} WHERE id = ?`)
          .run(...LATE_FIELDS.map((c) => h[c.field]), studyId);
      })();
      return;
    }
    throw new ContractError(
      'unavailable',
      `The exam details of study ${studyUid} (requester, and the patient as its files name them) were indexed by an older version and must be read from its files, but ${files.length === 0 ? 'the study has no files' : `none of the ${files.length} tried could be read`}:${failures.map((x) => `\n- ${x}`).join('')}\nOpen the folder that holds the study again.`,
    );
  }

  /**
   * A study whose identity came from an older index (identity_read = 0) is bound to the identity
   * `h` (one of its files, read now) gives: its own patient row (found or created), its per-study
   * name and birth date. From then on a file naming another patient is refused (upsert).
   */
  private confirmIdentity(studyId: number, h: DicomHeader): void {
    const read = this.db.prepare('SELECT identity_read FROM dicom_study WHERE id = ?').pluck().get(studyId) as number | undefined;
    if (read !== 0) return;
    const patient = this.patientFor(h);
    this.db.prepare('UPDATE dicom_study SET patient_ref = ?, patient_name = ?, birth_date = ?, identity_read = 1 WHERE id = ?').run(patient, h.patientName, h.birthDate, studyId);
    this.bind(h);
    this.pruneEmpty();
  }

  /** Records the identity study `h.studyUid` is indexed for (dicom_study_binding, migration 0060). */
  private bind(h: DicomHeader): void {
    this.db
      .prepare(
        `INSERT INTO dicom_study_binding (study_uid, patient_key, issuer, patient_id, patient_name, birth_date) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(study_uid) DO UPDATE SET patient_key = excluded.patient_key, issuer = excluded.issuer, patient_id = excluded.patient_id,
           patient_name = excluded.patient_name, birth_date = excluded.birth_date`,
      )
      .run(h.studyUid, identityKey(headerIdentity(h), h.studyUid), h.issuerOfPatientId, h.patientId, h.patientName, h.birthDate);
  }

  /** The dicom_patient row of the identity `h` names (created when new; its sex filled when unknown, never overwritten). */
  private patientFor(h: DicomHeader): number {
    const key = identityKey(headerIdentity(h), h.studyUid);
    return (
      this.db
        .prepare(
          `INSERT INTO dicom_patient (patient_key, patient_id, issuer, patient_name, birth_date, sex) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT(patient_key) DO UPDATE SET sex = CASE WHEN sex = '' THEN excluded.sex ELSE sex END
           RETURNING id`,
        )
        .get(key, h.patientId, h.issuerOfPatientId, h.patientName, h.birthDate, h.sex) as { id: number }
    ).id;
  }

  /** The patients sharing the issuer and (non-empty) Patient ID of patient `patientRef`, itself included. */
  private patientsWithId(patientRef: number): PatientRow[] {
    return this.db
      .prepare(
        `SELECT o.id, o.patient_key, o.patient_id, o.issuer, o.patient_name, o.birth_date, o.sex FROM dicom_patient p
         JOIN dicom_patient o ON o.patient_id = p.patient_id AND o.issuer = p.issuer
         WHERE p.id = ? AND p.patient_id <> ''`,
      )
      .all(patientRef) as PatientRow[];
  }

  /** Each patient of `patients` that shares its issuer and Patient ID with another one there → the reason shown with it. */
  private conflicts(patients: readonly PatientRow[]): Map<number, string> {
    const groups = new Map<string, PatientRow[]>();
    for (const p of patients) {
      if (p.patient_id === '') continue;
      const k = JSON.stringify([p.issuer, p.patient_id]);
      groups.set(k, [...(groups.get(k) ?? []), p]);
    }
    const out = new Map<number, string>();
    for (const group of groups.values()) {
      for (const p of group) {
        const reason = conflictReason(identityOf(p), group.filter((o) => o.id !== p.id).map(identityOf));
        if (reason !== null) out.set(p.id, reason);
      }
    }
    return out;
  }

  private studyRows(where: string, params: unknown[]): StudyRow[] {
    return this.db
      .prepare(
        `SELECT s.id, s.study_uid, s.study_date, s.study_time, s.description, s.accession, s.patient_ref,
                p.patient_id, p.patient_name, s.patient_name AS study_patient_name
         FROM dicom_study s JOIN dicom_patient p ON p.id = s.patient_ref
         WHERE ${where}
         ORDER BY s.study_date DESC, s.study_time DESC, s.study_uid`,
      )
      .all(...params) as StudyRow[];
  }

  /** `conflicts`: from conflicts() over (at least) the patients sharing this study's ID; looked up when not given. */
  private summary(s: StudyRow, conflicts: Map<number, string> = this.conflicts(this.patientsWithId(s.patient_ref))): StudySummary {
    const series = this.db
      .prepare(
        `SELECT se.series_uid, se.series_number, se.description, se.modality,
                COALESCE(SUM(CASE WHEN i.has_pixel_data = 1 THEN MAX(COALESCE(i.frames, 1), 1) ELSE 0 END), 0) AS n
         FROM dicom_series se LEFT JOIN dicom_instance i ON i.series_ref = se.id
         WHERE se.study_ref = ?
         GROUP BY se.id
         ORDER BY se.series_number IS NULL, se.series_number, se.description, se.series_uid`,
      )
      .all(s.id) as { series_uid: string; series_number: number | null; description: string; modality: string; n: number }[];
    // instanceCount is what the viewer's stack holds (seriesImages: one entry per frame of each
    // instance with pixel data), so the library never promises an image the viewer cannot show.
    const list: SeriesSummary[] = series.map((x) => ({
      seriesUid: x.series_uid,
      seriesNumber: x.series_number,
      description: x.description,
      modality: x.modality,
      instanceCount: x.n,
    }));
    return {
      studyUid: s.study_uid,
      patientId: s.patient_id,
      patientName: s.patient_name,
      identityConflict: conflicts.get(s.patient_ref) ?? null,
      studyDate: s.study_date,
      description: s.description,
      accession: s.accession,
      modalities: [...new Set(list.map((x) => x.modality).filter((m) => m !== ''))].sort(),
      series: list,
    };
  }

  private async listFiles(root: string, errors: IndexError[]): Promise<string[]> {
    const files: string[] = [];
    const visited = new Set<string>();
    const walk = async (dir: string): Promise<void> => {
      let real: string;
      try {
        real = await fs.promises.realpath(dir);
      } catch {
        errors.push({ path: dir, reason: 'The folder could not be resolved (broken link?).' });
        return;
      }
      // Every way into the data folder is named (the folder itself, each link to it).
      if (this.protectedRootOf(dir) !== null || this.protectedRootOf(real) !== null) {
        errors.push({ path: dir, reason: `Not read: ${DicomIndexService.PROTECTED_REASON}` });
        return;
      }
      if (visited.has(real)) return; // a symlink loop or a second link to a folder already walked
      visited.add(real);
      let entries: fs.Dirent[];
      try {
        entries = await fs.promises.readdir(dir, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        errors.push({ path: dir, reason: code === 'EACCES' || code === 'EPERM' ? 'Permission denied: the folder cannot be read.' : `The folder could not be read (${code ?? String(err)}).` });
        return;
      }
      entries.sort((a, b) => naturalCompare(a.name, b.name));
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const full = path.join(dir, e.name);
        if (e.isDirectory()) {
          await walk(full);
        } else if (e.isFile()) {
          files.push(full);
        } else if (e.isSymbolicLink()) {
          try {
            const st = await fs.promises.stat(full);
            if (st.isDirectory()) await walk(full);
            else if (st.isFile()) {
              // A link to a file in the data folder is not followed either.
              if (this.protectedRootOf(await fs.promises.realpath(full)) !== null) errors.push({ path: full, reason: `Not read: ${DicomIndexService.PROTECTED_REASON}` });
              else files.push(full);
            }
          } catch {
            errors.push({ path: full, reason: 'Broken link: its target does not exist.' });
          }
        }
      }
    };
    await walk(root);
    return files;
  }

  private async indexPaths(files: string[]): Promise<IndexResult> {
    const errors: IndexError[] = [];
    const studyUids: string[] = [];
    const seenSop = new Map<string, string>();
    let indexed = 0;
    const unchangedStmt = this.db.prepare(
      `SELECT i.sop_instance_uid AS sop, st.study_uid AS studyUid FROM dicom_instance i
       JOIN dicom_series se ON se.id = i.series_ref JOIN dicom_study st ON st.id = se.study_ref
       WHERE i.path = ? AND i.file_size = ? AND i.file_mtime_ms = ? AND i.header_version >= ${HEADER_VERSION}`,
    );
    for (let start = 0; start < files.length; start += CHUNK) {
      const outcomes: Outcome[] = [];
      for (const file of files.slice(start, start + CHUNK)) {
        try {
          const st = fs.statSync(file);
          const hit = unchangedStmt.get(file, st.size, st.mtimeMs) as { sop: string; studyUid: string } | undefined;
          if (hit) {
            outcomes.push({ path: file, ok: 'unchanged', sop: hit.sop, studyUid: hit.studyUid });
            continue;
          }
        } catch {
          // readFileHeader reports the reason
        }
        try {
          const r = readFileHeader(file);
          outcomes.push({ path: file, ok: true, header: r.header, size: r.size, mtimeMs: r.mtimeMs });
        } catch (err) {
          const reason = err instanceof DicomReadError ? err.message : `Unexpected error: ${err instanceof Error ? err.message : String(err)}`;
          outcomes.push({ path: file, ok: false, reason });
        }
      }
      this.db.transaction(() => {
        for (const o of outcomes) {
          if (o.ok === false) {
            errors.push({ path: o.path, reason: o.reason });
            this.recordError(o.path, o.reason);
            continue;
          }
          const sop = o.ok === 'unchanged' ? o.sop : o.header.sopInstanceUid;
          const studyUid = o.ok === 'unchanged' ? o.studyUid : o.header.studyUid;
          const first = seenSop.get(sop);
          if (first !== undefined && first !== o.path) {
            const reason = `Duplicate SOP Instance UID ${sop}: the same instance was already indexed from ${first} in this run, so this copy is not indexed.`;
            errors.push({ path: o.path, reason });
            this.recordError(o.path, reason);
            continue;
          }
          const refused = o.ok === true ? this.upsert(o.path, o.header, o.size, o.mtimeMs) : null;
          if (refused !== null) {
            errors.push({ path: o.path, reason: refused });
            this.recordError(o.path, refused);
            continue;
          }
          seenSop.set(sop, o.path);
          this.db.prepare('DELETE FROM dicom_index_error WHERE path = ?').run(o.path);
          indexed += 1;
          if (!studyUids.includes(studyUid)) studyUids.push(studyUid);
        }
        this.pruneEmpty();
      })();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { scanned: files.length, indexed, errors, studyUids };
  }

  private recordError(file: string, reason: string): void {
    // The file no longer supports whatever it held before; a duplicate keeps its original owner.
    if (!reason.startsWith('Duplicate SOP Instance UID')) this.db.prepare('DELETE FROM dicom_instance WHERE path = ?').run(file);
    this.db
      .prepare('INSERT INTO dicom_index_error (path, reason, at) VALUES (?, ?, ?) ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, at = excluded.at')
      .run(file, reason, nowIso());
  }

  /**
   * Indexes one file, or returns why it is refused (nothing written): a study belongs to the
   * patient identity its first file named; a later file of the study naming another identity
   * (another issuer, ID, name or birth date, or no ID) is never indexed into it, and never moves it.
   */
  private upsert(file: string, h: DicomHeader, size: number, mtimeMs: number): string | null {
    const bound = this.db.prepare('SELECT id, identity_read FROM dicom_study WHERE study_uid = ?').get(h.studyUid) as { id: number; identity_read: number } | undefined;
    // The identity the study was indexed for (kept after its files are gone while a report of it is
    // here); none yet for a study from an older index whose files were not read again (identity_read = 0).
    const binding =
      bound?.identity_read === 0
        ? undefined
        : (this.db.prepare('SELECT patient_key, issuer, patient_id, patient_name, birth_date FROM dicom_study_binding WHERE study_uid = ?').get(h.studyUid) as
            | { patient_key: string; issuer: string; patient_id: string; patient_name: string; birth_date: string }
            | undefined);
    if (binding && binding.patient_key !== identityKey(headerIdentity(h), h.studyUid) && !this.nameWasMisread(h, binding)) {
      const where = bound ? 'is already in the library' : 'was indexed, and a report of it is on this workstation,';
      return (
        `Study Instance UID ${h.studyUid} ${where} for patient ${describeIdentity({ issuer: binding.issuer, patientId: binding.patient_id, patientName: binding.patient_name, birthDate: binding.birth_date })}, ` +
        `but this file names ${describeIdentity(headerIdentity(h))}: not indexed. A study belongs to one patient; have the images checked (the wrong patient on them, or a reused UID) before reporting this study.`
      );
    }
    if (bound) this.confirmIdentity(bound.id, h);
    if (!bound || (binding && binding.patient_key !== identityKey(headerIdentity(h), h.studyUid))) {
      // A new study, or one whose name an older version misread (nameWasMisread): bound to what this file says.
      this.bind(h);
      this.db.prepare('UPDATE dicom_study SET patient_name = ? WHERE study_uid = ?').run(h.patientName, h.studyUid);
    }
    const patient = { id: this.patientFor(h) };
    // STUDY_FIELDS: the first non-empty value is kept (NULL = indexed before 0040, not read yet);
    // a file that disagrees is indexed and listed in dicom_index_warning.
    const study = this.db
      .prepare(
        `INSERT INTO dicom_study (study_uid, patient_ref, study_date, study_time, description, ${STUDY_FIELDS.map((f) => f.column).join(', ')})
         VALUES (?, ?, ?, ?, ?, ${STUDY_FIELDS.map(() => '?').join(', ')})
         ON CONFLICT(study_uid) DO UPDATE SET
           patient_ref = excluded.patient_ref,
           study_date = CASE WHEN excluded.study_date <> '' THEN excluded.study_date ELSE study_date END,
           study_time = CASE WHEN excluded.study_time <> '' THEN excluded.study_time ELSE study_time END,
           description = CASE WHEN excluded.description <> '' THEN excluded.description ELSE description END,
           ${STUDY_FIELDS.map((f) => `${f.column} = CASE WHEN coalesce(${f.column}, '') = '' THEN excluded.${f.column} ELSE ${f.column} END`).join(',\n           ')}
         RETURNING id, ${STUDY_FIELDS.map((f) => f.column).join(', ')}`,
      )
      .get(h.studyUid, patient.id, h.studyDate, h.studyTime, h.studyDescription, ...STUDY_FIELDS.map((f) => h[f.field])) as { id: number } & Record<StudyField['column'], string>;
    this.db.prepare('DELETE FROM dicom_index_warning WHERE path = ?').run(file);
    for (const f of STUDY_FIELDS) {
      const kept = study[f.column] ?? '';
      const found = h[f.field];
      if (found !== '' && kept !== '' && !sameValue(found, kept)) {
        this.db
          .prepare('INSERT INTO dicom_index_warning (path, study_uid, field, kept, found, at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(file, h.studyUid, f.column, kept, found, nowIso());
      }
    }
    const series = this.db
      .prepare(
        `INSERT INTO dicom_series (series_uid, study_ref, modality, series_number, description) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(series_uid) DO UPDATE SET
           study_ref = excluded.study_ref,
           modality = CASE WHEN excluded.modality <> '' THEN excluded.modality ELSE modality END,
           series_number = COALESCE(excluded.series_number, series_number),
           description = CASE WHEN excluded.description <> '' THEN excluded.description ELSE description END
         RETURNING id`,
      )
      .get(h.seriesUid, study.id, h.modality, h.seriesNumber, h.seriesDescription) as { id: number };
    // If this path held another instance before (the file was replaced), that one is gone.
    this.db.prepare('DELETE FROM dicom_instance WHERE path = ? AND sop_instance_uid <> ?').run(file, h.sopInstanceUid);
    const json = (v: readonly number[] | null): string | null => (v === null ? null : JSON.stringify(v));
    this.db
      .prepare(
        `INSERT INTO dicom_instance (sop_instance_uid, series_ref, sop_class_uid, path, file_size, file_mtime_ms, transfer_syntax_uid,
           instance_number, has_pixel_data, rows, columns, frames, samples_per_pixel, bits_allocated, bits_stored, pixel_representation,
           photometric, image_position, image_orientation, pixel_spacing, slice_location, slice_thickness, window_center, window_width,
           rescale_slope, rescale_intercept, indexed_at, header_version)
         VALUES (@sop, @series, @sopClass, @path, @size, @mtime, @ts, @instanceNumber, @hasPixel, @rows, @columns, @frames, @spp, @ba, @bs, @pr,
           @photometric, @ipp, @iop, @ps, @sliceLocation, @sliceThickness, @wc, @ww, @slope, @intercept, @at, @headerVersion)
         ON CONFLICT(sop_instance_uid) DO UPDATE SET
           series_ref = excluded.series_ref, sop_class_uid = excluded.sop_class_uid, path = excluded.path, file_size = excluded.file_size,
           file_mtime_ms = excluded.file_mtime_ms, transfer_syntax_uid = excluded.transfer_syntax_uid, instance_number = excluded.instance_number,
           has_pixel_data = excluded.has_pixel_data, rows = excluded.rows, columns = excluded.columns, frames = excluded.frames,
           samples_per_pixel = excluded.samples_per_pixel, bits_allocated = excluded.bits_allocated, bits_stored = excluded.bits_stored,
           pixel_representation = excluded.pixel_representation, photometric = excluded.photometric, image_position = excluded.image_position,
           image_orientation = excluded.image_orientation, pixel_spacing = excluded.pixel_spacing, slice_location = excluded.slice_location,
           slice_thickness = excluded.slice_thickness, window_center = excluded.window_center, window_width = excluded.window_width,
           rescale_slope = excluded.rescale_slope, rescale_intercept = excluded.rescale_intercept, indexed_at = excluded.indexed_at,
           header_version = excluded.header_version`,
      )
      .run({
        sop: h.sopInstanceUid,
        series: series.id,
        sopClass: h.sopClassUid,
        path: file,
        size,
        mtime: mtimeMs,
        ts: h.transferSyntaxUid,
        instanceNumber: h.instanceNumber,
        hasPixel: h.hasPixelData ? 1 : 0,
        rows: h.rows,
        columns: h.columns,
        frames: h.frames,
        spp: h.samplesPerPixel,
        ba: h.bitsAllocated,
        bs: h.bitsStored,
        pr: h.pixelRepresentation,
        photometric: h.photometric,
        ipp: json(h.imagePosition),
        iop: json(h.imageOrientation),
        ps: json(h.pixelSpacing),
        sliceLocation: h.sliceLocation,
        sliceThickness: h.sliceThickness,
        wc: h.windowCenter,
        ww: h.windowWidth,
        slope: h.rescaleSlope,
        intercept: h.rescaleIntercept,
        at: nowIso(),
        headerVersion: HEADER_VERSION,
      });
    return null;
  }

  /**
   * True when the study's binding differs from `h` only in the patient's name, every file of the
   * study was read before names were decoded under ISO 2022 code extensions (header version < 3),
   * `h` declares a Specific Character Set (so the old reading may have garbled it), and no report
   * of the study is on this workstation: the name in the index is the old misreading of these very
   * files, and the study is re-bound to the name read now. With a report, nothing is re-bound: the
   * file is refused with both names, for a person to check.
   */
  private nameWasMisread(h: DicomHeader, binding: { patient_key: string; patient_name: string }): boolean {
    if (h.specificCharacterSet.replace(/[\\\s]/g, '') === '') return false;
    if (identityKey({ ...headerIdentity(h), patientName: binding.patient_name }, h.studyUid) !== binding.patient_key) return false;
    const readSince = this.db
      .prepare(
        `SELECT COUNT(*) FROM dicom_instance i JOIN dicom_series se ON se.id = i.series_ref JOIN dicom_study st ON st.id = se.study_ref
         WHERE st.study_uid = ? AND i.header_version >= ${NAMES_DECODED_SINCE}`,
      )
      .pluck()
      .get(h.studyUid) as number;
    const reports = this.db.prepare('SELECT COUNT(*) FROM reports WHERE study_uid = ?').pluck().get(h.studyUid) as number;
    return readSince === 0 && reports === 0;
  }

  /** Drops series, studies and patients that no longer have anything in them. */
  private pruneEmpty(): void {
    this.db.exec(`
      DELETE FROM dicom_series WHERE NOT EXISTS (SELECT 1 FROM dicom_instance i WHERE i.series_ref = dicom_series.id);
      DELETE FROM dicom_study WHERE NOT EXISTS (SELECT 1 FROM dicom_series se WHERE se.study_ref = dicom_study.id);
      DELETE FROM dicom_patient WHERE NOT EXISTS (SELECT 1 FROM dicom_study s WHERE s.patient_ref = dicom_patient.id);
      DELETE FROM dicom_index_warning WHERE NOT EXISTS (SELECT 1 FROM dicom_instance i WHERE i.path = dicom_index_warning.path);
      DELETE FROM dicom_study_binding WHERE NOT EXISTS (SELECT 1 FROM dicom_study s WHERE s.study_uid = dicom_study_binding.study_uid)
        AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.study_uid = dicom_study_binding.study_uid);
    `);
  }

  /** After a folder run: forget instances under it whose files are gone, and stale error rows. */
  private pruneMissing(root: string, scanned: Set<string>): void {
    const prefix = root.endsWith(path.sep) ? root : root + path.sep;
    const like = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    this.db.transaction(() => {
      const inst = this.db.prepare("SELECT id, path FROM dicom_instance WHERE path LIKE ? ESCAPE '\\'").all(like) as { id: number; path: string }[];
      for (const r of inst) {
        if (!scanned.has(r.path) && !fs.existsSync(r.path)) this.db.prepare('DELETE FROM dicom_instance WHERE id = ?').run(r.id);
      }
      const errs = this.db.prepare("SELECT path FROM dicom_index_error WHERE path LIKE ? ESCAPE '\\'").all(like) as { path: string }[];
      for (const r of errs) {
        if (!scanned.has(r.path)) this.db.prepare('DELETE FROM dicom_index_error WHERE path = ?').run(r.path);
      }
      this.pruneEmpty();
    })();
  }
}
