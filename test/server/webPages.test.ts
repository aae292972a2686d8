// The hub serves its own page (issue 9 lines 3 and 7; server/web/serve.ts): index.html at every
// page path (deep links from e-mails), hashed assets cached for good, strict headers on both, a
// 503 in words when the page was never built, JSON 404s for the API kept. The embedded hub
// (loopbackOnly) lets its own page's same-origin requests through and still refuses other origins.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_WEB_CSP } from '../../server/web/serve.ts';
import { http, openTestHub } from './support.ts';

const INDEX = '<!doctype html><html lang="en"><head><title>t</title><script type="module" src="/assets/index-abc123.js"></script></head><body></body></html>';

function builtPage(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-hubweb-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), INDEX);
  fs.writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1);\n');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'not an asset');
  return dir;
}

function expectStrictHeaders(h: Headers): void {
  expect(h.get('content-security-policy')).toBe(HUB_WEB_CSP);
  expect(h.get('x-content-type-options')).toBe('nosniff');
  expect(h.get('referrer-policy')).toBe('no-referrer');
}

describe('the hub serves its page', () => {
  let hub: Awaited<ReturnType<typeof openTestHub>>;
  let unbuilt: Awaited<ReturnType<typeof openTestHub>>;
  let dir = '';
  beforeAll(async () => {
    dir = builtPage();
    hub = await openTestHub('pglite', 'webpages', { webDir: dir });
    unbuilt = await openTestHub('pglite', 'webpages_unbuilt', { webDir: path.join(dir, 'no-such-build') });
  }, 60_000);
  afterAll(async () => {
    await hub.close();
    await unbuilt.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers index.html at /, /alerts/<id> and /dashboard with the strict CSP and no caching of the page', async () => {
    for (const p of ['/', '/alerts/7d3c1f0e-0000-4000-8000-000000000001', '/dashboard']) {
      const r = await http(hub.url, 'GET', p);
      expect(r.status, p).toBe(200);
      expect(r.text).toBe(INDEX);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(r.headers.get('cache-control')).toBe('no-cache');
      expectStrictHeaders(r.headers);
    }
  });

  it('serves hashed assets cached for good, and nothing outside assets/', async () => {
    const js = await http(hub.url, 'GET', '/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expectStrictHeaders(js.headers);
    for (const p of ['/assets/missing-1.js', '/assets/..%2Fsecret.txt', '/assets/%2E%2E%2Fsecret.txt', '/secret.txt', '/assets/.hidden.js']) {
      const r = await http(hub.url, 'GET', p);
      expect(r.status, p).toBe(404);
      expect(r.text).not.toContain('not an asset');
    }
  });

  it('keeps the API answering JSON, 404 included', async () => {
    const r = await http<{ error: { code: string } }>(hub.url, 'GET', '/api/no-such-route');
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('not-found');
    expect((await http(hub.url, 'GET', '/api/health')).status).toBe(200);
  });

  it('says in words that the page was not built (503), and the API still works', async () => {
    const r = await http(unbuilt.url, 'GET', '/');
    expect(r.status).toBe(503);
    expect(r.text).toMatch(/web page has not been built: run `npm run build`/);
    expect((await http(unbuilt.url, 'GET', '/alerts/x')).status).toBe(503);
    expect((await http(unbuilt.url, 'GET', '/api/health')).status).toBe(200);
  });
});

describe('the embedded hub (loopbackOnly) and its own page', () => {
  let hub: Awaited<ReturnType<typeof openTestHub>>;
  let port = 0;
  beforeAll(async () => {
    hub = await openTestHub('pglite', 'webpages_loopback', { loopbackOnly: true, webDir: builtPage() });
    port = Number(new URL(hub.url).port);
  }, 60_000);
  afterAll(async () => hub.close());

  const login = (headers: Record<string, string>) => http<{ error: { code: string; message: string } }>(hub.url, 'POST', '/api/session', { body: { username: 'nobody', password: 'wrong' }, headers });

  it('lets its own origin through (the very address the page was loaded from), as a browser sends it on the page\'s POSTs', async () => {
    // 401: the request reached the login (an unknown user), not the loopback guard's 403.
    expect((await login({ origin: `http://127.0.0.1:${port}` })).status).toBe(401);
    expect((await login({})).status).toBe(401);
    expect((await http(hub.url, 'GET', '/', { headers: { origin: `http://127.0.0.1:${port}` } })).status).toBe(200);
  });

  it('refuses every other origin: another site, another port, another scheme, null', async () => {
    // A page of localhost calling 127.0.0.1 is another origin too (test/server/cli.test.ts has the reverse).
    for (const origin of ['http://evil.example', `http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`, 'null', `http://127.0.0.1:${port}.evil.example`, `http://localhost:${port}`]) {
      const r = await login({ origin });
      expect(r.status, origin).toBe(403);
      expect(r.body.error.message).toMatch(/cross-origin request refused/);
    }
  });
});
