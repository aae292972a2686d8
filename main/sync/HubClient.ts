// The workstation's typed HTTP client for the hub (contract: common/hub.ts). Every call has a
// timeout (AbortSignal.timeout); every response is parsed with the contract's zod schema; every
// failure is a HubError with the hub's code and message, or a network/timeout error.
// Live updates are server-sent events read through fetch (no WebSocket dependency), with
// reconnect (full-jitter backoff) and catch-up from the last seq seen.
import {
  ConfirmSignerResponse,
  DraftAck,
  DraftSnapshot,
  DraftWithHistory,
  EventLog,
  FirstUserCreated,
  HUB_PATHS,
  HubEvent,
  HubHealth,
  HubHello,
  HubSignedReport,
  IDEMPOTENCY_HEADER,
  LoginResponse,
  REPLAYED_HEADER,
  SessionInfo,
  SetupState,
  SitePolicy,
  TakeOverRequest,
  TakeOverResponse,
  TakenFromMeList,
  UnfinishedList,
  type FirstUserRequest,
  type HubUser,
} from '../../common/hub.ts';
import { z } from 'zod';
import { ALERT_PATHS, AlertDetail, AlertList, AlertPhoneCalls, type AlertListQuery, type AlertPhoneCall } from '../../common/alerts.ts';
import { messageOf } from '../../common/errorMessage.ts';
import { HubError } from '../../common/hubError.ts';
import { SseParser } from '../../common/sse.ts';
import { issueText, jsonOrUndefined } from '../../common/validation.ts';
import { fullJitterDelay, realClock, type SyncClock } from './clock.ts';

/** What happened to one signed payload sent to the hub. */
export type SendOutcome =
  /** 2xx: stored now, or earlier (replayed answer for the key, or `alreadyStored`). */
  | { kind: 'accepted'; status: number; receipt: string; replayed: boolean }
  /** A final 4xx: the hub will never accept this body. */
  | { kind: 'rejected'; status: number; code: string | null; message: string }
  /** 401: log in again, then retry. */
  | { kind: 'unauthorized'; message: string }
  /** Try again later: no answer (status null), timeout, 5xx, 408/429, key in flight, original not synced yet. */
  | { kind: 'unavailable'; status: number | null; message: string }
  /** Not sent: the row waits for something on this workstation (its signer's session); other rows go on. */
  | { kind: 'waiting'; message: string };

/** What the outbox sender needs from the hub. */
export interface SignedReportSink {
  postSigned(idempotencyKey: string, payloadJson: string, signal?: AbortSignal): Promise<SendOutcome>;
  /** True when the hub answers its health check. */
  ping(signal?: AbortSignal): Promise<boolean>;
}

/** Hub failures are the one HubError of common/hubError.ts (re-exported for the sync modules). */
export { HubError };

export interface HubClientOptions {
  /** e.g. http://127.0.0.1:4100 (no trailing path). */
  baseUrl: string;
  /** Per-request timeout. Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  clock?: SyncClock;
  /** A saved session token (e.g. restored at start). */
  token?: string | null;
}

export interface SubscribeHandlers {
  onEvent(event: HubEvent): void;
  onHello?(hello: HubHello): void;
  /** Connected (after hello) / disconnected. */
  onConnection?(connected: boolean): void;
  /** 401 on the stream: the subscription stops until `subscribe` is called again after login. */
  onUnauthorized?(message: string): void;
  onError?(err: Error): void;
}

export interface SubscribeOptions {
  /** Catch up from after this seq (else the hub starts at its head). */
  since?: number;
  /** Reconnect backoff base/cap. Defaults 500 ms / 30 s. */
  baseDelayMs?: number;
  capDelayMs?: number;
  /** Reconnect when nothing (not even a ping comment) arrives for this long. Default 45 s. */
  idleMs?: number;
}

export interface HubSubscription {
  close(): void;
  /** Highest seq delivered to onEvent so far (0 = none). */
  readonly lastSeq: number;
  readonly connected: boolean;
}

/** The hub's answer to phone calls sent (server/app.ts): how many it had not held yet. */
const AddedAnswer = z.object({ added: z.number().int().nonnegative() });

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || (err.name === 'AbortError' && /timeout/i.test(err.message)));
}

