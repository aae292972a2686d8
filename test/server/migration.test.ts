// Migration 3 (the report life cycle) on a hub database written by the release before it, on
// PGlite and on PostgreSQL: the database is migrated to version 2 only, signed reports are
// ingested by that release's own code (migration 2's failsafe_ingest_reports, exactly what its
// hub called) and addenda, audit rows and events written with the statements that release ran.
// After migrating: every report, addendum, audit row and event is unchanged, every signature has
// moved into `signatures` with its hash as stored, and each verifies alone; the hub serves them
// and takes new addenda on them.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubSignedReport as HubSignedReportSchema } from '../../common/hub.ts';
import type { SignedReportPayload } from '../../common/hubPayload.ts';
import { verifyAuditChain } from '../../server/audit.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { migrate, MIGRATIONS } from '../../server/db/migrations.ts';
import { dropPgSchema, openPg } from '../../server/db/pg.ts';
import { openPglite } from '../../server/db/pglite.ts';
import { checkSignatures } from './signatureCheck.ts';
import { addUser, http, loginAs, PG_URL, post, sha256, signedAddendum, signedReport, startTestHub, type DbKind, type TestUser } from './support.ts';

/** The schema as the previous release shipped it. */
const SHIPPED = MIGRATIONS.filter((m) => m.id <= 2);

/** A signed report stored the way the previous release stored it: its fast path, one statement. */
async function ingestAsShipped(db: HubDb, u: TestUser & { id: number }, p: SignedReportPayload, at: string): Promise<void> {
  const r = p.report;
  const sig = r.signature;
  const key = crypto.randomUUID();
  const response = JSON.stringify({ kind: 'report', reportId: r.id, contentHash: sig.contentHash, storedAt: at, alreadyStored: false });
  const item = {
    key, userId: u.id, requestHash: sha256(key), at, response, id: r.id, patientId: r.study.patientId, studyUid: r.study.studyUid,
    content: r.content, signerName: sig.name, signerRole: sig.role, signerRegistration: sig.registration, signedAt: sig.signedAt,
    contentHash: sig.contentHash, author: r.author, createdAt: r.createdAt, audit: { contentHash: sig.contentHash, idempotencyKey: key },
    event: { type: 'report-signed', at, reportId: r.id, kind: 'report', study: r.study, signer: { name: sig.name, registration: sig.registration, role: sig.role }, alertCode: r.content.alertCode },
    unfinishedEvent: { type: 'unfinished-changed', at, reportId: r.id, reason: 'signed', owner: u.username },
  };
  const { rows } = await db.query<{ outcome: string }>('SELECT failsafe_ingest_reports($1::jsonb) AS outcome', [JSON.stringify([item])]);
  expect(rows.map((x) => x.outcome)).toEqual(['stored']);
}

