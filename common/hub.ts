// The hub's HTTP contract: every request body, response body, error and pushed event as a zod
// schema, shared by the hub (server/) and the workstation's hub client (main/sync/). Changes here
// are additive only: the workstation and the hub may run different versions during a roll-out.
//
// Transport summary (all JSON, UTF-8; every error is `{ error: { code, message, details? } }`):
//   GET    /api/health                         no auth            → HubHealth
//   POST   /api/session                        no auth            LoginRequest → LoginResponse
//   GET    /api/session                        bearer             → SessionInfo
//   DELETE /api/session                        bearer             → { ok: true }   (logout)
//   POST   /api/session/confirm                bearer             ConfirmSignerRequest → ConfirmSignerResponse (password again before signing)
//   POST   /api/ingest                         bearer + Idempotency-Key   OutboxPayload → IngestReceipt
//   GET    /api/reports/:reportId              bearer             → HubSignedReport
//   PUT    /api/drafts/:reportId               bearer             DraftSnapshot → DraftAck
//   GET    /api/drafts/:reportId               bearer             → DraftWithHistory
//   POST   /api/drafts/:reportId/take-over     bearer             TakeOverRequest → TakeOverResponse
//   GET    /api/unfinished                     bearer             → UnfinishedList
//   GET    /api/events?since=SEQ               bearer             text/event-stream (see below)
//   GET    /api/events/log?since=SEQ&limit=N   bearer             → EventLog (polling / tests)
//   GET    /api/policy                         bearer             → SitePolicy
//
// Authentication: `Authorization: Bearer <token>` from POST /api/session. Tokens expire
// (`expiresAt`); a 401 `session-expired` / `unauthenticated` means log in again.
//
// Exactly-once ingest: each outbox row carries the Idempotency-Key created at signing. The hub
// stores its first answer for a key and replays it (same status, same body, header
// `Idempotent-Replayed: true`) for the same key and the same body; the same key with another body
// is 422 `idempotency-key-reused`. A signed report that is already stored (same report id, same
// content hash) under another key answers 200 with `alreadyStored: true`; a different signed
// report for the same id is 409 `report-conflict`.
//
// Server-sent events: `GET /api/events` with the bearer header (and optionally `?since=SEQ` or
// `Last-Event-ID: SEQ`) answers `text/event-stream`. First an `event: hello` whose data is
// HubHello; then one default (`message`) event per HubEvent, `id:` = seq, data = HubEvent JSON,
// in increasing seq order; comment lines (`: ping`) every 15 s keep the connection alive. A client
// that reconnects with its last seq receives every later event first (catch-up), then live ones.
import { z } from 'zod';
import { AlertDeadlineSchema, DEFAULT_ALERT_POLICY, EscalationPolicy } from './alertPolicy.ts';
import { AddendumPayload, OutboxPayload, SignedReportPayload } from './hubPayload.ts';
import { Action as HubAction, UNFINISHED_CHANGE_REASONS } from './lifecycle.ts';
import { SiteCalendar } from './siteCalendar.ts';
import { Addendum, AlertCategory, ReportContent, ReportRecordFields, ReportState, Role, Signature, StorableReportContent, StudyRef } from './report.ts';

export { AddendumPayload, OutboxPayload, SignedReportPayload };

/** Header names (lower case, as Node delivers them). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';
/** An Idempotency-Key: 8–128 characters of [A-Za-z0-9_.:-] (a UUID fits). */
export const IdempotencyKey = z.string().regex(/^[A-Za-z0-9_.:-]{8,128}$/, 'Idempotency-Key must be 8–128 characters of A–Z a–z 0–9 _ . : -');

/** Largest request body the hub accepts (bytes). */
export const HUB_BODY_LIMIT = 2 * 1024 * 1024;

export const HUB_PATHS = {
  health: '/api/health',
  session: '/api/session',
  sessionConfirm: '/api/session/confirm',
  ingest: '/api/ingest',
  report: (reportId: string) => `/api/reports/${encodeURIComponent(reportId)}`,
  draft: (reportId: string) => `/api/drafts/${encodeURIComponent(reportId)}`,
  takeOver: (reportId: string) => `/api/drafts/${encodeURIComponent(reportId)}/take-over`,
  unfinished: '/api/unfinished',
  takenFromMe: '/api/drafts/taken-from-me',
  events: '/api/events',
  eventLog: '/api/events/log',
  policy: '/api/policy',
  /** The embedded hub of an installed app: GET whether it waits for its first account, POST to create it. */
  setup: '/api/setup',
} as const;

// ---- roles and permissions (domain.md §5): defined once, in common/lifecycle.ts -------------

