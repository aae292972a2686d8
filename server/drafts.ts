// Unfinished reports (domain.md §6): draft snapshots published by the workstation, the
// department's unfinished list with staleness, and take-over with history and audit.
import type {
  DraftAck, LateSnapshot, DraftSnapshot, DraftWithHistory, HubDraft, HubDraftRevision, HubUser, SitePolicy, StaleReason, TakeOverRecord,
  TakenFromMeList, TakeOverRequest, TakeOverResponse, UnfinishedItem, UnfinishedList,
} from '../common/hub.ts';
import type { ReportContent, Role } from '../common/report.ts';
import { toHubUser, type SessionUser } from './auth.ts';
import type { HubDb, Queryable } from './db/adapter.ts';
import { HubError } from './errors.ts';
import { emitEvent } from './events.ts';

interface DraftRow {
  report_id: string;
  patient_id: string;
  study_uid: string;
  content: ReportContent;
  revision: number;
  owner_id: number;
  session_hash: string | null;
  created_at: string;
  last_activity: string;
  updated_at: string;
  closed: boolean;
  signed_at: string | null;
  owner_username: string;
  owner_name: string;
  owner_role: Role;
  owner_registration: string;
}

const DRAFT_SELECT = `SELECT d.*, u.username AS owner_username, u.name AS owner_name, u.role AS owner_role, u.registration AS owner_registration
  FROM drafts d JOIN users u ON u.id = d.owner_id`;

const ownerOf = (r: DraftRow): HubUser => ({ username: r.owner_username, name: r.owner_name, role: r.owner_role, registration: r.owner_registration });

const toDraft = (r: DraftRow): HubDraft => ({
  reportId: r.report_id,
  study: { patientId: r.patient_id, studyUid: r.study_uid },
  content: r.content,
  revision: r.revision,
  owner: ownerOf(r),
  createdAt: r.created_at,
  lastActivity: r.last_activity,
  updatedAt: r.updated_at,
  closed: r.closed,
});

async function lockDraft(tx: Queryable, reportId: string): Promise<DraftRow | undefined> {
  const { rows } = await tx.query<DraftRow>(`${DRAFT_SELECT} WHERE d.report_id = $1 FOR UPDATE OF d`, [reportId]);
  return rows[0];
}

async function assertNotSigned(tx: Queryable, reportId: string): Promise<void> {
  const { rows } = await tx.query<{ signer_name: string }>('SELECT signer_name FROM signed_reports WHERE id = $1', [reportId]);
  if (rows[0]) throw new HubError(409, 'already-signed', `Report ${reportId} is already signed by ${rows[0].signer_name}; it is no longer a draft.`);
}

function takenOverError(d: DraftRow, takeOverAt: string | null): HubError {
  return new HubError(409, 'draft-taken-over',
    `${d.owner_name} took over this report${takeOverAt ? ` at ${takeOverAt}` : ''}; your changes were not saved to the hub. Your text is kept for ${d.owner_name} to see. Contact ${d.owner_name}.`,
    { newOwner: d.owner_username, newOwnerName: d.owner_name, ...(takeOverAt ? { takenOverAt: takeOverAt } : {}) });
}

/** PUT /api/drafts/:id. The author is the session's user; the hub never trusts a client clock into the future. */
/** The largest revision number the hub stores (an `integer` column): a larger one is refused, never a database error (500). */
export const MAX_DRAFT_REVISION = 2 ** 31 - 1;