export class HubClient implements SignedReportSink {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly clock: SyncClock;
  private tokenValue: string | null;
  private user: HubUser | null = null;

  constructor(opts: HubClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.fetchFn = opts.fetch ?? ((input, init) => fetch(input, init));
    this.clock = opts.clock ?? realClock;
    this.tokenValue = opts.token ?? null;
  }

  get token(): string | null {
    return this.tokenValue;
  }

  /** The logged-in user (after `login` or `sessionInfo`), else null. */
  get currentUser(): HubUser | null {
    return this.user;
  }

  setToken(token: string | null): void {
    this.tokenValue = token;
    if (token === null) this.user = null;
  }

  // ---- identity -------------------------------------------------------------------------------

  async login(username: string, password: string): Promise<LoginResponse> {
    const r = await this.request('POST', HUB_PATHS.session, LoginResponse, { body: { username, password }, auth: false });
    this.tokenValue = r.token;
    this.user = r.user;
    return r;
  }

  async sessionInfo(): Promise<SessionInfo> {
    const r = await this.request('GET', HUB_PATHS.session, SessionInfo);
    this.user = r.user;
    return r;
  }

  async logout(): Promise<void> {
    if (this.tokenValue === null) return;
    try {
      await this.request('DELETE', HUB_PATHS.session, null);
    } finally {
      this.setToken(null);
    }
  }

  /** The password again before signing (POST /api/session/confirm): checked by the hub, counted towards lockout, never kept. */
  async confirmSigner(password: string): Promise<ConfirmSignerResponse> {
    return this.request('POST', HUB_PATHS.sessionConfirm, ConfirmSignerResponse, { body: { password } });
  }

  /** Whether the (embedded) hub waits for its first account; a hub without the setup route never does. */
  async awaitingFirstUser(): Promise<boolean> {
    try {
      return (await this.request('GET', HUB_PATHS.setup, SetupState, { auth: false })).awaitingFirstUser;
    } catch (err) {
      if (err instanceof HubError && err.status === 404) return false;
      throw err;
    }
  }

  /** Creates the first account of a hub that has none (POST /api/setup). */
  async createFirstUser(input: FirstUserRequest): Promise<HubUser> {
    return (await this.request('POST', HUB_PATHS.setup, FirstUserCreated, { body: input, auth: false })).user;
  }

  async health(signal?: AbortSignal): Promise<HubHealth> {
    return this.request('GET', HUB_PATHS.health, HubHealth, { auth: false, signal });
  }

  async ping(signal?: AbortSignal): Promise<boolean> {
    try {
      await this.health(signal);
      return true;
    } catch {
      return false;
    }
  }

  // ---- exactly-once ingest ----------------------------------------------------------------------

  /** Posts one outbox payload verbatim with its Idempotency-Key. Never throws. */
  async postSigned(idempotencyKey: string, payloadJson: string, signal?: AbortSignal): Promise<SendOutcome> {
    let res: Response;
    try {
      res = await this.fetchFn(this.baseUrl + HUB_PATHS.ingest, {
        method: 'POST',
        headers: { ...this.authHeader(), 'content-type': 'application/json', [IDEMPOTENCY_HEADER]: idempotencyKey },
        body: payloadJson,
        signal: this.signal(signal),
      });
    } catch (err) {
      return { kind: 'unavailable', status: null, message: isTimeout(err) ? `no answer within ${this.timeoutMs} ms` : messageOf(err) };
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      // The answer was cut off: we do not know whether the hub stored it; the retry will tell.
      return { kind: 'unavailable', status: null, message: `answer cut off: ${messageOf(err)}` };
    }
    if (res.status >= 200 && res.status < 300) {
      return { kind: 'accepted', status: res.status, receipt: text, replayed: res.headers.get(REPLAYED_HEADER) === 'true' };
    }
    const err = HubError.fromResponse(res.status, text);
    // The hub's own code, or null when the answer was not the hub's error body (a proxy's page).
    const code = err.code === `http-${res.status}` ? null : err.code;
    if (res.status === 401) return { kind: 'unauthorized', message: err.message };
    if (err.retryable) return { kind: 'unavailable', status: res.status, message: code ? `${code}: ${err.message}` : err.message };
    return { kind: 'rejected', status: res.status, code, message: err.message };
  }

