// The workstation's main-process services, wired to the contract. Knows nothing of Electron:
// the Electron shell (main/electron/) and the browser-mode bridge (main/bridge/) both serve
// these same handlers.
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { ContractError, type AppEvent, type AppInfo, type Handlers, type HubStatus } from '../common/contract.ts';
import type { Profile, StudyRef } from '../common/report.ts';
import { ROLE_LABELS, SIGNED_STATES, nothingToReadYet, roleMay, type Role } from '../common/lifecycle.ts';
import { openDatabase, type Db } from './db/database.ts';
import { BACKUP_DIR, BackupService } from './db/backup.ts';
import { DicomIndexService } from './dicom/DicomIndexService.ts';
import { ReportStore } from './reports/ReportStore.ts';
import { WorkstationHub } from './hub/WorkstationHub.ts';
import { vaultBeside, type SecretCodec } from './hub/sessionVault.ts';
import { makePrivate, privateUmask } from './privateFolder.ts';
import { UNFINISHED_REFETCH_MIN_MS } from '../common/hub.ts';

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
  /**
   * The department's hub (or the embedded one); absent: this workstation works alone. May be a
   * promise (the embedded hub still starting): the database opens and the sample is indexed
   * meanwhile; if it rejects, createServices closes the database and rejects with it.
   */
  hub?: HubOptions | Promise<HubOptions | undefined>;
  /** Start-up stages as they complete (the launcher's FAILSAFE_STARTUP_TRACE). */
  trace?: (stage: string) => void;
  /** Encrypts the stored hub session (the desktop app: Electron safeStorage); without it the session file is owner-only plain text. */
  secretCodec?: SecretCodec;
  /** Demo mode: the app says "Demo: not for patient data" (AppInfo.demo). */
  demo?: boolean;
  /** The daily checked backup (main/db/backup.ts): off only in tests that open many workstations; first run after `backupDelayMs` (30 s). */
  backups?: boolean;
  backupDelayMs?: number;
}

export interface HubOptions {
  baseUrl: string;
  embedded: boolean;
  demoUsers?: HubStatus['demoUsers'];
  criticalDeadlineMs?: number;
  draftThrottleMs?: number;
}

export interface Services {
  handlers: Handlers;
  db: Db;
  index: DicomIndexService;
  reports: ReportStore;
  events: EventEmitter<{ event: [AppEvent] }>;
  hub: WorkstationHub | null;
  backups: BackupService;
  filePath(fileId: string): string | null;
  close(): Promise<void>;
}

/** The data folder cannot be made, read or written: said with its path and the next step; nothing was changed. */
export class DataFolderError extends Error {
  constructor(readonly folder: string, cause: unknown) {
    const code = (cause as { code?: string } | null)?.code ?? 'error';
    super(
      `The workstation's data folder ${folder} cannot be used (${code}: ${cause instanceof Error ? cause.message : String(cause)}). Nothing was changed. ` +
        'Next step: check that this account owns the folder and may read and write it (and that it is a folder, on a disk that is mounted and writable), or start with --data-dir and another folder.',
    );
    this.name = 'DataFolderError';
  }
}

