import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../common/security.ts';
import { electronEvents, httpEvents, takeAccess } from '../../renderer/api.ts';
import type { AppEvent } from '../../common/contract.ts';

function fakes(href: string, stored: Record<string, string> = {}) {
  const url = new URL(href);
  const storage = {
    data: { ...stored } as Record<string, string>,
    getItem(k: string) {
      return this.data[k] ?? null;
    },
    setItem(k: string, v: string) {
      this.data[k] = v;
    },
  };
  const replaced: string[] = [];
  const history = {
    state: null,
    replaceState(_s: unknown, _t: string, u: string) {
      replaced.push(u);
    },
  };
  return { loc: url as unknown as Location, storage, history, replaced };
}

describe('takeAccess: the one-time launch code', () => {
  const bridgeAnswering = (answers: Record<string, string>) => {
    const asked: string[] = [];
    const fetchFn = (async (url: string, init?: RequestInit) => {
      const code = (JSON.parse(String(init?.body)) as { code: string }).code;
      asked.push(`${url} ${code}`);
      const token = answers[code];
      return new Response(JSON.stringify(token ? { ok: true, value: { token } } : { ok: false, error: { code: 'forbidden', message: 'This link has been used already or has expired.' } }));
    }) as typeof fetch;
    return { fetchFn, asked };
  };

  it('removes the code from the visible URL at once, exchanges it for the token and keeps the token for this tab', async () => {
    const f = fakes('http://127.0.0.1:5000/?x=1#launch=c0de&view=lib');
    const b = bridgeAnswering({ c0de: 'the-token' });
    expect(await takeAccess(f.loc, f.storage as unknown as Storage, f.history as unknown as History, b.fetchFn)).toEqual({ ok: true, token: 'the-token' });
    expect(f.replaced).toEqual(['/?x=1#view=lib']);
    expect(b.asked).toEqual(['/launch c0de']);
    expect(f.storage.data['failsafe.token']).toBe('the-token');
  });

  it('a used or expired code: the bridge\'s refusal in words, and no token', async () => {
    const f = fakes('http://127.0.0.1:5000/#launch=used');
    const got = await takeAccess(f.loc, f.storage as unknown as Storage, f.history as unknown as History, bridgeAnswering({}).fetchFn);
    expect(got).toEqual({ ok: false, message: 'This link has been used already or has expired.' });
    expect(f.storage.data['failsafe.token']).toBeUndefined();
  });

  it('after a reload (no code) uses the token this tab kept, asking nothing', async () => {
    const f = fakes('http://127.0.0.1:5000/', { 'failsafe.token': 'kept' });
    const b = bridgeAnswering({});
    expect(await takeAccess(f.loc, f.storage as unknown as Storage, f.history as unknown as History, b.fetchFn)).toEqual({ ok: true, token: 'kept' });
    expect(b.asked).toEqual([]);
  });

  it('a token in the address is not taken (tokens never travel in URLs or on command lines)', async () => {
    const f = fakes('http://127.0.0.1:5000/#token=abc123');
    const got = await takeAccess(f.loc, f.storage as unknown as Storage, f.history as unknown as History, bridgeAnswering({}).fetchFn);
    expect(got.ok).toBe(false);
  });
});

describe('renderer/index.html', () => {
  const html = fs.readFileSync(path.resolve(import.meta.dirname, '../../renderer/index.html'), 'utf8');
  it('carries the same CSP as the server headers (frame-ancestors only works as a header)', () => {
    const m = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html);
    const expected = CONTENT_SECURITY_POLICY.split('; ').filter((d) => !d.startsWith('frame-ancestors')).join('; ');
    expect(m?.[1]).toBe(expected);
  });
  it('has no inline script or style', () => {
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    expect(html).not.toMatch(/\sstyle="/);
  });
});

describe('electronEvents (the preload exposes subscribe on window.failsafe)', () => {
  it('passes events through and unsubscribes', () => {
    const listeners = new Set<(e: unknown) => void>();
    const events = electronEvents({
      subscribe: (l) => {
        listeners.add(l as (e: unknown) => void);
        return () => listeners.delete(l as (e: unknown) => void);
      },
    });
    expect(events).not.toBeNull();
    const seen: AppEvent[] = [];
    const off = events!.subscribe((e) => seen.push(e));
    for (const l of listeners) l({ type: 'hub-changed', online: false });
    expect(seen).toEqual([{ type: 'hub-changed', online: false }]);
    off();
    expect(listeners.size).toBe(0);
  });
  it('is null for a preload without subscribe, and a throwing subscribe does not break the app', () => {
    expect(electronEvents({})).toBeNull();
    const events = electronEvents({
      subscribe: () => {
        throw new Error('IPC gone');
      },
    });
    expect(() => events!.subscribe(() => undefined)()).not.toThrow();
  });
});

describe('httpEvents (browser mode)', () => {
  it('delivers events split across chunks, drops what is not a contract event, and stops on unsubscribe', async () => {
    const chunks = [
      'data: {"type":"library-chan',
      'ged"}\n\n: keep-alive\n\ndata: not json\n\n',
      'data: {"type":"no-such-event"}\r\n\r\n',
      'data: {"type":"sync-changed","reportId":"r1"}\r\n\r\ndata: {"type":"notice","level":"info"}\n\n',
    ];
    let signal: AbortSignal | null = null;
    let headers: HeadersInit | undefined;
    const fakeFetch = (async (_url: string, init?: RequestInit) => {
      signal = init?.signal ?? null;
      headers = init?.headers;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        },
      });
      return new Response(body, { status: 200 });
    }) as typeof fetch;
    const got: AppEvent[] = [];
    const off = httpEvents('tok', fakeFetch).subscribe((e) => got.push(e));
    await expect.poll(() => got.length).toBe(2);
    expect(got).toEqual([{ type: 'library-changed' }, { type: 'sync-changed', reportId: 'r1' }]);
    expect(JSON.stringify(headers)).toContain('tok');
    off();
    expect(signal!.aborted).toBe(true);
  });
});
