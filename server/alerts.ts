// The closed loop of alerts at the hub (issue 9): lists for the referrer page, the workstation and
// the safety lead; an alert's detail with its timeline and whole report; acknowledgement by a
// named responsible person; phone-call records synced from workstations; who may read a report.
// The alert itself is created, and routed, in the statement that stores its report
// (server/ingest.ts, hub migrations 7–8); escalation is server/escalation.ts.
import {
  AGE_BUCKETS, ALERT_EVENT_LABELS, recipientLabel,
  type AlertDetail, type AlertEventType, type AlertListQuery, type AlertPhoneCall, type AlertSummary, type AlertTimelineEvent,
  type RaisedAlertCategory, type SafetyDashboard,
} from '../common/alerts.ts';
import type { EscalationRecipient } from '../common/alertPolicy.ts';
import type { LadderStep } from '../common/alertDeadline.ts';
import { roleMay, type Role } from '../common/lifecycle.ts';
import { formatDateTimeIn } from '../common/format.ts';
import type { SessionUser } from './auth.ts';
import type { HubDb, Queryable } from './db/adapter.ts';
import { HubError } from './errors.ts';
import { readSignedReport } from './reports.ts';

interface AlertRow {
  report_id: string; category: RaisedAlertCategory; finding: string; patient_id: string; study_uid: string; accession: string | null;
  exam: string | null; requester: string | null; requesting_service: string | null; team_id: string | null; team_name: string | null;
  routing_reason: string | null; signer_name: string; signer_role: Role; signed_at: string; created_at: Date | string; state: 'open' | 'acknowledged';
  rung: number; ladder: LadderStep[]; next_due: Date | string | null; due_by: Date | string | null;
  acknowledged_at: Date | string | null; action_plan: string | null; ack_name: string | null; ack_role: Role | null; ack_username: string | null;
  may_ack: boolean;
}

const iso = (d: Date | string): string => new Date(d).toISOString();
const isoOrNull = (d: Date | string | null): string | null => (d === null ? null : iso(d));

/** SQL: the teams of user $1 (a member, or its consultant). */
const MY_TEAMS = `(SELECT team_id FROM team_members WHERE user_id = $1 UNION SELECT id FROM teams WHERE consultant_id = $1)`;
/** SQL: user $1 is a recipient of a rung of alert `a` reached so far (failsafe_rung_recipients, migration 8). */
const RESPONSIBLE = `EXISTS (SELECT 1 FROM generate_series(0, a.rung) g(n), failsafe_rung_recipients(a.report_id, g.n) x WHERE x.user_id = $1)`;

/**
 * The select list of an alert summary, for user $1: whether they may acknowledge it (they are a
 * recipient of a rung reached so far: failsafe_rung_recipients, migration 8).
 */
const SUMMARY_SELECT = `
  SELECT a.report_id, a.category, a.finding, a.patient_id, a.study_uid, a.accession, r.exam->>'studyDescription' AS exam, a.requester, a.requesting_service,
         a.team_id, t.name AS team_name, a.routing_reason, r.signer_name, r.signer_role, a.signed_at, a.created_at, a.state, a.rung, a.ladder,
         a.next_due, a.due_by, a.acknowledged_at, a.action_plan, ku.name AS ack_name, ku.role AS ack_role, ku.username AS ack_username,
         (a.state = 'open' AND ${RESPONSIBLE}) AS may_ack
    FROM alerts a
    JOIN signed_reports r ON r.id = a.report_id
    LEFT JOIN teams t ON t.id = a.team_id
    LEFT JOIN users ku ON ku.id = a.acknowledged_by`;

function summary(a: AlertRow): AlertSummary {
  const step = a.ladder[a.rung] ?? a.ladder[a.ladder.length - 1];
  const to: EscalationRecipient = step?.to ?? 'requester';
  return {
    reportId: a.report_id,
    category: a.category,
    finding: a.finding,
    patientId: a.patient_id,
    studyUid: a.study_uid,
    accession: a.accession,
    exam: a.exam,
    requester: a.requester,
    requestingService: a.requesting_service,
    team: a.team_id ? { id: a.team_id, name: a.team_name ?? a.team_id } : null,
    routingReason: a.routing_reason,
    signedBy: { name: a.signer_name, role: a.signer_role },
    signedAt: a.signed_at,
    createdAt: iso(a.created_at),
    state: a.state,
    rung: a.rung,
    responsible: { to, label: a.rung === 0 && !a.team_id ? "the duty radiologist (requester not routed)" : recipientLabel(to) },
    dueBy: isoOrNull(a.next_due),
    firstDueBy: isoOrNull(a.due_by),
    escalated: a.rung > 0,
    acknowledgement: a.state === 'acknowledged' && a.acknowledged_at && a.ack_name && a.ack_role && a.ack_username
      ? { by: { name: a.ack_name, role: a.ack_role, username: a.ack_username }, at: iso(a.acknowledged_at), actionPlan: a.action_plan ?? '' }
      : null,
    mayAcknowledge: a.may_ack,
  };
}