/** Hub actions are the life-cycle actions; kept under the names the hub contract has used. */
export { ACTIONS as HUB_ACTIONS, Action as HubAction, ROLE_PERMISSIONS, roleMay } from './lifecycle.ts';

// ---- errors ---------------------------------------------------------------------------------

export const HUB_ERROR_CODES = [
  'invalid-json', // body is not JSON
  'unsupported-media-type', // Content-Type is not application/json
  'payload-too-large', // body over HUB_BODY_LIMIT
  'invalid-input', // body/params fail the schema
  'unauthenticated', // no or unknown bearer token, or bad username/password
  'session-expired', // token known but expired or logged out
  'locked-out', // too many failed logins; details.retryAfterSeconds
  'forbidden', // role may not do this
  'idempotency-key-missing',
  'idempotency-key-invalid',
  'idempotency-key-reused', // same key, different body (422)
  'idempotency-key-in-flight', // same key being processed right now (409, retry)
  'signoff-problems', // checkSignOff found blocking problems (422); details.problems
  'unknown-template', // content.templateId unknown to the hub (422)
  'hash-mismatch', // recomputed content hash differs from signature.contentHash (422)
  'signer-mismatch', // signature is not the logged-in user's name/registration/role (422)
  'signed-at-implausible', // signedAt is not a date-time, more than SIGNED_AT_SKEW_MS ahead of the hub's clock, or before the signer's account existed (422)
  'report-conflict', // a different signed report already exists for this id (409)
  'original-not-synced', // addendum for a report the hub does not hold yet (409, retry later)
  'original-hash-mismatch', // addendum's originalHash is not the stored report's hash (422)
  'addendum-conflict', // a different addendum already exists with this id (409)
  'invalid-transition', // the report's life-cycle state does not allow this (409): an addendum to a provisional report, a second verification
  'already-signed', // a draft snapshot / take-over for a report already signed (409)
  'first-user-exists', // POST /api/setup when the hub has an account already (409)
  'draft-taken-over', // this draft now belongs to someone else (409); details.newOwner
  'study-already-reported', // the study (or its exam's accession) has a signed report already (409, permanent): add an addendum; details name it
  'already-owner', // take-over of one's own draft (409)
  'not-found',
  'method-not-allowed',
  'internal',
] as const;
export const HubErrorCode = z.enum(HUB_ERROR_CODES);
export type HubErrorCode = z.infer<typeof HubErrorCode>;

export const HubErrorBody = z.object({
  error: z.object({
    code: HubErrorCode.or(z.string()),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type HubErrorBody = z.infer<typeof HubErrorBody>;

/**
 * Whether an outbox sender should try the same request again later (same key, same body).
 * 5xx, 429, network failures and `idempotency-key-in-flight` / `original-not-synced` are
 * transient; 401 needs a new login first; every other 4xx is final (show the reason).
 */
export function isRetryableHubError(status: number, code?: string): boolean {
  if (status >= 500 || status === 429 || status === 408) return true;
  return code === 'idempotency-key-in-flight' || code === 'original-not-synced';
}

// ---- identity -------------------------------------------------------------------------------

export const Username = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.@-]+$/, 'letters, digits and _ . @ - only');

export const HubUser = z.object({
  username: z.string(),
  name: z.string(),
  role: Role,
  registration: z.string(),
});
export type HubUser = z.infer<typeof HubUser>;

export const LoginRequest = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
}).strict();
export type LoginRequest = z.infer<typeof LoginRequest>;

/** The first account of a hub that has none (the installed app's embedded hub). */
export const FirstUserRequest = z.object({
  username: Username,
  name: z.string().trim().min(1).max(200),
  role: Role,
  registration: z.string().trim().min(1).max(100),
  password: z.string().min(10, 'a password needs at least 10 characters').max(1024),
}).strict();
export type FirstUserRequest = z.infer<typeof FirstUserRequest>;

export const SetupState = z.object({ awaitingFirstUser: z.boolean() });
export type SetupState = z.infer<typeof SetupState>;

export const FirstUserCreated = z.object({ user: HubUser });

export const LoginResponse = z.object({
  token: z.string(),
  /** ISO date-time. */
  expiresAt: z.string(),
  user: HubUser,
  permissions: z.array(HubAction),
});
export type LoginResponse = z.infer<typeof LoginResponse>;

/**
 * Re-authentication before signing (21 CFR 11.200(a)): the logged-in user's password again, at the
 * first signature of a session and after `signConfirmIdleMinutes` without one. Counted towards
 * lockout like a login. The workstation keeps only the time of the confirmation, in memory.
 */
