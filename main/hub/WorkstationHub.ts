// The workstation's connection to its hub: the login session, the outbox sender (signed reports
// exactly once), the draft publisher (unfinished reports visible to the team) and the hub's
// live events, composed and turned into the contract's app events. Knows nothing of Electron.
// The one composition of main/sync the app uses (main/services.ts builds it).
// Online = the sender has not found the hub unreachable AND (while logged in) the live event
// stream is connected: a dead hub shows within moments, not at the sender's next poll.
// Log out flushes this user's queued draft snapshots (bounded) and then drops them, so nothing
// is ever sent under the next user's token.
import { EventEmitter } from 'node:events';
import type { HubEvent, HubUser, UnfinishedList } from '../../common/hub.ts';
import { ContractError, type AppEvent, type HubStatus, type PhoneCallInput, type SyncStatusInfo } from '../../common/contract.ts';
import type { Report, ReportContent, StudyRef } from '../../common/report.ts';
import type { Db } from '../db/database.ts';
import type { ReportStore } from '../reports/ReportStore.ts';
import { HubClient, HubError, type HubSubscription, type SignedReportSink } from '../sync/HubClient.ts';
import { OutboxPayload } from '../../common/hubPayload.ts';
import { formatDateTime } from '../../common/format.ts';
import { OutboxSender } from '../sync/OutboxSender.ts';
import { SqliteOutboxStore } from '../sync/OutboxStore.ts';
import { SqlitePhoneLog } from '../sync/PhoneLog.ts';
import { DraftPublisher, type DraftSink } from '../sync/DraftPublisher.ts';

const SESSION_KEY = 'hub.session';
const SEQ_KEY = 'hub.lastSeq';

export interface WorkstationHubOptions {
  baseUrl: string;
  embedded: boolean;
  db: Db;
  reports: ReportStore;
  demoUsers?: HubStatus['demoUsers'];
  /** Tests shorten these. */
  criticalDeadlineMs?: number;
  draftThrottleMs?: number;
  baseDelayMs?: number;
  /** Per-request timeout of the hub client (default 10 s). */
  timeoutMs?: number;
  /** Live event stream reconnect backoff base / cap (defaults 500 ms / 10 s). */
  streamBaseDelayMs?: number;
  streamCapDelayMs?: number;
  /** How long log out waits for queued draft snapshots to reach the hub under the old session (default 2 s). */
  logoutFlushMs?: number;
  /** Test seam: the fetch the hub client uses. */
  fetch?: typeof fetch;
}

