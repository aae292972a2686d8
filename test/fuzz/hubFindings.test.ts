// What the hub fuzz (test/fuzz/hub.fuzz.test.ts) found, each as its smallest request: the hub
// answered 500 ("it can be retried", so a workstation would retry it for ever) or silently changed
// what it stored. Each must now be a 4xx that names the problem and stores nothing.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HUB_PATHS, HubSignedReport } from '../../common/hub.ts';
import { addUser, count, errorCode, http, loginAs, openTestHub, post, signableContent, signedAddendum, signedReport, type TestUser } from '../server/support.ts';
import type { HubDb } from '../../server/db/adapter.ts';

let hub: Awaited<ReturnType<typeof openTestHub>>;
let db: HubDb;
let rad: TestUser;
let token: string;

beforeAll(async () => {
  hub = await openTestHub('postgres', 'hubfindings');
  db = hub.db;
  rad = await addUser(db, 'radiologist');
  token = await loginAs(hub.url, rad);
});

afterAll(async () => {
  await hub?.close();
});

/** A JSON body sent as these exact bytes. */
const raw = (method: string, path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  http(hub.url, method, path, { token, rawBody: body, headers: { 'content-type': 'application/json', ...headers } });

const ingestRaw = (body: string) => raw('POST', HUB_PATHS.ingest, body, { 'idempotency-key': crypto.randomUUID() });

const snapshot = (extra: Record<string, unknown> = {}) => ({
  study: { patientId: 'FZ-1', studyUid: `1.2.3.${crypto.randomInt(1e9)}` }, content: signableContent(), revision: 1, lastActivity: new Date().toISOString(), ...extra,
});

describe('hub fuzz findings', () => {
  it('a field the schema ignores holding 1e999 (Infinity once parsed) is a 400, not a 500, and stores nothing', async () => {
    const report = signedReport(rad);
    const r = await ingestRaw(JSON.stringify(report).replace('"report":{', '"report":{"extra":1e999,'));
    expect(r.status, r.text).toBe(400);
    expect(errorCode(r)).toBe('invalid-input');
    expect(await count(db, 'signed_reports WHERE id = $1', [report.report.id])).toBe(0);
    // The same report, well formed, is then stored.
    expect((await post(hub.url, token, report)).status).toBe(201);
  });

  it('an addendum with an unknown "constructor": -1e999 is a 400, not a 500', async () => {
    const report = signedReport(rad);
    expect((await post(hub.url, token, report)).status).toBe(201);
    const add = signedAddendum(rad, report);
    const r = await ingestRaw(JSON.stringify(add).replace('"addendum":{', '"addendum":{"constructor":-1e999,'));
    expect(r.status, r.text).toBe(400);
    expect(await count(db, 'addenda WHERE report_id = $1', [report.report.id])).toBe(0);
  });

  it('a field the schema ignores nested 200,000 deep is a 4xx, not a 500', async () => {
    const report = signedReport(rad);
    const r = await ingestRaw(JSON.stringify(report).replace('"report":{', `"report":{"extra":${'['.repeat(200_000)}${']'.repeat(200_000)},`));
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    expect(r.status, r.text).toBeLessThan(500);
    expect(await count(db, 'signed_reports WHERE id = $1', [report.report.id])).toBe(0);
  });

  it('an addendum id with a lone surrogate is a 4xx, not a 500', async () => {
    const report = signedReport(rad);
    expect((await post(hub.url, token, report)).status).toBe(201);
    const add = signedAddendum(rad, report);
    const r = await ingestRaw(JSON.stringify({ ...add, addendum: { ...add.addendum, id: '\uD800' } }));
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    expect(r.status, r.text).toBeLessThan(500);
    expect(await count(db, 'addenda WHERE report_id = $1', [report.report.id])).toBe(0);
  });

  it('a draft revision beyond what the hub stores (2^31) is a 4xx, not a 500, and stores nothing', async () => {
    const id = `rev-${crypto.randomUUID()}`;
    const r = await raw('PUT', HUB_PATHS.draft(id), JSON.stringify(snapshot({ revision: 2 ** 31 })));
    expect(r.status, r.text).toBe(400);
    expect(errorCode(r)).toBe('invalid-input');
    expect(await count(db, 'drafts WHERE report_id = $1', [id])).toBe(0);
  });

  it('a last activity in year 0 (an ISO date-time PostgreSQL cannot hold) is a 4xx, not a 500, and stores nothing (100,000-request fuzz, seed 515695060)', async () => {
    for (const lastActivity of ['0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '1899-12-31T23:59:59Z']) {
      const id = `year0-${crypto.randomUUID()}`;
      const r = await raw('PUT', HUB_PATHS.draft(id), JSON.stringify(snapshot({ lastActivity })));
      expect(r.status, `${lastActivity}: ${r.text}`).toBe(400);
      expect(errorCode(r)).toBe('invalid-input');
      expect(await count(db, 'drafts WHERE report_id = $1', [id])).toBe(0);
    }
  });

  it('a body that is not UTF-8 is refused as invalid JSON, not stored with U+FFFD in place of the bytes', async () => {
    const id = `utf8-${crypto.randomUUID()}`;
    const text = JSON.stringify(snapshot());
    const at = text.indexOf('No skull fracture');
    const body = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xff]), Buffer.from(text.slice(at))]);
    const r = await raw('PUT', HUB_PATHS.draft(id), body);
    expect(r.status, r.text).toBe(400);
    expect(errorCode(r)).toBe('invalid-json');
    expect(await count(db, 'drafts WHERE report_id = $1', [id])).toBe(0);
  });

  it('HEAD /api/events answers its head and ends, instead of hanging with no answer', async () => {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 5_000);
    try {
      const r = await fetch(`${hub.url}${HUB_PATHS.events}`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    } finally {
      clearTimeout(timer);
    }
    expect((await http(hub.url, 'HEAD', HUB_PATHS.events)).status).toBe(401);
  });

  it('an addendum id the read contract cannot carry (empty, or over 64 characters) is refused, so the report still reads back as the contract says', async () => {
    const report = signedReport(rad);
    expect((await post(hub.url, token, report)).status).toBe(201);
    for (const id of ['', 'a'.repeat(65)]) {
      const add = signedAddendum(rad, report);
      const r = await post(hub.url, token, { ...add, addendum: { ...add.addendum, id } });
      expect(r.status, r.text).toBe(400);
      expect(errorCode(r)).toBe('invalid-input');
    }
    expect(await count(db, 'addenda WHERE report_id = $1', [report.report.id])).toBe(0);
    const read = await http(hub.url, 'GET', HUB_PATHS.report(report.report.id), { token });
    expect(HubSignedReport.safeParse(read.body).success, read.text).toBe(true);
  });
});