export async function putSnapshot(db: HubDb, user: SessionUser, reportId: string, s: DraftSnapshot, now: number): Promise<DraftAck> {
  if (s.revision > MAX_DRAFT_REVISION) {
    throw new HubError(400, 'invalid-input', `draft snapshot: revision ${s.revision} is beyond the largest the hub keeps (${MAX_DRAFT_REVISION}).`);
  }
  const at = new Date(now).toISOString();
  // A draft "last active" in the future would never look stale: clamp to the hub's clock.
  const lastActivity = new Date(Math.min(Date.parse(s.lastActivity), now)).toISOString();
  const state: { refused: HubError | null } = { refused: null };
  const ack = await db.transaction(async (tx): Promise<DraftAck | null> => {
    await assertNotSigned(tx, reportId);
    const inserted = await tx.query(
      `INSERT INTO drafts (report_id, patient_id, study_uid, content, revision, owner_id, session_hash, created_at, last_activity, updated_at, closed)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $10) ON CONFLICT (report_id) DO NOTHING RETURNING report_id`,
      [reportId, s.study.patientId, s.study.studyUid, JSON.stringify(s.content), s.revision, user.id, user.session_hash, at, lastActivity, s.closed ?? false],
    );
    if (inserted.rowCount > 0) {
      await insertRevision(tx, reportId, s.revision, user.id, s.content, at, lastActivity);
      await emitEvent(tx, { type: 'unfinished-changed', at, reportId, reason: 'snapshot', owner: user.username });
      return { reportId, revision: s.revision, applied: true, owner: toHubUser(user) };
    }
    const d = await lockDraft(tx, reportId);
    if (!d) throw new HubError(409, 'idempotency-key-in-flight', 'The draft changed while saving; retry.');
    if (d.patient_id !== s.study.patientId || d.study_uid !== s.study.studyUid) {
      throw new HubError(422, 'invalid-input', `Report ${reportId} belongs to another study (${d.study_uid}); a draft cannot move between studies.`);
    }
    if (d.owner_id !== user.id) {
      // Only someone who wrote this draft before (its former owner, after a take-over) may leave a
      // late snapshot beside it; anyone else writes nothing into a colleague's draft (issue 8
      // finding 12).
      const wrote = await tx.query('SELECT 1 FROM draft_revisions WHERE report_id = $1 AND author_id = $2 LIMIT 1', [reportId, user.id]);
      if (wrote.rows.length === 0) {
        state.refused = new HubError(403, 'forbidden', `Report ${reportId} is ${d.owner_name}'s draft: only its owner writes it (take it over first).`);
        return null;
      }
      // The former owner writing after a take-over: refuse, but keep the text.
      await tx.query(
        `INSERT INTO late_snapshots (report_id, author_id, revision, content, received_at)
         SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM late_snapshots WHERE report_id = $1 AND author_id = $2 AND revision = $3)`,
        [reportId, user.id, s.revision, JSON.stringify(s.content), at],
      );
      const { rows } = await tx.query<{ at: string }>(
        `SELECT at FROM audit WHERE report_id = $1 AND action = 'take-over' ORDER BY seq DESC LIMIT 1`, [reportId],
      );
      state.refused = takenOverError(d, rows[0]?.at ?? null);
      return null; // commit the late snapshot, then answer 409
    }
    if (s.revision === d.revision && (s.closed ?? false) !== d.closed) {
      // The editor closed the draft without a new revision (the usual case: its last snapshot
      // already carried the text): mark it closed so the Unfinished list shows it. Or the author
      // opened it again: it is being reported again (the study's claim is live).
      await tx.query('UPDATE drafts SET closed = $4, session_hash = $2, updated_at = $3, last_activity = GREATEST(last_activity, $5::timestamptz) WHERE report_id = $1',
        [reportId, user.session_hash, at, s.closed ?? false, s.closed ? d.last_activity : lastActivity]);
      await emitEvent(tx, { type: 'unfinished-changed', at, reportId, reason: 'snapshot', owner: user.username });
      return { reportId, revision: d.revision, applied: true, owner: ownerOf(d) };
    }
    if (s.revision <= d.revision) {
      return { reportId, revision: d.revision, applied: false, owner: ownerOf(d) };
    }
    await tx.query(
      `UPDATE drafts SET content = $2, revision = $3, session_hash = $4, last_activity = GREATEST(last_activity, $5::timestamptz),
         updated_at = $6, closed = $7 WHERE report_id = $1`,
      [reportId, JSON.stringify(s.content), s.revision, user.session_hash, lastActivity, at, s.closed ?? false],
    );
    await insertRevision(tx, reportId, s.revision, user.id, s.content, at, lastActivity);
    await emitEvent(tx, { type: 'unfinished-changed', at, reportId, reason: 'snapshot', owner: user.username });
    return { reportId, revision: s.revision, applied: true, owner: ownerOf(d) };
  });
  if (state.refused) throw state.refused;
  return ack!;
}

async function insertRevision(tx: Queryable, reportId: string, revision: number, authorId: number, content: ReportContent, at: string, lastActivity: string): Promise<void> {
  await tx.query(
    `INSERT INTO draft_revisions (report_id, revision, author_id, content, saved_at, last_activity) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (report_id, revision) DO NOTHING`,
    [reportId, revision, authorId, JSON.stringify(content), at, lastActivity],
  );
}

