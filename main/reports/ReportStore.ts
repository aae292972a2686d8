// The local report store: crash-safe drafts with full revision history, the report life cycle
// (provisional, final, verified, addenda; common/lifecycle.ts), signature records, take-over,
// an append-only audit trail, the outbox for the hub and the local settings. Every write is one
// SQLite transaction (WAL, synchronous=FULL): when a method returns, what it wrote is on disk.
// The database's triggers (migrations 0010, 0050) enforce immutability independently of this code.
//
// A facade over its parts, so callers keep one object:
//   ReportRepository (rows ↔ Report, shared checks) · Drafts (open, save, list, revisions, audit)
//   · ReportLifecycle (sign, verify, addendum) · TakeOver · Settings (profile, key/value).
import type { AuditEntry, ReportListItem } from '../../common/contract.ts';
import type { ReportState } from '../../common/lifecycle.ts';
import type { Addendum, ExamDetails, Profile, Report, ReportContent, StudyRef } from '../../common/report.ts';
import type { Db } from '../db/database.ts';
import { Drafts, type RevisionEntry, type StudyInfo } from './Drafts.ts';
import { ReportLifecycle } from './ReportLifecycle.ts';
import { ReportRepository, type AuditAction } from './ReportRepository.ts';
import { Settings } from './Settings.ts';
import { outboxTampering } from './signatures.ts';
import { TakeOver, type AdoptTakenOverInput } from './TakeOver.ts';

export type { AdoptTakenOverInput, AuditAction, RevisionEntry, StudyInfo };

export interface ReportStoreOptions {
  now?: () => Date;
  newId?: () => string;
  /** Patient name and study description for the reports list. */
  studyInfo?: (studyUid: string) => StudyInfo | null;
  /**
   * The exam a study is, from the DICOM index (DicomIndexService.exam). Signing binds it into the
   * signature and refuses when it is unknown; without this option nothing can be signed.
   */
  examFor?: (studyUid: string) => ExamDetails | null;
  /** The exam shown with a draft, as the index already knows it (DicomIndexService.knownExam); never throws. */
  examShownFor?: (studyUid: string) => ExamDetails | null;
  /** How many earlier studies of the same patient identity the library holds (the study:priors list): signing checks "No prior imaging available" against it. */
  priorCount?: (study: StudyRef) => number;
}

export class ReportStore {
  private readonly repo: ReportRepository;
  private readonly drafts: Drafts;
  private readonly lifecycle: ReportLifecycle;
  private readonly takeOver: TakeOver;
  private readonly settings: Settings;

  constructor(db: Db, opts: ReportStoreOptions = {}) {
    this.repo = new ReportRepository(db, {
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.newId ? { newId: opts.newId } : {}),
      ...(opts.examFor ? { examFor: opts.examFor } : {}),
      ...(opts.examShownFor ? { examShownFor: opts.examShownFor } : {}),
    });
    this.drafts = new Drafts(this.repo, opts.studyInfo);
    this.lifecycle = new ReportLifecycle(this.repo, opts.priorCount);
    this.takeOver = new TakeOver(this.repo);
    this.settings = new Settings(db, this.repo.now);
  }

  // ---- profile and settings ----
  getProfile(): Profile | null {
    return this.settings.getProfile();
  }
  setProfile(p: Profile): Profile {
    return this.settings.setProfile(p);
  }
  getSetting(key: string): string | null {
    return this.settings.getSetting(key);
  }
  setSetting(key: string, value: string | null): void {
    this.settings.setSetting(key, value);
  }

  // ---- drafts and reading ----
  open(study: StudyRef, opts: { actor: string; modality: string; description: string; templateId?: string }): Report {
    return this.drafts.open(study, opts);
  }
  get(reportId: string, actor: string): Report {
    return this.drafts.get(reportId, actor);
  }
  draftFor(reportId: string): Report | null {
    return this.drafts.draftFor(reportId);
  }
  /** Why this outbox payload of the report must not be sent (signatures.ts outboxTampering), or null. Reads nothing into the audit trail. */
  outboxTampering(reportId: string, payloadJson: string): string | null {
    let report: Report;
    try {
      report = this.repo.load(reportId);
    } catch (err) {
      return `the report cannot be read as signed: ${err instanceof Error ? err.message : String(err)}`;
    }
    return outboxTampering(payloadJson, report);
  }
  save(reportId: string, study: StudyRef, content: ReportContent, baseRevision: number, actor: string): { revision: number; savedAt: string } {
    return this.drafts.save(reportId, study, content, baseRevision, actor);
  }
  list(filter: { states?: readonly ReportState[] } = {}): ReportListItem[] {
    return this.drafts.list(filter);
  }
  revisions(reportId: string): RevisionEntry[] {
    return this.drafts.revisions(reportId);
  }
  audit(reportId: string): AuditEntry[] {
    return this.drafts.audit(reportId);
  }

  // ---- life cycle ----
  sign(reportId: string, study: StudyRef, revision: number, signer: Profile): Report {
    return this.lifecycle.sign(reportId, study, revision, signer);
  }
  verify(reportId: string, study: StudyRef, verifier: Profile): Report {
    return this.lifecycle.verify(reportId, study, verifier);
  }
  addendum(reportId: string, text: string, signer: Profile): Addendum {
    return this.lifecycle.addendum(reportId, text, signer);
  }
  /** A corrected report replacing a signed report the hub refused for good (ReportLifecycle.correct). */
  correct(refusedId: string, actor: string): Report {
    return this.lifecycle.correct(refusedId, actor);
  }

  // ---- take-over ----
  markTakenOver(reportId: string, newOwner: string, atIso?: string): Report {
    return this.takeOver.markTakenOver(reportId, newOwner, atIso);
  }
  adoptTakenOver(input: AdoptTakenOverInput): Report {
    return this.takeOver.adoptTakenOver(input);
  }
}
