// No loss on the way out either: a database written by the release 865b120
// (test/fixtures/release-865b120), migrated by today's code, still holds outbox rows that today's
// hub (PGlite) accepts: signed reports and addenda by a radiologist, a locum, a reporting
// radiographer and a trainer, written by the old release (no exam in them), each sent byte for
// byte under its own signer's session. The hub then holds every report with exactly the content
// and signature hashes the migrated workstation holds. (The sender's scheduling is tested in
// test/main/sync; here the rows go out one by one.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile } from '../../../common/report.ts';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { OutboxPayload } from '../../../common/hubPayload.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { HubClient } from '../../../main/sync/HubClient.ts';
import { SqliteOutboxStore } from '../../../main/sync/OutboxStore.ts';
import type { HubDb } from '../../../server/db/adapter.ts';
import { addTrialUser, openTrialDb, startRealTrialHub, TRIAL_PASSWORD, type RealTrialHub } from '../../support/realHub.ts';
import { fixtureExam, tempDir } from '../reports/fixtures.ts';

const FIXTURE = path.join(import.meta.dirname, '../../fixtures/release-865b120/reports.sqlite');

/** The signers of the release database (see its generator), with hub accounts. */
const SIGNERS: (Profile & { username: string })[] = [
  { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' },
  { username: 'mary', name: 'Dr Mary Somerville', role: 'locum', registration: 'GMC 2222222' },
  { username: 'rosalind', name: 'Rosalind Franklin', role: 'radiographer', registration: 'HCPC RA12345' },
  { username: 'grace', name: 'Dr Grace Hopper', role: 'trainer', registration: 'GMC 7654321' },
];

let hubDb: HubDb;
let drop: () => Promise<void>;
let hub: RealTrialHub;
let dir: string;
let db: Db;

beforeAll(async () => {
  ({ db: hubDb, drop } = await openTrialDb('pglite'));
  hub = await startRealTrialHub(hubDb, SIGNERS[0]!);
  for (const s of SIGNERS.slice(1)) await addTrialUser(hubDb, s);
  // The release's reports were signed by people who had hub accounts then (a signature needs a hub
  // session): the accounts date from before the fixture, as they would in the department.
  await hubDb.query("UPDATE users SET created_at = '2026-01-01T00:00:00.000Z'");
  dir = tempDir('release-hub');
  const file = path.join(dir, 'failsafe.sqlite');
  fs.copyFileSync(FIXTURE, file);
  db = openDatabase(file);
}, 60_000);

afterAll(async () => {
  db?.close();
  fs.rmSync(dir, { recursive: true, force: true });
  await hub?.close();
  await drop?.();
});

describe('the release database, migrated, is accepted by today\'s hub', () => {
  it('every stored outbox row, sent as the release wrote it under its signer\'s session, is accepted; the hub holds the same hashes', async () => {
    const store = new ReportStore(db, { examFor: fixtureExam });
    const outbox = new SqliteOutboxStore(db);
    const clients = new Map<string, HubClient>();
    const clientFor = async (registration: string): Promise<HubClient> => {
      const signer = SIGNERS.find((s) => s.registration === registration);
      if (!signer) throw new Error(`no hub account for ${registration}`);
      let c = clients.get(signer.username);
      if (!c) {
        c = new HubClient({ baseUrl: hub.url, timeoutMs: 5000 });
        await c.login(signer.username, TRIAL_PASSWORD);
        clients.set(signer.username, c);
      }
      return c;
    };
    // Every row, in order, byte for byte; the one the fixture marked delivered (to another hub) too.
    const rows = (db.prepare('SELECT id, idempotency_key, payload FROM outbox ORDER BY id').all() as { id: number; idempotency_key: string; payload: string }[]);
    expect(rows).toHaveLength(7);
    for (const row of rows) {
      const p = OutboxPayload.parse(JSON.parse(row.payload));
      expect(p.kind === 'report' ? p.report.exam : undefined).toBeUndefined();
      const signature = p.kind === 'report' ? p.report.signature : p.kind === 'addendum' ? p.addendum.signature : p.signature;
      const outcome = await (await clientFor(signature.registration)).postSigned(row.idempotency_key, row.payload);
      expect(outcome, `row ${row.id} (${p.kind})`).toMatchObject({ kind: 'accepted' });
      if (outcome.kind === 'accepted') outbox.markSynced(row.id, outcome.receipt, new Date().toISOString());
    }

    const reader = await clientFor(SIGNERS[0]!.registration);
    const reportIds = [...new Set((db.prepare('SELECT report_id FROM outbox').all() as { report_id: string }[]).map((r) => r.report_id))];
    expect(reportIds).toHaveLength(4);
    for (const id of reportIds) {
      const local = store.get(id, 'test');
      const stored = await reader.signedReport(id);
      expect(stored.state, id).toBe(local.state);
      expect(stored.exam, id).toBeNull();
      expect(stored.content, id).toEqual(local.content);
      expect(stored.signatures.map((s) => [s.meaning, s.name, s.registration, s.signedAt, s.contentHash]), id).toEqual(
        local.signatures.map((s) => [s.meaning, s.name, s.registration, s.signedAt, s.contentHash]),
      );
    }
    expect((await hub.counts(reportIds)).size).toBe(4);
    for (const [, c] of await hub.counts(reportIds)) expect(c.reports).toBe(1);
  });
});
