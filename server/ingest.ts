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
import { canonicalJson, requesterUnknown, signedPayload, type ExamDetails, type ReportContent, type Signature } from '../common/report.ts';
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
}

interface Stored { status: number; body: unknown }

/** The statements every record runs are kept prepared (PostgreSQL plans them once per connection). */
const PREPARE = { prepare: true } as const;

const isPgUniqueViolation = (err: unknown): boolean => (err as { code?: string } | null)?.code === '23505';

/**
 * Ingests one signed record. A role that may not make the record's transition is refused (403)
 * before anything is written; every other refusal is remembered for the key like a success.
 */
export async function ingest(
  db: HubDb, user: SessionUser, key: string, rawBody: unknown, payload: OutboxPayload, now: number, batcher?: IngestBatcher,
): Promise<IngestResult> {
  const action = requiredAction(payload);
  if (!roleMay(user.role, action)) throw new HubError(403, 'forbidden', `A ${user.role} may not ${ACTION_WORDS[action]}.`);
  const item: Item = { user, key, requestHash: sha256Hex(canonicalJson(rawBody)), at: new Date(now).toISOString(), payload, checked: check(user, payload, now) };
  return batcher ? batcher.submit(item) : runAlone(db, item);
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
      // Two first deliveries of one record under different keys raced on a unique index: the
      // loser runs again and then sees the stored record.
      if (isPgUniqueViolation(err) && attempt < 3) continue;
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
      const stored = await storeReport(tx, it, p, it.checked.hash!);
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
    if (group.length > 1) {
      try {
        const results = await runGroup(this.db, group.map((g) => g.item));
        group.forEach((g, i) => g.resolve(results[i]!));
        return;
      } catch {
        // Nothing of the group was committed: each record again, alone.
      }
    }
    for (const g of group) {
      try {
        g.resolve(await runAlone(this.db, g.item));
      } catch (e) {
        g.reject(e);
      }
    }
  }
}

/** Numbered parameters for one statement: `p.add(v)` returns its placeholder. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/**
 * Records a signed record in one statement. `anchor` is the statement's first step, a CTE named
 * `new` that yields the report id when the record is new (the report or addendum inserted, or the
 * verification to record); from it, in the same statement: the signature row, the audit row, the
 * draft marked signed (with an unfinished-changed event when there was one), the report-signed
 * event, and the answer kept for the key. Then the report's state moves if this signature moves
 * it (its trigger allows that only once the signature is stored). Returns the answer, or null
 * when `new` yielded nothing (the record was there already).
 */
async function recordSignature(tx: Queryable, it: Item, q: Params, anchor: string, s: {
  reportId: string; meaning: SignatureMeaning; sig: Signature; hash: string; addendumId?: string; verifiesHash?: string;
  /** The report's state before and after this signature. */
  from: ReportState; state: ReportState; audit: { action: string; detail: Record<string, unknown> }; event: Omit<Extract<HubEvent, { type: 'report-signed' }>, 'seq'>;
  receipt: IngestReceipt;
  /** A report's study keys (studyReportKeys), claimed in the same statement. */
  studyKeys?: string;
  /**
   * The key is claimed in this statement (a CTE named `claim`, written with the answer; `anchor`
   * yields nothing unless it inserted), instead of by claimKey before it.
   */
  claimInline?: { at: string; userId: string };
}): Promise<(Stored & { recorded: true }) | 'key-claimed-before' | null> {
  const events = [s.event, { type: 'unfinished-changed', at: it.at, reportId: s.reportId, reason: 'signed', owner: it.user.username }];
  const at = s.claimInline?.at ?? q.add(it.at);
  const userId = s.claimInline?.userId ?? q.add(it.user.id);
  const receipt = q.add(JSON.stringify(s.receipt));
  const key = q.add(it.key);
  // The answer kept for the key: written with the claim, or set on the row claimKey wrote (a
  // statement's CTEs cannot see each other's rows, so the claim's row is not updated here).
  const answer = s.claimInline
    ? ''
    : `idem AS (UPDATE idempotency SET status = 201, response = ${receipt} WHERE key = ${key} AND EXISTS (SELECT 1 FROM new)),`;
  const { rows } = await tx.query<{ claimed: boolean; stored: boolean }>(
    `WITH ${s.claimInline ? `claim AS (INSERT INTO idempotency (key, user_id, request_hash, status, response, created_at)
       VALUES (${key}, ${userId}, ${q.add(it.requestHash)}, 201, ${receipt}, ${at}) ON CONFLICT (key) DO NOTHING RETURNING key),` : ''}
     ${anchor},
     sig AS (
       INSERT INTO signatures (id, report_id, meaning, signer_id, signer_name, signer_role, signer_registration, signed_at, content_hash,
         addendum_id, verifies_hash, stored_at)
       SELECT ${q.add(crypto.randomUUID())}, id, ${q.add(s.meaning)}, ${userId}, ${q.add(s.sig.name)}, ${q.add(s.sig.role)}, ${q.add(s.sig.registration)},
         ${q.add(s.sig.signedAt)}, ${q.add(s.hash)}, ${q.add(s.addendumId ?? null)}, ${q.add(s.verifiesHash ?? null)}, ${at} FROM new),
     au AS (INSERT INTO audit (at, actor_id, action, report_id, detail) SELECT ${at}, ${userId}, ${q.add(s.audit.action)}, id, ${q.add(JSON.stringify(s.audit.detail))} FROM new),
     dr AS (UPDATE drafts SET signed_at = ${at}, updated_at = ${at} WHERE report_id IN (SELECT id FROM new) AND signed_at IS NULL RETURNING report_id),
     ${answer}
     ${s.studyKeys ? `sk AS (INSERT INTO study_reports (study_key, report_id, stored_at) SELECT k, id, ${at} FROM new, unnest(${s.studyKeys}::text[]) AS k),` : ''}
     ev AS (INSERT INTO events (at, type, report_id, body)
       SELECT ${at}, e->>'type', e->>'reportId', e FROM jsonb_array_elements(${q.add(JSON.stringify(events))}::jsonb) WITH ORDINALITY AS x(e, n)
        WHERE EXISTS (SELECT 1 FROM new) AND (n = 1 OR EXISTS (SELECT 1 FROM dr)) ORDER BY n)
     SELECT ${s.claimInline ? 'EXISTS (SELECT 1 FROM claim)' : 'true'} AS claimed, EXISTS (SELECT 1 FROM new) AS stored`,
    q.values, PREPARE,
  );
  if (!rows[0]?.claimed) return 'key-claimed-before';
  if (!rows[0].stored) return null;
  if (s.from !== s.state) await tx.query('UPDATE signed_reports SET state = $2 WHERE id = $1', [s.reportId, s.state], PREPARE);
  return { status: 201, body: s.receipt, recorded: true };
}