/** The user's teams (member or consultant) and site duties. */
export async function userScope(db: Queryable, userId: number): Promise<{ teams: string[]; duties: string[] }> {
  const { rows } = await db.query<{ teams: string[] | null; duties: string[] | null }>(
    `SELECT (SELECT array_agg(team_id) FROM ${MY_TEAMS} x) AS teams,
            (SELECT array_agg(duty) FROM site_duties WHERE user_id = $1) AS duties`, [userId]);
  return { teams: rows[0]?.teams ?? [], duties: rows[0]?.duties ?? [] };
}

/** Roles that read every alert (they read every report already); a referrer reads only those routed to them. */
const readsAllAlerts = (role: Role): boolean => role !== 'referrer';

/** Lists alerts, ordered by deadline (none last), for the referrer page, the workstation and the dashboard. */
export async function listAlerts(db: Queryable, user: SessionUser, q: AlertListQuery): Promise<AlertSummary[]> {
  const where: string[] = [];
  const params: unknown[] = [user.id];
  if (q.state !== 'any') {
    params.push(q.state);
    where.push(`a.state = $${params.length}`);
  }
  if (q.scope === 'signed-by-me') {
    where.push('r.stored_by = $1');
  } else if (q.scope === 'all') {
    if (!readsAllAlerts(user.role)) throw new HubError(403, 'forbidden', 'A referrer sees the alerts of their own teams only: ask for scope=mine.');
  } else {
    // Candidates cheaply (the user's teams, the unrouted queue for the duty radiologist, every
    // alert for those who hold a duty or lead safety), then the exact rule: a recipient of a rung reached.
    params.push(user.role);
    // The candidates must include every alert the exact rule (failsafe_rung_recipients) gives the
    // user, fallbacks included, without asking it of every open alert: a duty holder's alerts are
    // those whose ladder has reached their duty; for the duty radiologist also those with no team,
    // a team with nobody active, or no active consultant once past the first rung; for the imaging
    // safety lead (and a safety-lead account, the last fallback) every alert.
    where.push(`(a.team_id IN ${MY_TEAMS}
      OR $${params.length}::text = 'safety-lead'
      OR EXISTS (SELECT 1 FROM site_duties d WHERE d.user_id = $1 AND (
           d.duty = 'imaging-safety-lead'
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(a.ladder) WITH ORDINALITY l(step, i) WHERE i - 1 <= a.rung AND l.step->>'to' = d.duty)
        OR (d.duty = 'duty-radiologist' AND (
              a.team_id IS NULL
           OR NOT EXISTS (SELECT 1 FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = a.team_id AND NOT u.disabled)
           OR (a.rung >= 1 AND NOT EXISTS (SELECT 1 FROM teams t JOIN users u ON u.id = t.consultant_id WHERE t.id = a.team_id AND NOT u.disabled)))))))`);
  }
  const sql = `SELECT * FROM (${SUMMARY_SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}) s
    ${q.scope === 'mine' ? `WHERE s.may_ack OR (s.state = 'acknowledged' AND s.team_id IN ${MY_TEAMS})` : ''}
    ORDER BY s.next_due ASC NULLS LAST, s.created_at ASC LIMIT 2000`;
  const { rows } = await db.query<AlertRow>(sql, params);
  return rows.map(summary);
}

/** Whether this user may see this alert (and so its report): a referrer only when it is theirs. */
async function mayRead(db: Queryable, user: SessionUser, reportId: string): Promise<boolean> {
  if (readsAllAlerts(user.role)) return true;
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM alerts a WHERE a.report_id = $2 AND (
        a.team_id IN ${MY_TEAMS}
        OR ${RESPONSIBLE})) AS ok`,
    [user.id, reportId]);
  return rows[0]?.ok === true;
}

/**
 * Whether a user may read a signed report. Every role but the referrer reads every report; a
 * referrer reads a report whose requester (or requesting service) maps to one of their teams,
 * or whose alert they are responsible for.
 */
export async function mayReadReport(db: Queryable, user: SessionUser, reportId: string): Promise<boolean> {
  if (!roleMay(user.role, 'report:read')) return false;
  if (readsAllAlerts(user.role)) return true;
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM signed_reports r JOIN directory_requesters d
         ON (d.kind = 'name' AND d.key = failsafe_requester_key(r.referring_physician))
         OR (d.kind = 'service' AND d.key = failsafe_requester_key(r.requesting_service))
       WHERE r.id = $2 AND d.team_id IN ${MY_TEAMS}) AS ok`,
    [user.id, reportId]);
  return rows[0]?.ok === true || mayRead(db, user, reportId);
}