export async function createServices(opts: ServicesOptions): Promise<Services> {
  // Owner only: the folder, the database and the embedded hub's files, new and already there.
  privateUmask();
  let repaired: string[];
  try {
    repaired = makePrivate(opts.dataDir);
    fs.accessSync(opts.dataDir, fs.constants.R_OK | fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    throw new DataFolderError(opts.dataDir, err);
  }
  if (repaired.length > 0) console.log(`Failsafe: ${repaired.length} file(s) in ${opts.dataDir} were readable by other accounts; now owner only.`);
  const db = openDatabase(path.join(opts.dataDir, 'failsafe.sqlite'));
  const index = new DicomIndexService(db, { neverRead: [opts.dataDir] });
  const studyInfo = (studyUid: string): { patientName: string; description: string } | null => {
    const s = index.study(studyUid);
    return s ? { patientName: s.patientName, description: s.description } : null;
  };
  const reports = new ReportStore(db, {
    studyInfo,
    examFor: (studyUid) => index.exam(studyUid),
    examShownFor: (studyUid) => index.knownExam(studyUid),
    // The same list the editor shows (study:priors): earlier studies of the same patient identity.
    priorCount: (study) => index.priors(study).length,
  });
  const events = new EventEmitter<{ event: [AppEvent] }>();
  const uploadsDir = path.join(opts.dataDir, 'uploads');

  opts.trace?.('database-open');

  let sampleStudyUid: string | null = null;
  const indexSample = async (sampleDir: string): Promise<void> => {
    // Idempotent: re-indexing updates paths, so a moved install still finds its sample; files
    // unchanged since the last start are not read again.
    const current = await index.indexFolder(path.join(sampleDir, 'current'));
    sampleStudyUid = current.studyUids[0] ?? null;
    if (fs.existsSync(path.join(sampleDir, 'prior'))) await index.indexFolder(path.join(sampleDir, 'prior'));
    opts.trace?.('sample-indexed');
  };
  // The sample is indexed while the hub (a child process) starts: neither waits for the other.
  const [sampleOutcome, hubOutcome] = await Promise.allSettled([
    opts.sampleDir && fs.existsSync(path.join(opts.sampleDir, 'current')) ? indexSample(opts.sampleDir) : Promise.resolve(),
    Promise.resolve(opts.hub),
  ]);
  if (sampleOutcome.status === 'rejected' || hubOutcome.status === 'rejected') {
    db.close();
    throw sampleOutcome.status === 'rejected' ? sampleOutcome.reason : (hubOutcome as PromiseRejectedResult).reason;
  }
  const hubOpts = hubOutcome.value;

  const actor = (): string => reports.getProfile()?.name ?? 'unidentified user';
  // With a hub the signer is the person logged in to it (and confirmed by password: WorkstationHub
  // .signer), whatever the local profile says; only a workstation without a hub (--no-hub) signs
  // with its local profile.
  const signer = (): Profile => {
    if (hub) return hub.signer();
    const p = reports.getProfile();
    if (!p) throw new ContractError('forbidden', 'Set up your signer profile (name, role, registration) before signing.');
    return p;
  };
  // The role of whoever uses the workstation: the hub login's, else the local profile's (null: none set up).
  const myRole = (): Role | null => hub?.status().user?.role ?? reports.getProfile()?.role ?? null;
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
  const hub = hubOpts
    ? new WorkstationHub({
        baseUrl: hubOpts.baseUrl,
        embedded: hubOpts.embedded,
        db,
        reports,
        vault: vaultBeside(db.name, opts.secretCodec),
        ...(hubOpts.demoUsers ? { demoUsers: hubOpts.demoUsers } : {}),
        ...(hubOpts.criticalDeadlineMs !== undefined ? { criticalDeadlineMs: hubOpts.criticalDeadlineMs } : {}),
        ...(hubOpts.draftThrottleMs !== undefined ? { draftThrottleMs: hubOpts.draftThrottleMs } : {}),
      })
    : null;
  hub?.events.on('event', emit);
  hub?.start();
  // A checked backup a day (main/db/backup.ts); a damaged database is said at once, in words.
  const backups = new BackupService(db, opts.dataDir, {
    damage: (problem, file) => {
      const message = `The workstation's database failed its daily integrity check (${problem}). Keep working only on what you can check; tell IT. The damaged copy is ${file}; earlier backups are kept in ${path.join(opts.dataDir, BACKUP_DIR)} (npm start -- --restore-backup).`;
      console.error(`Failsafe: ${message}`);
      emit({ type: 'notice', level: 'critical', message });
    },
    error: (err) => console.error(`Failsafe: the daily backup could not be written: ${err instanceof Error ? err.message : String(err)}`),
  });
  if (opts.backups !== false) backups.start(opts.backupDelayMs);
  const needHub = (): WorkstationHub => {
    if (!hub) throw new ContractError('unavailable', 'This workstation runs without a hub (started with --no-hub).');
    return hub;
  };
  const NO_HUB: HubStatus = { configured: false, url: null, embedded: false, online: false, user: null, pending: 0, failed: 0, unfinishedRefetchMinMs: UNFINISHED_REFETCH_MIN_MS, demoUsers: [], awaitingFirstUser: false };

  const handlers: Handlers = {
    'app:info': () => ({
      mode: opts.mode,
      version: opts.version,
      ...opts.fileAccess(),
      sampleStudyUid,
      demo: opts.demo === true,
    }),
    'profile:get': () => reports.getProfile(),
    'profile:set': (p) => {
      if (hub) throw new ContractError('forbidden', 'With a hub, the signer is the person logged in to it: the name, role and registration come from the hub login and cannot be set here.');
      return reports.setProfile(p);
    },
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
      // A property of browser mode, not a failure of the workstation: a 4xx, never a 5xx.
      if (!opts.pickFolder) throw new ContractError('invalid-input', 'The folder picker exists only in the desktop app; type a folder path instead.');
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
      const role = myRole();
      if (role !== null && !roleMay(role, 'draft:write')) {
        // A role that never drafts (a referrer, a safety lead) reads: nothing is created.
        const signed = reports.list({ states: SIGNED_STATES }).find((r) => r.study.studyUid === study.studyUid && r.study.patientId === study.patientId);
        if (!signed) throw new ContractError('not-found', nothingToReadYet(role));
        return reports.get(signed.id, actor());
      }
      const opened = reports.open(study, {
        actor: actor(),
        modality: s.modalities[0] ?? '',
        description: s.description,
        ...(templateId ? { templateId } : {}),
      });
      hub?.draftOpened(opened);
      return opened;
    },
    'reports:get': ({ reportId }) => reports.get(reportId, actor()),
    'reports:save': ({ reportId, study, content, baseRevision }) => {
      const role = myRole();
      if (role !== null && !roleMay(role, 'draft:write')) throw new ContractError('forbidden', `As ${ROLE_LABELS[role].toLowerCase()} you read signed reports; drafts are written by reporters.`);
      const saved = reports.save(reportId, study, content, baseRevision, actor());
      hub?.draftSaved(reportId, study, content, saved.revision);
      return saved;
    },
    'reports:list': () => reports.list(),
    'reports:sign': ({ reportId, study, revision }) => {
      const signed = reports.sign(reportId, study, revision, signer());
      hub?.signed(reportId);
      emit({ type: 'sync-changed', reportId });
      return signed;
    },
    'reports:verify': ({ reportId, study }) => {
      const verified = reports.verify(reportId, study, signer());
      hub?.signed(reportId);
      emit({ type: 'sync-changed', reportId });
      return verified;
    },
    'reports:addendum': ({ reportId, text }) => {
      const a = reports.addendum(reportId, text, signer());
      hub?.signed(reportId);
      emit({ type: 'sync-changed', reportId });
      return a;
    },
    'reports:correct': ({ reportId }) => {
      const role = myRole();
      if (role !== null && !roleMay(role, 'draft:write')) throw new ContractError('forbidden', `As ${ROLE_LABELS[role].toLowerCase()} you read signed reports; corrected reports are written by reporters.`);
      const draft = reports.correct(reportId, actor());
      hub?.draftOpened(draft);
      emit({ type: 'sync-changed', reportId });
      return draft;
    },
    'reports:audit': ({ reportId }) => reports.audit(reportId),
    'reports:revisions': ({ reportId }) => reports.revisions(reportId),
    'reports:close': async ({ reportId }) => {
      // Closing is not viewing: read without auditing; a signed report has nothing to publish.
      const draft = reports.draftFor(reportId);
      return { published: hub && draft ? await hub.draftClosed(draft) : false };
    },
    'hub:status': async () => {
      if (!hub) return NO_HUB;
      await hub.refreshSetup();
      return hub.status();
    },
    'hub:login': ({ username, password }) => needHub().login(username, password),
    'hub:createFirstUser': (input) => needHub().createFirstUser(input),
    'hub:logout': () => needHub().logout(),
    'hub:confirmSigner': ({ password }) => needHub().confirmSigner(password),
    'sync:status': ({ reportId }) => needHub().syncStatus(reportId),
    'sync:statuses': ({ reportIds }) => needHub().syncStatuses(reportIds),
    'sync:retry': ({ reportId }) => needHub().retry(reportId),
    'sync:recordPhone': ({ reportId, ...call }) => needHub().recordPhone(reportId, call),
    'alerts:forReport': ({ reportId }) => needHub().alertView(reportId),
    'alerts:mine': () => needHub().myAlerts(),
    'unfinished:list': () => needHub().unfinished(),
    'unfinished:takeOver': ({ reportId }) => needHub().takeOver(reportId),
  };

  return {
    handlers,
    db,
    index,
    reports,
    events,
    hub,
    filePath: (fileId) => index.filePath(fileId),
    backups,
    close: async () => {
      await hub?.stop();
      await backups.stop();
      events.removeAllListeners();
      db.close();
    },
  };
}
