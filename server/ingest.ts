// Exactly-once ingest of signed records: reports (final, or a trainee's provisional), trainers'
// verifications and addenda. The whole rule lives here, once, and PostgreSQL and PGlite run the
// same code: who may make which transition (common/lifecycle.ts), the signer is the logged-in
// user, the template's sign-off rules, the recomputed content hash, then in one transaction the
// Idempotency-Key claim, the record, its signature row, the state change, the audit row, the
// events and the answer kept for replay. A crash before COMMIT leaves nothing; after COMMIT a
// retry replays. Concurrent deliveries of one key serialise on the key's primary key.
//
// Concurrent requests are grouped (application-level group commit): a group runs the same
// per-record code in one transaction, so N records cost one commit. If a group fails as a whole
// (deadlock with another instance, text PostgreSQL cannot store), each of its records is run
// again alone; nothing of the group was committed or answered.
import crypto from 'node:crypto';
import { addendumSignedPayload, type AddendumPayload, type OutboxPayload, type SignedReportPayload, type VerificationPayload } from '../common/hubPayload.ts';
import { isRetryableHubError, roleMay, SIGNED_AT_SKEW_MS, type HubEvent, type IngestReceipt } from '../common/hub.ts';
import { checkTransition, TRANSITION_NAMES, TRANSITIONS, type Action, type ReportState, type SignatureMeaning, type Transition } from '../common/lifecycle.ts';
import { canonicalJson, requesterUnknown, signedPayload, type AlertCategory, type ExamDetails, type ReportContent, type Signature } from '../common/report.ts';
import { escalationLadder, type AlertTimingPolicy, type LadderStep } from '../common/alertDeadline.ts';
import { SitePolicy } from '../common/hub.ts';
import { cancerPathway, checkSignOff, parseIsoDateTime } from '../common/signoff.ts';
import { isMeaningfulText } from '../common/text.ts';
import { getTemplate } from '../common/templates.ts';
import { sha256Hex, type SessionUser } from './auth.ts';
import type { HubDb, Queryable } from './db/adapter.ts';
import { HubError } from './errors.ts';

export interface IngestResult {
  status: number;
  /** The JSON text of the answer (byte-identical on replay). */
  bodyText: string;
  replayed: boolean;
}

/** The life-cycle transition a signed record makes: the one whose signature meaning it carries. */
export function transitionOf(payload: OutboxPayload): Transition {
  const meaning: SignatureMeaning = payload.kind === 'report' ? payload.report.signature.meaning
    : payload.kind === 'addendum' ? payload.addendum.signature.meaning : payload.signature.meaning;
  const t = TRANSITION_NAMES.find((n) => TRANSITIONS[n].meaning === meaning);
  if (!t) throw new Error(`no transition signs "${meaning}"`);
  return t;
}

/** The action a role needs to send this record. */
export const requiredAction = (payload: OutboxPayload): Action => TRANSITIONS[transitionOf(payload)].action;

/** One record to ingest: who sent it, under which key, and what the checks that need no database found. */
interface Item {
  user: SessionUser;
  key: string;
  requestHash: string;
  at: string;
  payload: OutboxPayload;
  /** The recomputed content hash (report, addendum), or the refusal the checks found. Verifications are hashed against the stored report. */
  checked: { hash: string | null } | { refusal: HubError };
  /** A report's alert (its code is not "none"), stored in the same statement as the report; else null. */
  alert: AlertRow | null;
}

/** The alert of an alert-coded report, as the report statement stores it (hub migration 7). */
interface AlertRow {
  category: Exclude<AlertCategory, 'none'>;
  finding: string;
  dueBy: string | null;
  ladder: LadderStep[];
  verbal: ReportContent['verbal'] | null;
}

/**
 * The alert a report raises: its category, the finding text (the unexpected findings of that
 * category, else all of them), and the escalation ladder timed from the signature by the site
 * policy (deadlines in hours or working days on the site calendar). Null for "none".
 */