  async signedReport(reportId: string): Promise<HubSignedReport> {
    return this.request('GET', HUB_PATHS.report(reportId), HubSignedReport);
  }

  // ---- drafts and take-over ---------------------------------------------------------------------

  /** Publishes a draft snapshot. A HubError `draft-taken-over` carries `details.newOwner`. */
  async putDraft(reportId: string, snapshot: DraftSnapshot): Promise<DraftAck> {
    return this.request('PUT', HUB_PATHS.draft(reportId), DraftAck, { body: DraftSnapshot.parse(snapshot) });
  }

  async draft(reportId: string): Promise<DraftWithHistory> {
    return this.request('GET', HUB_PATHS.draft(reportId), DraftWithHistory);
  }

  async takeOver(reportId: string, req: TakeOverRequest = {}): Promise<TakeOverResponse> {
    return this.request('POST', HUB_PATHS.takeOver(reportId), TakeOverResponse, { body: TakeOverRequest.parse(req) });
  }

  async unfinished(): Promise<UnfinishedList> {
    return this.request('GET', HUB_PATHS.unfinished, UnfinishedList);
  }

  /** This user's drafts taken over by a colleague since the user's previous login. */
  async takenFromMe(): Promise<TakenFromMeList> {
    return this.request('GET', HUB_PATHS.takenFromMe, TakenFromMeList);
  }

  async policy(): Promise<SitePolicy> {
    return this.request('GET', HUB_PATHS.policy, SitePolicy);
  }

  // ---- alerts (issue 9) ---------------------------------------------------------------------------

  /** One alert with its timeline (GET /api/alerts/:reportId). The hub records an opening only by a person responsible for it. */
  async alert(reportId: string): Promise<AlertDetail> {
    return this.request('GET', ALERT_PATHS.alert(reportId), AlertDetail);
  }

  async alerts(query: AlertListQuery): Promise<AlertList> {
    return this.request('GET', `${ALERT_PATHS.list}?${new URLSearchParams({ scope: query.scope, state: query.state }).toString()}`, AlertList);
  }

  /** Phone calls recorded here, onto the alert's timeline; the hub stores each id once and answers how many were new. */
  async postPhoneCalls(reportId: string, calls: readonly AlertPhoneCall[]): Promise<{ added: number }> {
    return this.request('POST', ALERT_PATHS.phoneCalls(reportId), AddedAnswer, { body: AlertPhoneCalls.parse({ calls }) });
  }

  async eventLog(since: number, limit = 500): Promise<EventLog> {
    return this.request('GET', `${HUB_PATHS.eventLog}?since=${Math.max(0, Math.floor(since))}&limit=${Math.max(1, Math.floor(limit))}`, EventLog);
  }

  // ---- live updates (server-sent events) ----------------------------------------------------------

