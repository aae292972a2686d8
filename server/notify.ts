// Delivery of alert notifications (issue 9 line 5): the rows hub migration 8 queues in
// `notifications` (one per person, channel and rung reached, when an alert is created and at each
// escalation) are sent by an HMAC-signed webhook and by e-mail, retried with backoff, and every
// outcome is on the alert's timeline ('notified' / 'notify-failed').
//
// Messages carry no clinical detail, only a link: acknowledgement happens on the hub's page, after
// logging in, where who may read what is enforced. A message sent to a wrong address, a shared
// inbox, a lock screen or a pager display then tells nobody anything about a patient.
//
// Exactly once across hub instances: a row is claimed by one short statement (SELECT … FOR UPDATE
// SKIP LOCKED, then UPDATE attempts and next_attempt_at) that commits before anything is sent.
// Another instance skips the locked row, and once the claim commits the row is no longer due until
// the claim's lease ends. The send happens outside any transaction (no row lock held across the
// network), and the outcome is written only if the row is still ours (same attempt number). A hub
// that dies mid-send leaves the row pending with a lease: it is tried again when the lease ends,
// so a crash delays a notification, never loses it. The price is at-least-once in that one case
// (a send that went out just before the crash); the webhook body's `notificationId` lets a
// receiver drop the duplicate.
import crypto from 'node:crypto';
import { createTransport } from 'nodemailer';
import type { LadderStep } from '../common/alertDeadline.ts';
import { formatClockIn, formatDateTimeIn } from '../common/format.ts';
import type { NotificationConfig } from './config.ts';
import type { HubDb } from './db/adapter.ts';
import type { EventDispatcher } from './events.ts';

export type NotificationChannel = 'email' | 'webhook';

/** What one notification says: nothing about the patient, the finding or the exam. */
export interface NotificationMessage {
  notificationId: number;
  reportId: string;
  /** `${publicUrl}/alerts/${reportId}`: the referrer page's alert. */
  link: string;
  rung: number;
  /** Who this rung is, in words ("the requester or their team"). */
  rungLabel: string;
  /** This rung's deadline (ISO, UTC), or null: it holds the alert until someone acknowledges it. */
  deadline: string | null;
  recipient: { username: string; name: string; email: string | null };
}

/** Sends one notification; throws (with a message fit for the timeline) when it was not delivered. */
export interface NotificationTransport {
  send(message: NotificationMessage): Promise<void>;
  close?(): void | Promise<void>;
}

export interface NotificationTransports {
  webhook: NotificationTransport | null;
  email: NotificationTransport | null;
}

/** Per request: a hung receiver must not hold a claimed notification (nor the worker) for long. */
export const SEND_TIMEOUT_MS = 10_000;
export const WEBHOOK_SIGNATURE_HEADER = 'x-failsafe-signature';
export const WEBHOOK_TIMESTAMP_HEADER = 'x-failsafe-timestamp';
/** How old (or how far ahead) a webhook's timestamp may be for a receiver to accept it. */
export const WEBHOOK_TOLERANCE_S = 300;

// ---- the webhook ---------------------------------------------------------------------------------

/**
 * The signature of a webhook call: HMAC-SHA256 with the shared secret over
 * `${timestamp}.${rawBody}` (timestamp: Unix seconds, also sent as X-Failsafe-Timestamp). Signing
 * the timestamp with the body means a captured call cannot be replayed later with a fresh one.
 */
