// Daily checked backups and the restore of `npm start -- --restore-backup` (issue 8 line 3): a
// backup is a whole, owner-only copy that opens with every signed report; a copy that fails its
// integrity check is kept aside and said, never counted as good; the newest KEEP are kept; a
// restore puts a good backup in place and moves the current database aside, never deleting it.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BACKUP_DIR, BACKUP_EVERY_MS, BackupService, backupNow, integrityCheck, KEEP, listBackups, restoreBackup, RestoreError } from '../../../main/db/backup.ts';
import { openDatabase } from '../../../main/db/database.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, fixtureExam, RADIOLOGIST, signableContent, STUDY_A, tempDir } from '../reports/fixtures.ts';

function workstationWithSignedReport(): { dir: string; file: string; reportId: string; db: ReturnType<typeof openDatabase> } {
  const dir = tempDir('backup');
  const file = path.join(dir, 'failsafe.sqlite');
  const db = openDatabase(file);
  const store = new ReportStore(db, { examFor: fixtureExam });
  const r = store.open(STUDY_A, { actor: RADIOLOGIST.name, ...CT_HEAD });
  store.save(r.id, STUDY_A, signableContent(), 0, RADIOLOGIST.name);
  store.sign(r.id, STUDY_A, 1, RADIOLOGIST);
  return { dir, file, reportId: r.id, db };
}

describe('daily backups', () => {
  it('a backup is a whole owner-only copy that opens with the signed report, checked in a worker', async () => {
    const w = workstationWithSignedReport();
    const out = await backupNow(w.db, w.dir, Date.parse('2026-11-28T10:00:00Z'));
    expect(out.ok).toBe(true);
    expect(path.basename(out.file)).toBe('failsafe-20261128T100000000Z.sqlite');
    expect(fs.statSync(out.file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(w.dir, BACKUP_DIR)).mode & 0o777).toBe(0o700);
    expect(await integrityCheck(out.file)).toBeNull();
    const copy = openDatabase(out.file, { readonly: true });
    expect(new ReportStore(copy).draftFor(w.reportId)).toBeNull(); // signed, not a draft
    expect(copy.prepare('SELECT state FROM reports WHERE id = ?').get(w.reportId)).toEqual({ state: 'final' });
    copy.close();
    expect(listBackups(path.join(w.dir, BACKUP_DIR)).map((b) => b.takenAt)).toEqual(['2026-11-28T10:00:00.000Z']);
    w.db.close();
  });

  it('a damaged file fails the integrity check in words; the service keeps it aside, says so, and counts only good backups', async () => {
    const w = workstationWithSignedReport();
    const good = await backupNow(w.db, w.dir, Date.parse('2026-11-27T10:00:00Z'));
    // Damage a copy the way a failing disk does: a page of its b-tree overwritten.
    const damaged = path.join(w.dir, 'damaged.sqlite');
    fs.copyFileSync(good.file, damaged);
    const bytes = fs.readFileSync(damaged);
    const page = 4096;
    for (let i = 2 * page + 8; i < 3 * page; i++) bytes[i] = 0xa5;
    fs.writeFileSync(damaged, bytes);
    expect(await integrityCheck(damaged)).toMatch(/\S/);
    expect(await integrityCheck(path.join(w.dir, 'missing.sqlite'))).toMatch(/\S/);

    // The service over a database whose pages are damaged: its backup fails the check, is kept
    // aside as .damaged, is said in words, and is not counted as a good backup.
    const said: string[] = [];
    const damagedDir = tempDir('backup-damaged');
    const live = new Database(damaged);
    const onDamaged = new BackupService(live, damagedDir, { damage: (problem, file) => said.push(`${file}: ${problem}`), error: (e) => said.push(`error ${String(e)}`) });
    await onDamaged.runIfDue();
    live.close();
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/\.sqlite\.damaged: \S/);
    expect(listBackups(path.join(damagedDir, BACKUP_DIR))).toEqual([]);

    // A sound database: one good backup, then none again within a day.
    let now = Date.parse('2026-11-28T11:00:00Z');
    const svc = new BackupService(w.db, w.dir, { damage: (problem) => said.push(problem), error: (e) => said.push(`error ${String(e)}`) }, () => now);
    await svc.runIfDue();
    expect(listBackups(path.join(w.dir, BACKUP_DIR))).toHaveLength(2);
    now += BACKUP_EVERY_MS - 1000;
    await svc.runIfDue();
    expect(listBackups(path.join(w.dir, BACKUP_DIR))).toHaveLength(2);
    now += 2000;
    await svc.runIfDue();
    expect(listBackups(path.join(w.dir, BACKUP_DIR))).toHaveLength(3);
    expect(said).toHaveLength(1);
    w.db.close();
  });

  it(`keeps the newest ${KEEP} good backups`, async () => {
    const w = workstationWithSignedReport();
    for (let d = 1; d <= KEEP + 3; d++) await backupNow(w.db, w.dir, Date.parse(`2026-11-${String(d).padStart(2, '0')}T09:00:00Z`));
    const kept = listBackups(path.join(w.dir, BACKUP_DIR));
    expect(kept).toHaveLength(KEEP);
    expect(kept[0]!.takenAt).toBe(`2026-11-${String(KEEP + 3).padStart(2, '0')}T09:00:00.000Z`);
    w.db.close();
  });
});

describe('--restore-backup', () => {
  it('puts the newest good backup in place and moves the current database (with its WAL) aside, deleting nothing', async () => {
    const w = workstationWithSignedReport();
    await backupNow(w.db, w.dir, Date.parse('2026-11-28T09:00:00Z'));
    // After the backup: another report, then the database is lost (here: replaced by junk).
    w.db.close();
    fs.writeFileSync(w.file, 'not a database any more');
    const message = await restoreBackup(w.file, undefined, Date.parse('2026-11-28T12:00:00Z'));
    expect(message).toMatch(/^Restored the database from .*failsafe-20261128T090000000Z\.sqlite\. The database it replaced was moved aside to .*before-restore-20261128T120000000Z/);
    expect(fs.readFileSync(`${w.file}.before-restore-20261128T120000000Z`, 'utf8')).toBe('not a database any more');
    const db = openDatabase(w.file);
    expect(db.prepare('SELECT state FROM reports WHERE id = ?').get(w.reportId)).toEqual({ state: 'final' });
    expect(fs.statSync(w.file).mode & 0o777).toBe(0o600);
    db.close();
  });

  it('refuses in words, changing nothing, when there is no backup or the chosen one is damaged', async () => {
    const w = workstationWithSignedReport();
    w.db.close();
    const before = fs.readFileSync(w.file);
    await expect(restoreBackup(w.file)).rejects.toThrow(RestoreError);
    await expect(restoreBackup(w.file)).rejects.toThrow(/no backup .* Nothing was changed/);
    const junk = path.join(w.dir, 'junk.sqlite');
    fs.writeFileSync(junk, 'junk');
    await expect(restoreBackup(w.file, junk)).rejects.toThrow(/fails its integrity check .* Nothing was changed/);
    expect(fs.readFileSync(w.file).equals(before)).toBe(true);
    expect(fs.readdirSync(w.dir).filter((n) => n.includes('before-restore'))).toEqual([]);
  });
});
