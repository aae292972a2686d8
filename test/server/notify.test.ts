// Issue 9 line 5: the person responsible is notified by an HMAC-signed webhook and by e-mail
// (nodemailer, delivered to a real SMTP server, smtp-server, in this process); the messages carry
// no clinical detail beyond a link; a failed notification is retried with backoff and shown on the
// alert's timeline; two senders on one PostgreSQL send each notification exactly once. Alerts are
// created through the real ingest route. PGlite and PostgreSQL.
import { formatClockIn, formatDateTimeIn } from '../../common/format.ts';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDetail } from '../../common/alerts.ts';
import { HubConfigError, loadConfig } from '../../server/config.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { importDirectory, setDuty, setEmail } from '../../server/directory.ts';
import {
  deliverDueNotifications, emailContent, mailTransport, startHubNotifications, startNotificationWorker, verifyWebhook, webhookTransport,
  type DeliverOptions, type NotificationMessage, type NotificationTransports,
} from '../../server/notify.ts';
import { contentWithAlert } from '../support/syncWorkstation.ts';
import { decodeQp, smtpReceiver } from '../support/smtp.ts';
import { addUser, examFor, http as request, loginAs, post, signedReport, startTestHub, studyFor, testDb, type DbKind, type TestHub, type TestUser } from './support.ts';

const SECRET = 'test-webhook-secret-0123456789abcdef0123456789';
const PUBLIC_URL = 'https://failsafe.hospital.example';

// ---- a local webhook receiver and a local SMTP server ------------------------------------------

interface Received { headers: http.IncomingHttpHeaders; raw: string; body: Record<string, unknown> }

