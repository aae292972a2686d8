// The renderer's one door to main: `window.failsafe` (Electron preload) or, in browser mode, the
// same contract over the loopback HTTP bridge (POST /api/<channel>, token header, Result JSON).
// Calls never throw: a transport failure becomes `{ ok: false, error: { code: 'unavailable' } }`.
import { CHANNELS, type Channel } from '../common/channels.ts';
import { AppEvent, type FailsafeApi, type FailsafeEvents, type Input, type Output, type Result } from '../common/contract.ts';
import { SseParser } from '../common/sse.ts';
import { jsonOrUndefined } from '../common/validation.ts';
import { TOKEN_HEADER } from '../common/security.ts';

declare global {
  interface Window {
    /** The Electron preload: one function per channel, plus `subscribe` for pushed events. */
    failsafe?: FailsafeApi;
    /**
     * Called by the Electron shell before it closes the window: saves the open draft and
     * resolves when the save is acknowledged (true) or failed (false).
     */
    failsafeBeforeClose?: () => Promise<boolean>;
  }
}

export interface Client {
  api: FailsafeApi;
  events: FailsafeEvents | null;
  transport: 'electron' | 'http';
  /**
   * The same call, made so that it completes even when the page is being closed (browser mode:
   * fetch with keepalive). Used by autosave on pagehide / visibilitychange.
   */
  callKeepalive<C extends Channel>(channel: C, input: Input<C>): Promise<Result<Output<C>>>;
}

const TOKEN_KEY = 'failsafe.token';
/** Browsers refuse keepalive bodies over 64 KiB; larger saves go as ordinary requests. */
const KEEPALIVE_LIMIT = 60 * 1024;

export type Access = { ok: true; token: string } | { ok: false; message: string };

/**
 * The bridge's token for this tab. The browser is opened on a one-time launch code
 * (`#launch=…`): it is removed from the visible URL at once (not shown, bookmarked or copied) and
 * exchanged with the bridge (POST /launch) for the token, which this tab keeps in sessionStorage
 * (a reload needs no new code). A used or expired code is refused by the bridge, in words.
 */
export async function takeAccess(
  loc: Location = window.location, storage: Storage = window.sessionStorage, hist: History = window.history,
  fetchFn: typeof fetch = (...a) => fetch(...a),
): Promise<Access> {
  const params = new URLSearchParams(loc.hash.startsWith('#') ? loc.hash.slice(1) : loc.hash);
  const code = params.get('launch');
  if (code === null) {
    let kept: string | null = null;
    try {
      kept = storage.getItem(TOKEN_KEY);
    } catch {
      kept = null;
    }
    return kept ? { ok: true, token: kept } : { ok: false, message: 'This page has no access to Failsafe. Open the link Failsafe printed when it started (it ends with #launch=…).' };
  }
  params.delete('launch');
  const rest = params.toString();
  hist.replaceState(hist.state, '', `${loc.pathname}${loc.search}${rest ? `#${rest}` : ''}`);
  let answer: unknown;
  try {
    const res = await fetchFn('/launch', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }), credentials: 'omit', cache: 'no-store' });
    answer = await res.json();
  } catch (err) {
    return { ok: false, message: `Cannot reach Failsafe (${err instanceof Error ? err.message : String(err)}). Is the app still running?` };
  }
  if (!isResult(answer)) return { ok: false, message: 'Failsafe answered the link with an unexpected body.' };
  if (!answer.ok) return { ok: false, message: answer.error.message };
  const token = (answer.value as { token?: unknown } | null)?.token;
  if (typeof token !== 'string') return { ok: false, message: 'Failsafe answered the link without access.' };
  try {
    storage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage disabled: the token still works for this page.
  }
  return { ok: true, token };
}

function unavailable<T>(message: string): Result<T> {
  return { ok: false, error: { code: 'unavailable', message } };
}

function isResult(x: unknown): x is Result<unknown> {
  if (typeof x !== 'object' || x === null || !('ok' in x)) return false;
  const r = x as { ok: unknown; error?: unknown };
  if (r.ok === true) return 'value' in r;
  return r.ok === false && typeof r.error === 'object' && r.error !== null;
}

