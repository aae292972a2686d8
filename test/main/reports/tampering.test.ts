// Signed means verified (issue 8, finding 2): someone with the database file changes a signed,
// not-yet-sent report and rewrites its outbox payload so that its hash matches the new text (a
// "self-consistent" edit, which the hub alone cannot tell from a real one). The workstation
// checks every outbox row against the immutable signature record and the report as stored before
// it sends: the edit is shown as tampering, the row is marked failed with the reason in words and
// nothing reaches the hub. An intact report, signed beside it, is delivered as usual.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedPayload, type ReportContent } from '../../../common/report.ts';
import type { SignedReportPayload } from '../../../common/hubPayload.ts';
import { WorkstationHub } from '../../../main/hub/WorkstationHub.ts';
import { sha256 } from '../../../main/reports/ReportRepository.ts';
import type { HubDb } from '../../../server/db/adapter.ts';
import { openTrialDb, startRealTrialHub, TRIAL_PASSWORD, type RealTrialHub } from '../../support/realHub.ts';
import { workstation, type Workstation } from '../../support/syncWorkstation.ts';
import { until } from '../../support/until.ts';
import { RADIOLOGIST } from './fixtures.ts';

let db: HubDb;
let drop: () => Promise<void>;
let hub: RealTrialHub;

beforeAll(async () => {
  ({ db, drop } = await openTrialDb('pglite'));
  hub = await startRealTrialHub(db, { ...RADIOLOGIST, username: 'ada' });
}, 60_000);

afterAll(async () => {
  await hub?.close();
  await drop?.();
});

const outboxRow = (ws: Workstation, reportId: string) =>
  ws.db.prepare<[string], { id: number; payload: string }>(`SELECT id, payload FROM outbox WHERE report_id = ? AND kind = 'report'`).get(reportId)!;

/** A determined editor with the file: drops the guards, then writes `rewrite` (the guards are restored after, as if never touched). */
function withoutGuards(ws: Workstation, rewrite: () => void): void {
  const triggers = ws.db.prepare<[], { name: string; sql: string }>(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('reports', 'outbox')`).all();
  for (const t of triggers) ws.db.exec(`DROP TRIGGER ${t.name}`);
  rewrite();
  for (const t of triggers) ws.db.exec(t.sql);
}

/** The outbox payload rewritten around `content`, its hash recomputed: valid on its own. */
function selfConsistent(payloadJson: string, content: ReportContent): string {
  const p = JSON.parse(payloadJson) as SignedReportPayload;
  const r = p.report;
  const s = r.signature;
  const contentHash = sha256(signedPayload(content, r.study, { name: s.name, role: s.role, registration: s.registration }, s.signedAt, s.meaning, r.exam, undefined, r.replaces));
  return JSON.stringify({ ...p, report: { ...r, content, signature: { ...s, contentHash } } });
}

describe('a signed report changed after signing', () => {
  it('is shown as tampered and never sent, even when its outbox payload was rewritten to match; an intact report beside it is delivered', async () => {
    const ws = workstation({ profile: RADIOLOGIST });
    const tampered = ws.sign();
    const payloadOnly = ws.sign();
    const intact = ws.sign();
    const original = ws.store.get(tampered, 'test');
    const edited: ReportContent = { ...original.content, fields: { ...original.content.fields, conclusion: 'Normal study. No abnormality.' } };

    // 1. Report row and outbox payload both rewritten, each consistent with the other.
    withoutGuards(ws, () => {
      ws.db.prepare('UPDATE reports SET content = ? WHERE id = ?').run(JSON.stringify(edited), tampered);
      const row = outboxRow(ws, tampered);
      ws.db.prepare('UPDATE outbox SET payload = ? WHERE id = ?').run(selfConsistent(row.payload, edited), row.id);
    });
    // 2. Only the outbox payload rewritten: the report here is intact, the row is not what was signed.
    withoutGuards(ws, () => {
      const row = outboxRow(ws, payloadOnly);
      ws.db.prepare('UPDATE outbox SET payload = ? WHERE id = ?').run(selfConsistent(row.payload, edited), row.id);
    });

    const shown = ws.store.get(tampered, 'test');
    expect(shown.tampering?.length).toBeGreaterThan(0);
    expect(shown.tampering![0]).toMatch(/does not match the report as it is now/);
    expect(ws.store.get(payloadOnly, 'test').tampering).toBeUndefined();
    expect(ws.store.get(intact, 'test').tampering).toBeUndefined();

    const h = new WorkstationHub({ baseUrl: hub.url, embedded: false, db: ws.db, reports: ws.store, timeoutMs: 3000, baseDelayMs: 20 });
    try {
      await h.login('ada', TRIAL_PASSWORD);
      h.start();
      for (const id of [tampered, payloadOnly, intact]) h.signed(id);
      h.sender.wake();
      await until(() => h.syncStatus(intact).state === 'synced' && h.syncStatus(tampered).state === 'failed' && h.syncStatus(payloadOnly).state === 'failed', 15_000);
      expect(h.syncStatus(tampered).reason).toMatch(/no longer matches what was signed.*is not the one on the signature record/);
      expect(h.syncStatus(payloadOnly).reason).toMatch(/no longer matches what was signed.*is not the one on the signature record/);
      const counts = await hub.counts([tampered, payloadOnly, intact]);
      expect(counts.get(tampered)?.reports ?? 0).toBe(0);
      expect(counts.get(payloadOnly)?.reports ?? 0).toBe(0);
      expect(counts.get(intact)!.reports).toBe(1);
      // A person's retry is refused in words, and sends nothing.
      expect(() => h.retry(tampered)).toThrow(/changed after signing; resending cannot help/);
      h.sender.wake();
      await new Promise((r) => setTimeout(r, 200));
      expect(h.syncStatus(tampered).state).toBe('failed');
      expect((await hub.counts([tampered])).get(tampered)?.reports ?? 0).toBe(0);
    } finally {
      await h.stop();
    }
  });
});
