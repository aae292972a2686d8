// The one typed contract between renderer and main: a zod input and output schema per channel.
// Electron IPC (preload + main/electron) and the browser-mode loopback bridge (main/bridge) both
// carry exactly this; main parses every input with these schemas before a handler sees it.
import { z } from 'zod';
import { CHANNELS, type Channel } from './channels.ts';
import { Addendum, Profile, Report, ReportContent, storableString, StorableReportContent, StudyRef } from './report.ts';
import { FirstUserRequest, HubUser, UnfinishedList } from './hub.ts';
import { AlertDetail, AlertList } from './alerts.ts';
import { issueText } from './validation.ts';
import { parseIsoDateTime } from './signoff.ts';
import { isMeaningfulText } from './text.ts';

const Empty = z.object({}).strict();
/** A report (or other record) id: storable text (no NUL, no lone surrogate: it goes into URLs and databases), 1–64 characters. */
const Uid = storableString(64).min(1);

export const AppInfo = z.object({
  mode: z.enum(['electron', 'browser']),
  version: z.string(),
  /** Prefix for DICOM file URLs; the renderer appends a file id. */
  fileBaseUrl: z.string(),
  /** Header to send with file requests (browser mode), or null. */
  fileAuthHeader: z.object({ name: z.string(), value: z.string() }).nullable(),
  sampleStudyUid: z.string().nullable(),
  /** Demo mode (`npm start` from a checkout, or --demo): demo accounts, a data folder of its own, and the "not for patient data" banner. */
  demo: z.boolean(),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const SeriesSummary = z.object({
  seriesUid: z.string(),
  seriesNumber: z.number().nullable(),
  description: z.string(),
  modality: z.string(),
  instanceCount: z.number().int(),
});
export type SeriesSummary = z.infer<typeof SeriesSummary>;

export const StudySummary = z.object({
  studyUid: z.string(),
  patientId: z.string(),
  patientName: z.string(),
  /**
   * Why this study's patient identity is in doubt (another patient in the library has the same
   * issuer and Patient ID but another name or birth date), shown wherever the study is; null when not.
   */
  identityConflict: z.string().nullable(),
  /** DICOM date YYYYMMDD, or '' when absent. */
  studyDate: z.string(),
  description: z.string(),
  accession: z.string(),
  modalities: z.array(z.string()),
  series: z.array(SeriesSummary),
});
export type StudySummary = z.infer<typeof StudySummary>;

/** One patient identity: issuer + Patient ID + name + birth date, as the files give them (main/dicom/identity.ts). */
export const PatientSummary = z.object({
  patientId: z.string(),
  /** Issuer of Patient ID (0010,0021), '' when the files give none. */
  issuer: z.string(),
  /** Opaque and unique per identity (two identities may share a Patient ID): a list key, nothing more. */
  identityKey: z.string(),
  patientName: z.string(),
  birthDate: z.string(),
  sex: z.string(),
  /** As StudySummary.identityConflict: null when no other identity shares the issuer and Patient ID. */
  identityConflict: z.string().nullable(),
  studies: z.array(StudySummary),
});
export type PatientSummary = z.infer<typeof PatientSummary>;

export const IndexError = z.object({ path: z.string(), reason: z.string() });
export type IndexError = z.infer<typeof IndexError>;

export const IndexResult = z.object({
  scanned: z.number().int(),
  indexed: z.number().int(),
  errors: z.array(IndexError),
  studyUids: z.array(z.string()),
});
export type IndexResult = z.infer<typeof IndexResult>;

export const ImageRef = z.object({
  /** Opaque id: the renderer loads `${fileBaseUrl}${fileId}`. */
  fileId: z.string(),
  sopInstanceUid: z.string(),
  instanceNumber: z.number().nullable(),
  /** 1 for single-frame; each frame of a multi-frame instance is a stack entry. */
  frames: z.number().int().positive(),
  rows: z.number().int().nullable(),
  columns: z.number().int().nullable(),
  sliceLocation: z.number().nullable(),
  windowCenter: z.number().nullable(),
  windowWidth: z.number().nullable(),
});
export type ImageRef = z.infer<typeof ImageRef>;

/** A line of the reports list: the report's own fields (common/report.ts Report) and the exam's names to show. */
export const ReportListItem = Report.pick({ id: true, study: true, state: true, author: true, updatedAt: true }).extend({
  patientName: z.string(),
  studyDescription: z.string(),
});
export type ReportListItem = z.infer<typeof ReportListItem>;

export const AuditEntry = z.object({
  seq: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.enum(['create', 'edit', 'sign', 'addendum', 'view-signed', 'template-change', 'take-over', 'taken-over']),
  reportId: z.string(),
  detail: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const Revision = z.object({ revision: z.number().int(), savedAt: z.string(), content: ReportContent });

/** Base64 file upload (browser mode's "Open folder" fallback). 64 MiB per file at most. */
export const UploadFile = z.object({
  name: z.string().min(1).max(255),
  dataBase64: z.string().max(90_000_000),
});

/** The workstation's view of its hub connection (issue 3). */
export const HubStatus = z.object({
  /** False when the workstation runs without a hub (`--no-hub`). */
  configured: z.boolean(),
  url: z.string().nullable(),
  /** True when the hub is embedded in this workstation (single-user default). */
  embedded: z.boolean(),
  /** Last contact succeeded. */
  online: z.boolean(),
  user: HubUser.nullable(),
  /** Outbox rows not yet confirmed by the hub, and rows the hub refused. */
  pending: z.number().int(),
  failed: z.number().int(),
  /** The site policy's floor between two fetches of the unfinished list (ms); the default without a hub. */
  unfinishedRefetchMinMs: z.number().int().positive(),
  /** Demo accounts of the embedded hub (shown on the login screen); empty otherwise. */
  demoUsers: z.array(z.object({ username: z.string(), password: z.string(), role: z.string(), name: z.string() })),
  /** The embedded hub of an installed app has no account yet: the login screen asks the first user to create theirs. */
  awaitingFirstUser: z.boolean(),
});
export type HubStatus = z.infer<typeof HubStatus>;

export const SyncStatusSchema = z.object({
  reportId: z.string(),
  state: z.enum(['local', 'pending', 'synced', 'failed']),
  reason: z.string().nullable(),
  attempts: z.number().int(),
  syncedAt: z.string().nullable(),
  items: z.number().int(),
  /** Critical/urgent signed but not at the hub within 60 s, and no phone call recorded yet. */
  criticalUndelivered: z.boolean(),
  phoned: z.boolean(),
});
export type SyncStatusInfo = z.infer<typeof SyncStatusSchema>;

/** Words a person can read (not spaces, punctuation, symbols or invisible characters alone: common/text.ts), storable, trimmed. */
const callText = (max: number, ask: string) =>
  storableString(max).trim().superRefine((s, ctx) => {
    if (!isMeaningfulText(s)) ctx.addIssue({ code: 'custom', message: s === '' ? ask : `${ask} Spaces, punctuation, symbols or invisible characters alone do not count.`, input: s });
  });

/**
 * The one phone-call record: the radiologist phoned a critical or urgent finding through because
 * the signed report had not reached the hub in time. What the renderer sends, what the workstation
 * validates and what its append-only log stores (main/sync/PhoneLog.ts).
 */
export const PhoneCall = z.object({
  clinician: callText(200, 'Who was phoned?'),
  role: callText(200, 'What is their role?'),
  /** ISO date-time of the call, with its time zone: the same rule as the report's verbal communication (common/signoff.ts). */
  time: z.string().trim().min(1, 'When was the call?').max(64)
    .refine((s) => parseIsoDateTime(s) !== null, 'time must be an ISO date-time with its time zone (e.g. 2026-11-28T10:42Z)'),
  note: storableString(2000).default(''),
});
export type PhoneCall = z.output<typeof PhoneCall>;
export type PhoneCallInput = z.input<typeof PhoneCall>;

export const PhoneRecordInput = PhoneCall.extend({ reportId: Uid }).strict();

/** A phone call recorded on this workstation, and whether it is on the hub's alert timeline yet (main/sync/PhoneCallSync.ts). */
export const LocalPhoneCall = z.object({
  /** The id the hub stores it under (null until first considered for sending). */
  id: z.string().nullable(),
  clinician: z.string(),
  role: z.string(),
  time: z.string(),
  note: z.string(),
  recordedBy: z.string(),
  recordedAt: z.string(),
  /** When the hub confirmed it; null: not on the hub yet. */
  syncedAt: z.string().nullable(),
  /** Why it is not on the hub yet, or (refused) why it cannot be sent as it is, in words. */
  problem: z.string().nullable(),
  refused: z.boolean(),
});
export type LocalPhoneCall = z.infer<typeof LocalPhoneCall>;

/**
 * A signed report's alert as the workstation shows it (issue 9 line 6): the hub's alert with its
 * timeline, or why the hub could not be asked (unreachable, not logged in) in words, and the phone
 * calls recorded here, which show whatever the hub's state.
 */
export const AlertView = z.object({
  /** Null: the hub holds no alert for this report (none raised, or the report is not there yet: `pending`), or could not be asked. */
  alert: AlertDetail.nullable(),
  /** Why the hub could not be asked, in words; null when it answered. */
  unavailable: z.string().nullable(),
  /** The signed report has not reached the hub yet: its alert starts when it does. */
  pending: z.boolean(),
  phoneCalls: z.array(LocalPhoneCall),
});
export type AlertView = z.infer<typeof AlertView>;

export const contract = {
  'app:info': { input: Empty, output: AppInfo },
  'profile:get': { input: Empty, output: Profile.nullable() },
  'profile:set': { input: Profile, output: Profile },
  'library:list': { input: Empty, output: z.array(PatientSummary) },
  'library:openFolder': { input: z.object({ path: z.string().min(1).max(4096) }).strict(), output: IndexResult },
  'library:importFiles': { input: z.object({ files: z.array(UploadFile).min(1).max(2000) }).strict(), output: IndexResult },
  'library:errors': { input: Empty, output: z.array(IndexError) },
  /** Electron only: the native folder picker, then indexing. Browser mode answers `unavailable`. */
  'library:pickFolder': { input: Empty, output: IndexResult.nullable() },
  'series:images': { input: z.object({ seriesUid: Uid }).strict(), output: z.array(ImageRef) },
  'study:priors': { input: StudyRef.strict(), output: z.array(StudySummary) },
  'reports:open': {
    input: z.object({ study: StudyRef.strict(), templateId: z.string().max(64).optional() }).strict(),
    output: Report,
  },
  'reports:get': { input: z.object({ reportId: Uid }).strict(), output: Report },
  'reports:save': {
    input: z.object({ reportId: Uid, study: StudyRef.strict(), content: StorableReportContent, baseRevision: z.number().int().nonnegative() }).strict(),
    output: z.object({ revision: z.number().int(), savedAt: z.string() }),
  },
  'reports:list': { input: Empty, output: z.array(ReportListItem) },
  'reports:sign': {
    input: z.object({ reportId: Uid, study: StudyRef.strict(), revision: z.number().int().nonnegative() }).strict(),
    output: Report,
  },
  /** A trainer verifies a trainee's provisional report: it becomes final, signed by both. */
  'reports:verify': {
    input: z.object({ reportId: Uid, study: StudyRef.strict() }).strict(),
    output: Report,
  },
  'reports:addendum': { input: z.object({ reportId: Uid, text: storableString(100_000).trim().min(1) }).strict(), output: Addendum },
  /** A corrected report (a new draft of the same study) replacing a signed report the hub refused for good. */
  'reports:correct': { input: z.object({ reportId: Uid }).strict(), output: Report },
  'reports:audit': { input: z.object({ reportId: Uid }).strict(), output: z.array(AuditEntry) },
  /** The kept revisions of a report, each with its full text: every one of the last hour, then the last of each minute of typing, and every boundary (created, template switch, take-over, signed); the audit lists every save (main/reports/ReportRepository.ts). */
  'reports:revisions': { input: z.object({ reportId: Uid }).strict(), output: z.array(Revision) },
  /** The editor closed this draft: publish its snapshot to the hub at once. */
  'reports:close': { input: z.object({ reportId: Uid }).strict(), output: z.object({ published: z.boolean() }) },
  'hub:status': { input: Empty, output: HubStatus },
  'hub:login': { input: z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict(), output: HubStatus },
  /** The first account of this workstation's embedded hub (only while it has none), then logged in. */
  'hub:createFirstUser': { input: FirstUserRequest, output: HubStatus },
  'hub:logout': { input: Empty, output: HubStatus },
  /**
   * The logged-in user's password again before signing (21 CFR 11.200(a)): checked by the hub (a
   * wrong one counts towards lockout). Only the time of the confirmation is kept, in memory; the
   * password is never stored or logged.
   */
  'hub:confirmSigner': {
    input: z.object({ password: z.string().min(1).max(1024) }).strict(),
    output: z.object({ confirmedAt: z.string(), idleMinutes: z.number().positive() }),
  },
  'sync:status': { input: z.object({ reportId: Uid }).strict(), output: SyncStatusSchema },
  /** The sync status of many reports in one request (one per list, not one per row). */
  'sync:statuses': { input: z.object({ reportIds: z.array(Uid).max(5000) }).strict(), output: z.array(SyncStatusSchema) },
  /** Try a failed report again (after the cause was fixed). */
  'sync:retry': { input: z.object({ reportId: Uid }).strict(), output: SyncStatusSchema },
  /** Record that the radiologist phoned a critical/urgent finding through (the hub was unreachable). */
  'sync:recordPhone': { input: PhoneRecordInput, output: SyncStatusSchema },
  /** A signed report's alert: state, who is responsible, deadline, routing, timeline (the hub's), and the phone calls recorded here. */
  'alerts:forReport': { input: z.object({ reportId: Uid }).strict(), output: AlertView },
  /** "My outstanding alerts": the open alerts of reports the logged-in user signed, by deadline. */
  'alerts:mine': { input: Empty, output: AlertList },
  'unfinished:list': { input: Empty, output: UnfinishedList },
  /** Take over a colleague's unfinished draft: it moves here with its history. */
  'unfinished:takeOver': { input: z.object({ reportId: Uid }).strict(), output: Report },
} as const satisfies Record<Channel, { input: z.ZodType; output: z.ZodType }>;

// Every channel name has a schema and every schema a name.
const exhaustive: Record<keyof typeof contract, true> = Object.fromEntries(CHANNELS.map((c) => [c, true])) as Record<Channel, true>;
void exhaustive;

export type Contract = typeof contract;
export type Input<C extends Channel> = z.input<Contract[C]['input']>;
export type Output<C extends Channel> = z.output<Contract[C]['output']>;

/** Error codes a call can fail with; `message` is for people. */
/** `confirm-password`: with a hub, signing needs the logged-in user's password again (first signature of a session, or after the site's idle minutes): ask, `hub:confirmSigner`, then sign again. */
export const ErrorCode = z.enum(['invalid-input', 'not-found', 'conflict', 'forbidden', 'unsigned-problems', 'wrong-study', 'internal', 'unavailable', 'confirm-password']);
export type ErrorCode = z.infer<typeof ErrorCode>;

export type Result<T> = { ok: true; value: T } | { ok: false; error: { code: ErrorCode; message: string } };

/** Events main pushes to the renderer (Electron: IPC `failsafe:event`; browser mode: a stream). */
export const AppEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('library-changed') }),
  z.object({ type: z.literal('sync-changed'), reportId: z.string().optional() }),
  z.object({ type: z.literal('unfinished-changed') }),
  z.object({ type: z.literal('notice'), level: z.enum(['info', 'warning', 'critical']), message: z.string(), reportId: z.string().optional() }),
  z.object({ type: z.literal('hub-changed'), online: z.boolean() }),
  /** A critical/urgent report has not reached the hub within 60 s: phone the finding through now. */
  z.object({ type: z.literal('critical-undelivered'), reportId: z.string(), alertCode: z.enum(['critical', 'urgent']), message: z.string() }),
  z.object({ type: z.literal('critical-resolved'), reportId: z.string(), how: z.enum(['delivered', 'phoned']) }),
  /** Someone else took over this draft: the local copy is read-only from now on. */
  z.object({ type: z.literal('draft-taken-over'), reportId: z.string(), newOwner: z.string(), message: z.string() }),
  /** A report's alert changed on the hub (created, notified, opened, acknowledged, escalated, a phone call), or its phone calls here did ('phone-calls'). */
  z.object({ type: z.literal('alert-changed'), reportId: z.string(), change: z.string() }),
]);
export type AppEvent = z.infer<typeof AppEvent>;

