// The browser-mode bridge against the real services: only our token, our Host and our origin
// get through, and only payloads that parse against the contract; everything else gets a clear
// 4xx and changes nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAUNCH_CODE_MS, startBridge, type Bridge } from '../../../main/bridge/BrowserBridge.ts';
import { createServices, type Services } from '../../../main/services.ts';
import { TOKEN_HEADER } from '../../../common/security.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
let services: Services;
let bridge: Bridge;
let dataDir: string;
let rendererDir: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-bridge-'));
  rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-renderer-'));
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  fs.writeFileSync(path.join(dataDir, 'secret.txt'), 'do not serve');
  services = await createServices({
    dataDir,
    mode: 'browser',
    version: 'test',
    fileAccess: () => ({ fileBaseUrl: `${bridge.origin}/files/`, fileAuthHeader: { name: TOKEN_HEADER, value: bridge.token } }),
    sampleDir: path.join(repoRoot, 'resources', 'samples', 'ct-head'),
    // A hub that is configured but unreachable (nothing listens on port 9): the workstation must
    // work on regardless.
    hub: { baseUrl: 'http://127.0.0.1:9', embedded: false },
  });
  bridge = await startBridge({ handlers: services.handlers, rendererDir, filePath: services.filePath });
});

afterAll(async () => {
  await bridge.close();
  await services.close();
});