/** An addendum stored with the statements the previous release's general path ran. */
async function addendumAsShipped(db: HubDb, u: TestUser & { id: number }, p: SignedReportPayload, text: string, at: string): Promise<string> {
  const a = signedAddendum(u, p, text);
  const sig = a.addendum.signature;
  const key = crypto.randomUUID();
  await db.transaction(async (tx) => {
    await tx.query(`INSERT INTO idempotency (key, user_id, request_hash, status, response, created_at) VALUES ($1, $2, $3, 201, '{}', $4)`, [key, u.id, sha256(key), at]);
    await tx.query(
      `INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash, stored_at, stored_by, idempotency_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [a.addendum.id, a.reportId, a.originalHash, a.addendum.text, sig.name, sig.role, sig.registration, sig.signedAt, sig.contentHash, at, u.id, key],
    );
    await tx.query(`INSERT INTO audit (at, actor_id, action, report_id, detail) VALUES ($1, $2, 'ingest-addendum', $3, $4)`,
      [at, u.id, a.reportId, JSON.stringify({ addendumId: a.addendum.id, contentHash: sig.contentHash, idempotencyKey: key })]);
    await tx.query('INSERT INTO events (at, type, report_id, body) VALUES ($1, $2, $3, $4)', [at, 'report-signed', a.reportId,
      JSON.stringify({ type: 'report-signed', at, reportId: a.reportId, kind: 'addendum', addendumId: a.addendum.id, study: p.report.study,
        signer: { name: sig.name, registration: sig.registration, role: sig.role }, alertCode: p.report.content.alertCode })]);
  });
  return a.addendum.id;
}

describe.each<DbKind>(['pglite', 'postgres'])('migration 3 on a database written by the previous release (%s)', (kind) => {
  let db: HubDb;
  let drop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    if (kind === 'pglite') {
      db = await openPglite();
      drop = () => db.close();
    } else {
      const schema = `t_migration_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
      db = await openPg({ connectionString: PG_URL, schema });
      drop = async () => {
        await db.close();
        await dropPgSchema(PG_URL, schema);
      };
    }
  }, 180_000); // PGlite compiles its WebAssembly on open: slow on a busy machine
  afterAll(async () => drop());

  it('keeps every report, addendum, audit row and event; moves every signature in with its hash; each verifies alone; a failed upgrade changes nothing', async () => {
    expect(await migrate(db, SHIPPED)).toEqual([1, 2]);
    const users: (TestUser & { id: number })[] = [];
    for (const role of ['radiologist', 'locum', 'trainer'] as const) {
      const u = await addUser(db, role);
      const { rows } = await db.query<{ id: number }>('SELECT id FROM users WHERE username = $1', [u.username]);
      users.push({ ...u, id: rows[0]!.id });
    }
    const reports: SignedReportPayload[] = [];
    const addendaOf = new Map<string, string[]>();
    const t0 = Date.parse('2026-11-01T08:00:00Z');
    for (let i = 0; i < 24; i++) {
      const u = users[i % users.length]!;
      // Signed by the previous release's workstation: no exam in the signed payload.
      const p = signedReport(u, { exam: null, signedAt: new Date(t0 + i * 60_000).toISOString() });
      await ingestAsShipped(db, u, p, new Date(t0 + i * 60_000 + 500).toISOString());
      reports.push(p);
      const n = i % 4 === 0 ? 2 : i % 3 === 0 ? 1 : 0;
      for (let k = 0; k < n; k++) {
        const id = await addendumAsShipped(db, users[(i + k) % users.length]!, p, `Addendum ${k + 1} to report ${i}.`, new Date(t0 + i * 60_000 + 1000 + k).toISOString());
        addendaOf.set(p.report.id, [...(addendaOf.get(p.report.id) ?? []), id]);
      }
    }
    const ids = reports.map((p) => p.report.id);
    const dump = async (sql: string) => (await db.query(sql)).rows;
    const before = {
      reports: await dump('SELECT id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at, content_hash, author, created_at, stored_at, stored_by, idempotency_key FROM signed_reports ORDER BY id'),
      addenda: await dump('SELECT * FROM addenda ORDER BY id'),
      // The columns the release wrote (migration 9 adds the audit chain's beside them).
      audit: await dump('SELECT seq, at, actor_id, action, report_id, detail FROM audit ORDER BY seq'),
      events: await dump('SELECT * FROM events ORDER BY seq'),
      idempotency: await dump('SELECT * FROM idempotency ORDER BY key'),
    };
    expect(before.reports).toHaveLength(24);
    const addendumCount = [...addendaOf.values()].flat().length;
    expect(before.addenda).toHaveLength(addendumCount);

    // An upgrade that fails part-way (here: a later step that cannot run) leaves the database as the release wrote it.
    await expect(migrate(db, [...MIGRATIONS, { id: 999, name: 'fails', sql: 'SELECT 1 / 0' }])).rejects.toThrow(/division by zero/);
    expect((await db.query<{ id: number }>('SELECT id FROM schema_migrations ORDER BY id')).rows.map((r) => r.id)).toEqual([1, 2]);
    expect(await dump(`SELECT table_name FROM information_schema.tables WHERE table_name = 'signatures' AND table_schema = current_schema()`)).toEqual([]);
    expect(await dump(`SELECT proname FROM pg_proc WHERE proname = 'failsafe_ingest_reports' AND pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())`)).toHaveLength(1);

    expect(await migrate(db)).toEqual(MIGRATIONS.filter((m) => m.id > 2).map((m) => m.id));

    expect(await dump('SELECT id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at, content_hash, author, created_at, stored_at, stored_by, idempotency_key FROM signed_reports ORDER BY id')).toEqual(before.reports);
    expect(await dump('SELECT * FROM addenda ORDER BY id')).toEqual(before.addenda);
    expect(await dump('SELECT seq, at, actor_id, action, report_id, detail FROM audit ORDER BY seq')).toEqual(before.audit);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: before.audit.length });
    expect(await dump('SELECT * FROM events ORDER BY seq')).toEqual(before.events);
    expect(await dump('SELECT * FROM idempotency ORDER BY key')).toEqual(before.idempotency);

    const sigs = await checkSignatures(db, ids);
    // Straight from the table too: one record per signature made, each hash as the old rows hold it.
    const { rows: raw } = await db.query<{ content_hash: string }>('SELECT content_hash FROM signatures ORDER BY seq');
    expect(raw.map((r) => r.content_hash).sort()).toEqual([...before.reports.map((r) => r['content_hash']), ...before.addenda.map((a) => a['content_hash'])].sort());
    expect(sigs).toHaveLength(24 + addendumCount);
    expect(sigs.filter((s) => !s.verifies)).toEqual([]);
    for (const p of reports) {
      const mine = sigs.filter((s) => s.reportId === p.report.id);
      expect(mine[0]).toMatchObject({ ...p.report.signature, addendumId: null });
      expect(mine.slice(1).map((s) => s.addendumId)).toEqual(addendaOf.get(p.report.id) ?? []);
    }
    const { rows: states } = await db.query<{ id: string; state: string; exam: unknown; requester_unknown: boolean }>('SELECT id, state, exam, requester_unknown FROM signed_reports');
    for (const s of states) {
      expect(s).toEqual({ id: s.id, state: addendaOf.has(s.id) ? 'appended' : 'final', exam: null, requester_unknown: true });
    }

    // The hub serves the migrated reports and takes new records on them.
    const t = await startTestHub(db, { migrate: false });
    try {
      const u = users[0]!;
      const token = await loginAs(t.url, u);
      for (const p of reports) {
        const got = HubSignedReportSchema.parse((await http(t.url, 'GET', `/api/reports/${p.report.id}`, { token })).body);
        expect(got.signature).toEqual(p.report.signature);
        expect(got.signatures.map((s) => s.contentHash)).toEqual(sigs.filter((s) => s.reportId === p.report.id).map((s) => s.contentHash));
      }
      const plain = reports.find((p) => !addendaOf.has(p.report.id))!;
      expect((await post(t.url, token, signedAddendum(u, plain))).status).toBe(201);
      // A retried delivery of a report stored before the migration is recognised as stored.
      const dup = await post(t.url, await loginAs(t.url, users[1]!), reports[1]!);
      expect([dup.status, (dup.body as { alreadyStored: boolean }).alreadyStored]).toEqual([200, true]);
      expect((await checkSignatures(db, [plain.report.id])).map((s) => [s.meaning, s.verifies])).toEqual([['final-report', true], ['addendum', true]]);
    } finally {
      await t.close();
    }
  });
});