const examColumns = (q: Params, exam: ExamDetails | undefined): string => [
  exam ? JSON.stringify(exam) : null, exam?.accession ?? null, exam?.referringPhysician ?? null, exam?.requestingService ?? null,
  exam?.modality ?? null, exam?.studyDate ?? null, requesterUnknown(exam),
].map((v) => q.add(v)).join(', ');

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

async function storeReport(tx: Queryable, it: Item, p: SignedReportPayload, hash: string): Promise<Stored | 'key-claimed-before'> {
  const r = p.report;
  const sig = r.signature;
  const t = TRANSITIONS[transitionOf(p)];
  const q = new Params();
  const claimInline = { at: q.add(it.at), userId: q.add(it.user.id) };
  const id = q.add(r.id);
  const keys = q.add(studyReportKeys(r.study, r.exam));
  // Inserted unless another report holds the study (one report per study), a colleague took the
  // draft over (the draft row stays locked until COMMIT, so a take-over waits for this and then
  // finds the report signed) or the id is stored already; which of these it was is asked only
  // when nothing was inserted (below), so the usual path is one statement.
  const anchor = `dl AS (SELECT owner_id FROM drafts WHERE report_id = ${id} FOR UPDATE),
     new AS (
       INSERT INTO signed_reports (id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at,
         content_hash, author, created_at, stored_at, stored_by, idempotency_key, state,
         exam, accession, referring_physician, requesting_service, modality, study_date, requester_unknown)
       SELECT ${id}, ${[r.study.patientId, r.study.studyUid, JSON.stringify(r.content), sig.name, sig.role, sig.registration, sig.signedAt, hash,
         it.user.name, r.createdAt, it.at, it.user.id, it.key, t.to].map((v) => q.add(v)).join(', ')}, ${examColumns(q, r.exam)}
        WHERE EXISTS (SELECT 1 FROM claim)
          AND NOT EXISTS (SELECT 1 FROM dl WHERE owner_id <> ${claimInline.userId})
          AND NOT EXISTS (SELECT 1 FROM study_reports WHERE study_key = ANY(${keys}::text[]) AND report_id <> ${id})
       ON CONFLICT (id) DO NOTHING RETURNING id)`;
  const stored = await recordSignature(tx, it, q, anchor, {
    reportId: r.id, meaning: sig.meaning, sig, hash, from: t.to, state: t.to,
    audit: {
      action: 'ingest-report',
      // A corrected report records the refused report it replaces (bound into its signature).
      detail: { contentHash: hash, idempotencyKey: it.key, meaning: sig.meaning, cancerPathway: cancerPathway(r.content), ...(r.replaces ? { replaces: r.replaces } : {}) },
    },
    event: {
      type: 'report-signed', at: it.at, reportId: r.id, kind: 'report', state: t.to, study: r.study, signer: signer(sig),
      alertCode: r.content.alertCode, cancerPathway: cancerPathway(r.content),
    },
    receipt: { kind: 'report', reportId: r.id, contentHash: hash, storedAt: it.at, alreadyStored: false },
    // No ON CONFLICT: a report committed meanwhile for this study makes this a unique violation
    // (the transaction runs again and is then refused below).
    studyKeys: keys,
    claimInline,
  });
  if (stored) return stored;
  await refuseSecondReport(tx, r.id, studyReportKeys(r.study, r.exam));
  await refuseIfTakenOver(tx, it.user, r.id);
  const { rows } = await tx.query<{ content_hash: string; stored_at: string }>('SELECT content_hash, stored_at FROM signed_reports WHERE id = $1', [r.id]);
  const existing = rows[0]!;
  if (existing.content_hash !== hash) {
    throw new HubError(409, 'report-conflict',
      `The hub already holds a different signed report with id ${r.id}. A signed report never changes: add an addendum instead.`,
      { storedHash: existing.content_hash });
  }
  const receipt: IngestReceipt = { kind: 'report', reportId: r.id, contentHash: hash, storedAt: existing.stored_at, alreadyStored: true };
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
  stored_by: number; signer_name: string; signer_registration: string; verification_hash: string | null; verification_stored_at: string | null;
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
    `SELECT r.patient_id, r.study_uid, r.content, r.exam, r.state, r.content_hash, r.stored_by, r.signer_name, r.signer_registration,
            v.content_hash AS verification_hash, v.stored_at AS verification_stored_at
       FROM signed_reports r LEFT JOIN signatures v ON v.report_id = r.id AND v.meaning = $2
      WHERE r.id = $1`,
    [reportId, TRANSITIONS.verify.meaning], PREPARE,
  );
  return rows[0] ?? null;
}

