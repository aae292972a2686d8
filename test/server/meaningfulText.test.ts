// Issue 7 findings 3, 4 and 8 at the hub (PGlite): the hub runs the same rule as the workstation
// (common/text.ts, common/signoff.ts), so text that shows nothing, an implausible verbal time or
// text PostgreSQL cannot store never becomes a stored signed record, and the cancer pathway is
// recorded apart from the alert code. Each refusal here was an acceptance (201, or a 500 retried
// for ever) before issue 7.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReportContent } from '../../common/report.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import {
  http, hubWithRadiologist, post, signableContent, signedAddendum, signedReport, studyFor, type TestHub, type TestUser, type ErrorBody,
} from './support.ts';

let db: HubDb;
let hub: TestHub;
let cleanup: () => Promise<void>;
let rad: TestUser;
let token: string;

beforeAll(async () => {
  ({ db, hub, rad, token, close: cleanup } = await hubWithRadiologist('hub_meaningful_text'));
}, 60_000);
afterAll(async () => cleanup?.());


const stored = async (id: string): Promise<number> =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM signed_reports WHERE id = $1', [id])).rows[0]!.n;
const storedAddenda = async (reportId: string): Promise<number> =>
  (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM addenda WHERE report_id = $1', [reportId])).rows[0]!.n;

/** Sends a signed report with this content; returns the answer and whether the hub stored it. */
async function send(content: ReportContent, opts: { signedAt?: string } = {}) {
  const p = signedReport(rad, { content, ...opts });
  const r = await post(hub.url, token, p);
  return { status: r.status, body: r.body as ErrorBody, stored: await stored(p.report.id), payload: p };
}

const ZW = '\u200B';

/** Every field the issue names, written as `text`. */
function everyFieldAs(text: string): ReportContent {
  const c = signableContent();
  c.fields['conclusion'] = text;
  c.fields['brainParenchyma'] = text;
  c.comparison = { kind: 'compared', text };
  c.unexpected = { kind: 'findings', items: [{ id: 'u1', text, category: 'cancer', primarySite: text }] };
  c.alertCode = 'critical';
  c.verbal = { clinician: text, role: text, time: new Date().toISOString() };
  return c;
}

describe('issue 7 finding 3 at the hub: text that shows nothing is not written', () => {
  it('refuses a report whose every required text is zero-width spaces (was stored before issue 7), naming each field', async () => {
    const r = await send(everyFieldAs(ZW.repeat(3)));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('signoff-problems');
    for (const what of ['conclusion', 'Brain parenchyma', 'prior studies compared', 'finding 1 has no description', 'primary site', 'clinician', 'role']) {
      expect(r.body.error.message).toContain(what);
    }
    expect(r.stored).toBe(0);
  });

  it.each([['"."', '.'], ['a BOM', '\uFEFF'], ['an em dash', '—']])('refuses a conclusion of %s alone', async (_name, text) => {
    const c = signableContent();
    c.fields['conclusion'] = text;
    const r = await send(c);
    expect(r.status).toBe(422);
    expect(r.body.error.message).toMatch(/Write the conclusion/);
    expect(r.stored).toBe(0);
  });

  it('refuses an addendum of one zero-width space (was stored before issue 7), and stores a real one', async () => {
    const report = signedReport(rad);
    expect((await post(hub.url, token, report)).status).toBe(201);
    const empty = await post(hub.url, token, signedAddendum(rad, report, ZW));
    expect(empty.status).toBe(422);
    expect((empty.body as ErrorBody).error.message).toMatch(/addendum needs text/);
    expect(await storedAddenda(report.report.id)).toBe(0);
    expect((await post(hub.url, token, signedAddendum(rad, report, '\u200BCorrection: left, not right.'))).status).toBe(201);
    expect(await storedAddenda(report.report.id)).toBe(1);
  });

  it('accepts the same fields written in words of any script', async () => {
    const r = await send(everyFieldAs('\u200Bطبيعي 異常なし'));
    expect(r.status).toBe(201);
    expect(r.stored).toBe(1);
  });
});

describe('issue 7 finding 4 at the hub: the verbal-communication time', () => {
  const critical = (time: string): ReportContent => ({
    ...signableContent(), alertCode: 'critical', verbal: { clinician: 'Dr Joseph Lister', role: 'ED registrar', time },
  });

  it.each([
    ['"banana" (was stored and printed "at banana" before issue 7)', 'banana', /not a date and time/],
    ['1900', '1900-01-01T08:00:00.000Z', /before the study was performed/],
    ['2099', '2099-01-01T08:00:00.000Z', /after the report is signed/],
  ])('refuses %s', async (_name, time, message) => {
    const r = await send(critical(time));
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('signoff-problems');
    expect(r.body.error.message).toMatch(message);
    expect(r.stored).toBe(0);
  });

  it('accepts a time between the study and the signature', async () => {
    const r = await send(critical(new Date(Date.now() - 60_000).toISOString()));
    expect(r.status).toBe(201);
  });

  it('an outbox row without an exam (written before exams were recorded) is held to "at most 7 days before signing"', async () => {
    const old = signedReport(rad, { content: critical('2026-01-01T08:00:00.000Z'), exam: null });
    const r = await post(hub.url, token, old);
    expect(r.status).toBe(422);
    expect((r.body as ErrorBody).error.message).toMatch(/more than 7 days before signing/);
  });
});

describe('text PostgreSQL cannot store is refused as invalid input (400), never a 500 retried for ever', () => {
  it.each([
    ['a NUL in the conclusion', (c: ReportContent) => (c.fields['conclusion'] = 'Normal\u0000'), /NUL/],
    ['a lone surrogate in a finding', (c: ReportContent) => (c.fields['brainParenchyma'] = 'Normal \uD83D'), /unpaired surrogate/],
    ['a NUL in a field name', (c: ReportContent) => (c.fields['x\u0000'] = 'text'), /NUL/],
  ])('%s', async (_name, change, message) => {
    const c = signableContent();
    change(c);
    const r = await send(c);
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid-input');
    expect(r.body.error.message).toMatch(message);
    expect(r.stored).toBe(0);
  });

  it('a lone surrogate in a draft snapshot (the Unfinished list\'s copy) is refused, and the draft is not stored', async () => {
    const id = crypto.randomUUID();
    const c = signableContent();
    c.fields['conclusion'] = 'Draft \uDBFF';
    const r = await http<ErrorBody>(hub.url, 'PUT', `/api/drafts/${id}`, { token, body: { study: studyFor('d'), content: c, revision: 1, lastActivity: new Date().toISOString() } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/content\.fields\.conclusion: .*unpaired surrogate/);
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM drafts WHERE report_id = $1', [id])).rows[0]!.n).toBe(0);
  });

  it('a NUL in an addendum', async () => {
    const report = signedReport(rad);
    await post(hub.url, token, report);
    const r = await post(hub.url, token, signedAddendum(rad, report, 'Correction\u0000'));
    expect(r.status).toBe(400);
    expect((r.body as ErrorBody).error.message).toMatch(/NUL/);
    expect(await storedAddenda(report.report.id)).toBe(0);
  });
});

describe('issue 7 finding 8 at the hub: the cancer pathway is recorded apart from the alert code', () => {
  it('a cancer finding under an "urgent" alert is stored with cancerPathway in its event and audit row', async () => {
    const c = signableContent();
    c.unexpected = { kind: 'findings', items: [{ id: 'k1', text: 'Spiculated mass, right upper lobe.', category: 'cancer', primarySite: 'Lung' }] };
    c.alertCode = 'urgent';
    const r = await send(c);
    expect(r.status).toBe(201);
    const ev = await db.query<{ body: { alertCode: string; cancerPathway: boolean } }>(
      `SELECT body FROM events WHERE report_id = $1 AND type = 'report-signed'`, [r.payload.report.id]);
    expect(ev.rows[0]!.body).toMatchObject({ alertCode: 'urgent', cancerPathway: true });
    const au = await db.query<{ detail: string | { cancerPathway: boolean } }>(`SELECT detail FROM audit WHERE report_id = $1 AND action = 'ingest-report'`, [r.payload.report.id]);
    const detail = au.rows[0]!.detail;
    expect((typeof detail === 'string' ? JSON.parse(detail) : detail).cancerPathway).toBe(true);
    const served = await http<{ content: { alertCode: string }; cancerPathway: boolean }>(hub.url, 'GET', `/api/reports/${r.payload.report.id}`, { token });
    expect(served.status).toBe(200);
    expect(served.body).toMatchObject({ content: { alertCode: 'urgent' }, cancerPathway: true });
  });

  it('a report without any cancer is stored with cancerPathway false', async () => {
    const r = await send(signableContent());
    const ev = await db.query<{ body: { cancerPathway: boolean } }>(`SELECT body FROM events WHERE report_id = $1 AND type = 'report-signed'`, [r.payload.report.id]);
    expect(ev.rows[0]!.body.cancerPathway).toBe(false);
  });
});
