// Sync test helpers: a workstation database with a signer profile, and signing real reports
// (through ReportStore, so the outbox rows are exactly what production writes).
import fs from 'node:fs';
import path from 'node:path';
import type { AlertCategory, Profile, ReportContent, StudyRef } from '../../common/report.ts';
import { openDatabase, type Db } from '../../main/db/database.ts';
import { ReportStore } from '../../main/reports/ReportStore.ts';
import { fixtureExam, RADIOLOGIST, signableContent, tempDb } from '../main/reports/fixtures.ts';

export { RADIOLOGIST };

let counter = 0;

const shmDirs: string[] = [];

function shmDb(): { db: Db; file: string } {
  const dir = fs.mkdtempSync(path.join('/dev/shm', 'failsafe-sync-'));
  if (shmDirs.length === 0) process.once('exit', () => shmDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  shmDirs.push(dir);
  const file = path.join(dir, 'failsafe.sqlite');
  return { db: openDatabase(file), file };
}

export function uniqueStudy(tag = 't'): StudyRef {
  counter += 1;
  const n = `${process.pid}${Date.now() % 1_000_000}${counter}`;
  return { patientId: `PAT-${tag}-${counter}`, studyUid: `1.2.826.0.1.3680043.8.498.${n}` };
}

/** Signable content with the given alert code (critical and urgent carry a matching finding). */
export function contentWithAlert(alert: AlertCategory): ReportContent {
  const base = signableContent();
  if (alert === 'none') return base;
  if (alert === 'cancer') {
    return {
      ...base,
      unexpected: { kind: 'findings', items: [{ id: 'f1', text: 'Spiculated 2 cm lung mass.', category: 'cancer', primarySite: 'lung' }] },
      alertCode: 'cancer',
      cancerPrimarySite: 'lung',
    };
  }
  const text = alert === 'critical' ? 'Large acute subdural haematoma with midline shift.' : 'Small acute subdural haematoma.';
  return {
    ...base,
    unexpected: { kind: 'findings', items: [{ id: 'f1', text, category: alert }] },
    alertCode: alert,
    ...(alert === 'critical' ? { verbal: { clinician: 'Dr Who', role: 'ED registrar', time: new Date().toISOString() } } : {}),
  };
}

export interface Workstation {
  db: Db;
  file: string;
  store: ReportStore;
  profile: Profile;
  /** Opens, writes and signs a report; returns its id. */
  sign(opts?: { alert?: AlertCategory; study?: StudyRef }): string;
  addendum(reportId: string, text?: string): string;
}

/**
 * A workstation database with a signer profile. `memoryBacked`: the file lives on tmpfs
 * (/dev/shm) when there is one, so fsync costs nothing: for the many-trial harness, whose
 * kills are simulated at the sender, not by the OS.
 */
export function workstation(opts: { profile?: Profile; now?: () => Date; memoryBacked?: boolean } = {}): Workstation {
  const { db, file } = opts.memoryBacked && fs.existsSync('/dev/shm') ? shmDb() : tempDb('sync');
  const store = new ReportStore(db, { examFor: fixtureExam, ...(opts.now ? { now: opts.now } : {}) });
  const profile = opts.profile ?? RADIOLOGIST;
  store.setProfile(profile);
  return {
    db,
    file,
    store,
    profile,
    sign({ alert = 'none', study = uniqueStudy() } = {}) {
      const r = store.open(study, { actor: profile.name, modality: 'CT', description: 'CT HEAD WITHOUT CONTRAST' });
      const saved = store.save(r.id, study, contentWithAlert(alert), r.revision, profile.name);
      store.sign(r.id, study, saved.revision, profile);
      return r.id;
    },
    addendum(reportId, text = 'Addendum: measurement corrected to 12 mm.') {
      return store.addendum(reportId, text, profile).id;
    },
  };
}