function alertOf(p: OutboxPayload, policy: AlertTimingPolicy): AlertRow | null {
  if (p.kind !== 'report') return null;
  const c = p.report.content;
  const category = c.alertCode;
  if (category === null || category === 'none') return null;
  const items = c.unexpected.kind === 'findings' ? c.unexpected.items : [];
  const own = items.filter((f) => f.category === category);
  const finding = (own.length > 0 ? own : items).map((f) => f.text.trim()).filter((t) => t !== '').join(' ')
    + (category === 'cancer' && c.cancerPrimarySite ? ` (primary site: ${c.cancerPrimarySite})` : '');
  let ladder: LadderStep[];
  try {
    ladder = escalationLadder(category, p.report.signature.signedAt, policy);
  } catch (err) {
    throw new HubError(422, 'signed-at-implausible', `The alert's deadline cannot be counted from the signature time: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { category, finding: finding || c.fields['conclusion'] || '(see the report)', dueBy: ladder[0]?.dueBy ?? null, ladder, verbal: c.verbal ?? null };
}

interface Stored { status: number; body: unknown }

/** The site policy's defaults (domain.md §2), for callers that give none. */
const DEFAULT_TIMING: AlertTimingPolicy = SitePolicy.parse({});

/** The statements every record runs are kept prepared (PostgreSQL plans them once per connection). */
const PREPARE = { prepare: true } as const;

const isPgUniqueViolation = (err: unknown): boolean => (err as { code?: string } | null)?.code === '23505';

/**
 * Ingests one signed record. A role that may not make the record's transition is refused (403)
 * before anything is written; every other refusal is remembered for the key like a success.
 */
export async function ingest(
  db: HubDb, user: SessionUser, key: string, rawBody: unknown, payload: OutboxPayload, now: number, batcher?: IngestBatcher,
  policy: AlertTimingPolicy = DEFAULT_TIMING,
): Promise<IngestResult> {
  const action = requiredAction(payload);
  if (!roleMay(user.role, action)) throw new HubError(403, 'forbidden', `A ${user.role} may not ${ACTION_WORDS[action]}.`);
  let checked = check(user, payload, now);
  let alert: AlertRow | null = null;
  if (!('refusal' in checked)) {
    try {
      alert = alertOf(payload, policy);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      checked = { refusal: err };
    }
  }
  const item: Item = { user, key, requestHash: requestHash(rawBody), at: new Date(now).toISOString(), payload, checked, alert };
  return batcher ? batcher.submit(item) : runAlone(db, item);
}

/**
 * The hash the idempotency record keeps of the body as sent (members the schema ignores too, so
 * the same key with another body is told apart). A body canonical JSON cannot write (a number
 * such as 1e999, Infinity once parsed, or nesting deeper than the stack) is refused: it is no
 * signed record, and a 500 would be retried for ever.
 */
function requestHash(rawBody: unknown): string {
  try {
    return sha256Hex(canonicalJson(rawBody));
  } catch {
    throw new HubError(400, 'invalid-input', 'signed record: the body holds a number JSON cannot carry exactly (such as 1e999) or is nested too deeply; nothing was stored.');
  }
}

/** What each action means, for messages (a record keyed by action: every action has one). */
export const ACTION_WORDS: Readonly<Record<Action, string>> = {
  'report:sign-final': 'issue a final report',
  'report:sign-provisional': 'sign a provisional report',
  'report:verify': 'verify a trainee\'s provisional report',
  'report:addendum': 'add an addendum to a signed report',
  'report:read': 'read signed reports',
  'draft:write': 'write draft reports',
  'draft:read': 'read draft reports',
  'unfinished:list': 'see the unfinished reports list',
  'draft:take-over': 'take over a colleague\'s draft',
  'events:subscribe': 'subscribe to hub events',
  'alert:read': 'see alerts',
  'alert:acknowledge': 'acknowledge alerts',
  'safety:dashboard': "open the imaging safety lead's dashboard",
};

// ---- the checks that need no database ---------------------------------------------------------

function check(user: SessionUser, p: OutboxPayload, now: number): Item['checked'] {
  try {
    checkSignedAt(user, p.kind === 'report' ? p.report.signature : p.kind === 'addendum' ? p.addendum.signature : p.signature, now);
    if (p.kind === 'report') return { hash: checkReport(user, p) };
    if (p.kind === 'addendum') return { hash: checkAddendum(user, p) };
    checkSigner(user, p.signature, 'verification');
    return { hash: null };
  } catch (err) {
    if (err instanceof HubError) return { refusal: err };
    throw err;
  }
}

function checkSigner(user: SessionUser, sig: { name: string; registration: string; role: string }, what: string): void {
  if (sig.name !== user.name || sig.registration !== user.registration || sig.role !== user.role) {
    throw new HubError(422, 'signer-mismatch',
      `The ${what} is signed by ${sig.name} (${sig.registration}, ${sig.role}) but you are logged in as ${user.name} (${user.registration}, ${user.role}). Only the signer can submit it.`);
  }
}

/**
 * The signature time must be a real moment the signer could have signed at: an ISO date-time, not
 * more than SIGNED_AT_SKEW_MS (5 min) ahead of the hub's clock, and not before the signer's account
 * existed (less the same skew). The past is otherwise accepted: a report signed offline is
 * delivered late, honestly; the hub records its own receipt time (stored_at) beside it.
 */
function checkSignedAt(user: SessionUser, sig: { signedAt: string }, now: number): void {
  const t = parseIsoDateTime(sig.signedAt)?.getTime() ?? Number.NaN;
  const refuse = (why: string): HubError => new HubError(422, 'signed-at-implausible', `The signature time "${sig.signedAt.slice(0, 64)}" ${why}; the hub does not store it.`,
    { signedAt: sig.signedAt.slice(0, 64), hubTime: new Date(now).toISOString() });
  if (!Number.isFinite(t)) throw refuse('is not an ISO date-time with its time zone');
  if (t > now + SIGNED_AT_SKEW_MS) throw refuse(`is more than ${SIGNED_AT_SKEW_MS / 60_000} minutes ahead of the hub's clock (${new Date(now).toISOString()})`);
  const created = Date.parse(user.created_at);
  if (Number.isFinite(created) && t < created - SIGNED_AT_SKEW_MS) throw refuse(`is before ${user.name}'s account existed (${new Date(created).toISOString()})`);
}

const signer = (sig: Signature) => ({ name: sig.name, role: sig.role, registration: sig.registration });

function expectHash(computed: string, sig: Signature, what: string): string {
  if (computed !== sig.contentHash) {
    throw new HubError(422, 'hash-mismatch', `The ${what}'s content hash does not match what was signed: it was altered after signing or damaged in transit.`,
      { expected: computed, received: sig.contentHash });
  }
  return computed;
}

/** Signer, template, sign-off rules and content hash (bound to study and exam); returns the hash. */
function checkReport(user: SessionUser, p: SignedReportPayload): string {
  const r = p.report;
  const sig = r.signature;
  checkSigner(user, sig, 'report');
  let template;
  try {
    template = getTemplate(r.content.templateId);
  } catch {
    throw new HubError(422, 'unknown-template', `The hub does not know the template "${r.content.templateId}".`);
  }
  // The same rules as the workstation, with the signature time and exam the payload carries (the
  // hub has no image library: whether a prior exists was checked where the library is).
  const blocking = checkSignOff(r.content, template, { signedAt: sig.signedAt, exam: r.exam ?? null }).filter((x) => x.severity === 'block');
  if (blocking.length > 0) {
    throw new HubError(422, 'signoff-problems',
      `The report fails the sign-off rules: ${blocking.map((b) => `[${b.sectionId}] ${b.message}`).join(' ')}`,
      { problems: blocking });
  }
  return expectHash(sha256Hex(signedPayload(r.content, r.study, signer(sig), sig.signedAt, sig.meaning, r.exam, undefined, r.replaces)), sig, 'report');
}

function checkAddendum(user: SessionUser, p: AddendumPayload): string {
  const a = p.addendum;
  // The hub's read contract (a signature record's addendumId, common/report.ts) holds 1–64
  // characters: an id it could store but not send back would break every read of the report.
  if (a.id.length < 1 || a.id.length > 64) throw new HubError(400, 'invalid-input', `signed record: addendum.id must be 1–64 characters (it has ${a.id.length}).`);
  checkSigner(user, a.signature, 'addendum');
  if (!isMeaningfulText(a.text)) {
    throw new HubError(422, 'invalid-input', 'An addendum needs text: spaces, punctuation, symbols or invisible characters alone do not count.');
  }
  return expectHash(sha256Hex(addendumSignedPayload({
    reportId: p.reportId, originalHash: p.originalHash, text: a.text, signer: signer(a.signature), signedAt: a.signature.signedAt,
  })), a.signature, 'addendum');
}

// ---- the transaction ----------------------------------------------------------------------------

/** Runs a group of records in one transaction; if it fails, each record alone. */
async function runGroup(db: HubDb, items: readonly Item[]): Promise<IngestResult[]> {
  return db.transaction(async (tx) => {
    const out: IngestResult[] = [];
    for (const it of items) out.push(await apply(tx, it));
    return out;
  });
}

async function runAlone(db: HubDb, item: Item): Promise<IngestResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await runGroup(db, [item]))[0]!;
    } catch (err) {
      // Two first deliveries of one record under different keys raced on a unique index, or what
      // kept a report out was gone when its reason was asked: it runs again and then sees the
      // stored record (or stores it).
      if ((isPgUniqueViolation(err) || err instanceof IngestRace) && attempt < 3) continue;
      throw err;
    }
  }
}