interface Raw {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A raw request, so Host/Origin can be forged (fetch would refuse to). */
function raw(method: string, urlPath: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: bridge.port, method, path: urlPath, headers }, (res) => {
      let data = '';
      res.on('data', (d: Buffer) => (data += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const good = (): Record<string, string> => ({
  host: `127.0.0.1:${bridge.port}`,
  'content-type': 'application/json',
  [TOKEN_HEADER]: bridge.token,
});

const call = (channel: string, input: unknown, headers = good()): Promise<Raw> =>
  raw('POST', `/api/${encodeURIComponent(channel)}`, headers, JSON.stringify(input));

const profile = { name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' };

async function profileNow(): Promise<unknown> {
  const r = await call('profile:get', {});
  return (JSON.parse(r.body) as { value: unknown }).value;
}

describe('browser-mode bridge', () => {
  it('answers a valid call with the token', async () => {
    const r = await call('app:info', {});
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { ok: boolean; value: { mode: string } };
    expect(body.ok).toBe(true);
    expect(body.value.mode).toBe('browser');
    expect(r.headers['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
  });

  it('refuses a missing or wrong token with 401 and changes nothing', async () => {
    const { [TOKEN_HEADER]: _omit, ...noToken } = good();
    void _omit;
    const missing = await call('profile:set', profile, noToken);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const wrong = await call('profile:set', profile, { ...good(), [TOKEN_HEADER]: 'x'.repeat(bridge.token.length) });
    expect(wrong.status).toBe(401);
    expect(await profileNow()).toBeNull();
  });

  it('refuses another origin and another Host (DNS rebinding) with 403 and changes nothing', async () => {
    const evil = await call('profile:set', profile, { ...good(), origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.body).toContain('evil.example');
    const rebinding = await call('profile:set', profile, { ...good(), host: `evil.example:${bridge.port}` });
    expect(rebinding.status).toBe(403);
    expect(await profileNow()).toBeNull();
  });

  it('opens on a one-time launch code: exchanged once for the token, dead after; never for another origin; a holder of the token may ask for another (issue 8 line 4)', async () => {
    const host = { host: `127.0.0.1:${bridge.port}`, 'content-type': 'application/json' };
    const exchange = (code: string, headers: Record<string, string> = host) => raw('POST', '/launch', headers, JSON.stringify({ code }));
    const link = new URL(bridge.launchUrl());
    expect(link.origin).toBe(bridge.origin);
    expect(link.href).not.toContain(bridge.token);
    const code = link.hash.replace('#launch=', '');
    // A web page elsewhere (another localhost port) cannot spend it.
    expect((await exchange(code, { ...host, origin: 'http://127.0.0.1:9999' })).status).toBe(403);
    const first = await exchange(code);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toEqual({ ok: true, value: { token: bridge.token } });
    const again = await exchange(code);
    expect(again.status).toBe(403);
    expect(JSON.parse(again.body).error.message).toMatch(/used already or has expired/);
    for (const bad of ['', 'x', code.slice(1), `${code}x`]) expect((await exchange(bad)).status).toBe(403);
    expect((await raw('POST', '/launch', host, '{"code":')).status).toBe(403);
    expect((await raw('GET', '/launch', { host: host.host })).status).toBe(405);
    // Another window: a new code only for a holder of the token.
    expect((await raw('POST', '/launch/new', host, '{}')).status).toBe(401);
    const minted = await raw('POST', '/launch/new', { ...host, [TOKEN_HEADER]: bridge.token }, '{}');
    const next = (JSON.parse(minted.body) as { value: { code: string } }).value.code;
    expect(next).not.toBe(code);
    expect((await exchange(next)).status).toBe(200);
  });

  it('a launch code not used within LAUNCH_CODE_MS is dead', async () => {
    const code = new URL(bridge.launchUrl()).hash.replace('#launch=', '');
    const realNow = Date.now;
    Date.now = () => realNow() + LAUNCH_CODE_MS + 1;
    try {
      expect((await raw('POST', '/launch', { host: `127.0.0.1:${bridge.port}`, 'content-type': 'application/json' }, JSON.stringify({ code }))).status).toBe(403);
    } finally {
      Date.now = realNow;
    }
  });

  it('refuses malformed payloads with a clear 4xx and changes nothing', async () => {
    const notJson = await raw('POST', '/api/profile%3Aset', good(), '{"name": ');
    expect(notJson.status).toBe(400);
    expect(notJson.body).toContain('not valid JSON');
    const wrongShape = await call('profile:set', { name: '', role: 'surgeon' });
    expect(wrongShape.status).toBe(400);
    const err = JSON.parse(wrongShape.body) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('invalid-input');
    expect(err.error.message).toMatch(/role|name|registration/);
    const extraKey = await call('reports:list', { sneaky: true });
    expect(extraKey.status).toBe(400);
    const wrongType = await raw('POST', '/api/profile%3Aset', { ...good(), 'content-type': 'text/plain' }, JSON.stringify(profile));
    expect(wrongType.status).toBe(415);
    const unknown = await call('system:exec', { cmd: 'rm -rf /' });
    expect(unknown.status).toBe(404);
    const getApi = await raw('GET', '/api/app%3Ainfo', good());
    expect(getApi.status).toBe(405);
    expect(await profileNow()).toBeNull();
  });

  it('never answers 5xx for what the caller can change (fuzz findings B1, B2): the folder picker in browser mode, a report id with a lone surrogate', async () => {
    const pick = await call('library:pickFolder', {});
    expect(pick.status).toBe(400);
    expect(JSON.parse(pick.body).error.message).toMatch(/exists only in the desktop app/);
    for (const channel of ['unfinished:takeOver', 'reports:get', 'sync:status']) {
      const r = await raw('POST', `/api/${encodeURIComponent(channel)}`, good(), '{"reportId":"\\ud800"}');
      expect(r.status, channel).toBe(400);
      expect(JSON.parse(r.body).error.code, channel).toBe('invalid-input');
    }
  });

  it('refuses an oversized body with 413 and closes that connection, saying so: the next request on a keep-alive client is answered (fuzz finding)', async () => {
    const small = await startBridge({ handlers: services.handlers, rendererDir, filePath: services.filePath, maxBodyBytes: 1024 });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (body: string): Promise<{ status: number; connection: string | undefined }> => new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: small.port, method: 'POST', path: '/api/app%3Ainfo', agent, headers: { host: `127.0.0.1:${small.port}`, 'content-type': 'application/json', [TOKEN_HEADER]: small.token } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    try {
      for (let i = 0; i < 20; i++) {
        const big = await send(JSON.stringify({ pad: 'x'.repeat(5000) }));
        expect(big).toEqual({ status: 413, connection: 'close' });
        expect((await send('{}')).status).toBe(200);
      }
    } finally {
      agent.destroy();
      await small.close();
    }
  });

  it('serves DICOM files only with the token, and never files outside the app', async () => {
    const patients = JSON.parse((await call('library:list', {})).body) as { value: { studies: { series: { seriesUid: string }[] }[] }[] };
    const seriesUid = patients.value[0]!.studies[0]!.series[0]!.seriesUid;
    const images = JSON.parse((await call('series:images', { seriesUid })).body) as { value: { fileId: string }[] };
    const fileId = images.value[0]!.fileId;
    const withToken = await raw('GET', `/files/${fileId}`, good());
    expect(withToken.status).toBe(200);
    expect(withToken.headers['content-type']).toBe('application/dicom');
    const { [TOKEN_HEADER]: _t, ...noToken } = good();
    void _t;
    expect((await raw('GET', `/files/${fileId}`, noToken)).status).toBe(401);
    expect((await raw('GET', '/files/does-not-exist', good())).status).toBe(404);
    const traversal = await raw('GET', '/..%2f..%2f..%2fetc%2fpasswd', good());
    expect([403, 404]).toContain(traversal.status);
    expect(traversal.body).not.toContain('root:');
    expect((await raw('GET', '/', good())).status).toBe(200);
  });

  it('answers malformed request targets with 400, never 500, and names no path of this machine (issue 8 finding 9)', async () => {
    const patients = JSON.parse((await call('library:list', {})).body) as { value: { studies: { series: { seriesUid: string }[] }[] }[] };
    const seriesUid = patients.value[0]!.studies[0]!.series[0]!.seriesUid;
    for (const target of ['/%00', '/index.html%00.js', '//', '//evil.example/x', '/%E0%A4%A', '/files/%E0%A4%A', '/files/abc%00']) {
      const r = await raw('GET', target, good());
      expect({ target, status: r.status }).toEqual({ target, status: 400 });
      expect(r.body).not.toContain(repoRoot);
      expect(r.body).not.toContain(rendererDir);
    }
    // The bridge still answers.
    expect((await call('series:images', { seriesUid })).status).toBe(200);
  });

  it('closes the file of every request the client abandons: 1,000 early-closed downloads leave no descriptor open (issue 8 finding 8)', async () => {
    // A renderer file large enough that the answer is still streaming when the client goes away.
    fs.writeFileSync(path.join(rendererDir, 'big.js'), Buffer.alloc(4 * 1024 * 1024, 0x20));
    const patients = JSON.parse((await call('library:list', {})).body) as { value: { studies: { series: { seriesUid: string }[] }[] }[] };
    const images = JSON.parse((await call('series:images', { seriesUid: patients.value[0]!.studies[0]!.series[0]!.seriesUid })).body) as { value: { fileId: string }[] };
    const openFds = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = openFds();
    const abandon = (urlPath: string): Promise<void> =>
      new Promise((resolve) => {
        const req = http.request({ host: '127.0.0.1', port: bridge.port, method: 'GET', path: urlPath, headers: good() }, (res) => {
          // The first bytes arrived: go away mid-answer.
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end();
      });
    for (let i = 0; i < 1000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => abandon((i + k) % 2 === 0 ? '/big.js' : `/files/${images.value[0]!.fileId}`)));
    }
    // The server side notices the closed sockets shortly after.
    await expect.poll(() => openFds() - before, { timeout: 10_000, interval: 100 }).toBeLessThan(20);
    expect((await raw('GET', '/', good())).status).toBe(200);
  });

  it('survives a file that fails while it is read: the answer ends, the workstation does not (issue 8 finding 8)', async () => {
    // /proc/self/mem stats as a regular file and opens, but reading it from 0 fails (EIO): the
    // read error comes after the answer started, as with a file that became unreadable. Before,
    // the stream's unhandled 'error' ended the process (here: the test worker).
    fs.symlinkSync('/proc/self/mem', path.join(rendererDir, 'unreadable.js'));
    const r = await raw('GET', '/unreadable.js', good()).catch((err: unknown) => err);
    expect(r).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await raw('GET', '/', good())).status).toBe(200);
  });

  it('still works after all that: a valid call reaches its handler', async () => {
    // With a hub configured the signer is the hub user: the handler itself refuses profile:set (issue 7 finding 5).
    const r = await call('profile:set', profile);
    expect(r.status).toBe(403);
    expect(r.body).toMatch(/signer is the person logged in/);
    expect((await call('profile:get', {})).status).toBe(200);
  });

  it('closing a signed report in the editor is not recorded as viewing it', async () => {
    const value = async <T,>(channel: string, input: unknown): Promise<T> => {
      const r = await call(channel, input);
      expect(r.status, r.body).toBe(200);
      return (JSON.parse(r.body) as { value: T }).value;
    };
    const patients = await value<{ patientId: string; studies: { studyUid: string }[] }[]>('library:list', {});
    const study = { patientId: patients[0]!.patientId, studyUid: patients[0]!.studies[0]!.studyUid };
    const report = await value<{ id: string; content: { fields: Record<string, string> } }>('reports:open', { study });
    const content = {
      ...report.content,
      fields: { ...report.content.fields, brainParenchyma: 'Normal.', conclusion: 'Normal CT head.' },
      // The sample has a prior in the library: saying none is available needs a reason.
      comparison: { kind: 'none-available', text: '', noPriorReason: 'Prior CT degraded by motion artefact; not comparable.' },
      unexpected: { kind: 'none' },
      alertCode: 'none',
    };
    const saved = await value<{ revision: number }>('reports:save', { reportId: report.id, study, content, baseRevision: 0 });
    // Signed in the store (with a hub, signing through the contract needs a hub session and the password).
    services.reports.sign(report.id, study, saved.revision, { name: profile.name, role: 'radiologist', registration: profile.registration });
    const views = async (): Promise<number> =>
      (await value<{ action: string }[]>('reports:audit', { reportId: report.id })).filter((a) => a.action === 'view-signed').length;
    const before = await views();
    expect(await value('reports:close', { reportId: report.id })).toEqual({ published: false });
    expect(await views()).toBe(before);
  });
});
