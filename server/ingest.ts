// Exactly-once ingest of signed reports and addenda. One transaction claims the Idempotency-Key,
// re-validates (same sign-off rules as the workstation, recomputed content hash, signer = the
// logged-in user, role may sign), stores the record, emits the event and saves the response for
// replay. A crash anywhere before COMMIT leaves nothing; after COMMIT a retry replays. Concurrent
// deliveries of one key serialise on the key's primary key: the second waits for the first to
// commit, then replays its answer.
import { addendumSignedPayload, type AddendumPayload, type OutboxPayload, type SignedReportPayload } from '../common/hubPayload.ts';
import { roleMay, type IngestReceipt } from '../common/hub.ts';
import { canonicalJson, signedPayload } from '../common/report.ts';
import { checkSignOff } from '../common/signoff.ts';
import { getTemplate } from '../common/templates.ts';
import { sha256Hex, type SessionUser } from './auth.ts';
import type { HubDb, Queryable } from './db/adapter.ts';
import { HubError } from './errors.ts';
import { emitEvent } from './events.ts';

export interface IngestResult {
  status: number;
  /** The JSON text of the answer (byte-identical on replay). */
  bodyText: string;
  replayed: boolean;
}

interface StoredResponse { status: number; body: unknown }

const isPgUniqueViolation = (err: unknown): boolean => (err as { code?: string } | null)?.code === '23505';

export async function ingest(
  db: HubDb,
  user: SessionUser,
  key: string,
  rawBody: unknown,
  payload: OutboxPayload,
  now: number,
  batcher?: ReportBatcher,
): Promise<IngestResult> {
  const requestHash = sha256Hex(canonicalJson(rawBody));
  const at = new Date(now).toISOString();
  if (payload.kind === 'report') {
    const fast = await ingestReportFast(db, user, key, requestHash, payload, at, batcher);
    if (fast) return fast;
  }
  return ingestGeneral(db, user, key, requestHash, payload, at);
}

/**
 * The common case (migration 2's failsafe_ingest_report): a valid report, a key never seen, no
 * take-over. Returns null when the general path must decide (invalid report, replay, existing
 * report, take-over): the fast path then wrote nothing for this item.
 */
async function ingestReportFast(
  db: HubDb, user: SessionUser, key: string, requestHash: string, p: SignedReportPayload, at: string, batcher?: ReportBatcher,
): Promise<IngestResult | null> {
  let hash: string;
  try {
    hash = validateReport(user, p);
  } catch (err) {
    if (err instanceof HubError) return null;
    throw err;
  }
  const r = p.report;
  const sig = r.signature;
  const receipt: IngestReceipt = { kind: 'report', reportId: r.id, contentHash: hash, storedAt: at, alreadyStored: false };
  const bodyText = JSON.stringify(receipt);
  const item: FastItem = {
    key, userId: user.id, requestHash, at, response: bodyText, id: r.id, patientId: r.study.patientId, studyUid: r.study.studyUid,
    content: r.content, signerName: sig.name, signerRole: sig.role, signerRegistration: sig.registration, signedAt: sig.signedAt,
    contentHash: hash, author: r.author, createdAt: r.createdAt,
    audit: auditDetail(hash, key), event: reportSignedEvent(p, at), unfinishedEvent: unfinishedSignedEvent(r.id, at, user),
  };
  const outcome = batcher ? await batcher.submit(item) : (await runBatch(db, [item]))[0];
  return outcome === 'stored' ? { status: 201, bodyText, replayed: false } : null;
}

interface FastItem {
  key: string; userId: number; requestHash: string; at: string; response: string; id: string; patientId: string; studyUid: string;
  content: unknown; signerName: string; signerRole: string; signerRegistration: string; signedAt: string; contentHash: string;
  author: string; createdAt: string; audit: unknown; event: unknown; unfinishedEvent: unknown;
}

async function runBatch(db: HubDb, items: readonly FastItem[]): Promise<string[]> {
  const { rows } = await db.query<{ outcome: string }>('SELECT failsafe_ingest_reports($1::jsonb) AS outcome', [JSON.stringify(items)]);
  return rows.map((r) => r.outcome);
}

