// The page's link to its hub (same origin): the session it logged in with, JSON requests with the
// bearer token, the CSV download, and the pushed events that keep the page live. The session is
// kept in this tab's sessionStorage only (a reload keeps it; another tab, or the browser closed,
// needs a login: a shared ward computer does not stay logged in for the next person).
import { HUB_PATHS, LoginResponse, type HubEvent } from '../../../common/hub.ts';
import { HubError } from '../../../common/hubError.ts';
import { SseParser } from '../../../common/sse.ts';

const SESSION_KEY = 'failsafe-hub-session';

export type Session = LoginResponse;

export function savedSession(): Session | null {
  try {
    const parsed = LoginResponse.safeParse(JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null'));
    if (!parsed.success || Date.parse(parsed.data.expiresAt) <= Date.now()) return null;
    return parsed.data;
  } catch {
    return null;
  }
}

export function saveSession(s: Session | null): void {
  if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** A request's failure in words: the hub's own message when it answered, else what went wrong. */
async function send(path: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new HubError(null, 'network', 'The hub did not answer: check the network connection and try again.');
  }
  if (!res.ok) throw HubError.fromResponse(res.status, await res.text());
  return res;
}

export async function logIn(username: string, password: string): Promise<Session> {
  const res = await send(HUB_PATHS.session, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return LoginResponse.parse(await res.json());
}

export class HubApi {
  /** The hub's clock minus this computer's, learnt from the `now` of the hub's answers (null: not yet). */
  private clockOffset: number | null = null;

  constructor(readonly token: string) {}

  /**
   * The hub's clock now. Deadlines are the hub's: a ward computer whose clock is wrong must not
   * show an overdue alert as having time left.
   */
  now(): number {
    return Date.now() + (this.clockOffset ?? 0);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  async get<T>(path: string): Promise<T> {
    const body = (await (await send(path, { headers: this.headers({ accept: 'application/json' }) })).json()) as T;
    const now = (body as { now?: unknown }).now;
    if (typeof now === 'string' && Number.isFinite(Date.parse(now))) this.clockOffset = Date.parse(now) - Date.now();
    return body;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    const res = await send(path, { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });
    return (await res.json()) as T;
  }

  async logOut(): Promise<void> {
    await send(HUB_PATHS.session, { method: 'DELETE', headers: this.headers() }).catch(() => {});
  }

  /** A file the hub answers (the CSV export), saved by the browser under `filename`. */
  async download(path: string, filename: string): Promise<void> {
    const blob = await (await send(path, { headers: this.headers() })).blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

export type LiveState = 'connecting' | 'live' | 'reconnecting';

/**
 * Follows the hub's event stream (GET /api/events: it needs the bearer header, which EventSource
 * cannot send, so fetch streams it) and calls `onAlert` for each alert-changed event. A broken
 * stream is opened again after 1, 2, 4 … 30 s; `onState` says whether the page is live, so the
 * page can say so when it is not. `onSessionEnded`: the hub ended the session (logged out
 * elsewhere, expired, disabled). Returns the stop function.
 */
export function followEvents(api: HubApi, handlers: { onAlert(e: HubEvent): void; onState(s: LiveState): void; onSessionEnded(): void }): () => void {
  const ac = new AbortController();
  let lastId: string | null = null;
  void (async () => {
    let delay = 1000;
    while (!ac.signal.aborted) {
      try {
        const headers: Record<string, string> = { authorization: `Bearer ${api.token}`, accept: 'text/event-stream' };
        if (lastId !== null) headers['last-event-id'] = lastId;
        const res = await fetch(HUB_PATHS.events, { headers, signal: ac.signal });
        if (res.status === 401) {
          handlers.onSessionEnded();
          return;
        }
        if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`);
        const parser = new SseParser();
        const decoder = new TextDecoder();
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          for (const m of parser.push(decoder.decode(value, { stream: true }))) {
            if (m.event === 'hello') {
              delay = 1000;
              handlers.onState('live');
            } else if (m.event === 'session-ended') {
              handlers.onSessionEnded();
              return;
            } else if (m.event === 'message') {
              const e = JSON.parse(m.data) as HubEvent;
              if (e.type === 'alert-changed') handlers.onAlert(e);
            }
          }
          lastId = parser.lastEventId ?? lastId;
        }
      } catch {
        if (ac.signal.aborted) return;
      }
      handlers.onState('reconnecting');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  })();
  return () => ac.abort();
}
