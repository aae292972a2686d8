// One object the app wires in: the hub client, the outbox sender, the draft publisher and the
// live-update subscription, with their events mapped to the renderer's AppEvents
// (common/contract.ts): `sync-changed` (a report's sync status or the online flag changed),
// `unfinished-changed`, and `notice` (critical: a critical/urgent report not delivered in time;
// warning: login required, draft taken over).
import type { AppEvent } from '../../common/contract.ts';
import type { LoginResponse } from '../../common/hub.ts';
import type { Db } from '../db/database.ts';
import { realClock, type SyncClock } from './clock.ts';
import { DraftPublisher } from './DraftPublisher.ts';
import { HubClient, type HubSubscription } from './HubClient.ts';
import { OutboxSender, type CriticalWarning, type SyncStatus } from './OutboxSender.ts';
import { SqliteOutboxStore } from './OutboxStore.ts';
import { SqlitePhoneLog, type PhoneCommunication, type PhoneRecord } from './PhoneLog.ts';

export interface HubSyncOptions {
  db: Db;
  /** The hub's base URL (embedded or department hub). */
  hubUrl: string;
  emit(event: AppEvent): void;
  /** The signed-in person's name (recorded with phone communications). */
  actor(): string;
  /** A saved session token, if any. */
  token?: string | null;
  clock?: SyncClock;
  timeoutMs?: number;
  /** Draft snapshot throttle (default 30 s). */
  draftThrottleMs?: number;
  /** Critical/urgent delivery deadline (default 60 s). */
  criticalDeadlineMs?: number;
}

export interface SyncOverview {
  /** null = not yet known. */
  online: boolean | null;
  loginRequired: string | null;
  /** Live updates connected. */
  live: boolean;
  critical: CriticalWarning[];
}

export class HubSync {
  readonly client: HubClient;
  readonly sender: OutboxSender;
  readonly drafts: DraftPublisher;
  private subscription: HubSubscription | null = null;
  private lastSeq = 0;
  private live = false;
  private started = false;

  constructor(private readonly opts: HubSyncOptions) {
    const clock = opts.clock ?? realClock;
    this.client = new HubClient({ baseUrl: opts.hubUrl, clock, token: opts.token ?? null, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
    this.sender = new OutboxSender({
      store: new SqliteOutboxStore(opts.db),
      hub: this.client,
      phoneLog: new SqlitePhoneLog(opts.db),
      clock,
      actor: opts.actor,
      ...(opts.criticalDeadlineMs !== undefined ? { criticalDeadlineMs: opts.criticalDeadlineMs } : {}),
    });
    this.drafts = new DraftPublisher({ hub: this.client, clock, ...(opts.draftThrottleMs !== undefined ? { throttleMs: opts.draftThrottleMs } : {}) });

    const emit = opts.emit;
    this.sender.events.on('status', (s) => emit({ type: 'sync-changed', reportId: s.reportId }));
    this.sender.events.on('online', () => emit({ type: 'sync-changed' }));
    this.sender.events.on('critical-undelivered', (w) => emit({ type: 'notice', level: 'critical', message: w.message, reportId: w.reportId }));
    this.sender.events.on('critical-resolved', (r) => emit({ type: 'sync-changed', reportId: r.reportId }));
    this.sender.events.on('login-required', (m) => emit({ type: 'notice', level: 'warning', message: `Sign in to the hub to send signed reports (${m}).` }));
    this.drafts.events.on('taken-over', (t) => {
      emit({ type: 'notice', level: 'warning', message: t.message, reportId: t.reportId });
      emit({ type: 'unfinished-changed' });
    });
    this.drafts.events.on('login-required', (m) => emit({ type: 'notice', level: 'warning', message: `Sign in to the hub to share your drafts (${m}).` }));
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.sender.start();
    if (this.client.token !== null) this.subscribe();
  }

  async stop(): Promise<void> {
    this.started = false;
    this.subscription?.close();
    this.subscription = null;
    await Promise.all([this.sender.stop(), this.drafts.stop()]);
  }

  /** Logs in, then resumes sending and live updates. Throws HubError (e.g. 401 unauthenticated, 429 locked-out). */
  async login(username: string, password: string): Promise<LoginResponse> {
    const r = await this.client.login(username, password);
    this.sender.resume();
    if (this.started) this.subscribe();
    this.opts.emit({ type: 'sync-changed' });
    return r;
  }

  async logout(): Promise<void> {
    this.subscription?.close();
    this.subscription = null;
    await this.client.logout().catch(() => undefined);
    this.opts.emit({ type: 'sync-changed' });
  }

  /** Call after signing or adding an addendum (the outbox row is already committed). */
  signed(reportId: string): void {
    this.drafts.forget(reportId);
    this.sender.wake();
  }

  status(reportId: string): SyncStatus {
    return this.sender.status(reportId);
  }

  overview(): SyncOverview {
    return { online: this.sender.online, loginRequired: this.sender.loginRequired, live: this.live, critical: this.sender.criticalUndelivered() };
  }

  recordPhoneCommunication(reportId: string, call: PhoneCommunication): PhoneRecord {
    const rec = this.sender.recordPhoneCommunication(reportId, call);
    this.opts.emit({ type: 'sync-changed', reportId });
    return rec;
  }

  private subscribe(): void {
    this.subscription?.close();
    this.subscription = this.client.subscribe(
      {
        onEvent: (e) => {
          this.lastSeq = e.seq;
          this.opts.emit({ type: 'unfinished-changed' });
          if (e.type === 'report-signed') this.opts.emit({ type: 'sync-changed', reportId: e.reportId });
        },
        onConnection: (c) => {
          this.live = c;
          // After a reconnect the list may have changed while we were away.
          if (c) this.opts.emit({ type: 'unfinished-changed' });
        },
        onUnauthorized: (m) => this.opts.emit({ type: 'notice', level: 'warning', message: `Sign in to the hub for live updates (${m}).` }),
      },
      this.lastSeq > 0 ? { since: this.lastSeq } : {},
    );
  }
}