async function history(q: Queryable, reportId: string): Promise<{ revisions: HubDraftRevision[]; takeOvers: TakeOverRecord[]; lateSnapshots: LateSnapshot[] }> {
  const revs = await q.query<{ revision: number; saved_at: string; last_activity: string; content: ReportContent; username: string; name: string; role: Role; registration: string }>(
    `SELECT r.revision, r.saved_at, r.last_activity, r.content, u.username, u.name, u.role, u.registration
       FROM draft_revisions r JOIN users u ON u.id = r.author_id WHERE r.report_id = $1 ORDER BY r.revision`,
    [reportId],
  );
  const tos = await q.query<{ at: string; detail: { from: HubUser; to: HubUser; reason: string } }>(
    `SELECT at, detail FROM audit WHERE report_id = $1 AND action = 'take-over' ORDER BY seq`, [reportId],
  );
  const late = await q.query<{ revision: number; received_at: string; content: ReportContent; username: string; name: string; role: Role; registration: string }>(
    `SELECT l.revision, l.received_at, l.content, u.username, u.name, u.role, u.registration
       FROM late_snapshots l JOIN users u ON u.id = l.author_id WHERE l.report_id = $1 ORDER BY l.id`,
    [reportId],
  );
  return {
    revisions: revs.rows.map((r) => ({ revision: r.revision, savedAt: r.saved_at, lastActivity: r.last_activity, author: toHubUser(r), content: r.content })),
    takeOvers: tos.rows.map((t) => ({ at: t.at, from: t.detail.from, to: t.detail.to, reason: t.detail.reason })),
    lateSnapshots: late.rows.map((l) => ({ revision: l.revision, receivedAt: l.received_at, author: toHubUser(l), content: l.content })),
  };
}


/** GET /api/drafts/:id: the draft, its revisions, take-overs and any refused late snapshots. */
export async function getDraft(db: HubDb, reportId: string): Promise<DraftWithHistory & { lateSnapshots: LateSnapshot[] }> {
  const { rows } = await db.query<DraftRow>(`${DRAFT_SELECT} WHERE d.report_id = $1`, [reportId]);
  const d = rows[0];
  if (!d) throw new HubError(404, 'not-found', `The hub holds no draft ${reportId}.`);
  return { draft: toDraft(d), ...(await history(db, reportId)) };
}

/** POST /api/drafts/:id/take-over. */
export async function takeOver(db: HubDb, user: SessionUser, reportId: string, req: TakeOverRequest, now: number): Promise<TakeOverResponse & { lateSnapshots: LateSnapshot[] }> {
  const at = new Date(now).toISOString();
  return db.transaction(async (tx) => {
    const d = await lockDraft(tx, reportId);
    if (!d) throw new HubError(404, 'not-found', `The hub holds no draft ${reportId}.`);
    if (d.signed_at !== null) throw new HubError(409, 'already-signed', `Report ${reportId} has been signed; there is nothing to take over.`);
    await assertNotSigned(tx, reportId);
    if (d.owner_id === user.id) throw new HubError(409, 'already-owner', 'This draft is already yours.');
    if (req.expectedOwner !== undefined && req.expectedOwner !== d.owner_username) {
      throw new HubError(409, 'draft-taken-over', `This draft now belongs to ${d.owner_name}, not ${req.expectedOwner}. Refresh the list.`,
        { newOwner: d.owner_username, newOwnerName: d.owner_name });
    }
    const from = ownerOf(d);
    const to = toHubUser(user);
    const reason = req.reason?.trim() || 'taken over from the unfinished list';
    await tx.query(
      `UPDATE drafts SET owner_id = $2, session_hash = $3, last_activity = $4, updated_at = $4, closed = false WHERE report_id = $1`,
      [reportId, user.id, user.session_hash, at],
    );
    await tx.query(
      `INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES ($1, $2, 'take-over', $3, $4)`,
      [at, user.id, reportId, JSON.stringify({ from, to, reason, revision: d.revision })],
    );
    const study = { patientId: d.patient_id, studyUid: d.study_uid };
    await emitEvent(tx, { type: 'draft-taken-over', at, reportId, study, from, to });
    await emitEvent(tx, { type: 'unfinished-changed', at, reportId, reason: 'taken-over', owner: user.username });
    const draft: HubDraft = { ...toDraft(d), owner: to, lastActivity: at, updatedAt: at, closed: false };
    return { draft, ...(await history(tx, reportId)), previousOwner: from, takenOverAt: at };
  });
}