/** The signer named in an outbox payload (report or addendum), or null if it cannot be read. */
function signerOf(payloadJson: string): { name: string; registration: string } | null {
  try {
    const p = OutboxPayload.parse(JSON.parse(payloadJson));
    const sig = p.kind === 'report' ? p.report.signature : p.addendum.signature;
    return { name: sig.name, registration: sig.registration };
  } catch {
    return null;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Hub failures become contract errors the renderer can show as they are. */
function asContractError(err: unknown): ContractError {
  if (err instanceof ContractError) return err;
  if (err instanceof HubError) {
    if (err.status === null) return new ContractError('unavailable', `The hub is unreachable: ${err.message}`);
    if (err.status === 401) return new ContractError('forbidden', `Log in to the hub: ${err.message}`);
    if (err.status === 403) return new ContractError('forbidden', err.message);
    if (err.status === 404) return new ContractError('not-found', err.message);
    if (err.status === 409) return new ContractError('conflict', err.message);
    if (err.status < 500) return new ContractError('invalid-input', err.message);
    return new ContractError('unavailable', `The hub failed: ${err.message}`);
  }
  return new ContractError('internal', messageOf(err));
}

export class WorkstationHub {
  readonly events = new EventEmitter<{ event: [AppEvent] }>();
  readonly client: HubClient;
  readonly sender: OutboxSender;
  private publisherValue: DraftPublisher;
  private readonly reports: ReportStore;
  private readonly opts: WorkstationHubOptions;
  private readonly phoneLog: SqlitePhoneLog;
  private subscription: HubSubscription | null = null;
  /** The live event stream failed or dropped (and has not come back) while subscribed. */
  private streamDown = false;
  /** The online flag last announced with 'hub-changed'. */
  private announcedOnline: boolean | null = null;
  /** Bumped at log out (and when another user logs in): a draft publisher only sends within its own session. */
  private session = 0;
  private user: HubUser | null = null;

  constructor(opts: WorkstationHubOptions) {
    this.opts = opts;
    this.reports = opts.reports;
    const saved = this.reports.getSetting(SESSION_KEY);
    let token: string | null = null;
    if (saved) {
      try {
        const s = JSON.parse(saved) as { token: string; user: HubUser };
        token = s.token;
        this.user = s.user;
      } catch {
        this.reports.setSetting(SESSION_KEY, null);
      }
    }
    this.client = new HubClient({
      baseUrl: opts.baseUrl,
      token,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    this.phoneLog = new SqlitePhoneLog(opts.db);
    this.sender = new OutboxSender({
      store: new SqliteOutboxStore(opts.db),
      hub: this.signerGate(),
      phoneLog: this.phoneLog,
      actor: () => this.user?.name ?? this.reports.getProfile()?.name ?? 'unidentified user',
      ...(opts.criticalDeadlineMs !== undefined ? { criticalDeadlineMs: opts.criticalDeadlineMs } : {}),
      ...(opts.baseDelayMs !== undefined ? { baseDelayMs: opts.baseDelayMs } : {}),
    });
    this.publisherValue = this.newPublisher();

    const emit = (e: AppEvent): void => {
      this.events.emit('event', e);
    };
    this.sender.events.on('status', (s) => emit({ type: 'sync-changed', reportId: s.reportId }));
    this.sender.events.on('online', (up) => {
      // The sender reached the hub while the live stream waits out its backoff: reconnect now.
      if (up && this.subscription && this.streamDown) this.subscribe();
      this.announceOnline();
    });
    this.sender.events.on('login-required', () => emit({ type: 'hub-changed', online: this.online() }));
    this.sender.events.on('critical-undelivered', (w) => emit({ type: 'critical-undelivered', reportId: w.reportId, alertCode: w.alertCode, message: w.message }));
    this.sender.events.on('critical-resolved', (r) => emit({ type: 'critical-resolved', reportId: r.reportId, how: r.how }));
  }

  /** The draft publisher of the current session (a new one after each log out). */
  get publisher(): DraftPublisher {
    return this.publisherValue;
  }

  /** The hub's live event stream is connected. */
  get live(): boolean {
    return this.subscription?.connected ?? false;
  }

  /**
   * A publisher bound to the current session: once the session ends (log out) it can send
   * nothing more, so a snapshot queued for one user never goes out under the next user's token.
   */
  private newPublisher(): DraftPublisher {
    const session = this.session;
    const sink: DraftSink = {
      putDraft: (reportId, snapshot) =>
        session === this.session
          ? this.client.putDraft(reportId, snapshot)
          : Promise.reject(new HubError(401, 'session-ended', 'The session that queued this draft snapshot has ended.')),
    };
    const publisher = new DraftPublisher({ hub: sink, ...(this.opts.draftThrottleMs !== undefined ? { throttleMs: this.opts.draftThrottleMs } : {}) });
    publisher.events.on('taken-over', (t) => this.lostDraft(t.reportId, t.newOwnerName ?? 'a colleague', t.message));
    publisher.events.on('published', () => this.events.emit('event', { type: 'unfinished-changed' }));
    return publisher;
  }

  /** Ends the publisher's session: it can send nothing more, and its answers change nothing here. */
  private dropPublisher(): void {
    this.session += 1;
    const old = this.publisherValue;
    old.events.removeAllListeners();
    void old.stop().catch(() => undefined);
    this.publisherValue = this.newPublisher();
  }

  /**
   * Reachable: the sender has not found the hub unreachable, and (while logged in) the live event
   * stream is not down. The stream notices a dead hub within moments; the sender only at its next
   * attempt.
   */
  private online(): boolean {
    if (this.sender.online === false) return false;
    if (this.subscription && this.streamDown) return false;
    return this.sender.online === true || this.live;
  }

  private announceOnline(): void {
    const online = this.online();
    if (online === this.announcedOnline) return;
    this.announcedOnline = online;
    this.events.emit('event', { type: 'hub-changed', online });
  }

  /**
   * The hub accepts a signed report only from its signer's session. A report signed by someone
   * else on this workstation (who has since logged out) waits, pending, for its signer to log in
   * again, rather than being sent under the wrong session and refused for good.
   */
  private signerGate(): SignedReportSink {
    return {
      ping: (signal) => this.client.ping(signal),
      postSigned: async (key, payloadJson, signal) => {
        const me = this.client.token ? this.user : null;
        if (me) {
          const signer = signerOf(payloadJson);
          if (signer && (signer.registration !== me.registration || signer.name !== me.name)) {
            return { kind: 'unavailable', status: null, message: `waiting for ${signer.name} (${signer.registration}) to log in: only the signer's session can deliver it` };
          }
        }
        return this.client.postSigned(key, payloadJson, signal);
      },
    };
  }

  start(): void {
    this.sender.start();
    if (this.client.token) this.subscribe();
  }

  async stop(): Promise<void> {
    this.closeSubscription();
    await Promise.allSettled([this.publisher.stop(), this.sender.stop({ drainMs: 2000 })]);
    this.events.removeAllListeners();
  }

  status(): HubStatus {
    let pending = 0;
    let failed = 0;
    for (const r of this.reports.list({ status: 'signed' })) {
      const s = this.sender.status(r.id);
      if (s.state === 'pending') pending++;
      if (s.state === 'failed') failed++;
    }
    return {
      configured: true,
      url: this.opts.baseUrl,
      embedded: this.opts.embedded,
      online: this.online(),
      user: this.client.token ? this.user : null,
      pending,
      failed,
      demoUsers: this.opts.demoUsers ?? [],
    };
  }

  async login(username: string, password: string): Promise<HubStatus> {
    let res;
    try {
      res = await this.client.login(username, password);
    } catch (err) {
      throw asContractError(err);
    }
    if (this.user && this.user.username !== res.user.username) {
      // Someone else logs in over a session that never logged out: drop what it had queued.
      this.dropPublisher();
    }
    this.user = res.user;
    this.reports.setSetting(SESSION_KEY, JSON.stringify({ token: res.token, user: res.user, expiresAt: res.expiresAt }));
    // The hub's identity is the signer: name, role and registration come from the login.
    this.reports.setProfile({ name: res.user.name, role: res.user.role, registration: res.user.registration });
    this.sender.resume();
    this.sender.wake();
    this.subscribe();
    this.announcedOnline = this.online();
    this.events.emit('event', { type: 'hub-changed', online: this.announcedOnline });
    return this.status();
  }

  /**
   * Logs out. Draft snapshots still queued are first sent under this session (for at most
   * `logoutFlushMs`, 2 s); then the publisher and everything it held is dropped, so nothing of
   * this user's is ever sent under the next user's token.
   */
  async logout(): Promise<HubStatus> {
    this.closeSubscription();
    const old = this.publisherValue;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      old.stop().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.opts.logoutFlushMs ?? 2000);
      }),
    ]);
    clearTimeout(timer);
    this.dropPublisher();
    await this.client.logout().catch(() => undefined);
    this.client.setToken(null);
    this.user = null;
    this.reports.setSetting(SESSION_KEY, null);
    this.announcedOnline = this.online();
    this.events.emit('event', { type: 'hub-changed', online: this.announcedOnline });
    return this.status();
  }

  private requireLogin(): HubUser {
    if (!this.client.token || !this.user) throw new ContractError('forbidden', 'Log in to the hub first.');
    return this.user;
  }

  /** After each local save of a draft: publish its snapshot (throttled) for the team. */
  draftSaved(reportId: string, study: StudyRef, content: ReportContent, revision: number): void {
    if (!this.client.token || !this.user) return;
    this.publisher.update(reportId, { study, content, revision, lastActivity: new Date().toISOString(), author: this.user.name });
  }

  /** The editor closed the draft: publish at once. */
  async draftClosed(report: Report): Promise<boolean> {
    if (!this.client.token || !this.user || report.status !== 'draft' || report.takenOverBy) return false;
    await this.publisher.close(report.id, {
      study: report.study,
      content: report.content,
      revision: report.revision,
      lastActivity: report.updatedAt,
      author: this.user.name,
    });
    return this.publisher.takenOver(report.id) === null;
  }

  /** After a local signature: the draft leaves the unfinished list when the hub stores the report. */
  signed(reportId: string): void {
    this.publisher.forget(reportId);
    this.sender.wake();
  }

  syncStatus(reportId: string): SyncStatusInfo {
    const s = this.sender.status(reportId);
    const warned = this.sender.criticalUndelivered().some((w) => w.reportId === reportId);
    return { ...s, criticalUndelivered: warned, phoned: this.phoneLog.has(reportId) };
  }

  retry(reportId: string): SyncStatusInfo {
    this.sender.retry(reportId);
    return this.syncStatus(reportId);
  }

  recordPhone(reportId: string, call: PhoneCallInput): SyncStatusInfo {
    try {
      this.sender.recordPhoneCommunication(reportId, call);
    } catch (err) {
      throw new ContractError('invalid-input', messageOf(err));
    }
    return this.syncStatus(reportId);
  }

  async unfinished(): Promise<UnfinishedList> {
    this.requireLogin();
    try {
      return await this.client.unfinished();
    } catch (err) {
      throw asContractError(err);
    }
  }

  /** Takes a colleague's draft over: it moves here with its revision history. */
  async takeOver(reportId: string): Promise<Report> {
    const me = this.requireLogin();
    let res;
    try {
      res = await this.client.takeOver(reportId, {});
    } catch (err) {
      throw asContractError(err);
    }
    const report = this.reports.adoptTakenOver({
      reportId,
      study: res.draft.study,
      author: me.name,
      revisions: res.revisions.map((r) => ({ revision: r.revision, savedAt: r.savedAt, content: r.content })),
      previousOwner: res.previousOwner.name,
      actor: me.name,
    });
    this.events.emit('event', { type: 'unfinished-changed' });
    return report;
  }

  private lostDraft(reportId: string, newOwner: string, message: string): void {
    try {
      this.reports.markTakenOver(reportId, newOwner);
    } catch {
      // Not a local draft (or already signed): nothing to lock.
    }
    this.publisher.forget(reportId);
    this.events.emit('event', { type: 'draft-taken-over', reportId, newOwner, message });
  }

  private closeSubscription(): void {
    const sub = this.subscription;
    this.subscription = null;
    this.streamDown = false;
    sub?.close();
  }

  private subscribe(): void {
    this.closeSubscription();
    const since = Number(this.reports.getSetting(SEQ_KEY) ?? '0') || 0;
    // Callbacks of a closed subscription (its stream ending after close()) change nothing.
    const current = (): boolean => this.subscription === sub;
    const sub: HubSubscription = this.client.subscribe(
      {
        onEvent: (e: HubEvent) => {
          if (!current()) return;
          this.reports.setSetting(SEQ_KEY, String(e.seq));
          this.onHubEvent(e);
        },
        onConnection: (connected) => {
          if (!current()) return;
          this.streamDown = !connected;
          if (connected) {
            // Back: send what waited, and the list may have changed while we were away.
            this.sender.wake();
            this.events.emit('event', { type: 'unfinished-changed' });
          }
          this.announceOnline();
        },
        onError: () => {
          // A failed (re)connect: the stream never came up. Errors on a connected stream are
          // followed by onConnection(false) if it drops.
          if (!current() || sub.connected) return;
          this.streamDown = true;
          this.announceOnline();
        },
        onUnauthorized: () => {
          if (!current()) return;
          // The stream stopped for good (session over): the sender's view alone decides.
          this.subscription = null;
          this.streamDown = false;
          this.events.emit('event', { type: 'hub-changed', online: this.online() });
        },
      },
      {
        ...(since > 0 ? { since } : {}),
        baseDelayMs: this.opts.streamBaseDelayMs ?? 500,
        capDelayMs: this.opts.streamCapDelayMs ?? 10_000,
      },
    );
    this.subscription = sub;
  }

  private onHubEvent(e: HubEvent): void {
    if (e.type === 'draft-taken-over') {
      if (this.user && e.from.username === this.user.username) {
        this.lostDraft(e.reportId, e.to.name, `${e.to.name} took over this draft at ${formatDateTime(e.at, 'utc')}. Your copy is read-only.`);
      }
      this.events.emit('event', { type: 'unfinished-changed' });
    } else if (e.type === 'unfinished-changed' || e.type === 'report-signed') {
      this.events.emit('event', { type: 'unfinished-changed' });
    }
  }
}