async function httpCall(token: string, channel: string, input: unknown, keepalive: boolean): Promise<Result<unknown>> {
  const body = JSON.stringify(input ?? {});
  let res: Response;
  try {
    res = await fetch(`/api/${encodeURIComponent(channel)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [TOKEN_HEADER]: token },
      body,
      keepalive: keepalive && body.length < KEEPALIVE_LIMIT,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (err) {
    return unavailable(`Cannot reach Failsafe (${err instanceof Error ? err.message : String(err)}). Is the app still running?`);
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    return { ok: false, error: { code: 'internal', message: `Failsafe answered HTTP ${res.status} without a result.` } };
  }
  if (!isResult(json)) return { ok: false, error: { code: 'internal', message: `Failsafe answered HTTP ${res.status} with an unexpected body.` } };
  return json;
}

/**
 * Browser mode's event stream: Server-Sent Events over fetch (EventSource cannot send the token
 * header), read with the one parser (common/sse.ts); each event is parsed with the contract's
 * AppEvent schema and anything else is dropped.
 */
export function httpEvents(token: string, fetchFn: typeof fetch = (...a) => fetch(...a)): FailsafeEvents {
  const listeners = new Set<(e: AppEvent) => void>();
  let controller: AbortController | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;

  const connect = async (): Promise<void> => {
    controller = new AbortController();
    const ctl = controller;
    try {
      const res = await fetchFn('/events', { headers: { [TOKEN_HEADER]: token }, signal: ctl.signal, cache: 'no-store' });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SseParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const message of parser.push(value)) {
          const event = AppEvent.safeParse(jsonOrUndefined(message.data));
          // A malformed event is ignored; the next refresh shows the truth.
          if (event.success) for (const l of listeners) l(event.data);
        }
      }
    } catch {
      // Fall through to reconnect.
    }
    if (!ctl.signal.aborted && listeners.size > 0) retry = setTimeout(() => void connect(), 5_000);
  };

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (listeners.size === 1) void connect();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) {
          controller?.abort();
          if (retry) clearTimeout(retry);
        }
      };
    },
  };
}

/** Wraps the preload API so that a thrown IPC error still becomes a Result. */
function guardedElectronApi(raw: FailsafeApi): FailsafeApi {
  const api: Record<string, (input: unknown) => Promise<Result<unknown>>> = {};
  for (const c of CHANNELS) {
    const fn = raw[c] as (input: unknown) => Promise<Result<unknown>>;
    api[c] = async (input) => {
      try {
        return await fn(input);
      } catch (err) {
        return unavailable(`IPC call ${c} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
  }
  return api as unknown as FailsafeApi;
}

export type ClientOrError = { ok: true; client: Client } | { ok: false; message: string };

/**
 * The preload's event half. `subscribe` is not a channel, so it stays out of the guarded wrapper;
 * a preload without it (an old build) just means no pushed events.
 */
export function electronEvents(raw: Partial<FailsafeEvents>): FailsafeEvents | null {
  const subscribe = raw.subscribe;
  if (typeof subscribe !== 'function') return null;
  return {
    subscribe(listener) {
      try {
        const off = subscribe(listener);
        return typeof off === 'function' ? off : () => undefined;
      } catch {
        return () => undefined;
      }
    },
  };
}

export async function createClient(): Promise<ClientOrError> {
  if (window.failsafe) {
    const api = guardedElectronApi(window.failsafe);
    return {
      ok: true,
      client: {
        api,
        events: electronEvents(window.failsafe),
        transport: 'electron',
        callKeepalive: <C extends Channel>(channel: C, input: Input<C>) => (api[channel] as (i: Input<C>) => Promise<Result<Output<C>>>)(input),
      },
    };
  }
  const access = await takeAccess();
  if (!access.ok) return { ok: false, message: access.message };
  const token = access.token;
  const api: Record<string, (input: unknown) => Promise<Result<unknown>>> = {};
  for (const c of CHANNELS) api[c] = (input) => httpCall(token, c, input, false);
  return {
    ok: true,
    client: {
      api: api as unknown as FailsafeApi,
      events: httpEvents(token),
      transport: 'http',
      callKeepalive: <C extends Channel>(channel: C, input: Input<C>) => httpCall(token, channel, input, true) as Promise<Result<Output<C>>>,
    },
  };
}