async function webhookReceiver(): Promise<{ url: string; got: Received[]; answers: number[]; delayMs: number; onRequest: ((r: Received) => Promise<void>) | null; close(): Promise<void> }> {
  const state = {
    url: '', got: [] as Received[], answers: [] as number[], delayMs: 0, onRequest: null as ((r: Received) => Promise<void>) | null,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const r: Received = { headers: req.headers, raw, body: JSON.parse(raw) as Record<string, unknown> };
        if (state.delayMs) await new Promise((ok) => setTimeout(ok, state.delayMs));
        await state.onRequest?.(r);
        const status = state.answers.shift() ?? 200;
        if (status === 200) state.got.push(r);
        res.writeHead(status).end();
      })();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/failsafe-hook`;
  state.close = () => new Promise<void>((ok) => server.close(() => ok()));
  return state;
}

/** A port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return port;
}

for (const kind of ['pglite', 'postgres'] as DbKind[]) {
  describe(`alert notifications (${kind})`, () => {
    let db: HubDb;
    let openAnother: () => Promise<HubDb>;
    let cleanup: () => Promise<void>;
    let t: TestHub;
    let rad: TestUser; let radToken = '';
    let edA: TestUser; let edB: TestUser; let consultant: TestUser; let duty: TestUser; let lead: TestUser;
    let hook: Awaited<ReturnType<typeof webhookReceiver>>;
    let smtp: Awaited<ReturnType<typeof smtpReceiver>>;
    const closers: Array<() => unknown> = [];

    /** Signs a report with an alert through the ingest route; returns the report id and what it must never leak. */
    const sign = async (category: 'critical' | 'urgent' | 'cancer' | 'significant' = 'critical') => {
      const study = studyFor(`nt${crypto.randomInt(1e9)}`);
      const exam = examFor(study);
      const p = signedReport(rad, { study, content: contentWithAlert(category), exam });
      const r = await post(t.url, radToken, p);
      expect(r.status, r.text).toBe(201);
      const finding = (p.report.content.unexpected as { items: Array<{ text: string }> }).items[0]!.text;
      return { id: p.report.id, secrets: [study.patientId, study.studyUid, exam.accession, exam.patientName, 'DOE', 'John', exam.studyDescription, finding, 'haematoma', 'subdural'] };
    };
    const transports = (t2: Partial<NotificationTransports>): NotificationTransports => ({ webhook: null, email: null, ...t2 });
    const hookTransport = () => webhookTransport({ url: hook.url, secret: SECRET, now: t.clock.now });
    const mailer = (url = smtp.url) => {
      const m = mailTransport({ smtpUrl: url, from: 'Failsafe <failsafe@hospital.example>', now: t.clock.now, timeZone: 'UTC', timeoutMs: 3000 });
      closers.push(() => m.close?.());
      return m;
    };
    const deliver = (o: Partial<DeliverOptions> & Pick<DeliverOptions, 'transports'>, on: HubDb = db) =>
      deliverDueNotifications(on, { now: t.clock.now(), publicUrl: PUBLIC_URL, ...o });
    /** Only this alert's rows are due: the others' are pushed far out of the way while the test runs. */
    const only = async (id: string) => {
      await db.query(`UPDATE notifications SET next_attempt_at = next_attempt_at + interval '3650 days' WHERE report_id <> $1 AND state = 'pending'`, [id]);
    };
    const timeline = async (id: string, as: TestUser = lead) => {
      const token = await loginAs(t.url, as);
      const r = await request<AlertDetail>(t.url, 'GET', `/api/alerts/${id}`, { token });
      expect(r.status, r.text).toBe(200);
      return r.body.timeline.filter((e) => e.type === 'notified' || e.type === 'notify-failed').map((e) => `${e.type}: ${e.text}`);
    };
    const rows = async (id: string) => (await db.query<{ channel: string; user_id: string; state: string; attempts: number; next_attempt_at: Date; last_error: string | null }>(
      'SELECT channel, user_id, state, attempts, next_attempt_at, last_error FROM notifications WHERE report_id = $1 ORDER BY channel, user_id', [id])).rows;

    beforeAll(async () => {
      const d = await testDb(kind, `notify_${kind}`);
      db = d.db;
      openAnother = d.open;
      cleanup = d.cleanup;
      t = await startTestHub(db);
      rad = await addUser(db, 'radiologist');
      radToken = await loginAs(t.url, rad);
      edA = await addUser(db, 'referrer', 'Dr Ada ED');
      edB = await addUser(db, 'referrer', 'Dr Ben ED');
      consultant = await addUser(db, 'referrer', 'Dr Dan Consultant');
      duty = await addUser(db, 'radiologist', 'Dr Eve Duty');
      lead = await addUser(db, 'safety-lead', 'Dr Flo Lead');
      await importDirectory(db, [
        'team,team name,referring physician,requesting service,consultant,members',
        `ED,Emergency Department,SMITH^JANE^^DR,Emergency Department,${consultant.username},${edA.username};${edB.username}`,
      ].join('\n'));
      await setDuty(db, 'duty-radiologist', duty.username);
      await setDuty(db, 'imaging-safety-lead', lead.username);
      // An address on file for Ada and her consultant; none for Ben.
      await setEmail(db, edA.username, 'ada.ed@hospital.example');
      await setEmail(db, consultant.username, 'dan.consultant@hospital.example');
      hook = await webhookReceiver();
      smtp = await smtpReceiver();
    }, 60_000);
    afterEach(async () => {
      hook.answers.length = 0;
      hook.delayMs = 0;
      hook.onRequest = null;
      // Whatever a test left due must not be sent by the next one.
      await db.query(`UPDATE notifications SET state = 'failed', last_error = 'test ended' WHERE state = 'pending'`);
    });
    afterAll(async () => {
      for (const c of closers) await c();
      await t?.close();
      await hook?.close();
      await smtp?.close();
      await cleanup?.();
    });

    it('e-mails those with an address on file and signs a webhook for each, with a link and no clinical detail', async () => {
      const { id, secrets } = await sign('critical');
      await only(id);
      const queued = await rows(id);
      // Ada and the consultant have an address: e-mail and webhook; Ben: webhook only.
      expect(queued.filter((r) => r.channel === 'email')).toHaveLength(2);
      expect(queued.filter((r) => r.channel === 'webhook')).toHaveLength(3);
      hook.got.length = 0;
      smtp.mails.length = 0;
      const r = await deliver({ transports: transports({ webhook: hookTransport(), email: mailer() }) });
      expect(r).toMatchObject({ claimed: 5, sent: 5, retrying: 0, failed: 0 });
      expect((await rows(id)).every((x) => x.state === 'sent')).toBe(true);

      // The mail arrived at the SMTP server, to the address on file.
      expect(smtp.mails.map((m) => m.to).flat().sort()).toEqual(['ada.ed@hospital.example', 'dan.consultant@hospital.example']);
      const link = `${PUBLIC_URL}/alerts/${encodeURIComponent(id)}`;
      const deadline = (await db.query<{ due: string }>(`SELECT ladder->0->>'dueBy' AS due FROM alerts WHERE report_id = $1`, [id])).rows[0]!.due;
      // This worker is given no zone: the deadline is said in UTC, named as such (the hub gives its site's).
      const hhmm = formatClockIn(deadline, 'UTC');
      for (const m of smtp.mails) {
        const text = decodeQp(m.raw);
        expect(m.from).toBe('failsafe@hospital.example');
        expect(text).toMatch(new RegExp(`^Subject: An alert needs your acknowledgement by ${hhmm}\\r?$`, 'm'));
        expect(text).toContain(`An alert needs your acknowledgement by ${formatDateTimeIn(deadline, 'UTC')} — open`);
        expect(text).toContain(`open ${link}`);
        for (const s of secrets) expect(text.toLowerCase(), `mail must not carry "${s}"`).not.toContain(s.toLowerCase());
      }

      // The webhook: one per person, signed over timestamp + body with the shared secret.
      expect(hook.got).toHaveLength(3);
      for (const g of hook.got) {
        const ts = String(g.headers['x-failsafe-timestamp']);
        const expected = `sha256=${crypto.createHmac('sha256', SECRET).update(`${ts}.${g.raw}`).digest('hex')}`;
        expect(g.headers['x-failsafe-signature']).toBe(expected);
        expect(Math.abs(Number(ts) - t.clock.now() / 1000)).toBeLessThan(60);
        expect(verifyWebhook(SECRET, { signature: expected, timestamp: ts }, g.raw, t.clock.now())).toBeNull();
        // An altered body, a replayed old call, or another secret: refused.
        expect(verifyWebhook(SECRET, { signature: expected, timestamp: ts }, g.raw.replace('"rung":0', '"rung":1'), t.clock.now())).toBe('signature does not match');
        expect(verifyWebhook(SECRET, { signature: expected, timestamp: ts }, g.raw, t.clock.now() + 3600_000)).toMatch(/replay/);
        expect(verifyWebhook(`${SECRET}x`, { signature: expected, timestamp: ts }, g.raw, t.clock.now())).toBe('signature does not match');
        expect(Object.keys(g.body).sort()).toEqual(['alertId', 'deadline', 'event', 'link', 'notificationId', 'recipient', 'rung', 'rungLabel']);
        expect(g.body).toMatchObject({ event: 'alert-notification', alertId: id, link, rung: 0, deadline, rungLabel: 'the requester or their team' });
        for (const s of secrets) expect(g.raw.toLowerCase()).not.toContain(s.toLowerCase());
      }
      expect(hook.got.map((g) => (g.body['recipient'] as { username: string }).username).sort()).toEqual([edA.username, edB.username, consultant.username].sort());

      // The timeline names each delivery.
      const tl = await timeline(id, edA);
      expect(tl.filter((x) => x.startsWith('notified'))).toHaveLength(5);
      expect(tl).toContain('notified: Notified Dr Ada ED by email');
      expect(tl).toContain('notified: Notified Dr Ben ED by webhook');
      // Nothing is sent twice: the rows are no longer due.
      expect((await deliver({ transports: transports({ webhook: hookTransport(), email: mailer() }) })).claimed).toBe(0);
    });

    it('a webhook answering 500 is retried with backoff; the timeline shows the failure, then the delivery', async () => {
      const { id } = await sign('urgent');
      await only(id);
      await db.query(`UPDATE notifications SET state = 'failed', last_error = 'test' WHERE report_id = $1 AND user_id <> (SELECT id FROM users WHERE username = $2)`, [id, edB.username]);
      hook.got.length = 0;
      hook.answers.push(500, 500);
      const tr = transports({ webhook: hookTransport() });
      const t0 = t.clock.now();
      expect(await deliver({ transports: tr })).toMatchObject({ claimed: 1, retrying: 1 });
      let [row] = await rows(id).then((x) => x.filter((r) => r.state !== 'failed'));
      expect(row).toMatchObject({ state: 'pending', attempts: 1, last_error: 'the webhook answered HTTP 500' });
      // First retry 30 s later.
      expect(new Date(row!.next_attempt_at).getTime() - t0).toBeGreaterThanOrEqual(30_000);
      expect(new Date(row!.next_attempt_at).getTime() - t0).toBeLessThan(32_000);
      t.clock.offset += 10_000;
      expect((await deliver({ transports: tr })).claimed).toBe(0);
      t.clock.offset += 21_000;
      const t1 = t.clock.now();
      expect(await deliver({ transports: tr })).toMatchObject({ claimed: 1, retrying: 1 });
      [row] = await rows(id).then((x) => x.filter((r) => r.state !== 'failed'));
      // Second retry doubles: 60 s.
      expect(new Date(row!.next_attempt_at).getTime() - t1).toBeGreaterThanOrEqual(60_000);
      expect(new Date(row!.next_attempt_at).getTime() - t1).toBeLessThan(62_000);
      t.clock.offset += 61_000;
      expect(await deliver({ transports: tr })).toMatchObject({ claimed: 1, sent: 1 });
      expect(hook.got).toHaveLength(1);
      const tl = await timeline(id);
      expect(tl).toHaveLength(3);
      expect(tl[0]).toMatch(/^notify-failed: Notification failed \(webhook to Dr Ben ED\): the webhook answered HTTP 500; retrying at \d{1,2} \w{3} \d{4} \d\d:\d\d \w+/);
      expect(tl[1]).toMatch(/^notify-failed: .*HTTP 500; retrying at/);
      expect(tl[2]).toBe('notified: Notified Dr Ben ED by webhook');
    });

    it('a mail server that is down: retried with backoff, then given up after the last attempt, all on the timeline', async () => {
      const { id } = await sign('cancer');
      await only(id);
      await db.query(`UPDATE notifications SET state = 'failed', last_error = 'test' WHERE report_id = $1 AND channel = 'webhook'`, [id]);
      const down = mailer(`smtp://127.0.0.1:${await closedPort()}`);
      const o = { transports: transports({ email: down }), maxAttempts: 3 };
      expect(await deliver(o)).toMatchObject({ claimed: 2, retrying: 2 });
      const first = (await rows(id)).filter((r) => r.channel === 'email');
      expect(first.every((r) => r.state === 'pending' && r.attempts === 1 && /ECONNREFUSED/.test(r.last_error ?? ''))).toBe(true);
      t.clock.offset += 31_000;
      expect(await deliver(o)).toMatchObject({ claimed: 2, retrying: 2 });
      t.clock.offset += 61_000;
      expect(await deliver(o)).toMatchObject({ claimed: 2, failed: 2 });
      const last = (await rows(id)).filter((r) => r.channel === 'email');
      expect(last.every((r) => r.state === 'failed' && r.attempts === 3 && /gave up after 3 attempts$/.test(r.last_error ?? ''))).toBe(true);
      t.clock.offset += 3600_000;
      expect((await deliver(o)).claimed).toBe(0);
      const tl = await timeline(id);
      expect(tl).toHaveLength(6);
      expect(tl.filter((x) => /Notification failed \(email to Dr (Ada ED|Dan Consultant)\): the mail server did not take it: .*ECONNREFUSED.*; retrying at/.test(x))).toHaveLength(4);
      expect(tl.filter((x) => /ECONNREFUSED.*; gave up after 3 attempts$/.test(x))).toHaveLength(2);
    });

    it('a channel not configured fails visibly on the timeline, never silently', async () => {
      const { id } = await sign('significant');
      await only(id);
      expect(await deliver({ transports: transports({}) })).toMatchObject({ claimed: 5, failed: 5, sent: 0 });
      const r = await rows(id);
      expect(r.filter((x) => x.channel === 'webhook').map((x) => x.last_error)).toEqual(['no webhook configured', 'no webhook configured', 'no webhook configured']);
      expect(r.filter((x) => x.channel === 'email').map((x) => x.last_error)).toEqual(['no mail server configured', 'no mail server configured']);
      const tl = await timeline(id);
      expect(tl).toContain('notify-failed: Notification failed (webhook to Dr Ben ED): no webhook configured');
      expect(tl).toContain('notify-failed: Notification failed (email to Dr Ada ED): no mail server configured');
    });

    it('an address removed after the notification was queued: failed with the reason, not sent', async () => {
      await setEmail(db, edA.username, 'ada.ed@hospital.example');
      const { id } = await sign('urgent');
      await only(id);
      await setEmail(db, edA.username, null);
      smtp.mails.length = 0;
      try {
        const r = await deliver({ transports: transports({ email: mailer(), webhook: hookTransport() }) });
        expect(r.failed).toBe(1);
        expect(smtp.mails.map((m) => m.to).flat()).toEqual(['dan.consultant@hospital.example']);
        expect(await timeline(id)).toContain('notify-failed: Notification failed (email to Dr Ada ED): no e-mail address on file');
      } finally {
        await setEmail(db, edA.username, 'ada.ed@hospital.example');
      }
    });

    it('an acknowledged alert is not notified: queued rows are dropped, and a row left pending is not sent', async () => {
      const { id } = await sign('urgent');
      await only(id);
      const token = await loginAs(t.url, edA);
      expect((await request(t.url, 'POST', `/api/alerts/${id}/acknowledge`, { token, body: { actionPlan: 'Seen; CT today.' } })).status).toBe(200);
      hook.got.length = 0;
      smtp.mails.length = 0;
      expect((await deliver({ transports: transports({ webhook: hookTransport(), email: mailer() }) })).claimed).toBe(0);
      // The race: a row queued (e.g. by an escalation) as the acknowledgement committed.
      await db.query(`INSERT INTO notifications (report_id, rung, user_id, channel, next_attempt_at, created_at)
        SELECT $1, 1, id, 'webhook', $2, $2 FROM users WHERE username = $3`, [id, new Date(t.clock.now()).toISOString(), duty.username]);
      expect(await deliver({ transports: transports({ webhook: hookTransport(), email: mailer() }) })).toMatchObject({ claimed: 1, obsolete: 1, sent: 0 });
      expect(hook.got).toHaveLength(0);
      expect(smtp.mails).toHaveLength(0);
      expect((await rows(id)).every((r) => r.state === 'failed' && r.last_error === 'acknowledged before it was sent')).toBe(true);
      // No "notification failed" alarm for these: the acknowledgement is the alert's outcome.
      expect(await timeline(id)).toEqual([]);
    });

    it('acknowledged while the webhook was on its way: the record says it was sent', async () => {
      const { id } = await sign('urgent');
      await only(id);
      await db.query(`UPDATE notifications SET state = 'failed', last_error = 'test' WHERE report_id = $1 AND (channel = 'email' OR user_id <> (SELECT id FROM users WHERE username = $2))`, [id, edB.username]);
      const token = await loginAs(t.url, edB);
      hook.onRequest = async () => {
        expect((await request(t.url, 'POST', `/api/alerts/${id}/acknowledge`, { token, body: { actionPlan: 'Seen on the ward round.' } })).status).toBe(200);
      };
      expect(await deliver({ transports: transports({ webhook: hookTransport() }) })).toMatchObject({ sent: 1 });
      expect((await rows(id)).find((r) => r.state !== 'failed' || r.last_error !== 'test')).toMatchObject({ state: 'sent', last_error: null });
      expect(await timeline(id)).toEqual(['notified: Notified Dr Ben ED by webhook']);
    });

    it('the worker sends when kicked after an alert is created, and announces the timeline entries', async () => {
      let announced = 0;
      const worker = startNotificationWorker(db, {
        clock: t.clock.now, publicUrl: PUBLIC_URL, transports: transports({ webhook: hookTransport(), email: mailer() }), intervalMs: 60_000,
        announce: () => { announced++; },
      });
      try {
        await worker.idle();
        const { id } = await sign('critical');
        await only(id);
        announced = 0;
        worker.kick();
        await worker.idle();
        expect((await rows(id)).map((r) => r.state)).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
        expect(announced).toBeGreaterThan(0);
      } finally {
        await worker.stop();
      }
    });

    it('wired to a hub: an alert created is notified at once, without waiting for the next poll', async () => {
      const n = startHubNotifications(t.hub, { publicUrl: PUBLIC_URL, webhook: { url: hook.url, secret: SECRET }, mail: { smtpUrl: smtp.url, from: 'failsafe@hospital.example' } },
        { clock: t.clock.now, timeZone: 'UTC', intervalMs: 600_000 });
      try {
        await n.idle();
        hook.got.length = 0;
        smtp.mails.length = 0;
        const { id } = await sign('critical');
        const until = Date.now() + 5000;
        while ((hook.got.length < 3 || smtp.mails.length < 2) && Date.now() < until) await new Promise((ok) => setTimeout(ok, 25));
        expect(hook.got.map((g) => g.body['alertId'])).toEqual([id, id, id]);
        expect(smtp.mails).toHaveLength(2);
        await n.idle();
        expect((await timeline(id)).filter((x) => x.startsWith('notified'))).toHaveLength(5);
      } finally {
        await n.stop();
      }
    });

    if (kind === 'postgres') {
      it('two senders at once (two connection pools, as two hub instances): each notification is sent exactly once', async () => {
        const ids: string[] = [];
        for (let i = 0; i < 8; i++) ids.push((await sign('urgent')).id);
        await db.query(`UPDATE notifications SET state = 'failed', last_error = 'test' WHERE report_id <> ALL($1) AND state = 'pending'`, [ids]);
        await db.query(`UPDATE notifications SET state = 'failed', last_error = 'test' WHERE report_id = ANY($1) AND channel = 'email'`, [ids]);
        const expected = Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM notifications WHERE report_id = ANY($1) AND state = 'pending'`, [ids])).rows[0]!.n);
        expect(expected).toBe(24);
        hook.got.length = 0;
        hook.delayMs = 20;
        const other = await openAnother();
        const run = async (on: HubDb): Promise<number> => {
          let sent = 0;
          for (;;) {
            const r = await deliver({ transports: transports({ webhook: hookTransport() }), batch: 3 }, on);
            sent += r.sent;
            if (r.claimed === 0) return sent;
          }
        };
        const [a, b, c, d] = await Promise.all([run(db), run(other), run(db), run(other)]);
        expect(a + b + c + d).toBe(24);
        // Both instances took part.
        expect(a + c).toBeGreaterThan(0);
        expect(b + d).toBeGreaterThan(0);
        const byId = new Map<number, number>();
        for (const g of hook.got) byId.set(g.body['notificationId'] as number, (byId.get(g.body['notificationId'] as number) ?? 0) + 1);
        expect(byId.size).toBe(24);
        expect([...byId.values()].every((n) => n === 1)).toBe(true);
        expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM alert_events WHERE report_id = ANY($1) AND type = 'notified'`, [ids])).rows[0]!.n)).toBe(24);
      });
    }
  });
}