export const ConfirmSignerRequest = z.object({ password: z.string().min(1).max(1024) }).strict();
export type ConfirmSignerRequest = z.infer<typeof ConfirmSignerRequest>;

export const ConfirmSignerResponse = z.object({
  /** The hub's clock when the password was confirmed (ISO). */
  confirmedAt: z.string(),
  /** The site policy's idle limit: a signature more than this many minutes after the last confirmation or signature needs the password again. */
  idleMinutes: z.number().positive(),
});
export type ConfirmSignerResponse = z.infer<typeof ConfirmSignerResponse>;

/**
 * How far a signature's `signedAt` may lie ahead of the hub's clock (clock skew between
 * workstation and hub): 5 minutes. A later time is refused (`signed-at-implausible`). The past is
 * accepted back to the signer's account creation (a report signed offline arrives late), and the
 * hub records its own receipt time (`storedAt`) beside it.
 */
export const SIGNED_AT_SKEW_MS = 5 * 60_000;

export const SessionInfo = z.object({
  user: HubUser,
  expiresAt: z.string(),
  permissions: z.array(HubAction),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

export const HubHealth = z.object({
  ok: z.literal(true),
  instanceId: z.string(),
  storage: z.enum(['postgres', 'pglite']),
  version: z.string(),
});
export type HubHealth = z.infer<typeof HubHealth>;

// ---- ingest ---------------------------------------------------------------------------------

export const IngestReceipt = z.object({
  kind: z.enum(['report', 'addendum', 'verification']),
  reportId: z.string(),
  /** Present for kind=addendum. */
  addendumId: z.string().optional(),
  /** The content hash the hub recomputed and stored. */
  contentHash: z.string(),
  /** When the hub first stored it (ISO). */
  storedAt: z.string(),
  /** True when the identical record was already stored (under another key). */
  alreadyStored: z.boolean(),
});
export type IngestReceipt = z.infer<typeof IngestReceipt>;

/** A signed report as the hub stores it: the fields of the workstation's Report (common/report.ts), and what only the hub records. */
export const HubSignedReport = z.object({
  ...ReportRecordFields,
  /** The first signature: the final report's, or the trainee's provisional one. */
  signature: Signature,
  /** Neither a referring physician nor a requesting service is known: alerts go to the duty radiologist. */
  requesterUnknown: z.boolean(),
  /**
   * On the cancer pathway (common/signoff.ts cancerPathway: a cancer alert or any cancer finding,
   * whatever the alert code), recorded apart from `content.alertCode`. Absent from hubs before issue 7.
   */
  cancerPathway: z.boolean().optional(),
  storedAt: z.string(),
  /** Newest first, as the workstation shows them. */
  addenda: z.array(Addendum.extend({ storedAt: z.string(), originalHash: z.string() })),
});
export type HubSignedReport = z.infer<typeof HubSignedReport>;

// ---- unfinished reports (domain.md §6) ------------------------------------------------------

export const HubUserRef = HubUser;
export type HubUserRef = HubUser;

/** PUT /api/drafts/:reportId. The author is the logged-in user. */
export const DraftSnapshot = z.object({
  study: StudyRef,
  /** Text the hub cannot store (NUL, a lone surrogate) is refused as invalid input (400). */
  content: StorableReportContent,
  /** The workstation's revision number; must increase. Older or equal revisions are ignored (applied=false). */
  revision: z.number().int().nonnegative(),
  /** ISO date-time of the author's last keystroke; from 2000 on (year 0 is valid ISO that no database holds). */
  lastActivity: z.iso.datetime({ offset: true }).refine((t) => Date.parse(t) >= Date.UTC(2000, 0, 1), 'a last activity before the year 2000 is not plausible'),
  /** True when the author closed the draft (sent on close). */
  closed: z.boolean().optional(),
  /** Informational (the hub uses the session's user). */
  author: z.string().max(200).optional(),
}).strict();
export type DraftSnapshot = z.infer<typeof DraftSnapshot>;

export const DraftAck = z.object({
  reportId: z.string(),
  /** The hub's latest revision for this draft. */
  revision: z.number().int(),
  /** False when the snapshot was older than (or equal to) the stored one and was ignored. */
  applied: z.boolean(),
  owner: HubUserRef,
});
export type DraftAck = z.infer<typeof DraftAck>;

/**
 * What the hub holds of a draft apart from its text and when the hub last changed it: the draft
 * itself (HubDraft) and its line in the unfinished list (UnfinishedItem) carry the same fields,
 * so they are written once here and cannot drift apart.
 */
const DraftHeader = {
  reportId: z.string(),
  study: StudyRef,
  revision: z.number().int(),
  owner: HubUserRef,
  /** First snapshot the hub saw (ISO). */
  createdAt: z.string(),
  lastActivity: z.string(),
  closed: z.boolean(),
};

export const HubDraft = z.object({
  ...DraftHeader,
  content: ReportContent,
  updatedAt: z.string(),
});
export type HubDraft = z.infer<typeof HubDraft>;

/**
 * One snapshot as its author sent it: kept as a revision of the draft (HubDraftRevision), or,
 * when it came after a take-over, kept aside as a late snapshot (LateSnapshot). Both are the
 * same record at heart; they differ only in the times the hub notes beside it.
 */
const SnapshotRecord = {
  revision: z.number().int(),
  author: HubUserRef,
  content: ReportContent,
};

export const HubDraftRevision = z.object({
  ...SnapshotRecord,
  savedAt: z.string(),
  lastActivity: z.string(),
});
export type HubDraftRevision = z.infer<typeof HubDraftRevision>;

export const TakeOverRecord = z.object({
  at: z.string(),
  from: HubUserRef,
  to: HubUserRef,
  reason: z.string(),
});
export type TakeOverRecord = z.infer<typeof TakeOverRecord>;

/** A snapshot refused because the draft had been taken over: kept so the former owner's words are not lost. */
export const LateSnapshot = z.object({
  ...SnapshotRecord,
  receivedAt: z.string(),
});
export type LateSnapshot = z.infer<typeof LateSnapshot>;

export const DraftWithHistory = z.object({
  draft: HubDraft,
  /** Oldest first. */
  revisions: z.array(HubDraftRevision),
  takeOvers: z.array(TakeOverRecord),
  /** Snapshots from former owners refused after a take-over, oldest first (GET and take-over answers). */
  lateSnapshots: z.array(LateSnapshot).optional(),
});
export type DraftWithHistory = z.infer<typeof DraftWithHistory>;

export const TakeOverRequest = z.object({
  /** Optional guard: refuse (409) if the draft's owner is no longer this username. */
  expectedOwner: z.string().max(64).optional(),
  reason: z.string().max(1000).optional(),
}).strict();
export type TakeOverRequest = z.infer<typeof TakeOverRequest>;

export const TakeOverResponse = DraftWithHistory.extend({ previousOwner: HubUserRef, takenOverAt: z.string() });
export type TakeOverResponse = z.infer<typeof TakeOverResponse>;

/**
 * One of your drafts a colleague took over since your previous login (GET /api/drafts/taken-from-me):
 * the take-over record without `from` (that is you), with the draft it concerns.
 */
export const TakenFromMe = TakeOverRecord.omit({ from: true }).extend({
  reportId: z.string(),
  study: StudyRef,
  /** The draft has been signed since (by whoever holds it). */
  signed: z.boolean(),
});
export type TakenFromMe = z.infer<typeof TakenFromMe>;
export const TakenFromMeList = z.object({ since: z.string().nullable(), items: z.array(TakenFromMe) });
export type TakenFromMeList = z.infer<typeof TakenFromMeList>;

export const StaleReason = z.enum(['idle', 'session-ended']);
export type StaleReason = z.infer<typeof StaleReason>;

/** A draft in the unfinished list: the draft without its text, with how old and idle it is. */
export const UnfinishedItem = z.object({
  ...DraftHeader,
  /** Milliseconds since createdAt (age) and since lastActivity (idle), at `now`. */
  ageMs: z.number(),
  idleMs: z.number(),
  stale: z.boolean(),
  staleReasons: z.array(StaleReason),
  /** The previous owner when the draft was taken over, else null. */
  takenOverFrom: HubUserRef.nullable(),
});
export type UnfinishedItem = z.infer<typeof UnfinishedItem>;

/**
 * Clients should refetch GET /api/unfinished at most this often after `unfinished-changed`
 * events (immediately only after a `draft-taken-over` that names the user): every snapshot of
 * every draft produces an event, and the list is about drafts idle for hours (docs/architecture.md).
 */
export const UNFINISHED_REFETCH_MIN_MS = 10_000;

export const UnfinishedList = z.object({
  now: z.string(),
  staleAfterHours: z.number(),
  /** Stale first, then oldest last activity first. */
  items: z.array(UnfinishedItem),
});
export type UnfinishedList = z.infer<typeof UnfinishedList>;

// ---- pushed events --------------------------------------------------------------------------

const EventBase = { seq: z.number().int().positive(), at: z.string(), reportId: z.string() };

export const HubEvent = z.discriminatedUnion('type', [
  z.object({
    ...EventBase,
    type: z.literal('report-signed'),
    kind: z.enum(['report', 'addendum', 'verification']),
    /** The report's state after this signature (a provisional report is not a report of record). Absent from hubs before issue 6. */
    state: ReportState.optional(),
    study: StudyRef,
    signer: z.object({ name: z.string(), registration: z.string(), role: Role }),
    alertCode: AlertCategory.nullable(),
    /**
     * The report is on the cancer pathway (common/signoff.ts cancerPathway: a cancer alert or any
     * cancer finding, whatever the alert code), recorded apart from the alert code. Absent from hubs before issue 7.
     */
    cancerPathway: z.boolean().optional(),
    addendumId: z.string().optional(),
  }),
  z.object({
    ...EventBase,
    type: z.literal('draft-taken-over'),
    study: StudyRef,
    from: HubUserRef,
    to: HubUserRef,
  }),
  z.object({
    ...EventBase,
    type: z.literal('alert-changed'),
    /** What happened (common/alerts.ts ALERT_EVENT_TYPES): created, escalated, acknowledged, … */
    change: z.string(),
    rung: z.number().int(),
    state: z.string(),
    /** The team it is routed to (null: the duty radiologist's queue). */
    teamId: z.string().nullable(),
  }),
  z.object({
    ...EventBase,
    type: z.literal('unfinished-changed'),
    reason: z.enum(UNFINISHED_CHANGE_REASONS),
    owner: z.string().optional(),
  }),
]);
export type HubEvent = z.infer<typeof HubEvent>;
export type HubEventType = HubEvent['type'];

export const HubHello = z.object({
  instanceId: z.string(),
  /** Highest seq this instance has delivered when the stream opened. */
  head: z.number().int().nonnegative(),
  /** The seq the catch-up started after (the `since` the client sent, or head). */
  since: z.number().int().nonnegative(),
});
export type HubHello = z.infer<typeof HubHello>;

export const EventLog = z.object({
  events: z.array(HubEvent),
  head: z.number().int().nonnegative(),
});
export type EventLog = z.infer<typeof EventLog>;

// ---- site policy ----------------------------------------------------------------------------

export { AlertDeadlineSchema };

const defaultDeadlines = Object.fromEntries(
  Object.values(DEFAULT_ALERT_POLICY).map((p) => [p.category, p.deadline]),
) as Record<z.infer<typeof AlertCategory>, z.infer<typeof AlertDeadlineSchema>>;

/** The site policy file (JSON). Every field has the domain.md default. */
export const SitePolicy = z.object({
  /** A draft idle longer than this is highlighted as stale. */
  unfinishedIdleHours: z.number().positive().max(24 * 30).default(4),
  /** Workstations refetch the unfinished list at most this often (large networks raise it). */
  unfinishedRefetchMinMs: z.number().int().min(1_000).max(10 * 60_000).default(UNFINISHED_REFETCH_MIN_MS),
  alertDeadlines: z.object({
    critical: AlertDeadlineSchema.default(defaultDeadlines.critical),
    urgent: AlertDeadlineSchema.default(defaultDeadlines.urgent),
    cancer: AlertDeadlineSchema.default(defaultDeadlines.cancer),
    significant: AlertDeadlineSchema.default(defaultDeadlines.significant),
    none: AlertDeadlineSchema.default(defaultDeadlines.none),
  }).strict().prefault({}),
  /**
   * Where "working days" deadlines are counted: time zone, weekend, bank holidays (common/siteCalendar.ts).
   * Absent: Europe/London, Saturday and Sunday, no bank holidays.
   */
  calendar: SiteCalendar.prefault({}),
  /** Who an alert escalates to when each deadline is missed, per category (common/alertPolicy.ts). Absent: domain.md §2. */
  escalation: EscalationPolicy.prefault({}),
  /** Minutes without a signature after which signing needs the password again (21 CFR 11.200(a)); the first signature of a session always does. */
  signConfirmIdleMinutes: z.number().positive().max(24 * 60).default(15),
  /** Session lifetime. */
  sessionHours: z.number().positive().max(24 * 7).default(12),
  /** Failed logins before lockout, and the first lockout (doubling per further failure, capped). */
  lockout: z.object({
    maxFailures: z.number().int().positive().max(100).default(5),
    baseSeconds: z.number().positive().max(3600).default(30),
    maxSeconds: z.number().positive().max(24 * 3600).default(900),
  }).strict().prefault({}),
}).strict();
export type SitePolicy = z.infer<typeof SitePolicy>;