/**
 * Groups concurrent fast-path ingests into one statement and one commit (application-level group
 * commit). A report waits only while earlier batches are in flight; when the hub is quiet each
 * report goes alone at once. Items are sorted by key so two batches lock rows in the same order.
 * If a batch fails as a whole (deadlock with another instance, connection lost), its items are
 * retried one by one; nothing was committed for them, and nothing was answered yet.
 */
export class ReportBatcher {
  private queue: { item: FastItem; resolve: (o: string) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;

  constructor(
    private readonly db: HubDb,
    private readonly maxInFlight = 4,
    private readonly maxBatch = 32,
  ) {}

  submit(item: FastItem): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch).sort((a, b) => (a.item.key < b.item.key ? -1 : a.item.key > b.item.key ? 1 : 0));
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: { item: FastItem; resolve: (o: string) => void; reject: (e: unknown) => void }[]): Promise<void> {
    try {
      const outcomes = await runBatch(this.db, batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(outcomes[i] ?? 'missing'));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      for (const b of batch) {
        try {
          b.resolve((await runBatch(this.db, [b.item]))[0] ?? 'missing');
        } catch (e) {
          b.reject(e);
        }
      }
    }
  }
}

const auditDetail = (contentHash: string, idempotencyKey: string) => ({ contentHash, idempotencyKey });

function reportSignedEvent(p: SignedReportPayload, at: string) {
  const r = p.report;
  const sig = r.signature;
  return {
    type: 'report-signed' as const, at, reportId: r.id, kind: 'report' as const, study: r.study,
    signer: { name: sig.name, registration: sig.registration, role: sig.role }, alertCode: r.content.alertCode,
  };
}

const unfinishedSignedEvent = (reportId: string, at: string, user: SessionUser) =>
  ({ type: 'unfinished-changed' as const, at, reportId, reason: 'signed' as const, owner: user.username });

/** The general path: one transaction that claims the key first and handles every outcome. */
async function ingestGeneral(db: HubDb, user: SessionUser, key: string, requestHash: string, payload: OutboxPayload, at: string): Promise<IngestResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction(async (tx) => {
        // Claim the key. If another transaction holds it, this blocks until that one commits
        // (then DO NOTHING) or rolls back (then the claim succeeds).
        const claim = await tx.query(
          `INSERT INTO idempotency (key, user_id, request_hash, status, response, created_at)
           VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (key) DO NOTHING RETURNING key`,
          [key, user.id, requestHash, at],
        );
        if (claim.rowCount === 0) {
          const { rows } = await tx.query<{ request_hash: string; status: number; response: string }>(
            'SELECT request_hash, status, response FROM idempotency WHERE key = $1',
            [key],
          );
          const prior = rows[0];
          if (!prior) throw new HubError(409, 'idempotency-key-in-flight', 'This Idempotency-Key is being processed; retry shortly.');
          if (prior.request_hash !== requestHash) {
            throw new HubError(422, 'idempotency-key-reused',
              'This Idempotency-Key was already used for a different request body. Each signed record needs its own key; the first request is kept.');
          }
          return { status: prior.status, bodyText: prior.response, replayed: true };
        }
        let outcome: StoredResponse;
        try {
          outcome = payload.kind === 'report'
            ? await storeReport(tx, user, key, payload, at)
            : await storeAddendum(tx, user, key, payload, at);
        } catch (err) {
          // Deterministic refusals are remembered for the key like successes; transient ones are not.
          if (err instanceof HubError && err.status < 500 && err.code !== 'original-not-synced') {
            outcome = { status: err.status, body: err.toBody() };
          } else {
            throw err;
          }
        }
        const bodyText = JSON.stringify(outcome.body);
        await tx.query('UPDATE idempotency SET status = $2, response = $3 WHERE key = $1', [key, outcome.status, bodyText]);
        return { status: outcome.status, bodyText, replayed: false };
      });
    } catch (err) {
      // Two first deliveries of the same report under different keys raced on the report's
      // primary key: the loser retries and then sees the stored report.
      if (isPgUniqueViolation(err) && attempt < 3) continue;
      throw err;
    }
  }
}