  /**
   * Subscribes to the hub's events. Reconnects with backoff after any failure and catches up from
   * the last seq delivered; events are delivered once each, in seq order.
   */
  subscribe(handlers: SubscribeHandlers, opts: SubscribeOptions = {}): HubSubscription {
    const base = opts.baseDelayMs ?? 500;
    const cap = opts.capDelayMs ?? 30_000;
    const idleMs = opts.idleMs ?? 45_000;
    const clock = this.clock;
    let lastSeq = opts.since ?? 0;
    let haveSince = opts.since !== undefined;
    let closed = false;
    let connected = false;
    let failures = 0;
    let current: AbortController | null = null;
    let retryTimer: unknown = null;

    const setConnected = (c: boolean): void => {
      if (connected === c) return;
      connected = c;
      handlers.onConnection?.(c);
    };

    const connect = async (): Promise<void> => {
      const ctrl = new AbortController();
      current = ctrl;
      let idleTimer: unknown = null;
      const touch = (): void => {
        if (idleTimer !== null) this.clock.clearTimeout(idleTimer);
        idleTimer = this.clock.setTimeout(() => ctrl.abort(new Error(`no data from the hub for ${idleMs} ms`)), idleMs);
      };
      try {
        const url = `${this.baseUrl}${HUB_PATHS.events}${haveSince ? `?since=${lastSeq}` : ''}`;
        const headers: Record<string, string> = { ...this.authHeader(), accept: 'text/event-stream' };
        const connectTimer = this.clock.setTimeout(() => ctrl.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        let res: Response;
        try {
          res = await this.fetchFn(url, { headers, signal: ctrl.signal });
        } finally {
          this.clock.clearTimeout(connectTimer);
        }
        if (res.status === 401) {
          const { message } = HubError.fromResponse(401, await res.text().catch(() => ''));
          closed = true;
          handlers.onUnauthorized?.(message);
          return;
        }
        if (!res.ok || !res.body) {
          throw HubError.fromResponse(res.status, await res.text().catch(() => ''));
        }
        touch();
        const parser = new SseParser();
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          touch();
          for (const msg of parser.push(decoder.decode(value, { stream: true }))) {
            if (closed) return;
            if (msg.event === 'hello') {
              const hello = HubHello.safeParse(jsonOrUndefined(msg.data));
              if (hello.success) {
                failures = 0;
                if (!haveSince) {
                  lastSeq = hello.data.head;
                  haveSince = true;
                }
                setConnected(true);
                handlers.onHello?.(hello.data);
              }
              continue;
            }
            if (msg.event !== 'message') continue;
            const ev = HubEvent.safeParse(jsonOrUndefined(msg.data));
            if (!ev.success) {
              handlers.onError?.(new Error(`unreadable hub event: ${issueText(ev.error, { root: '(event)', max: 3 })}`));
              continue;
            }
            if (ev.data.seq <= lastSeq) continue; // catch-up overlap
            lastSeq = ev.data.seq;
            haveSince = true;
            handlers.onEvent(ev.data);
          }
        }
        throw new Error('the hub closed the event stream');
      } catch (err) {
        if (closed) return;
        handlers.onError?.(err instanceof Error ? err : new Error(String(err)));
      } finally {
        if (idleTimer !== null) this.clock.clearTimeout(idleTimer);
        ctrl.abort();
        if (current === ctrl) current = null;
        setConnected(false);
      }
      if (closed) return;
      const delay = fullJitterDelay(failures, base, cap, this.clock.random);
      failures += 1;
      retryTimer = this.clock.setTimeout(() => {
        retryTimer = null;
        if (!closed) void connect();
      }, delay);
    };

    void connect();
    return {
      close() {
        closed = true;
        if (retryTimer !== null) clock.clearTimeout(retryTimer);
        current?.abort();
      },
      get lastSeq() {
        return lastSeq;
      },
      get connected() {
        return connected;
      },
    };
  }

  // ---- plumbing ---------------------------------------------------------------------------------

  private authHeader(): Record<string, string> {
    return this.tokenValue !== null ? { authorization: `Bearer ${this.tokenValue}` } : {};
  }

  private signal(outer?: AbortSignal): AbortSignal {
    const t = AbortSignal.timeout(this.timeoutMs);
    return outer ? AbortSignal.any([outer, t]) : t;
  }

  private async request<T extends z.ZodType | null>(
    method: string,
    path: string,
    schema: T,
    opts: { body?: unknown; auth?: boolean; signal?: AbortSignal | undefined } = {},
  ): Promise<T extends z.ZodType ? z.output<T> : void> {
    const headers: Record<string, string> = opts.auth === false ? {} : this.authHeader();
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(this.baseUrl + path, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: this.signal(opts.signal),
      });
      text = await res.text();
    } catch (err) {
      if (isTimeout(err)) throw new HubError(null, 'timeout', `The hub did not answer ${method} ${path} within ${this.timeoutMs} ms.`);
      throw new HubError(null, 'network', `The hub is unreachable (${messageOf(err)}).`);
    }
    if (res.status < 200 || res.status >= 300) {
      throw HubError.fromResponse(res.status, text);
    }
    if (schema === null) return undefined as T extends z.ZodType ? z.output<T> : void;
    const parsed = schema.safeParse(jsonOrUndefined(text));
    if (!parsed.success) {
      throw new HubError(res.status, 'invalid-response', `The hub's answer to ${method} ${path} is not what this workstation expects: ${issueText(parsed.error, { root: '(answer)', max: 3 })}`);
    }
    return parsed.data as T extends z.ZodType ? z.output<T> : void;
  }
}
