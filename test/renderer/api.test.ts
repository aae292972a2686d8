import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../common/security.ts';
import { electronEvents, takeToken } from '../../renderer/api.ts';
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

describe('takeToken', () => {
  it('reads the token from the fragment, stores it and removes it from the visible URL', () => {
    const f = fakes('http://127.0.0.1:5000/?x=1#token=abc123');
    expect(takeToken(f.loc, f.storage as unknown as Storage, f.history as unknown as History)).toBe('abc123');
    expect(f.storage.data['failsafe.token']).toBe('abc123');
    expect(f.replaced).toEqual(['/?x=1']);
  });

  it('keeps other fragment parameters', () => {
    const f = fakes('http://127.0.0.1:5000/#token=t&view=lib');
    expect(takeToken(f.loc, f.storage as unknown as Storage, f.history as unknown as History)).toBe('t');
    expect(f.replaced).toEqual(['/#view=lib']);
  });

  it('after a reload (no fragment) uses the stored token', () => {
    const f = fakes('http://127.0.0.1:5000/', { 'failsafe.token': 'kept' });
    expect(takeToken(f.loc, f.storage as unknown as Storage, f.history as unknown as History)).toBe('kept');
    expect(f.replaced).toEqual([]);
  });

  it('without any token returns null', () => {
    const f = fakes('http://127.0.0.1:5000/#other=1');
    expect(takeToken(f.loc, f.storage as unknown as Storage, f.history as unknown as History)).toBeNull();
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