function checkSigner(user: SessionUser, sig: { name: string; registration: string; role: string }, what: string): void {
  if (sig.name !== user.name || sig.registration !== user.registration || sig.role !== user.role) {
    throw new HubError(422, 'signer-mismatch',
      `The ${what} is signed by ${sig.name} (${sig.registration}, ${sig.role}) but you are logged in as ${user.name} (${user.registration}, ${user.role}). Only the signer can submit it.`);
  }
}

async function refuseIfTakenOver(tx: Queryable, user: SessionUser, reportId: string): Promise<void> {
  const { rows } = await tx.query<{ owner_id: number; owner_name: string; owner_username: string }>(
    `SELECT d.owner_id, u.name AS owner_name, u.username AS owner_username
       FROM drafts d JOIN users u ON u.id = d.owner_id WHERE d.report_id = $1 FOR UPDATE OF d`,
    [reportId],
  );
  const d = rows[0];
  if (d && d.owner_id !== user.id) {
    throw new HubError(409, 'draft-taken-over',
      `This report was taken over by ${d.owner_name}; your signed version was not accepted. Contact ${d.owner_name} before anything else is done with it.`,
      { newOwner: d.owner_username, newOwnerName: d.owner_name });
  }
}

/** Role, signer, template, sign-off rules and content hash; returns the recomputed hash or throws a 4xx. */
function validateReport(user: SessionUser, p: SignedReportPayload): string {
  const r = p.report;
  const sig = r.signature;
  if (!roleMay(user.role, 'report:sign-final')) {
    throw new HubError(403, 'forbidden', `A ${user.role} cannot issue a final report.`);
  }
  checkSigner(user, sig, 'report');
  let template;
  try {
    template = getTemplate(r.content.templateId);
  } catch {
    throw new HubError(422, 'unknown-template', `The hub does not know the template "${r.content.templateId}".`);
  }
  const blocking = checkSignOff(r.content, template).filter((x) => x.severity === 'block');
  if (blocking.length > 0) {
    throw new HubError(422, 'signoff-problems',
      `The report fails the sign-off rules: ${blocking.map((b) => `[${b.sectionId}] ${b.message}`).join(' ')}`,
      { problems: blocking });
  }
  const hash = sha256Hex(signedPayload(r.content, r.study, { name: sig.name, role: sig.role, registration: sig.registration }, sig.signedAt, 'final-report'));
  if (hash !== sig.contentHash) {
    throw new HubError(422, 'hash-mismatch', 'The signature\'s content hash does not match the report content: the report was altered after signing or damaged in transit.',
      { expected: hash, received: sig.contentHash });
  }
  return hash;
}