/** One record inside the caller's transaction: claim the key, then store (or refuse) and keep the answer. */
async function apply(tx: Queryable, it: Item): Promise<IngestResult> {
  // Claim the key. If another transaction holds it, this blocks until that one commits (then
  // DO NOTHING) or rolls back (then the claim succeeds). A report that passed the checks claims
  // it in the statement that stores it (storeReport: one round trip, the usual case); every
  // other record claims it first, here.
  const p = it.payload;
  const claimsInline = p.kind === 'report' && !('refusal' in it.checked);
  if (!claimsInline && !(await claimKey(tx, it))) return replay(tx, it);
  let outcome: Stored;
  try {
    if ('refusal' in it.checked) {
      const held = await storedAlready(tx, it);
      if (!held) throw it.checked.refusal;
      outcome = held;
    } else if (p.kind === 'report') {
      const stored = await storeReport(tx, it, p);
      if (stored === 'key-claimed-before') return replay(tx, it);
      outcome = stored;
    } else if (p.kind === 'addendum') outcome = await storeAddendum(tx, it, p, it.checked.hash!);
    else outcome = await storeVerification(tx, it, p);
  } catch (err) {
    if (!(err instanceof HubError) || err.status >= 500) throw err;
    const bodyText = JSON.stringify(err.toBody());
    // A refusal that may pass later (the original not synced yet) is not remembered for the key.
    if (isRetryableHubError(err.status, err.code)) {
      await tx.query('DELETE FROM idempotency WHERE key = $1', [it.key]);
      return { status: err.status, bodyText, replayed: false };
    }
    outcome = { status: err.status, body: err.toBody() };
  }
  const bodyText = JSON.stringify(outcome.body);
  if (!('recorded' in outcome)) {
    await tx.query('UPDATE idempotency SET status = $2, response = $3 WHERE key = $1', [it.key, outcome.status, bodyText], PREPARE);
  }
  return { status: outcome.status, bodyText, replayed: false };
}

/** The key's row, answer not yet known (status 0): false when another delivery claimed it before. */
async function claimKey(tx: Queryable, it: Item): Promise<boolean> {
  const claim = await tx.query(
    `INSERT INTO idempotency (key, user_id, request_hash, status, response, created_at)
     VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (key) DO NOTHING RETURNING key`,
    [it.key, it.user.id, it.requestHash, it.at], PREPARE,
  );
  return claim.rowCount > 0;
}

/**
 * A record refused by today's checks that the hub already holds, byte for byte, from the same
 * signer (stored before a rule was tightened, its answer lost): answered as stored, never as a
 * refusal, or the workstation would call a delivered report "not delivered".
 */
async function storedAlready(tx: Queryable, it: Item): Promise<Stored | null> {
  const p = it.payload;
  if (p.kind !== 'report') return null;
  const sig = p.report.signature;
  const { rows } = await tx.query<{ content_hash: string; stored_at: string; signer_registration: string }>(
    'SELECT content_hash, stored_at, signer_registration FROM signed_reports WHERE id = $1', [p.report.id]);
  const existing = rows[0];
  if (!existing || existing.content_hash !== sig.contentHash || existing.signer_registration !== it.user.registration) return null;
  const receipt: IngestReceipt = { kind: 'report', reportId: p.report.id, contentHash: existing.content_hash, storedAt: existing.stored_at, alreadyStored: true };
  return { status: 200, body: receipt };
}