interface EventRow { seq: number; at: Date | string; type: AlertEventType; rung: number | null; detail: Record<string, unknown>; name: string | null; role: Role | null; username: string | null }

/** One timeline entry in words; times on the site's clock (`zone`). */
function eventText(e: EventRow, ladder: readonly LadderStep[], zone: string): string {
  const when = (at: string): string => formatDateTimeIn(at, zone);
  const d = e.detail;
  const str = (k: string): string => (typeof d[k] === 'string' ? (d[k] as string) : '');
  const rungLabel = e.rung !== null && ladder[e.rung] ? recipientLabel(ladder[e.rung]!.to) : '';
  switch (e.type) {
    case 'created': return `Alert created${str('dueBy') ? `; due by ${when(str('dueBy'))}` : '; no deadline'}`;
    case 'routed': return `Routed to team ${str('teamName') || str('team')}`;
    case 'unrouted': return `Routed to the duty radiologist: ${str('reason')}`;
    case 'notified': return `Notified ${str('to')} by ${str('channel')}`;
    case 'notify-failed': return `Notification failed${str('channel') ? ` (${str('channel')}${str('to') ? ` to ${str('to')}` : ''})` : ''}: ${str('error')}${str('nextAttemptAt') ? `; retrying at ${when(str('nextAttemptAt'))}` : ''}`;
    case 'opened': return `Opened by ${e.name ?? 'someone'}`;
    case 'acknowledged': return `Acknowledged by ${e.name ?? 'someone'}: ${str('actionPlan')}`;
    case 'escalated': return `Escalated to ${rungLabel || 'the next rung'}${str('to') ? `: ${str('to')}` : ''}`;
    case 'phone-call': return `Phone call to ${str('clinician')} (${str('role')}) at ${when(str('time'))}, recorded by ${str('recordedBy')}${str('note') ? `: ${str('note')}` : ''}`;
  }
}

