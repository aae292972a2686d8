// A corrected report at the hub (issue 7, acceptance 9): a report that names the refused report it
// replaces (`replaces`, bound into its signature) is accepted, and the hub records which refused
// id it replaces; a `replaces` added, removed or changed after signing is a hash mismatch. Also
// finding 8's last hole: text PostgreSQL cannot store gets a 4xx naming it, never a 500.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedReportPayload } from '../../common/hubPayload.ts';
import { signedPayload } from '../../common/report.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { hubWithRadiologist, post, signableContent, signedReport, type TestHub, type TestUser, type ErrorBody } from './support.ts';

let db: HubDb;
let hub: TestHub;
let cleanup: () => Promise<void>;
let rad: TestUser;
let token: string;

beforeAll(async () => {
  ({ db, hub, rad, token, close: cleanup } = await hubWithRadiologist('hub_replacement'));
}, 180_000);
afterAll(async () => cleanup?.());

const sha256 = (s: string): string => crypto.createHash('sha256').update(s).digest('hex');

/** A signed report re-hashed as the workstation signs a corrected report replacing `replaces`. */
function correction(replaces: string): SignedReportPayload {
  const p = signedReport(rad);
  const r = p.report;
  const who = { name: r.signature.name, role: r.signature.role, registration: r.signature.registration };
  const contentHash = sha256(signedPayload(r.content, r.study, who, r.signature.signedAt, r.signature.meaning, r.exam, undefined, replaces));
  return { kind: 'report', report: { ...r, replaces, signature: { ...r.signature, contentHash } } };
}

async function auditDetail(reportId: string): Promise<Record<string, unknown>> {
  const au = await db.query<{ detail: string | Record<string, unknown> }>(`SELECT detail FROM audit WHERE report_id = $1 AND action = 'ingest-report'`, [reportId]);
  const d = au.rows[0]!.detail;
  return typeof d === 'string' ? (JSON.parse(d) as Record<string, unknown>) : d;
}


describe('a corrected report at the hub', () => {
  it('is stored, and the hub records the refused report id it replaces', async () => {
    const refusedId = crypto.randomUUID();
    const p = correction(refusedId);
    const r = await post(hub.url, token, p);
    expect(r.status).toBe(201);
    expect(await auditDetail(p.report.id)).toMatchObject({ replaces: refusedId });
  });

  it('an ordinary report records no replacement', async () => {
    const p = signedReport(rad);
    expect((await post(hub.url, token, p)).status).toBe(201);
    expect(await auditDetail(p.report.id)).not.toHaveProperty('replaces');
  });

  it('`replaces` is bound into the signature: changed, added or removed after signing, the hash does not match', async () => {
    const p = correction(crypto.randomUUID());
    const changed = { ...p, report: { ...p.report, id: crypto.randomUUID(), replaces: crypto.randomUUID() } };
    const { replaces: _drop, ...withoutReplaces } = p.report;
    const removed = { ...p, report: { ...withoutReplaces, id: crypto.randomUUID() } };
    const plain = signedReport(rad);
    const added = { ...plain, report: { ...plain.report, replaces: crypto.randomUUID() } };
    for (const forged of [changed, removed, added]) {
      const r = await post(hub.url, token, forged);
      expect(r.status).toBe(422);
      expect((r.body as ErrorBody).error.code).toBe('hash-mismatch');
    }
  });
});

describe('text PostgreSQL cannot store is a 4xx naming it, never a 500 (finding 8)', () => {
  it.each([
    ['a NUL in the conclusion', 'Normal\u0000'],
    ['a lone high surrogate in the conclusion', 'Normal \uD800 study'],
    ['a lone low surrogate in the conclusion', 'Normal \uDC00'],
  ])('%s', async (_name, text) => {
    const c = signableContent();
    c.fields['conclusion'] = text;
    const p = signedReport(rad, { content: c });
    const r = await post(hub.url, token, p);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect((r.body as ErrorBody).error.code).toBe('invalid-input');
  });

  it('a lone surrogate in `replaces` itself', async () => {
    const p = correction('refused-\uD800');
    const r = await post(hub.url, token, p);
    expect(r.status).toBe(400);
  });

  it.each([
    ['the report id', (p: SignedReportPayload) => ({ ...p, report: { ...p.report, id: `r-\uD800-${crypto.randomUUID()}` } })],
    ['the author', (p: SignedReportPayload) => ({ ...p, report: { ...p.report, author: 'Dr \u0000' } })],
    ['createdAt', (p: SignedReportPayload) => ({ ...p, report: { ...p.report, createdAt: '2026\uDC00' } })],
    ['the patient id', (p: SignedReportPayload) => ({ ...p, report: { ...p.report, study: { ...p.report.study, patientId: 'P\u0000' } } })],
  ])('unstorable text in %s: a 400, never a 500 retried for ever', async (_name, spoil) => {
    const r = await post(hub.url, token, spoil(signedReport(rad)));
    // The patient id is also inside the signed hash: refused either way, as a 4xx.
    expect(r.status === 400 || r.status === 422, `status ${r.status}`).toBe(true);
    expect(['invalid-input', 'hash-mismatch']).toContain((r.body as ErrorBody).error.code);
  });
});