/** The key was claimed before: the first answer again, or a refusal (never thrown: one record's refusal must not fail its group). */
async function replay(tx: Queryable, it: Item): Promise<IngestResult> {
  const { rows } = await tx.query<{ request_hash: string; status: number; response: string; user_id: number }>(
    'SELECT request_hash, status, response, user_id FROM idempotency WHERE key = $1', [it.key], PREPARE,
  );
  const prior = rows[0];
  const refuse = (e: HubError): IngestResult => ({ status: e.status, bodyText: JSON.stringify(e.toBody()), replayed: false });
  // A key is its user's: another user who sends it (whatever the body) learns nothing of the first
  // request, not even whether it is still in flight, and gets no receipt for it.
  if (prior && prior.user_id !== it.user.id) {
    return refuse(new HubError(422, 'idempotency-key-reused',
      'This Idempotency-Key was already used for another request. Each signed record needs its own key; the first request is kept.'));
  }
  if (!prior || prior.status === 0) return refuse(new HubError(409, 'idempotency-key-in-flight', 'This Idempotency-Key is being processed; retry shortly.'));
  if (prior.request_hash !== it.requestHash) {
    return refuse(new HubError(422, 'idempotency-key-reused',
      'This Idempotency-Key was already used for a different request body. Each signed record needs its own key; the first request is kept.'));
  }
  return { status: prior.status, bodyText: prior.response, replayed: true };
}

/**
 * Groups concurrent records into one transaction and one commit. When the hub is quiet a record
 * goes alone at once; while a group is in flight, records wait for it and then go together (a
 * further group starts early only when `minGroup` are waiting), so a busy hub commits many records
 * at a time instead of many single ones. A group is sorted by key so two groups claim keys in the
 * same order.
 */
export class IngestBatcher {
  private queue: { item: Item; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: HubDb,
    /**
     * Groups in flight at once, each on its own connection. A group's statements run one after
     * another, each waiting for its round trip and the commit for its WAL flush, so the database
     * is latency-bound, not busy, with few groups: on a 2-core machine 4 groups ingested about
     * 700 reports/s and 16 about 1,350 (direct, without HTTP). 16 leaves 4 of the pool's 20
     * connections (server/db/pg.ts) for everything else. PGlite has one connection and
     * serialises transactions itself.
     */
    private readonly maxInFlight = 16,
    private readonly maxGroup = 32,
    /** While a group is in flight, another starts only once this many records wait (else they join the next). */
    private readonly minGroup = 4,
  ) {}