describe('notification content and configuration', () => {
  const msg = (o: Partial<NotificationMessage> = {}): NotificationMessage => ({
    notificationId: 1, reportId: 'r/1', link: `${PUBLIC_URL}/alerts/r%2F1`, rung: 2, rungLabel: 'cancer pathway lead',
    deadline: '2026-03-03T14:30:00.000Z', recipient: { username: 'u', name: 'Dr U', email: 'u@x.example' }, ...o,
  });

  it('says the deadline (in the hub\'s time zone), or that it is overdue, or that it has none, and never the category', () => {
    const now = Date.parse('2026-03-03T09:00:00Z');
    expect(emailContent(msg(), now, 'UTC').subject).toBe('An alert needs your acknowledgement by 14:30');
    expect(emailContent(msg(), now, 'Europe/Paris').text).toContain('by 3 Mar 2026 15:30 CET — open https://failsafe.hospital.example/alerts/r%2F1');
    expect(emailContent(msg(), Date.parse('2026-03-03T15:00:00Z'), 'UTC').subject).toBe('An alert needs your acknowledgement now (overdue)');
    expect(emailContent(msg({ deadline: null }), now, 'UTC')).toMatchObject({ subject: 'An alert needs your acknowledgement' });
    // (The rung is the reader's own role: "cancer pathway lead" names who they are, not the patient's finding.)
    expect(JSON.stringify(emailContent(msg({ rungLabel: 'the requester or their team' }), now, 'UTC'))).not.toMatch(/cancer|critical|urgent|significant/i);
  });

  it('refuses a half-configured channel at start, naming the variable', () => {
    const ok = { FAILSAFE_PUBLIC_URL: 'https://hub.example/', FAILSAFE_WEBHOOK_URL: 'https://pager.example/hook', FAILSAFE_WEBHOOK_SECRET: 'x'.repeat(32), FAILSAFE_SMTP_URL: 'smtp://mail.example:25', FAILSAFE_MAIL_FROM: 'Failsafe <failsafe@hospital.example>' };
    expect(loadConfig(ok).notifications).toEqual({
      publicUrl: 'https://hub.example', webhook: { url: 'https://pager.example/hook', secret: 'x'.repeat(32) }, mail: { smtpUrl: 'smtp://mail.example:25', from: 'Failsafe <failsafe@hospital.example>' },
    });
    expect(loadConfig({}).notifications).toEqual({ publicUrl: null, webhook: null, mail: null });
    expect(() => loadConfig({ ...ok, FAILSAFE_WEBHOOK_SECRET: 'short' })).toThrow(/FAILSAFE_WEBHOOK_SECRET: must be at least 32 characters/);
    expect(() => loadConfig({ ...ok, FAILSAFE_WEBHOOK_SECRET: '' })).toThrow(/FAILSAFE_WEBHOOK_SECRET: required when FAILSAFE_WEBHOOK_URL is set/);
    expect(() => loadConfig({ ...ok, FAILSAFE_MAIL_FROM: undefined })).toThrow(/FAILSAFE_MAIL_FROM: required when FAILSAFE_SMTP_URL is set/);
    expect(() => loadConfig({ ...ok, FAILSAFE_PUBLIC_URL: undefined })).toThrow(/FAILSAFE_PUBLIC_URL: required when notifications are configured/);
    expect(() => loadConfig({ ...ok, FAILSAFE_SMTP_URL: 'mail.example:25' })).toThrow(/FAILSAFE_SMTP_URL: must be an smtp:\/\/ or smtps:\/\/ URL/);
    expect(() => loadConfig({ ...ok, FAILSAFE_WEBHOOK_URL: 'ftp://x' })).toThrow(HubConfigError);
    expect(() => loadConfig({ ...ok, FAILSAFE_PUBLIC_URL: 'https://hub.example/?a=1' })).toThrow(/FAILSAFE_PUBLIC_URL/);
  });
});