/** The event half: `window.failsafe.subscribe(cb)` returns an unsubscribe function. */
export interface FailsafeEvents {
  subscribe(listener: (event: AppEvent) => void): () => void;
}

/**
 * What `window.failsafe` is: one async function per channel (each resolving to a Result), plus
 * `subscribe` for pushed events. Browser mode's client: POST /api/<channel>, GET /events (SSE).
 */
export type FailsafeApi = { [C in Channel]: (input: Input<C>) => Promise<Result<Output<C>>> } & FailsafeEvents;

/** A failure a handler throws on purpose; anything else becomes `internal`. */
export class ContractError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ContractError';
  }
}

export type Handlers = { [C in Channel]: (input: z.output<Contract[C]['input']>) => Promise<Output<C>> | Output<C> };

/**
 * Parses the input, runs the handler, and wraps the outcome in a Result. Both transports call
 * this, so a malformed payload gets the same clear `invalid-input` error everywhere.
 */
export async function dispatch(handlers: Handlers, channel: string, rawInput: unknown): Promise<Result<unknown>> {
  if (!(CHANNELS as readonly string[]).includes(channel)) {
    return { ok: false, error: { code: 'not-found', message: `unknown channel ${channel}` } };
  }
  const c = channel as Channel;
  const parsed = contract[c].input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    return { ok: false, error: { code: 'invalid-input', message: `${channel}: ${issueText(parsed.error, { max: 5 })}` } };
  }
  try {
    const handler = handlers[c] as (input: unknown) => unknown;
    const value = await handler(parsed.data);
    return { ok: true, value };
  } catch (err) {
    if (err instanceof ContractError) return { ok: false, error: { code: err.code, message: err.message } };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, error: { code: 'internal', message } };
  }
}

