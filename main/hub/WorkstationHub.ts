// The workstation's connection to its hub: the login session, the outbox sender (signed reports
// exactly once), the draft publisher (unfinished reports visible to the team) and the hub's
// live events, composed and turned into the contract's app events. Knows nothing of Electron.
// The one composition of main/sync the app uses (main/services.ts builds it).
// Online = the sender has not found the hub unreachable AND (while logged in) the live event
// stream is connected: a dead hub shows within moments, not at the sender's next poll.
// Log out flushes this user's queued draft snapshots (bounded) and then drops them, so nothing
// is ever sent under the next user's token.
// Traffic (issue 6): a list's sync states are read in one query (syncStatuses); the echo of our
// own draft snapshot is not reacted to twice; 'unfinished-changed' is signalled at most once per
// the site policy's unfinishedRefetchMinMs (read from the hub at login and on each connection).
import { EventEmitter } from 'node:events';
import { SitePolicy, UNFINISHED_REFETCH_MIN_MS, type HubEvent, type HubUser, type UnfinishedList } from '../../common/hub.ts';
import { ContractError, type AlertView, type AppEvent, type HubStatus, type PhoneCallInput, type SyncStatusInfo } from '../../common/contract.ts';
import type { AlertList } from '../../common/alerts.ts';
import type { Profile, Report, ReportContent, StudyRef } from '../../common/report.ts';
import type { Db } from '../db/database.ts';
import type { ReportStore } from '../reports/ReportStore.ts';
import { HubClient, HubError, type HubSubscription, type SignedReportSink } from '../sync/HubClient.ts';
import { OutboxPayload } from '../../common/hubPayload.ts';
import { formatDateTime } from '../../common/format.ts';
import { messageOf } from '../../common/errorMessage.ts';
import { OutboxSender, RefusedForGood, summarise } from '../sync/OutboxSender.ts';
import { SqliteOutboxStore, type OutboxEntry } from '../sync/OutboxStore.ts';
import type { FirstUserRequest } from '../../common/hub.ts';
import { vaultBeside, type SessionVault } from './sessionVault.ts';
import { SqlitePhoneLog } from '../sync/PhoneLog.ts';
import { PhoneCallSync } from '../sync/PhoneCallSync.ts';
import { DraftPublisher, type DraftSink } from '../sync/DraftPublisher.ts';
import { realClock, type SyncClock } from '../sync/clock.ts';
import { OfflineVerifier } from './OfflineVerifier.ts';
import { OwnSnapshots, RefetchSignal } from '../sync/unfinishedSignal.ts';

/** Where versions before the session vault kept the session (moved out at start). */
const SESSION_KEY = 'hub.session';
const SEQ_KEY = 'hub.lastSeq';
/** The last site policy floor the hub gave this session (kept across restarts of the workstation). */
const REFETCH_FLOOR_KEY = 'hub.policy.unfinishedRefetchMinMs';

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
  /** The outbox's idle poll (and health probe) interval. Default 30 s. */
  pollMs?: number;
  /** Per-request timeout of the hub client (default 10 s). */
  timeoutMs?: number;
  /** Live event stream reconnect backoff base / cap (defaults 500 ms / 10 s). */
  streamBaseDelayMs?: number;
  streamCapDelayMs?: number;
  /** How long log out waits for queued draft snapshots to reach the hub under the old session (default 2 s). */
  logoutFlushMs?: number;
  /** Test seam: the fetch the hub client uses. */
  fetch?: typeof fetch;
  /** On a (re)connection of the live stream the site policy is read again if the last reading is older than this (default 60 s). */
  policyMaxAgeMs?: number;
  /** Test seam: time and timers of the unfinished-list signal and the echo window. */
  clock?: SyncClock;
  /** Where the hub session is kept between starts (default: a 0600 file beside the database, sessionVault.ts). */
  vault?: SessionVault;
}