  submit(item: Item): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0 && (this.inFlight === 0 || this.queue.length >= this.minGroup)) {
      const group = this.queue.splice(0, this.maxGroup).sort((a, b) => (a.item.key < b.item.key ? -1 : a.item.key > b.item.key ? 1 : 0));
      this.inFlight++;
      void this.run(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(group: { item: Item; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[]): Promise<void> {
    // New reports first, all in one statement; what it did not store goes the general path.
    const batch = newReportBatch(group.map((g) => g.item));
    let rest = group;
    if (batch.size > 0) {
      const fast = group.filter((g) => batch.has(g.item));
      const answers = await storeNewReports(this.db, fast.map((g) => g.item));
      const answered = new Set<Item>();
      fast.forEach((g, i) => {
        const a = answers[i];
        if (a) {
          g.resolve(a);
          answered.add(g.item);
        }
      });
      rest = group.filter((g) => !answered.has(g.item));
    }
    if (rest.length > 1) {
      try {
        const results = await runGroup(this.db, rest.map((g) => g.item));
        rest.forEach((g, i) => g.resolve(results[i]!));
        return;
      } catch {
        // Nothing of the group was committed: each record again, alone.
      }
    }
    for (const g of rest) {
      try {
        g.resolve(await runAlone(this.db, g.item));
      } catch (e) {
        g.reject(e);
      }
    }
  }
}

/**
 * One signed record as a row of the statement that records it: the columns every kind shares
 * (its key's claim, the signature, the audit row, the events, the answer kept for the key) and
 * `rec`, what only its kind's first step (`anchor`) reads.
 */
interface SignatureRow {
  ord: number;
  key: string;
  user_id: number;
  request_hash: string;
  at: string;
  /** The answer kept for the key, as JSON text (a replay is byte-identical). */
  receipt: string;
  report_id: string;
  meaning: SignatureMeaning;
  sig_id: string;
  signer_name: string;
  signer_role: string;
  signer_registration: string;
  signed_at: string;
  hash: string;
  addendum_id: string | null;
  verifies_hash: string | null;
  audit_action: string;
  audit_detail: Record<string, unknown>;
  /** The report-signed event, then the unfinished-changed event (written only if a draft was marked signed). */
  events: unknown[];
  /** A report's study keys (studyReportKeys), held from this statement on. */
  study_keys: string[] | null;
  rec: Record<string, unknown> | null;
}

type AnchorKind = 'report' | 'verification' | 'addendum';

/**
 * Each kind's first step: a CTE named `new` that yields the report id of each row that is new
 * (the report or addendum inserted, the verification to record). A report claims its key here
 * too (`claim`), and only when it will be stored: not when another report holds the study, a
 * colleague took the draft over (the draft row stays locked until the commit, so a take-over
 * waits for this and then finds the report signed) or the id is stored already. Which of these it
 * was is asked only when nothing was stored (storeReport), so the usual path is one statement. A
 * report committed meanwhile with the same id or study key makes the statement fail on a unique
 * index (its records then run again, one by one, and are answered from what is stored).
 * Verifications and addenda claim their key before (claimKey) and have `idem` set the answer.
 */
const ANCHORS: Readonly<Record<AnchorKind, string>> = {
  report: `dl AS (SELECT d.report_id, d.owner_id FROM drafts d WHERE d.report_id IN (SELECT report_id FROM input) ORDER BY d.report_id FOR UPDATE),
     ok AS (SELECT i.* FROM input i
             WHERE NOT EXISTS (SELECT 1 FROM dl WHERE dl.report_id = i.report_id AND dl.owner_id <> i.user_id)
               AND NOT EXISTS (SELECT 1 FROM study_reports s WHERE s.study_key = ANY(i.study_keys) AND s.report_id <> i.report_id)
               AND NOT EXISTS (SELECT 1 FROM signed_reports r WHERE r.id = i.report_id)),
     claim AS (INSERT INTO idempotency (key, user_id, request_hash, status, response, created_at)
       SELECT key, user_id, request_hash, 201, receipt, at FROM ok ORDER BY key ON CONFLICT (key) DO NOTHING RETURNING key),
     new AS (
       INSERT INTO signed_reports (id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at,
         content_hash, author, created_at, stored_at, stored_by, idempotency_key, state,
         exam, accession, referring_physician, requesting_service, modality, study_date, requester_unknown)
       SELECT i.report_id, i.rec->>'patientId', i.rec->>'studyUid', i.rec->'content', i.signer_name, i.signer_role, i.signer_registration, i.signed_at,
         i.hash, i.rec->>'author', i.rec->>'createdAt', i.at, i.user_id, i.key, i.rec->>'state',
         NULLIF(i.rec->'exam', 'null'::jsonb), i.rec->>'accession', i.rec->>'referringPhysician', i.rec->>'requestingService',
         i.rec->>'modality', i.rec->>'studyDate', (i.rec->>'requesterUnknown')::boolean
         FROM input i WHERE i.key IN (SELECT key FROM claim) ORDER BY i.ord
       RETURNING id),
     al AS (
       INSERT INTO alerts (report_id, category, finding, patient_id, study_uid, accession, requester, requesting_service, requester_unknown,
         signed_at, created_at, due_by, ladder, verbal)
       SELECT i.report_id, x.a->>'category', x.a->>'finding', i.rec->>'patientId', i.rec->>'studyUid', i.rec->>'accession', i.rec->>'referringPhysician',
         i.rec->>'requestingService', (i.rec->>'requesterUnknown')::boolean, i.signed_at, i.at, (x.a->>'dueBy')::timestamptz, x.a->'ladder', NULLIF(x.a->'verbal', 'null'::jsonb)
         FROM input i, LATERAL (SELECT i.rec->'alert' AS a) x
        WHERE i.report_id IN (SELECT id FROM new) AND jsonb_typeof(x.a) = 'object')`,
  verification: 'new AS (SELECT report_id AS id FROM input)',
  addendum: `new AS (
       INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash,
         stored_at, stored_by, idempotency_key)
       SELECT i.addendum_id, i.report_id, i.rec->>'originalHash', i.rec->>'text', i.signer_name, i.signer_role, i.signer_registration, i.signed_at, i.hash,
         i.at, i.user_id, i.key FROM input i
       ON CONFLICT (id) DO NOTHING RETURNING report_id AS id)`,
};

/**
 * The one statement that records signed records of one kind, given as a JSON array of
 * SignatureRow: from `new` (ANCHORS), the signature rows, the audit rows, the drafts marked signed
 * (with an unfinished-changed event for each), the report-signed events, a report's study keys,
 * and the answer kept for each key. Its text is fixed per kind, so it is prepared once per
 * connection; a batch of N reports costs one round trip and, outside a transaction, one commit.
 */
const recordStatement = (kind: AnchorKind): string => `WITH
     input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(ord int, key text, user_id bigint, request_hash text, at timestamptz, receipt text,
       report_id text, meaning text, sig_id text, signer_name text, signer_role text, signer_registration text, signed_at text, hash text,
       addendum_id text, verifies_hash text, audit_action text, audit_detail jsonb, events jsonb, study_keys text[], rec jsonb)),
     ${ANCHORS[kind]},
     src AS (SELECT i.* FROM input i WHERE i.report_id IN (SELECT id FROM new)),
     sig AS (
       INSERT INTO signatures (id, report_id, meaning, signer_id, signer_name, signer_role, signer_registration, signed_at, content_hash,
         addendum_id, verifies_hash, stored_at)
       SELECT sig_id, report_id, meaning, user_id, signer_name, signer_role, signer_registration, signed_at, hash, addendum_id, verifies_hash, at
         FROM src ORDER BY ord),
     au AS (INSERT INTO audit (at, actor_id, action, report_id, detail) SELECT at, user_id, audit_action, report_id, audit_detail FROM src ORDER BY ord),
     dr AS (UPDATE drafts d SET signed_at = s.at, updated_at = s.at FROM src s WHERE d.report_id = s.report_id AND d.signed_at IS NULL RETURNING d.report_id),
     ${kind === 'report'
    ? 'sk AS (INSERT INTO study_reports (study_key, report_id, stored_at) SELECT k, s.report_id, s.at FROM src s, unnest(s.study_keys) AS k),'
    : 'idem AS (UPDATE idempotency x SET status = 201, response = s.receipt FROM src s WHERE x.key = s.key),'}
     ev AS (INSERT INTO events (at, type, report_id, body)
       SELECT s.at, e->>'type', s.report_id, e FROM src s, jsonb_array_elements(s.events) WITH ORDINALITY AS x(e, n)
        WHERE n = 1 OR s.report_id IN (SELECT report_id FROM dr) ORDER BY s.ord, n)
     SELECT i.ord, ${kind === 'report' ? 'i.key IN (SELECT key FROM claim)' : 'true'} AS claimed, i.report_id IN (SELECT id FROM new) AS stored
       FROM input i ORDER BY i.ord`;

const RECORD_STATEMENTS: Readonly<Record<AnchorKind, string>> = {
  report: recordStatement('report'), verification: recordStatement('verification'), addendum: recordStatement('addendum'),
};

/** Records the rows (see recordStatement); for each, in order: whether its key was claimed here (reports) and whether it was stored. */
async function recordSignatures(q: Queryable, kind: AnchorKind, rows: readonly SignatureRow[]): Promise<{ claimed: boolean; stored: boolean }[]> {
  const { rows: out } = await q.query<{ ord: number; claimed: boolean; stored: boolean }>(RECORD_STATEMENTS[kind], [JSON.stringify(rows)], PREPARE);
  return out.map((o) => ({ claimed: o.claimed, stored: o.stored }));
}

/** The parts of a SignatureRow every kind fills the same way. */
function signatureRow(it: Item, ord: number, s: {
  reportId: string; sig: Signature; hash: string; receipt: IngestReceipt; addendumId?: string; verifiesHash?: string;
  audit: { action: string; detail: Record<string, unknown> }; event: Omit<Extract<HubEvent, { type: 'report-signed' }>, 'seq'>;
  studyKeys?: string[]; rec?: Record<string, unknown>;
}): SignatureRow {
  return {
    ord, key: it.key, user_id: it.user.id, request_hash: it.requestHash, at: it.at, receipt: JSON.stringify(s.receipt),
    report_id: s.reportId, meaning: s.sig.meaning, sig_id: crypto.randomUUID(), signer_name: s.sig.name, signer_role: s.sig.role,
    signer_registration: s.sig.registration, signed_at: s.sig.signedAt, hash: s.hash, addendum_id: s.addendumId ?? null, verifies_hash: s.verifiesHash ?? null,
    audit_action: s.audit.action, audit_detail: s.audit.detail,
    events: [s.event, { type: 'unfinished-changed', at: it.at, reportId: s.reportId, reason: 'signed', owner: it.user.username }],
    study_keys: s.studyKeys ?? null, rec: s.rec ?? null,
  };
}

/** A report that passed the checks (its recomputed hash in `checked`), as the row that stores it. */
function reportRow(it: Item, ord: number): SignatureRow {
  const p = it.payload as SignedReportPayload;
  const r = p.report;
  const sig = r.signature;
  const hash = (it.checked as { hash: string }).hash;
  const state = TRANSITIONS[transitionOf(p)].to;
  return signatureRow(it, ord, {
    reportId: r.id, sig, hash,
    receipt: { kind: 'report', reportId: r.id, contentHash: hash, storedAt: it.at, alreadyStored: false },
    audit: {
      action: 'ingest-report',
      // A corrected report records the refused report it replaces (bound into its signature).
      detail: { contentHash: hash, idempotencyKey: it.key, meaning: sig.meaning, cancerPathway: cancerPathway(r.content), ...(r.replaces ? { replaces: r.replaces } : {}) },
    },
    event: {
      type: 'report-signed', at: it.at, reportId: r.id, kind: 'report', state, study: r.study, signer: signer(sig),
      alertCode: r.content.alertCode, cancerPathway: cancerPathway(r.content),
    },
    studyKeys: studyReportKeys(r.study, r.exam),
    rec: {
      patientId: r.study.patientId, studyUid: r.study.studyUid, content: r.content, author: it.user.name, createdAt: r.createdAt, state,
      exam: r.exam ?? null, accession: r.exam?.accession ?? null, referringPhysician: r.exam?.referringPhysician ?? null,
      requestingService: r.exam?.requestingService ?? null, modality: r.exam?.modality ?? null, studyDate: r.exam?.studyDate ?? null,
      requesterUnknown: requesterUnknown(r.exam), alert: it.alert,
    },
  });
}

/** Whether a record may go in a batch of new reports: a report that passed the checks. */
const batchable = (it: Item): boolean => it.payload.kind === 'report' && !('refusal' in it.checked);

/**
 * New reports in one statement outside any transaction (one round trip, one commit). Returns, in
 * order, the answer of each report stored, or null for a report the statement did not store (its
 * key claimed before, another report holding its study, a take-over, its id stored already): those
 * go the general path, which answers them. If the statement fails (a report committed meanwhile
 * for the same study or id, text PostgreSQL cannot store), nothing of it was committed: all go
 * the general path.
 */
async function storeNewReports(db: HubDb, items: readonly Item[]): Promise<(IngestResult | null)[]> {
  const rows = items.map((it, ord) => reportRow(it, ord));
  let out: { stored: boolean }[];
  try {
    out = await recordSignatures(db, 'report', rows);
  } catch {
    return items.map(() => null);
  }
  return out.map((o, i) => (o.stored ? { status: 201, bodyText: rows[i]!.receipt, replayed: false } : null));
}

/**
 * The records of a group that can share one statement of new reports: reports that passed the
 * checks, no two with the same key, id or study key (such a pair goes the general path, one by
 * one, where the second is answered from the first).
 */
function newReportBatch(items: readonly Item[]): Set<Item> {
  const seen = new Set<string>();
  const batch = new Set<Item>();
  for (const it of items) {
    if (!batchable(it)) continue;
    const r = (it.payload as SignedReportPayload).report;
    const marks = [`k:${it.key}`, `i:${r.id}`, ...studyReportKeys(r.study, r.exam)];
    if (marks.some((m) => seen.has(m))) continue;
    marks.forEach((m) => seen.add(m));
    batch.add(it);
  }
  return batch;
}

/**
 * Records one verification or addendum whose key claimKey claimed, then moves the report's state
 * if this signature moves it (its trigger allows that only once the signature is stored). Returns
 * the answer, or null when `new` yielded nothing (the addendum was there already).
 */
async function recordOne(tx: Queryable, kind: 'verification' | 'addendum', row: SignatureRow, receipt: IngestReceipt, from: ReportState, to: ReportState): Promise<(Stored & { recorded: true }) | null> {
  const [o] = await recordSignatures(tx, kind, [row]);
  if (!o?.stored) return null;
  if (from !== to) await tx.query('UPDATE signed_reports SET state = $2 WHERE id = $1', [row.report_id, to], PREPARE);
  return { status: 201, body: receipt, recorded: true };
}

/**
 * The keys by which a study holds its one signed report (migration 4 writes the same): its study
 * UID and, when the exam has an accession, patient ID + accession (two studies of one patient
 * sharing an accession are one exam, reported once).
 */
export function studyReportKeys(study: { patientId: string; studyUid: string }, exam: ExamDetails | null | undefined): string[] {
  const accession = (exam?.accession ?? '').replace(/^ +| +$/g, '');
  return [`uid:${study.studyUid}`, ...(accession !== '' ? [`acc:${study.patientId}|${accession}`] : [])];
}

/**
 * One signed report (provisional or final) per study: another report already holding one of the
 * study's keys refuses this one, for good, naming who signed it and when: a later finding is an
 * addendum to it. Asked when the record statement inserted nothing (its own check found a key
 * held). Two reports signed at the same moment both pass that check; the unique key of
 * study_reports lets only one commit (the other's transaction fails, runs again, and is refused).
 */
async function refuseSecondReport(tx: Queryable, reportId: string, keys: readonly string[]): Promise<void> {
  const { rows } = await tx.query<{ report_id: string; signer_name: string; signed_at: string; state: ReportState; study_key: string }>(
    `SELECT k.report_id, r.signer_name, r.signed_at, r.state, k.study_key
       FROM study_reports k JOIN signed_reports r ON r.id = k.report_id
      WHERE k.study_key = ANY($1::text[]) AND k.report_id <> $2 ORDER BY k.study_key DESC LIMIT 1`,
    [keys, reportId], PREPARE,
  );
  const held = rows[0];
  if (!held) return;
  const byAccession = held.study_key.startsWith('acc:');
  throw new HubError(409, 'study-already-reported',
    `This ${byAccession ? 'exam (same accession number)' : 'study'} already has a ${held.state} report, signed by ${held.signer_name} at ${held.signed_at}. `
    + 'The hub keeps one report per study: add an addendum to that report instead. Your report is kept on your workstation.',
    { reportId: held.report_id, signerName: held.signer_name, signedAt: held.signed_at, state: held.state, byAccession });
}

/**
 * Nothing stored the report and nothing refuses it: what kept it out (a report or take-over not
 * yet committed when the statement looked) is gone. The transaction runs again (runAlone).
 */
class IngestRace extends Error {}

/**
 * A report that passed the checks, inside the caller's transaction: stored with its key in one
 * statement, or, when that stored nothing, its key claimed (or the first answer replayed) and the
 * reason found: another report holds the study, the draft was taken over, or the report is stored
 * already (answered as stored, or refused if different).
 */
async function storeReport(tx: Queryable, it: Item, p: SignedReportPayload): Promise<(Stored & { recorded?: true }) | 'key-claimed-before'> {
  const row = reportRow(it, 0);
  const [o] = await recordSignatures(tx, 'report', [row]);
  if (o?.stored) return { status: 201, body: JSON.parse(row.receipt) as IngestReceipt, recorded: true };
  if (!(await claimKey(tx, it))) return 'key-claimed-before';
  const r = p.report;
  await refuseSecondReport(tx, r.id, row.study_keys!);
  await refuseIfTakenOver(tx, it.user, r.id);
  const { rows } = await tx.query<{ content_hash: string; stored_at: string }>('SELECT content_hash, stored_at FROM signed_reports WHERE id = $1', [r.id]);
  const existing = rows[0];
  if (!existing) throw new IngestRace(`report ${r.id} was neither stored nor refused`);
  if (existing.content_hash !== row.hash) {
    throw new HubError(409, 'report-conflict',
      `The hub already holds a different signed report with id ${r.id}. A signed report never changes: add an addendum instead.`,
      { storedHash: existing.content_hash });
  }
  const receipt: IngestReceipt = { kind: 'report', reportId: r.id, contentHash: row.hash, storedAt: existing.stored_at, alreadyStored: true };
  return { status: 200, body: receipt };
}

async function refuseIfTakenOver(tx: Queryable, user: SessionUser, reportId: string): Promise<void> {
  const { rows } = await tx.query<{ owner_id: number; owner_name: string; owner_username: string }>(
    `SELECT d.owner_id, u.name AS owner_name, u.username AS owner_username
       FROM drafts d JOIN users u ON u.id = d.owner_id WHERE d.report_id = $1`,
    [reportId],
  );
  const d = rows[0];
  if (d && d.owner_id !== user.id) {
    throw new HubError(409, 'draft-taken-over',
      `This report was taken over by ${d.owner_name}; your signed version was not accepted. Contact ${d.owner_name} before anything else is done with it.`,
      { newOwner: d.owner_username, newOwnerName: d.owner_name });
  }
}

interface LockedReport {
  patient_id: string; study_uid: string; content: ReportContent; exam: ExamDetails | null; state: ReportState; content_hash: string;
  stored_by: number; signer_name: string; signer_registration: string; signed_at: string;
  verification_hash: string | null; verification_stored_at: string | null; verification_signed_at: string | null;
}

/**
 * A signature cannot come before the one it builds on: a verification before the provisional
 * report it verifies was signed, an addendum before the signature that made its report final.
 * Two workstations' clocks may differ: by up to SIGNED_AT_SKEW_MS (5 min) it is accepted.
 */
function refuseSignedBefore(sig: { signedAt: string }, before: string, what: string): void {
  if (Date.parse(sig.signedAt) < Date.parse(before) - SIGNED_AT_SKEW_MS) {
    throw new HubError(422, 'signed-at-implausible', `The ${what} is signed at ${sig.signedAt.slice(0, 64)}, before the report it refers to was signed (${before}); the hub does not store it.`,
      { signedAt: sig.signedAt.slice(0, 64), reportSignedAt: before });
  }
}

/** The stored report, locked until COMMIT (a verification and an addendum to one report serialise), or null. */
async function lockReport(tx: Queryable, reportId: string): Promise<LockedReport | null> {
  // Lock first, read after, in two statements: in READ COMMITTED a row lock that waited for another
  // transaction re-reads only the locked row, so a joined signature that transaction committed
  // would stay invisible (a verification delivered twice at once was then refused as
  // invalid-transition instead of answered as stored). The second statement sees it.
  const locked = await tx.query('SELECT 1 FROM signed_reports WHERE id = $1 FOR UPDATE', [reportId], PREPARE);
  if (locked.rows.length === 0) return null;
  const { rows } = await tx.query<LockedReport>(
    `SELECT r.patient_id, r.study_uid, r.content, r.exam, r.state, r.content_hash, r.stored_by, r.signer_name, r.signer_registration, r.signed_at,
            v.content_hash AS verification_hash, v.stored_at AS verification_stored_at, v.signed_at AS verification_signed_at
       FROM signed_reports r LEFT JOIN signatures v ON v.report_id = r.id AND v.meaning = $2
      WHERE r.id = $1`,
    [reportId, TRANSITIONS.verify.meaning], PREPARE,
  );
  return rows[0] ?? null;
}

const notSynced = (reportId: string, what: string): HubError =>
  new HubError(409, 'original-not-synced', `The hub does not hold signed report ${reportId} yet; the ${what} will be sent again after it.`);

function refuseTransition(state: ReportState, t: Transition, it: Item): void {
  const c = checkTransition(state, t, it.user.role);
  if (!c.ok) throw new HubError(409, 'invalid-transition', c.reason, { state });
}

async function storeVerification(tx: Queryable, it: Item, p: VerificationPayload): Promise<Stored> {
  const sig = p.signature;
  const r = await lockReport(tx, p.reportId);
  if (!r) throw notSynced(p.reportId, 'verification');
  if (p.provisionalHash !== r.content_hash) {
    throw new HubError(422, 'original-hash-mismatch',
      `The verification refers to a version of report ${p.reportId} that the hub does not hold (hash ${p.provisionalHash.slice(0, 12)}…).`);
  }
  const study = { patientId: r.patient_id, studyUid: r.study_uid };
  const hash = expectHash(sha256Hex(signedPayload(r.content, study, signer(sig), sig.signedAt, sig.meaning, r.exam ?? undefined, { provisionalHash: p.provisionalHash })), sig, 'verification');
  if (r.verification_hash === hash) {
    const receipt: IngestReceipt = { kind: 'verification', reportId: p.reportId, contentHash: hash, storedAt: r.verification_stored_at!, alreadyStored: true };
    return { status: 200, body: receipt };
  }
  refuseTransition(r.state, 'verify', it);
  refuseSignedBefore(sig, r.signed_at, 'verification');
  if (r.stored_by === it.user.id || r.signer_registration === it.user.registration) {
    throw new HubError(403, 'forbidden', `${r.signer_name} wrote this provisional report; another person must verify it.`);
  }
  const to = TRANSITIONS.verify.to;
  const receipt: IngestReceipt = { kind: 'verification', reportId: p.reportId, contentHash: hash, storedAt: it.at, alreadyStored: false };
  const row = signatureRow(it, 0, {
    reportId: p.reportId, sig, hash, verifiesHash: p.provisionalHash, receipt,
    audit: {
      action: 'ingest-verification',
      detail: { contentHash: hash, idempotencyKey: it.key, provisionalHash: p.provisionalHash, provisionalSigner: { name: r.signer_name, registration: r.signer_registration } },
    },
    event: {
      type: 'report-signed', at: it.at, reportId: p.reportId, kind: 'verification', state: to, study, signer: signer(sig),
      alertCode: r.content.alertCode, cancerPathway: cancerPathway(r.content),
    },
  });
  const stored = await recordOne(tx, 'verification', row, receipt, r.state, to);
  if (!stored) throw new Error(`the verification of ${p.reportId} was not recorded`);
  return stored;
}

async function storeAddendum(tx: Queryable, it: Item, p: AddendumPayload, hash: string): Promise<Stored> {
  const a = p.addendum;
  const sig = a.signature;
  const r = await lockReport(tx, p.reportId);
  if (!r) throw notSynced(p.reportId, 'addendum');
  refuseTransition(r.state, 'addendum', it);
  // An addendum names the signature that made the report final: the final report's, or the
  // trainer's verification of a provisional one (common/signatures.ts finalSignatureOf).
  if (p.originalHash !== (r.verification_hash ?? r.content_hash)) {
    throw new HubError(422, 'original-hash-mismatch', `The addendum refers to a version of report ${p.reportId} that the hub does not hold (hash ${p.originalHash.slice(0, 12)}…).`);
  }
  refuseSignedBefore(sig, r.verification_signed_at ?? r.signed_at, 'addendum');
  const to = TRANSITIONS.addendum.to;
  const fresh: IngestReceipt = { kind: 'addendum', reportId: p.reportId, addendumId: a.id, contentHash: hash, storedAt: it.at, alreadyStored: false };
  const row = signatureRow(it, 0, {
    reportId: p.reportId, sig, hash, addendumId: a.id, receipt: fresh,
    audit: { action: 'ingest-addendum', detail: { addendumId: a.id, contentHash: hash, idempotencyKey: it.key } },
    event: {
      type: 'report-signed', at: it.at, reportId: p.reportId, kind: 'addendum', addendumId: a.id, state: to,
      study: { patientId: r.patient_id, studyUid: r.study_uid }, signer: signer(sig), alertCode: r.content.alertCode, cancerPathway: cancerPathway(r.content),
    },
    rec: { originalHash: p.originalHash, text: a.text },
  });
  const stored = await recordOne(tx, 'addendum', row, fresh, r.state, to);
  if (stored) return stored;
  const { rows } = await tx.query<{ content_hash: string; stored_at: string; report_id: string }>('SELECT content_hash, stored_at, report_id FROM addenda WHERE id = $1', [a.id]);
  const existing = rows[0]!;
  if (existing.content_hash !== hash || existing.report_id !== p.reportId) {
    throw new HubError(409, 'addendum-conflict', `The hub already holds a different addendum with id ${a.id}.`);
  }
  const receipt: IngestReceipt = { kind: 'addendum', reportId: p.reportId, addendumId: a.id, contentHash: hash, storedAt: existing.stored_at, alreadyStored: true };
  return { status: 200, body: receipt };
}