/** An alert's timeline, oldest first. */
export async function alertTimeline(db: Queryable, reportId: string, ladder: readonly LadderStep[], zone: string): Promise<AlertTimelineEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT e.seq, e.at, e.type, e.rung, e.detail, u.name, u.role, u.username
       FROM alert_events e LEFT JOIN users u ON u.id = e.actor_id WHERE e.report_id = $1 ORDER BY e.seq`, [reportId]);
  return rows.map((e) => ({
    seq: Number(e.seq),
    at: iso(e.at),
    type: e.type,
    actor: e.name && e.role && e.username ? { name: e.name, role: e.role, username: e.username } : null,
    rung: e.rung,
    text: eventText(e, ladder, zone) || ALERT_EVENT_LABELS[e.type],
  }));
}

/**
 * An alert in full: summary, ladder, timeline and the signed report. A responsible person's first
 * opening is recorded on the timeline ("opened by"), once per person.
 */
export async function readAlert(db: HubDb, user: SessionUser, reportId: string, now: number, opts: { recordOpening?: boolean; timeZone: string }): Promise<AlertDetail | null> {
  if (!(await mayRead(db, user, reportId))) return null;
  const row = await oneAlert(db, user, reportId);
  if (!row) return null;
  if (opts.recordOpening !== false && row.may_ack) {
    const { rowCount } = await db.query(
      `INSERT INTO alert_events (report_id, at, type, actor_id, rung)
         SELECT $1, $2, 'opened', $3, $4 WHERE NOT EXISTS (SELECT 1 FROM alert_events WHERE report_id = $1 AND type = 'opened' AND actor_id = $3)`,
      [reportId, new Date(now).toISOString(), user.id, row.rung]);
    if (rowCount) opened.add(reportId);
  }
  const report = await readSignedReport(db, reportId);
  if (!report) return null;
  return { ...summary(row), ladder: row.ladder, timeline: await alertTimeline(db, reportId, row.ladder, opts.timeZone), report };
}

/** Alerts whose opening was just recorded (the caller announces the pushed event). Drained by takeOpened. */
const opened = new Set<string>();
export const takeOpened = (): boolean => {
  const any = opened.size > 0;
  opened.clear();
  return any;
};

async function oneAlert(db: Queryable, user: SessionUser, reportId: string): Promise<AlertRow | undefined> {
  const { rows } = await db.query<AlertRow>(`${SUMMARY_SELECT} WHERE a.report_id = $2`, [user.id, reportId]);
  return rows[0];
}

/**
 * Acknowledges an alert: only an open one, only by a person responsible for a rung reached
 * (their team, or the duty that rung names), with an action plan. Escalation stops; the
 * acknowledger is named on the alert and its timeline.
 */
export async function acknowledgeAlert(db: HubDb, user: SessionUser, reportId: string, actionPlan: string, now: number, timeZone: string): Promise<AlertDetail> {
  const at = new Date(now).toISOString();
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<AlertRow>(`${SUMMARY_SELECT} WHERE a.report_id = $2 FOR UPDATE OF a`, [user.id, reportId]);
    const a = rows[0];
    if (!a || !(await mayRead(tx, user, reportId))) throw new HubError(404, 'not-found', `No alert ${reportId} is routed to you.`);
    if (a.state === 'acknowledged') {
      throw new HubError(409, 'invalid-transition', `This alert was already acknowledged by ${a.ack_name ?? 'someone'} at ${isoOrNull(a.acknowledged_at)}.`);
    }
    if (!a.may_ack) {
      throw new HubError(403, 'forbidden', `You are not responsible for this alert: it is for ${summary(a).responsible.label}${a.team_name ? ` (team ${a.team_name})` : ''}. Only they, or an earlier rung of its ladder, may acknowledge it.`);
    }
    await tx.query(`UPDATE alerts SET state = 'acknowledged', acknowledged_at = $2, acknowledged_by = $3, action_plan = $4 WHERE report_id = $1`,
      [reportId, at, user.id, actionPlan.trim()]);
    await tx.query(`UPDATE notifications SET state = 'failed', last_error = 'acknowledged before it was sent' WHERE report_id = $1 AND state = 'pending'`, [reportId]);
    await tx.query(`INSERT INTO alert_events (report_id, at, type, actor_id, rung, detail) VALUES ($1, $2, 'acknowledged', $3, $4, $5)`,
      [reportId, at, user.id, a.rung, JSON.stringify({ actionPlan: actionPlan.trim() })]);
    await tx.query(`INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES ($1, $2, 'alert-acknowledged', $3, $4)`,
      [at, user.id, reportId, JSON.stringify({ rung: a.rung })]);
  });
  const detail = await readAlert(db, user, reportId, now, { recordOpening: false, timeZone });
  return detail!;
}

/**
 * Phone calls a workstation recorded for this report's alert (made while the hub was
 * unreachable): stored once per workstation record id, each a timeline entry. Only the report's
 * signer (or a colleague of a reporting role) sends them.
 */
export async function addPhoneCalls(db: HubDb, user: SessionUser, reportId: string, calls: readonly AlertPhoneCall[], now: number): Promise<number> {
  if (!roleMay(user.role, 'report:sign-final') && !roleMay(user.role, 'report:sign-provisional')) {
    throw new HubError(403, 'forbidden', `A ${user.role} does not record phone calls for alerts.`);
  }
  const at = new Date(now).toISOString();
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ rung: number }>('SELECT rung FROM alerts WHERE report_id = $1', [reportId]);
    if (!rows[0]) throw new HubError(409, 'original-not-synced', `The hub holds no alert for report ${reportId} yet: send the report first.`);
    let added = 0;
    for (const c of calls) {
      const ins = await tx.query(
        `INSERT INTO alert_phone_calls (report_id, id, clinician, role, time, note, recorded_by, recorded_at, stored_at, stored_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (report_id, id) DO NOTHING`,
        [reportId, c.id, c.clinician, c.role, c.time, c.note, c.recordedBy, c.recordedAt, at, user.id]);
      if (!ins.rowCount) continue;
      added++;
      const call = JSON.stringify({ clinician: c.clinician, role: c.role, time: c.time, note: c.note, recordedBy: c.recordedBy, recordedAt: c.recordedAt });
      await tx.query(`INSERT INTO alert_events (report_id, at, type, actor_id, rung, detail) VALUES ($1, $2, 'phone-call', $3, $4, $5)`,
        [reportId, at, user.id, rows[0].rung, call]);
      await tx.query(`INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES ($1, $2, 'alert-phone-call', $3, $4)`, [at, user.id, reportId, call]);
    }
    return added;
  });
}

// ---- the imaging safety lead's dashboard -----------------------------------------------------

/** Open alerts by category and age, escalated first; acknowledgement times against deadlines. */
export async function safetyDashboard(db: Queryable, user: SessionUser, now: number): Promise<SafetyDashboard> {
  const nowIso = new Date(now).toISOString();
  const { rows: open } = await db.query<AlertRow>(
    `${SUMMARY_SELECT} WHERE a.state = 'open' ORDER BY a.rung DESC, a.next_due ASC NULLS LAST, a.created_at ASC`, [user.id]);
  const categories = ['critical', 'urgent', 'cancer', 'significant'] as const;
  const byCategory = categories.map((category) => {
    const mine = open.filter((a) => a.category === category);
    const byAge = AGE_BUCKETS.map((b, i) => {
      const upTo = AGE_BUCKETS[i + 1]?.fromHours ?? Infinity;
      return mine.filter((a) => {
        const h = (now - Date.parse(a.signed_at)) / 3_600_000;
        return h >= b.fromHours && h < upTo;
      }).length;
    });
    return { category, open: mine.length, escalated: mine.filter((a) => a.rung > 0).length, byAge };
  });
  const { rows: acked } = await db.query<{ report_id: string; category: RaisedAlertCategory; signed_at: string; created_at: Date | string; due_by: Date | string | null; acknowledged_at: Date | string }>(
    `SELECT report_id, category, signed_at, created_at, due_by, acknowledged_at FROM alerts WHERE state = 'acknowledged' ORDER BY acknowledged_at DESC LIMIT 5000`);
  const { rows: unheard } = await db.query<{ report_id: string }>(
    `SELECT a.report_id FROM alerts a
      WHERE a.state = 'open'
        AND EXISTS (SELECT 1 FROM alert_events e WHERE e.report_id = a.report_id AND e.rung = a.rung AND e.type = 'notify-failed')
        AND NOT EXISTS (SELECT 1 FROM alert_events e WHERE e.report_id = a.report_id AND e.rung = a.rung AND e.type = 'notified')`);
  return {
    now: nowIso,
    open: byCategory,
    alerts: open.map(summary),
    notNotified: unheard.map((r) => r.report_id),
    acknowledged: acked.map((a) => {
      // Timed from the signature, as the deadline is (common/alertDeadline.ts).
      const from = Date.parse(a.signed_at);
      const minutes = (Date.parse(iso(a.acknowledged_at)) - from) / 60_000;
      const allowed = a.due_by === null ? null : (Date.parse(iso(a.due_by)) - from) / 60_000;
      return {
        reportId: a.report_id, category: a.category, signedAt: a.signed_at, acknowledgedAt: iso(a.acknowledged_at),
        minutes: Math.round(minutes * 10) / 10, allowedMinutes: allowed === null ? null : Math.round(allowed * 10) / 10, inTime: allowed === null || minutes <= allowed,
      };
    }),
  };
}

/** A CSV field: quoted, quotes doubled; a leading = + - @ is prefixed with ' so a spreadsheet never runs it as a formula. */
const csvField = (v: string | number | boolean | null): string => {
  const s = v === null ? '' : String(v);
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return `"${safe.replace(/"/g, '""')}"`;
};