/** The signer named in an outbox payload (report, addendum or verification), or null if it cannot be read. */
function signerOf(payloadJson: string): { name: string; registration: string } | null {
  try {
    const p = OutboxPayload.parse(JSON.parse(payloadJson));
    const sig = p.kind === 'report' ? p.report.signature : p.kind === 'addendum' ? p.addendum.signature : p.signature;
    return { name: sig.name, registration: sig.registration };
  } catch {
    return null;
  }
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
  /** Phone calls recorded here, onto the hub's alert timeline once their report is there (issue 9 line 6). */
  readonly phoneCalls: PhoneCallSync;
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
  /**
   * When the logged-in user last entered their password for signing, or last signed (this clock,
   * ms). Memory only: never stored, so a restart, a log out or another login asks again.
   */
  private signerConfirmedAt: number | null = null;
  /** The site policy's idle limit for that confirmation (the hub answers it with each confirmation). */
  private signConfirmIdleMs = SitePolicy.shape.signConfirmIdleMinutes.parse(undefined) * 60_000;
  /** Checks that password while the hub is unreachable (memory only; made at this session's log in). */
  private offlineVerifier: OfflineVerifier | null = null;
  private readonly outbox: SqliteOutboxStore;
  /** Draft snapshots sent from here whose hub event is still to come (not reacted to twice). */
  private readonly ownSnapshots: OwnSnapshots;
  /** 'unfinished-changed' to the app, at most once per refetch floor. */
  private readonly unfinishedSignal: RefetchSignal;
  /** The site policy's floor between two refetches of the unfinished list (ms). */
  private refetchFloorMs = UNFINISHED_REFETCH_MIN_MS;
  private policyReadAt: number | null = null;
  private policyReading: Promise<void> | null = null;
  private readonly clock: SyncClock;
  private readonly vault: SessionVault;
  /** The embedded hub's last answer: no account yet (refreshSetup). */
  private awaitingFirst = false;
  /** Whether the hub has answered that question; once it has an account it never needs asking again. */
  private setupAnswered = false;

  constructor(opts: WorkstationHubOptions) {
    this.opts = opts;
    this.reports = opts.reports;
    this.vault = opts.vault ?? vaultBeside(opts.db.name);
    // A session an older version kept in the database moves to the vault, and out of the database.
    const legacy = this.reports.getSetting(SESSION_KEY);
    if (legacy !== null) {
      if (this.vault.read() === null) this.vault.write(legacy);
      this.reports.setSetting(SESSION_KEY, null);
    }
    const saved = this.vault.read();
    let token: string | null = null;
    if (saved) {
      try {
        const s = JSON.parse(saved) as { token: string; user: HubUser };
        token = s.token;
        this.user = s.user;
      } catch {
        this.vault.write(null);
      }
    }
    this.client = new HubClient({
      baseUrl: opts.baseUrl,
      token,
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.fetch ? { fetch: opts.fetch } : {}),
    });
    this.phoneLog = new SqlitePhoneLog(opts.db);
    this.outbox = new SqliteOutboxStore(opts.db);
    this.clock = opts.clock ?? realClock;
    this.ownSnapshots = new OwnSnapshots(this.clock);
    this.unfinishedSignal = new RefetchSignal(() => this.events.emit('event', { type: 'unfinished-changed' }), () => this.refetchFloorMs, this.clock);
    if (token) this.refetchFloorMs = this.savedFloor();
    this.sender = new OutboxSender({
      store: this.outbox,
      hub: this.signerGate(),
      phoneLog: this.phoneLog,
      actor: () => this.user?.name ?? this.reports.getProfile()?.name ?? 'unidentified user',
      // Signed means verified: nothing leaves that no longer matches its signature record.
      verify: (row) => this.reports.outboxTampering(row.reportId, row.payloadJson),
      ...(opts.criticalDeadlineMs !== undefined ? { criticalDeadlineMs: opts.criticalDeadlineMs } : {}),
      ...(opts.baseDelayMs !== undefined ? { baseDelayMs: opts.baseDelayMs } : {}),
      ...(opts.pollMs !== undefined ? { pollMs: opts.pollMs } : {}),
    });
    this.publisherValue = this.newPublisher();
    this.phoneCalls = new PhoneCallSync({
      db: opts.db,
      hub: { postPhoneCalls: (reportId, calls) => this.client.postPhoneCalls(reportId, calls) },
      reportAtHub: (reportId) => this.reportAtHub(reportId),
      canSend: () => this.client.token !== null && this.user !== null,
      clock: this.clock,
      ...(opts.baseDelayMs !== undefined ? { baseDelayMs: opts.baseDelayMs } : {}),
    });

    const emit = (e: AppEvent): void => {
      this.events.emit('event', e);
    };
    this.sender.events.on('status', (s) => {
      emit({ type: 'sync-changed', reportId: s.reportId });
      // The report is at the hub now: the calls recorded for it may follow.
      if (s.state === 'synced' && this.phoneLog.has(s.reportId)) this.phoneCalls.wake();
    });
    this.phoneCalls.events.on('changed', (reportId) => emit({ type: 'alert-changed', reportId, change: 'phone-calls' }));
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
      putDraft: async (reportId, snapshot) => {
        if (session !== this.session) throw new HubError(401, 'session-ended', 'The session that queued this draft snapshot has ended.');
        // The hub's event for this snapshot may arrive before its answer: expect it from now on.
        this.ownSnapshots.sending(reportId);
        try {
          const ack = await this.client.putDraft(reportId, snapshot);
          if (!ack.applied) this.ownSnapshots.notStored(reportId);
          return ack;
        } catch (err) {
          this.ownSnapshots.notStored(reportId);
          throw err;
        }
      },
    };
    const publisher = new DraftPublisher({ hub: sink, ...(this.opts.draftThrottleMs !== undefined ? { throttleMs: this.opts.draftThrottleMs } : {}) });
    publisher.events.on('taken-over', (t) => this.lostDraft(t.reportId, t.newOwnerName ?? 'a colleague', t.message));
    // Our snapshot stored: the list changed (once; the hub's echo of it is skipped). Ignored as not newer: nothing changed.
    publisher.events.on('published', (ack) => {
      if (ack.applied) this.unfinishedSignal.signal();
    });
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
    // The embedded hub is this launcher's child, and this object exists only once the child said
    // it is listening (HUB_READY, main/launch/embeddedHub.ts): reachable until a probe says not
    // (and main/launch/compose.ts says offline at once if the child exits). A department hub is
    // reachable once a probe or the live stream has said so.
    return this.sender.online === true || this.live || (this.opts.embedded && this.sender.online === null);
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
            return { kind: 'waiting', message: `waiting for ${signer.name} (${signer.registration}) to log in: only the signer's session can deliver it` };
          }
        }
        return this.client.postSigned(key, payloadJson, signal);
      },
    };
  }

  start(): void {
    this.sender.start();
    if (this.client.token) this.subscribe();
    this.phoneCalls.wake();
  }

  async stop(): Promise<void> {
    this.phoneCalls.stop();
    this.closeSubscription();
    this.unfinishedSignal.stop();
    await Promise.allSettled([this.publisher.stop(), this.sender.stop({ drainMs: 2000 })]);
    this.events.removeAllListeners();
  }

  status(): HubStatus {
    // Reports not yet at the hub, from one query of the unsynced outbox rows: a report with a
    // refused row counts as failed, else one with a waiting row as pending.
    const byReport = new Map<string, 'pending' | 'failed'>();
    for (const row of this.outbox.unsynced()) {
      if (byReport.get(row.reportId) !== 'failed') byReport.set(row.reportId, row.state === 'failed' ? 'failed' : 'pending');
    }
    let pending = 0;
    let failed = 0;
    for (const state of byReport.values()) {
      if (state === 'failed') failed++;
      else pending++;
    }
    return {
      configured: true,
      url: this.opts.baseUrl,
      embedded: this.opts.embedded,
      online: this.online(),
      user: this.client.token ? this.user : null,
      pending,
      failed,
      unfinishedRefetchMinMs: this.client.token ? this.refetchFloorMs : UNFINISHED_REFETCH_MIN_MS,
      demoUsers: this.opts.demoUsers ?? [],
      awaitingFirstUser: !this.client.token && this.awaitingFirst,
    };
  }

  /**
   * Asks the embedded hub whether it waits for its first account (the installed app's first
   * start); the answer shows on the login screen. Unreachable: as before.
   */
  async refreshSetup(): Promise<boolean> {
    // Asked only while it can matter: an embedded hub, nobody logged in, and no account known yet.
    if (!this.opts.embedded || this.client.token || (this.setupAnswered && !this.awaitingFirst)) return this.awaitingFirst;
    try {
      this.awaitingFirst = await this.client.awaitingFirstUser();
      this.setupAnswered = true;
    } catch {
      // The next status read asks again.
    }
    return this.awaitingFirst;
  }

  /** Creates the embedded hub's first account, then logs in with it. */
  async createFirstUser(input: FirstUserRequest): Promise<HubStatus> {
    if (!this.opts.embedded) throw new ContractError('forbidden', "A department hub's accounts are added by its administrator (npm run hub -- user add).");
    try {
      await this.client.createFirstUser(input);
    } catch (err) {
      throw asContractError(err);
    }
    this.awaitingFirst = false;
    return this.login(input.username, input.password);
  }

  /** The floor this session last read from the hub's site policy (the default if none, or unreadable). */
  private savedFloor(): number {
    const saved = SitePolicy.shape.unfinishedRefetchMinMs.safeParse(Number(this.reports.getSetting(REFETCH_FLOOR_KEY)));
    return saved.success ? saved.data : UNFINISHED_REFETCH_MIN_MS;
  }

  /**
   * Reads the hub's site policy (GET /api/policy) for the unfinished list's refetch floor. A hub
   * that cannot answer leaves the last known floor; a change is announced with 'hub-changed'.
   */
  private readPolicy(): Promise<void> {
    this.policyReading ??= this.fetchPolicy().finally(() => {
      this.policyReading = null;
    });
    return this.policyReading;
  }

  private async fetchPolicy(): Promise<void> {
    const session = this.session;
    let floor: number;
    try {
      floor = (await this.client.policy()).unfinishedRefetchMinMs;
    } catch {
      return;
    }
    if (session !== this.session || !this.client.token) return;
    this.policyReadAt = this.clock.now();
    this.reports.setSetting(REFETCH_FLOOR_KEY, String(floor));
    if (floor === this.refetchFloorMs) return;
    this.refetchFloorMs = floor;
    this.events.emit('event', { type: 'hub-changed', online: this.online() });
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
    this.signerConfirmedAt = null;
    this.offlineVerifier = await OfflineVerifier.fromPassword(password);
    this.vault.write(JSON.stringify({ token: res.token, user: res.user, expiresAt: res.expiresAt }));
    // The hub's identity is the signer: name, role and registration come from the login.
    this.reports.setProfile({ name: res.user.name, role: res.user.role, registration: res.user.registration });
    this.sender.resume();
    this.sender.wake();
    this.subscribe();
    await this.readPolicy();
    await this.tellTakenFromMe();
    this.phoneCalls.wake();
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
    // From this moment nobody at this workstation signs under the old session.
    this.signerConfirmedAt = null;
    this.offlineVerifier = null;
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
    this.vault.write(null);
    this.reports.setSetting(REFETCH_FLOOR_KEY, null);
    this.refetchFloorMs = UNFINISHED_REFETCH_MIN_MS;
    this.policyReadAt = null;
    this.ownSnapshots.clear();
    this.announcedOnline = this.online();
    this.events.emit('event', { type: 'hub-changed', online: this.announcedOnline });
    return this.status();
  }

  /**
   * Who signs now (issue 7 finding 5): the user of this workstation's hub session, never the local
   * profile. Refused at once without a session ('Log in to sign'), and without a password entered
   * for signing in this session within the site's idle minutes (21 CFR 11.200(a)): the caller asks
   * for it (`confirm-password`), `confirmSigner`, then signs again.
   */
  signer(): Profile {
    if (!this.client.token || !this.user) {
      throw new ContractError('forbidden', 'Log in to sign: with a hub, only the person logged in to the hub can sign.');
    }
    const at = this.signerConfirmedAt;
    if (at === null || this.clock.now() - at > this.signConfirmIdleMs) {
      const why = at === null ? 'the first signature of a session' : `more than ${Math.round(this.signConfirmIdleMs / 60_000)} minutes since your last signature`;
      throw new ContractError('confirm-password', `Enter your password to sign (${why}). Nothing was signed.`);
    }
    return { name: this.user.name, role: this.user.role, registration: this.user.registration };
  }

  /** The password again before signing: the hub checks it (a wrong one counts towards lockout); only the time is kept, in memory. */
  async confirmSigner(password: string): Promise<{ confirmedAt: string; idleMinutes: number }> {
    const me = this.requireLogin();
    let res;
    try {
      res = await this.client.confirmSigner(password);
    } catch (err) {
      if (err instanceof HubError && err.status === null) return this.confirmOffline(me, password);
      if (err instanceof HubError && err.status === 403) throw new ContractError('forbidden', 'Wrong password: nothing was signed.');
      if (err instanceof HubError && err.status === 429) throw new ContractError('forbidden', `${err.message} Nothing was signed.`);
      throw asContractError(err);
    }
    // Logged out or someone else logged in meanwhile: this confirmation is not theirs.
    if (this.user?.username !== me.username) throw new ContractError('forbidden', 'Log in to sign: the session changed.');
    this.signerConfirmedAt = this.clock.now();
    this.signConfirmIdleMs = res.idleMinutes * 60_000;
    return res;
  }

  /** The hub is unreachable: the password is checked against this session's in-memory verifier (OfflineVerifier). */
  private async confirmOffline(me: HubUser, password: string): Promise<{ confirmedAt: string; idleMinutes: number }> {
    const verifier = this.offlineVerifier;
    if (!verifier) throw new ContractError('unavailable', 'The hub is unreachable and this session began before the workstation last started: the password can be confirmed only by the hub. Nothing was signed.');
    const outcome = await verifier.check(password);
    if (outcome === 'exhausted') {
      this.offlineVerifier = null;
      throw new ContractError('forbidden', 'Too many wrong passwords: signing now waits until the hub can check your password. Nothing was signed.');
    }
    if (outcome === 'wrong') throw new ContractError('forbidden', 'Wrong password: nothing was signed.');
    if (this.user?.username !== me.username) throw new ContractError('forbidden', 'Log in to sign: the session changed.');
    this.signerConfirmedAt = this.clock.now();
    return { confirmedAt: new Date(this.signerConfirmedAt).toISOString(), idleMinutes: this.signConfirmIdleMs / 60_000 };
  }

  private requireLogin(): HubUser {
    if (!this.client.token || !this.user) throw new ContractError('forbidden', 'Log in to the hub first.');
    return this.user;
  }

  /**
   * A study opened for reporting: its draft is published at once, even empty. The draft on the hub
   * is the study's claim: every workstation shows who is reporting it since when, and a study
   * opened and left stays on the Unfinished list (issue 7 findings 6, 7).
   */
  draftOpened(report: Report): void {
    if (!this.client.token || !this.user || report.state !== 'draft' || report.takenOverBy) return;
    this.publisher.update(report.id, { study: report.study, content: report.content, revision: report.revision, lastActivity: new Date().toISOString(), author: this.user.name });
  }

  /**
   * At login: tells the returning author at once which of her drafts colleagues took over since
   * her previous login, and by whom (a notice; best effort, the Unfinished list says it too).
   */
  private async tellTakenFromMe(): Promise<void> {
    let list;
    try {
      list = await this.client.takenFromMe();
    } catch {
      return;
    }
    if (list.items.length === 0) return;
    const lines = list.items.map((i) =>
      `${i.to.name} took over your draft for patient ${i.study.patientId} (study ${i.study.studyUid}) at ${formatDateTime(i.at)}${i.signed ? ' and it has been signed' : ''}; reason: ${i.reason}`);
    this.events.emit('event', {
      type: 'notice', level: 'warning',
      message: `While you were away, ${list.items.length === 1 ? 'a draft of yours was' : `${list.items.length} drafts of yours were`} taken over: ${lines.join('. ')}.`,
    });
  }

  /** After each local save of a draft: publish its snapshot (throttled) for the team. */
  draftSaved(reportId: string, study: StudyRef, content: ReportContent, revision: number): void {
    if (!this.client.token || !this.user) return;
    this.publisher.update(reportId, { study, content, revision, lastActivity: new Date().toISOString(), author: this.user.name });
  }

  /** The editor closed the draft: publish at once. */
  async draftClosed(report: Report): Promise<boolean> {
    if (!this.client.token || !this.user || report.state !== 'draft' || report.takenOverBy) return false;
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
    // A signature is activity: the idle time before the password is asked again starts anew.
    if (this.signerConfirmedAt !== null) this.signerConfirmedAt = this.clock.now();
    this.publisher.forget(reportId);
    this.sender.wake();
  }

  syncStatus(reportId: string): SyncStatusInfo {
    return this.syncStatuses([reportId])[0]!;
  }

  /**
   * The sync states of many reports (a whole list) in one answer, one per id in the order given:
   * one query of the outbox, one of the phone log, one of the overdue critical reports. Same
   * meaning as `syncStatus` for each; an id with nothing signed (a draft, or no such report
   * here) is 'local', as `syncStatus` answers it.
   */
  syncStatuses(reportIds: readonly string[]): SyncStatusInfo[] {
    if (reportIds.length === 0) return [];
    const rows = new Map<string, OutboxEntry[]>();
    for (const row of this.outbox.forReports(reportIds)) {
      const list = rows.get(row.reportId) ?? [];
      list.push(row);
      rows.set(row.reportId, list);
    }
    const phoned = this.phoneLog.withCalls(reportIds);
    const warned = new Set(this.sender.criticalUndelivered().map((w) => w.reportId));
    return reportIds.map((id) => ({ ...summarise(id, rows.get(id) ?? []), criticalUndelivered: warned.has(id), phoned: phoned.has(id) }));
  }

  retry(reportId: string): SyncStatusInfo {
    try {
      this.sender.retry(reportId);
    } catch (err) {
      if (err instanceof RefusedForGood) throw new ContractError('conflict', err.message);
      throw err;
    }
    return this.syncStatus(reportId);
  }

  recordPhone(reportId: string, call: PhoneCallInput): SyncStatusInfo {
    try {
      this.sender.recordPhoneCommunication(reportId, call);
    } catch (err) {
      throw new ContractError('invalid-input', messageOf(err));
    }
    // The alert panel shows the call at once, waiting to be sent if the hub is not reachable.
    this.events.emit('event', { type: 'alert-changed', reportId, change: 'phone-calls' });
    this.phoneCalls.wake();
    return this.syncStatus(reportId);
  }

  /** The report (not only its addenda) is stored on the hub: its alert exists there if it has one. */
  private reportAtHub(reportId: string): boolean {
    return this.outbox.forReport(reportId).some((r) => r.kind === 'report' && r.state === 'synced');
  }

  /**
   * A signed report's alert as the hub has it (GET /api/alerts/:reportId, read-only for a
   * radiologist: the hub records an opening only by someone responsible for the alert), with the
   * phone calls recorded here. An unreachable hub, or no session, is a state said in words, not
   * a failure: the calls recorded here show all the same.
   */
  async alertView(reportId: string): Promise<AlertView> {
    const phoneCalls = this.phoneCalls.forReport(reportId);
    const pending = this.outbox.forReport(reportId).length > 0 && !this.reportAtHub(reportId);
    const without = (unavailable: string): AlertView => ({ alert: null, unavailable, pending, phoneCalls });
    if (!this.client.token || !this.user) return without("Log in to the hub to see this report's alert.");
    try {
      return { alert: await this.client.alert(reportId), unavailable: null, pending, phoneCalls };
    } catch (err) {
      // No alert on the hub for it (none raised, or the report not there yet): not a failure.
      if (err instanceof HubError && err.status === 404) return { alert: null, unavailable: null, pending, phoneCalls };
      if (err instanceof HubError && err.status === null) return without(`The hub is unreachable, so the alert's state and timeline cannot be shown now (${err.message}). They show again when it is back.`);
      return without(asContractError(err).message);
    }
  }

  /** "My outstanding alerts": open alerts of the reports this user signed, by deadline (the hub's order). */
  async myAlerts(): Promise<AlertList> {
    // Nobody logged in (a refetch racing a logout, or the next user's login): nobody's alerts, not
    // a refusal. The panel shows only for a logged-in reporting user.
    if (!this.client.token || !this.user) return { alerts: [], now: new Date().toISOString() };
    try {
      return await this.client.alerts({ scope: 'signed-by-me', state: 'open' });
    } catch (err) {
      throw asContractError(err);
    }
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
    this.unfinishedSignal.now();
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
            // Back: send what waited, and the list (and the policy) may have changed while we were away.
            this.sender.wake();
            this.phoneCalls.wake();
            this.unfinishedSignal.signal();
            if (this.policyReadAt === null || this.clock.now() - this.policyReadAt > (this.opts.policyMaxAgeMs ?? 60_000)) void this.readPolicy();
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
        this.unfinishedSignal.now();
      } else {
        this.unfinishedSignal.signal();
      }
    } else if (e.type === 'unfinished-changed') {
      // The echo of a snapshot this workstation stored: it reacted to the hub's answer already.
      if (e.reason === 'snapshot' && this.user && e.owner === this.user.username && this.ownSnapshots.isEcho(e.reportId)) return;
      this.unfinishedSignal.signal();
    } else if (e.type === 'report-signed') {
      this.unfinishedSignal.signal();
    } else if (e.type === 'alert-changed') {
      // The timeline on a signed report's view and "My outstanding alerts" read it again.
      this.events.emit('event', { type: 'alert-changed', reportId: e.reportId, change: e.change });
    }
  }
}