async function storeReport(tx: Queryable, user: SessionUser, key: string, p: SignedReportPayload, at: string): Promise<StoredResponse> {
  const r = p.report;
  const sig = r.signature;
  const hash = validateReport(user, p);
  await refuseIfTakenOver(tx, user, r.id);
  const ins = await tx.query<{ stored_at: string }>(
    `INSERT INTO signed_reports (id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at,
       content_hash, author, created_at, stored_at, stored_by, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (id) DO NOTHING RETURNING stored_at`,
    [r.id, r.study.patientId, r.study.studyUid, JSON.stringify(r.content), sig.name, sig.role, sig.registration, sig.signedAt,
      hash, r.author, r.createdAt, at, user.id, key],
  );
  if (ins.rowCount === 0) {
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
  const storedAt = ins.rows[0]!.stored_at;
  const hadDraft = await tx.query(`UPDATE drafts SET signed_at = $2, updated_at = $2 WHERE report_id = $1 AND signed_at IS NULL`, [r.id, at]);
  await tx.query(`INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES ($1, $2, 'ingest-report', $3, $4)`,
    [at, user.id, r.id, JSON.stringify(auditDetail(hash, key))]);
  await emitEvent(tx, reportSignedEvent(p, at));
  if (hadDraft.rowCount > 0) await emitEvent(tx, unfinishedSignedEvent(r.id, at, user));
  const receipt: IngestReceipt = { kind: 'report', reportId: r.id, contentHash: hash, storedAt, alreadyStored: false };
  return { status: 201, body: receipt };
}

async function storeAddendum(tx: Queryable, user: SessionUser, key: string, p: AddendumPayload, at: string): Promise<StoredResponse> {
  const a = p.addendum;
  const sig = a.signature;
  if (!roleMay(user.role, 'report:addendum')) {
    throw new HubError(403, 'forbidden', `A ${user.role} cannot add an addendum to a signed report.`);
  }
  checkSigner(user, sig, 'addendum');
  if (a.text.trim() === '') throw new HubError(422, 'invalid-input', 'An addendum needs text.');
  const hash = sha256Hex(addendumSignedPayload({
    reportId: p.reportId, originalHash: p.originalHash, text: a.text,
    signer: { name: sig.name, role: sig.role, registration: sig.registration }, signedAt: sig.signedAt,
  }));
  if (hash !== sig.contentHash) {
    throw new HubError(422, 'hash-mismatch', 'The addendum\'s content hash does not match its text: it was altered after signing or damaged in transit.',
      { expected: hash, received: sig.contentHash });
  }
  const { rows: orig } = await tx.query<{ content_hash: string; patient_id: string; study_uid: string; alert: string | null }>(
    `SELECT content_hash, patient_id, study_uid, content->>'alertCode' AS alert FROM signed_reports WHERE id = $1`, [p.reportId],
  );
  const original = orig[0];
  if (!original) {
    throw new HubError(409, 'original-not-synced', `The hub does not hold signed report ${p.reportId} yet; the addendum will be sent again after it.`);
  }
  if (original.content_hash !== p.originalHash) {
    throw new HubError(422, 'original-hash-mismatch', `The addendum refers to a version of report ${p.reportId} that the hub does not hold (hash ${p.originalHash.slice(0, 12)}…).`);
  }
  const ins = await tx.query<{ stored_at: string }>(
    `INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash,
       stored_at, stored_by, idempotency_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING RETURNING stored_at`,
    [a.id, p.reportId, p.originalHash, a.text, sig.name, sig.role, sig.registration, sig.signedAt, hash, at, user.id, key],
  );
  if (ins.rowCount === 0) {
    const { rows } = await tx.query<{ content_hash: string; stored_at: string; report_id: string }>('SELECT content_hash, stored_at, report_id FROM addenda WHERE id = $1', [a.id]);
    const existing = rows[0]!;
    if (existing.content_hash !== hash || existing.report_id !== p.reportId) {
      throw new HubError(409, 'addendum-conflict', `The hub already holds a different addendum with id ${a.id}.`);
    }
    const receipt: IngestReceipt = { kind: 'addendum', reportId: p.reportId, addendumId: a.id, contentHash: hash, storedAt: existing.stored_at, alreadyStored: true };
    return { status: 200, body: receipt };
  }
  const storedAt = ins.rows[0]!.stored_at;
  await tx.query(`INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES ($1, $2, 'ingest-addendum', $3, $4)`,
    [at, user.id, p.reportId, JSON.stringify({ addendumId: a.id, contentHash: hash, idempotencyKey: key })]);
  await emitEvent(tx, {
    type: 'report-signed', at, reportId: p.reportId, kind: 'addendum', addendumId: a.id,
    study: { patientId: original.patient_id, studyUid: original.study_uid },
    signer: { name: sig.name, registration: sig.registration, role: sig.role },
    alertCode: (original.alert as SignedReportPayload['report']['content']['alertCode']) ?? null,
  });
  const receipt: IngestReceipt = { kind: 'addendum', reportId: p.reportId, addendumId: a.id, contentHash: hash, storedAt, alreadyStored: false };
  return { status: 201, body: receipt };
}