export function webhookSignature(secret: string, timestamp: string, rawBody: string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(`${timestamp}.${rawBody}`, 'utf8').digest('hex')}`;
}

/**
 * A receiver's check (docs/notifications.md): the signature matches the body and timestamp, and
 * the timestamp is within `toleranceS` of `nowMs`. Returns null when valid, else why not.
 */
export function verifyWebhook(secret: string, headers: { signature?: string | null; timestamp?: string | null }, rawBody: string, nowMs: number, toleranceS = WEBHOOK_TOLERANCE_S): string | null {
  const { signature, timestamp } = headers;
  if (!signature || !timestamp) return 'missing signature or timestamp header';
  if (!/^\d{1,12}$/.test(timestamp)) return 'timestamp is not Unix seconds';
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceS) return 'timestamp too old or in the future (replay?)';
  const expected = Buffer.from(webhookSignature(secret, timestamp, rawBody));
  const got = Buffer.from(signature);
  return got.length === expected.length && crypto.timingSafeEqual(got, expected) ? null : 'signature does not match';
}

/** The webhook's JSON body (documented in docs/notifications.md). */
export function webhookBody(m: NotificationMessage): Record<string, unknown> {
  return {
    event: 'alert-notification',
    notificationId: m.notificationId,
    alertId: m.reportId,
    link: m.link,
    recipient: { username: m.recipient.username },
    rung: m.rung,
    rungLabel: m.rungLabel,
    deadline: m.deadline,
  };
}

export function webhookTransport(opts: { url: string; secret: string; timeoutMs?: number; now?: () => number }): NotificationTransport {
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  const now = opts.now ?? Date.now;
  return {
    async send(m) {
      const body = JSON.stringify(webhookBody(m));
      const timestamp = String(Math.floor(now() / 1000));
      let res: Response;
      try {
        res = await fetch(opts.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [WEBHOOK_TIMESTAMP_HEADER]: timestamp, [WEBHOOK_SIGNATURE_HEADER]: webhookSignature(opts.secret, timestamp, body) },
          body,
          // A redirect is not followed: the signed call goes to the configured receiver or nowhere.
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        if (e.name === 'TimeoutError') throw new Error(`the webhook did not answer within ${timeoutMs / 1000} s`, { cause: err });
        // The URL is not put in the message: the timeline is read by many, and a URL can carry a token.
        throw new Error(`cannot reach the webhook: ${e.cause?.code ?? e.cause?.message ?? e.message}`, { cause: err });
      }
      await res.body?.cancel().catch(() => {});
      if (res.status < 200 || res.status > 299) throw new Error(`the webhook answered HTTP ${res.status}`);
    },
  };
}

// ---- e-mail ----------------------------------------------------------------------------------------


/**
 * A deadline as people read it where the hub is: time "14:30", and in full "3 Mar 2026 14:30 GMT"
 * (the zone named, so a reader elsewhere is not misled). Without a zone given: UTC, named as such.
 */
function deadlineWords(iso: string, timeZone: string | undefined): { time: string; full: string } {
  const tz = timeZone ?? 'UTC';
  return { time: formatClockIn(iso, tz), full: formatDateTimeIn(iso, tz) };
}

/**
 * The e-mail: subject and text. No clinical detail beyond the link (issue 9 line 5): not the
 * patient, the exam, a body part or the finding, and not the alert's category either ("suspected
 * cancer" in a subject line on a shared or forwarded mailbox says too much). How fast to act is
 * said by the deadline and the rung alone. The link opens the alert only after logging in, for a
 * person allowed to read it. No report id in the subject either: it is in the link, which is needed.
 */
export function emailContent(m: NotificationMessage, nowMs: number, timeZone?: string): { subject: string; text: string } {
  const due = m.deadline === null ? null : deadlineWords(m.deadline, timeZone);
  const overdue = m.deadline !== null && Date.parse(m.deadline) <= nowMs;
  const when = !due ? '' : overdue ? ` (it was due by ${due.full})` : ` by ${due.full}`;
  const subject = `An alert needs your acknowledgement${!due ? '' : overdue ? ' now (overdue)' : ` by ${due.time}`}`;
  const text = [
    `An alert needs your acknowledgement${when} — open ${m.link}`,
    '',
    `You are notified as ${m.rungLabel}. The alert, and the way to acknowledge it, are on that page only, after you log in.`,
    'This message deliberately says nothing about the patient or the finding.',
    '',
  ].join('\r\n');
  return { subject, text };
}

export function mailTransport(opts: { smtpUrl: string; from: string; timeoutMs?: number; now?: () => number; timeZone?: string }): NotificationTransport {
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  const now = opts.now ?? Date.now;
  const transporter = createTransport({
    url: opts.smtpUrl,
    connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: 2 * timeoutMs,
  });
  return {
    async send(m) {
      if (!m.recipient.email) throw new Error('no e-mail address on file');
      const { subject, text } = emailContent(m, now(), opts.timeZone);
      try {
        await transporter.sendMail({ from: opts.from, to: m.recipient.email, subject, text });
      } catch (err) {
        const e = err as Error & { code?: string; responseCode?: number };
        throw new Error(`the mail server did not take it: ${e.responseCode ? `${e.responseCode} ` : ''}${e.code && !e.message.includes(e.code) ? `${e.code} ` : ''}${e.message}`, { cause: err });
      }
    },
    close: () => transporter.close(),
  };
}

/** The transports the configuration names (null: that channel is not configured). */
export function notificationTransports(cfg: NotificationConfig, opts: { now?: () => number; timeZone?: string } = {}): NotificationTransports {
  return {
    webhook: cfg.webhook ? webhookTransport({ ...cfg.webhook, ...(opts.now ? { now: opts.now } : {}) }) : null,
    email: cfg.mail ? mailTransport({ ...cfg.mail, ...opts }) : null,
  };
}

// ---- delivery ------------------------------------------------------------------------------------

export interface DeliverOptions {
  /** Milliseconds since the epoch (the hub's injectable clock). */
  now: number;
  transports: NotificationTransports;
  /** The hub's base URL as its users reach it (config FAILSAFE_PUBLIC_URL), for the link. */
  publicUrl: string | null;
  /** Attempts before a notification is given up (failed for good, on the timeline). Default 8. */
  maxAttempts?: number;
  /** Rows claimed per pass. Default 20 (sent concurrently). */
  batch?: number;
  /** The wait after the first failure, doubled after each (capped at maxBackoffMs). Default 30 s. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /**
   * How long a claim holds the row: longer than any send can take (timeouts ~10–20 s), or another
   * instance would send it too. A hub that dies mid-send has the row retried after this. Default 2 min.
   */
  leaseMs?: number;
}

export interface DeliverResult {
  claimed: number;
  sent: number;
  /** Failed this time, to be retried. */
  retrying: number;
  /** Failed for good: channel not configured, no address, account disabled, or given up. */
  failed: number;
  /** Not sent because the alert was acknowledged meanwhile. */
  obsolete: number;
}

interface Claimed {
  id: string; report_id: string; rung: number; channel: NotificationChannel; attempts: number;
  ladder: LadderStep[]; alert_state: 'open' | 'acknowledged';
  username: string; name: string; email: string | null; disabled: boolean;
}

/**
 * The claim: due pending rows, locked skipping those another sender holds, leased (next attempt
 * pushed past the send) and their attempt counted, in one statement that commits before sending.
 * The attempt number is the claim's token: the outcome is written only where it is still ours.
 */
const CLAIM = `
WITH due AS (
  SELECT id FROM notifications
   WHERE state = 'pending' AND next_attempt_at <= $1::timestamptz
   ORDER BY next_attempt_at, id
   LIMIT $2
   FOR UPDATE SKIP LOCKED
), claimed AS (
  UPDATE notifications n SET attempts = n.attempts + 1, next_attempt_at = $3::timestamptz
    FROM due WHERE n.id = due.id
  RETURNING n.id, n.report_id, n.rung, n.user_id, n.channel, n.attempts
)
SELECT c.id, c.report_id, c.rung, c.channel, c.attempts, a.ladder, a.state AS alert_state, u.username, u.name, u.email, u.disabled
  FROM claimed c JOIN alerts a ON a.report_id = c.report_id JOIN users u ON u.id = c.user_id
 ORDER BY c.id`;

const MAX_ERROR = 300;

/**
 * One pass: claims the due notifications and sends them. Each outcome is written with its
 * timeline entry in one transaction. Returns what happened (the caller announces the pushed
 * events when anything was written: `claimed > 0`).
 */
export async function deliverDueNotifications(db: HubDb, opts: DeliverOptions): Promise<DeliverResult> {
  const maxAttempts = opts.maxAttempts ?? 8;
  const backoffMs = opts.backoffMs ?? 30_000;
  const maxBackoffMs = opts.maxBackoffMs ?? 30 * 60_000;
  const iso = (ms: number): string => new Date(ms).toISOString();
  const result: DeliverResult = { claimed: 0, sent: 0, retrying: 0, failed: 0, obsolete: 0 };
  const { rows } = await db.query<Claimed>(CLAIM, [iso(opts.now), opts.batch ?? 20, iso(opts.now + (opts.leaseMs ?? 120_000))]);
  result.claimed = rows.length;

  /** Writes the outcome if the row is still this claim's; with its timeline entry when there is one. */
  const settle = async (n: Claimed, state: 'pending' | 'sent' | 'failed', fields: { error?: string; nextAttemptAt?: number }, event: { type: 'notified' | 'notify-failed'; detail: Record<string, unknown> } | null): Promise<boolean> => {
    const at = iso(opts.now);
    return db.transaction(async (tx) => {
      // 'sent' is written even over the acknowledgement's "acknowledged before it was sent" (a race
      // lost by milliseconds): the message did go out, and the record says so.
      const upd = await tx.query(
        `UPDATE notifications SET state = $3, last_error = $4, next_attempt_at = coalesce($5::timestamptz, next_attempt_at), sent_at = CASE WHEN $3 = 'sent' THEN $6::timestamptz ELSE sent_at END
          WHERE id = $1 AND attempts = $2 AND (state = 'pending' OR $3 = 'sent')`,
        [n.id, n.attempts, state, fields.error ?? null, fields.nextAttemptAt === undefined ? null : iso(fields.nextAttemptAt), at]);
      if (!upd.rowCount) return false;
      if (event) {
        await tx.query(`INSERT INTO alert_events (report_id, at, type, rung, detail) VALUES ($1, $2, $3, $4, $5)`,
          [n.report_id, at, event.type, n.rung, JSON.stringify(event.detail)]);
      }
      return true;
    });
  };

  const one = async (n: Claimed): Promise<void> => {
    const base = { channel: n.channel, to: n.name };
    const failForGood = async (error: string): Promise<void> => {
      await settle(n, 'failed', { error }, { type: 'notify-failed', detail: { ...base, error } });
      result.failed++;
    };
    // Acknowledged since it was queued: nobody needs to act any more. No timeline entry: the
    // acknowledgement is there, and "notification failed" would read as a safety signal.
    const obsolete = async (): Promise<void> => {
      if (await settle(n, 'failed', { error: 'acknowledged before it was sent' }, null)) result.obsolete++;
    };
    if (n.alert_state !== 'open') return obsolete();
    const transport = opts.transports[n.channel];
    if (!transport) return failForGood(n.channel === 'email' ? 'no mail server configured' : 'no webhook configured');
    if (!opts.publicUrl) return failForGood('no public URL configured for the link (FAILSAFE_PUBLIC_URL)');
    if (n.disabled) return failForGood('the account is disabled');
    if (n.channel === 'email' && !n.email) return failForGood('no e-mail address on file');
    // The acknowledgement may have committed since the claim: look again just before sending, so
    // the window in which a message goes out for an acknowledged alert is one round trip.
    const again = await db.query<{ state: string }>('SELECT state FROM alerts WHERE report_id = $1', [n.report_id]);
    if (again.rows[0]?.state !== 'open') return obsolete();
    const step = n.ladder[n.rung];
    const message: NotificationMessage = {
      notificationId: Number(n.id), reportId: n.report_id, link: `${opts.publicUrl}/alerts/${encodeURIComponent(n.report_id)}`,
      rung: n.rung, rungLabel: step?.label ?? 'responsible', deadline: step?.dueBy ?? null,
      recipient: { username: n.username, name: n.name, email: n.email },
    };
    try {
      await transport.send(message);
    } catch (err) {
      const error = (err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR);
      if (n.attempts >= maxAttempts) {
        const gaveUp = `${error}; gave up after ${n.attempts} attempts`;
        await settle(n, 'failed', { error: gaveUp }, { type: 'notify-failed', detail: { ...base, error: gaveUp, attempts: n.attempts } });
        result.failed++;
        return;
      }
      const nextAttemptAt = opts.now + Math.min(backoffMs * 2 ** (n.attempts - 1), maxBackoffMs);
      await settle(n, 'pending', { error, nextAttemptAt }, { type: 'notify-failed', detail: { ...base, error, attempts: n.attempts, nextAttemptAt: iso(nextAttemptAt) } });
      result.retrying++;
      return;
    }
    if (await settle(n, 'sent', {}, { type: 'notified', detail: base })) result.sent++;
  };

  await Promise.all(rows.map((n) => one(n).catch(() => {
    // The database failed while writing the outcome: the lease ends and the row is tried again.
  })));
  return result;
}

// ---- the worker ----------------------------------------------------------------------------------

export interface NotificationWorkerOptions extends Omit<DeliverOptions, 'now'> {
  /** The hub's clock (milliseconds since the epoch). */
  clock?: () => number;
  /** Between passes when nothing kicks it. Default 5 s. */
  intervalMs?: number;
  /** After a pass wrote timeline entries: wake the pushed events (hub.events.announce()). */
  announce?: () => void;
  /** A pass that failed (database unreachable): the next pass retries. */
  onError?: (err: unknown) => void;
}

export interface NotificationWorker {
  /** Run a pass now (after an alert was created or escalated); passes never overlap. */
  kick(): void;
  /** Stops polling, waits for the pass in progress, closes the transports. */
  stop(): Promise<void>;
  /** Resolves when no pass is running (tests). */
  idle(): Promise<void>;
}

export function startNotificationWorker(db: HubDb, opts: NotificationWorkerOptions): NotificationWorker {
  const clock = opts.clock ?? Date.now;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  const pass = async (): Promise<void> => {
    // A full batch means more may be due: keep going until a pass claims less than a batch.
    for (;;) {
      const r = await deliverDueNotifications(db, { ...opts, now: clock() });
      if (r.claimed > 0) opts.announce?.();
      if (stopped || r.claimed < (opts.batch ?? 20)) return;
    }
  };
  const kick = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          kick();
        }
      });
  };
  /** Until no pass runs (a kick during a pass starts another when it ends). */
  const settled = async (): Promise<void> => {
    for (let r = running; r; r = running) await r;
  };
  const timer = setInterval(kick, opts.intervalMs ?? 5_000);
  timer.unref();
  kick();
  return {
    kick,
    idle: settled,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await settled();
      await opts.transports.webhook?.close?.();
      await opts.transports.email?.close?.();
    },
  };
}

/**
 * A hub's notifications: the worker on the configured channels, kicked as soon as any instance
 * creates or escalates an alert (the alert-changed events every instance hears), so a
 * notification leaves within a second rather than at the next poll. Stop it before the hub closes.
 */
export function startHubNotifications(
  hub: { db: HubDb; events: EventDispatcher },
  cfg: NotificationConfig,
  opts: { clock?: () => number; timeZone?: string; intervalMs?: number; onError?: (err: unknown) => void } = {},
): NotificationWorker {
  const worker = startNotificationWorker(hub.db, {
    transports: notificationTransports(cfg, { ...(opts.clock ? { now: opts.clock } : {}), ...(opts.timeZone ? { timeZone: opts.timeZone } : {}) }),
    publicUrl: cfg.publicUrl,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}),
    announce: () => hub.events.announce(),
    // A pass that failed is retried at the next; said, so a database fault is not silent.
    onError: opts.onError ?? ((err) => process.emitWarning(`alert notifications: a delivery pass failed (${err instanceof Error ? err.message : String(err)}); retrying`)),
  });
  const unsubscribe = hub.events.subscribe((e) => {
    if (e.type === 'alert-changed' && (e.change === 'created' || e.change === 'escalated')) worker.kick();
  });
  return {
    ...worker,
    async stop() {
      unsubscribe();
      await worker.stop();
    },
  };
}
