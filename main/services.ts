// The workstation's main-process services, wired to the contract. Knows nothing of Electron:
// the Electron shell (main/electron/) and the browser-mode bridge (main/bridge/) both serve
// these same handlers.
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { ContractError, type AppEvent, type AppInfo, type Handlers } from '../common/contract.ts';
import type { Profile, StudyRef } from '../common/report.ts';
import { openDatabase, type Db } from './db/database.ts';
import { DicomIndexService } from './dicom/DicomIndexService.ts';
import { ReportStore } from './reports/ReportStore.ts';

export interface ServicesOptions {
  dataDir: string;
  mode: AppInfo['mode'];
  version: string;
  /** How the renderer fetches DICOM files; read at each `app:info` (the bridge port is known late). */
  fileAccess(): Pick<AppInfo, 'fileBaseUrl' | 'fileAuthHeader'>;
  /** Folder of the bundled sample study (`current/`, `prior/`), indexed at start. */
  sampleDir?: string;
  /** Electron only: the native folder picker. */
  pickFolder?: () => Promise<string | null>;
}

export interface Services {
  handlers: Handlers;
  db: Db;
  index: DicomIndexService;
  reports: ReportStore;
  events: EventEmitter<{ event: [AppEvent] }>;
  filePath(fileId: string): string | null;
  close(): void;
}

export async function createServices(opts: ServicesOptions): Promise<Services> {
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const db = openDatabase(path.join(opts.dataDir, 'failsafe.sqlite'));
  const index = new DicomIndexService(db);
  const studyInfo = (studyUid: string): { patientName: string; description: string } | null => {
    const s = index.study(studyUid);
    return s ? { patientName: s.patientName, description: s.description } : null;
  };
  const reports = new ReportStore(db, { studyInfo });
  const events = new EventEmitter<{ event: [AppEvent] }>();
  const uploadsDir = path.join(opts.dataDir, 'uploads');

  let sampleStudyUid: string | null = null;
  if (opts.sampleDir && fs.existsSync(path.join(opts.sampleDir, 'current'))) {
    // Idempotent: re-indexing updates paths, so a moved install still finds its sample.
    const current = await index.indexFolder(path.join(opts.sampleDir, 'current'));
    sampleStudyUid = current.studyUids[0] ?? null;
    if (fs.existsSync(path.join(opts.sampleDir, 'prior'))) await index.indexFolder(path.join(opts.sampleDir, 'prior'));
  }

  const actor = (): string => reports.getProfile()?.name ?? 'unidentified user';
  const signer = (): Profile => {
    const p = reports.getProfile();
    if (!p) throw new ContractError('forbidden', 'Set up your signer profile (name, role, registration) before signing.');
    return p;
  };
  const studyOf = (ref: StudyRef) => {
    const s = index.study(ref.studyUid);
    if (!s) throw new ContractError('not-found', `Study ${ref.studyUid} is not in the local index.`);
    if (s.patientId !== ref.patientId) {
      throw new ContractError('wrong-study', `Study ${ref.studyUid} belongs to patient ${s.patientId}, not ${ref.patientId}.`);
    }
    return s;
  };
  const emit = (e: AppEvent): void => {
    events.emit('event', e);
  };

  const handlers: Handlers = {
    'app:info': () => ({
      mode: opts.mode,
      version: opts.version,
      ...opts.fileAccess(),
      sampleStudyUid,
    }),
    'profile:get': () => reports.getProfile(),
    'profile:set': (p) => reports.setProfile(p),
    'library:list': () => index.listPatients(),
    'library:openFolder': async ({ path: folder }) => {
      const abs = path.resolve(folder);
      let st: fs.Stats;
      try {
        st = fs.statSync(abs);
      } catch {
        throw new ContractError('not-found', `Folder not found: ${abs}`);
      }
      if (!st.isDirectory()) throw new ContractError('invalid-input', `Not a folder: ${abs}`);
      const result = await index.indexFolder(abs);
      emit({ type: 'library-changed' });
      return result;
    },
    'library:importFiles': async ({ files }) => {
      const decoded = files.map((f) => ({ name: f.name, data: new Uint8Array(Buffer.from(f.dataBase64, 'base64')) }));
      const result = await index.importFiles(decoded, uploadsDir);
      emit({ type: 'library-changed' });
      return result;
    },
    'library:pickFolder': async () => {
      if (!opts.pickFolder) throw new ContractError('unavailable', 'The folder picker exists only in the desktop app; type a folder path instead.');
      const folder = await opts.pickFolder();
      if (!folder) return null;
      const result = await index.indexFolder(folder);
      emit({ type: 'library-changed' });
      return result;
    },
    'library:errors': () => index.errors(),
    'series:images': ({ seriesUid }) => index.seriesImages(seriesUid),
    'study:priors': (ref) => {
      studyOf(ref);
      return index.priors(ref);
    },
    'reports:open': ({ study, templateId }) => {
      const s = studyOf(study);
      return reports.open(study, {
        actor: actor(),
        modality: s.modalities[0] ?? '',
        description: s.description,
        ...(templateId ? { templateId } : {}),
      });
    },
    'reports:get': ({ reportId }) => reports.get(reportId, actor()),
    'reports:save': ({ reportId, study, content, baseRevision }) => reports.save(reportId, study, content, baseRevision, actor()),
    'reports:list': () => reports.list(),
    'reports:sign': ({ reportId, study, revision }) => {
      const signed = reports.sign(reportId, study, revision, signer());
      emit({ type: 'sync-changed', reportId });
      return signed;
    },
    'reports:addendum': ({ reportId, text }) => {
      const a = reports.addendum(reportId, text, signer());
      emit({ type: 'sync-changed', reportId });
      return a;
    },
    'reports:audit': ({ reportId }) => reports.audit(reportId),
    'reports:revisions': ({ reportId }) => reports.revisions(reportId),
  };

  return {
    handlers,
    db,
    index,
    reports,
    events,
    filePath: (fileId) => index.filePath(fileId),
    close: () => {
      events.removeAllListeners();
      db.close();
    },
  };
}