/** Every alert (open and acknowledged) as CSV, for the safety lead's own analysis. */
export async function alertsCsv(db: Queryable, user: SessionUser): Promise<string> {
  const { rows } = await db.query<AlertRow>(`${SUMMARY_SELECT} ORDER BY a.created_at`, [user.id]);
  const header = ['report_id', 'category', 'state', 'signed_at', 'first_due_by', 'rung', 'responsible', 'escalated', 'team', 'routing_reason',
    'acknowledged_at', 'acknowledged_by', 'minutes_to_acknowledge', 'within_deadline'];
  const lines = rows.map((r) => {
    const s = summary(r);
    const mins = s.acknowledgement ? (Date.parse(s.acknowledgement.at) - Date.parse(s.signedAt)) / 60_000 : null;
    const within = s.acknowledgement ? (s.firstDueBy === null || Date.parse(s.acknowledgement.at) <= Date.parse(s.firstDueBy)) : null;
    return [s.reportId, s.category, s.state, s.signedAt, s.firstDueBy, s.rung, s.responsible.label, s.escalated, s.team?.name ?? null, s.routingReason,
      s.acknowledgement?.at ?? null, s.acknowledgement?.by.name ?? null, mins === null ? null : Math.round(mins * 10) / 10, within].map(csvField).join(',');
  });
  return [header.join(','), ...lines].join('\r\n') + '\r\n';
}