/**
 * GET /api/drafts/taken-from-me: the drafts of this user that a colleague took over since the
 * user's previous login (every one when there was none), newest first, so a returning author is
 * told at once, not when she opens the study.
 */
export async function takenFromMe(db: HubDb, user: SessionUser): Promise<TakenFromMeList> {
  const prev = await db.query<{ created_at: string }>(
    'SELECT created_at FROM sessions WHERE user_id = $1 AND token_hash <> $2 ORDER BY created_at DESC LIMIT 1', [user.id, user.session_hash],
  );
  const since = prev.rows[0]?.created_at ?? null;
  const { rows } = await db.query<{ report_id: string; at: string; detail: { from: HubUser; to: HubUser; reason: string }; patient_id: string; study_uid: string; signed: boolean }>(
    `SELECT a.report_id, a.at, a.detail, d.patient_id, d.study_uid,
            (d.signed_at IS NOT NULL OR EXISTS (SELECT 1 FROM signed_reports r WHERE r.id = a.report_id)) AS signed
       FROM audit a JOIN drafts d ON d.report_id = a.report_id
      WHERE a.action = 'take-over' AND a.detail->'from'->>'username' = $1 AND ($2::timestamptz IS NULL OR a.at >= $2::timestamptz)
      ORDER BY a.seq DESC`,
    [user.username, since],
  );
  return {
    since,
    items: rows.map((r) => ({
      reportId: r.report_id, study: { patientId: r.patient_id, studyUid: r.study_uid }, at: new Date(r.at).toISOString(),
      to: r.detail.to, reason: r.detail.reason, signed: r.signed,
    })),
  };
}

/**
 * GET /api/unfinished: every unsigned draft in the department, stale first. A draft appears from
 * the moment its study is opened for reporting (the workstation publishes it then, even empty: it
 * is the study's claim) and leaves once its study has a signed report, whoever signed it.
 */
export async function listUnfinished(db: HubDb, policy: SitePolicy, now: number): Promise<UnfinishedList> {
  const { rows } = await db.query<DraftRow & { session_expires: string | null; session_ended: string | null; taken_from: HubUser | null }>(
    `${DRAFT_SELECT.replace('FROM drafts d', `, s.expires_at AS session_expires, s.ended_at AS session_ended,
        (SELECT a.detail->'from' FROM audit a WHERE a.report_id = d.report_id AND a.action = 'take-over' ORDER BY a.seq DESC LIMIT 1) AS taken_from
       FROM drafts d`)}
       LEFT JOIN sessions s ON s.token_hash = d.session_hash
      WHERE d.signed_at IS NULL AND NOT EXISTS (SELECT 1 FROM signed_reports r WHERE r.id = d.report_id OR r.study_uid = d.study_uid)`,
  );
  const idleLimit = policy.unfinishedIdleHours * 3600_000;
  const items: UnfinishedItem[] = rows.map((r) => {
    const idleMs = Math.max(0, now - Date.parse(r.last_activity));
    const reasons: StaleReason[] = [];
    if (idleMs > idleLimit) reasons.push('idle');
    const sessionOver = r.session_hash === null || r.session_expires === null || r.session_ended !== null || Date.parse(r.session_expires) <= now;
    if (sessionOver) reasons.push('session-ended');
    return {
      reportId: r.report_id,
      study: { patientId: r.patient_id, studyUid: r.study_uid },
      owner: ownerOf(r),
      createdAt: r.created_at,
      lastActivity: r.last_activity,
      revision: r.revision,
      ageMs: Math.max(0, now - Date.parse(r.created_at)),
      idleMs,
      stale: reasons.length > 0,
      staleReasons: reasons,
      closed: r.closed,
      takenOverFrom: r.taken_from ?? null,
    };
  });
  items.sort((a, b) => Number(b.stale) - Number(a.stale) || Date.parse(a.lastActivity) - Date.parse(b.lastActivity));
  return { now: new Date(now).toISOString(), staleAfterHours: policy.unfinishedIdleHours, items };
}