/** The answer of recordSignature for a record whose key claimKey claimed before the statement. */
function keyClaimedBefore<T>(answer: T | 'key-claimed-before'): T {
  if (answer === 'key-claimed-before') throw new Error('recordSignature claimed a key that claimKey had claimed');
  return answer;
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
  if (r.stored_by === it.user.id || r.signer_registration === it.user.registration) {
    throw new HubError(403, 'forbidden', `${r.signer_name} wrote this provisional report; another person must verify it.`);
  }
  const to = TRANSITIONS.verify.to;
  const q = new Params();
  const stored = keyClaimedBefore(await recordSignature(tx, it, q, `new AS (SELECT ${q.add(p.reportId)}::text AS id)`, {
    reportId: p.reportId, meaning: sig.meaning, sig, hash, verifiesHash: p.provisionalHash, from: r.state, state: to,
    audit: {
      action: 'ingest-verification',
      detail: { contentHash: hash, idempotencyKey: it.key, provisionalHash: p.provisionalHash, provisionalSigner: { name: r.signer_name, registration: r.signer_registration } },
    },
    event: {
      type: 'report-signed', at: it.at, reportId: p.reportId, kind: 'verification', state: to, study, signer: signer(sig),
      alertCode: r.content.alertCode, cancerPathway: cancerPathway(r.content),
    },
    receipt: { kind: 'verification', reportId: p.reportId, contentHash: hash, storedAt: it.at, alreadyStored: false },
  }));
  return stored!;
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
  const to = TRANSITIONS.addendum.to;
  const q = new Params();
  const anchor = `new AS (
       INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash,
         stored_at, stored_by, idempotency_key)
       VALUES (${[a.id, p.reportId, p.originalHash, a.text, sig.name, sig.role, sig.registration, sig.signedAt, hash, it.at, it.user.id, it.key].map((v) => q.add(v)).join(', ')})
       ON CONFLICT (id) DO NOTHING RETURNING report_id AS id)`;
  const stored = keyClaimedBefore(await recordSignature(tx, it, q, anchor, {
    reportId: p.reportId, meaning: sig.meaning, sig, hash, addendumId: a.id, from: r.state, state: to,
    audit: { action: 'ingest-addendum', detail: { addendumId: a.id, contentHash: hash, idempotencyKey: it.key } },
    event: {
      type: 'report-signed', at: it.at, reportId: p.reportId, kind: 'addendum', addendumId: a.id, state: to,
      study: { patientId: r.patient_id, studyUid: r.study_uid }, signer: signer(sig), alertCode: r.content.alertCode, cancerPathway: cancerPathway(r.content),
    },
    receipt: { kind: 'addendum', reportId: p.reportId, addendumId: a.id, contentHash: hash, storedAt: it.at, alreadyStored: false },
  }));
  if (stored) return stored;
  const { rows } = await tx.query<{ content_hash: string; stored_at: string; report_id: string }>('SELECT content_hash, stored_at, report_id FROM addenda WHERE id = $1', [a.id]);
  const existing = rows[0]!;
  if (existing.content_hash !== hash || existing.report_id !== p.reportId) {
    throw new HubError(409, 'addendum-conflict', `The hub already holds a different addendum with id ${a.id}.`);
  }
  const receipt: IngestReceipt = { kind: 'addendum', reportId: p.reportId, addendumId: a.id, contentHash: hash, storedAt: existing.stored_at, alreadyStored: true };
  return { status: 200, body: receipt };
}
