// Signed means immutable at the hub too (issue 8 line 2): the schema, its triggers and their
// functions belong to an owner role that migrates; the hub runs with an application login that
// may only read and write rows (grantAppRole). That login serves every route, and cannot drop,
// disable or replace the triggers that keep signed reports, signatures, addenda and the audit
// trail as they were written, nor TRUNCATE them. PostgreSQL only (PGlite has one user).
import crypto from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoginResponse } from '../../common/hub.ts';
import { buildHub, type Hub } from '../../server/app.ts';
import { auditUnsealed, sealAuditChain, verifyAuditChain } from '../../server/audit.ts';
import { createUser } from '../../server/auth.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { grantAppRole, migrate, MigrationError } from '../../server/db/migrations.ts';
import { dropPgSchema, openPg } from '../../server/db/pg.ts';
import { http, PG_URL, post, signedReport, TEST_COST } from './support.ts';

const tag = `${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
const schema = `t_roles_${tag}`;
const owner = `failsafe_owner_${tag}`;
const appRole = `failsafe_app_${tag}`;
const as = (role: string): string => {
  const u = new URL(PG_URL);
  u.username = role;
  u.password = '';
  return u.toString();
};

let admin: Client;
let ownerDb: HubDb;
let appDb: HubDb;
let hub: Hub;
let url = '';

beforeAll(async () => {
  admin = new Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE ROLE ${owner} LOGIN; CREATE ROLE ${appRole} LOGIN; CREATE SCHEMA ${schema} AUTHORIZATION ${owner}`);
  ownerDb = await openPg({ connectionString: as(owner), schema });
  await migrate(ownerDb);
  await grantAppRole(ownerDb, appRole);
  appDb = await openPg({ connectionString: as(appRole), schema });
  hub = await buildHub({ db: appDb });
  url = await hub.listen(0, '127.0.0.1');
}, 60_000);

afterAll(async () => {
  await hub?.close();
  await appDb?.close();
  await ownerDb?.close();
  await dropPgSchema(PG_URL, schema);
  await admin?.query(`DROP OWNED BY ${appRole}; DROP ROLE IF EXISTS ${appRole}; DROP ROLE IF EXISTS ${owner}`).catch(() => {});
  await admin?.end();
});

describe('the hub on an application login that owns nothing', () => {
  it('serves: starts (nothing to migrate), adds a user, logs in, ingests a signed report', async () => {
    await createUser(appDb, { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567', password: 'correct horse battery' }, { cost: TEST_COST });
    const login = await http<LoginResponse>(url, 'POST', '/api/session', { body: { username: 'ada', password: 'correct horse battery' } });
    expect(login.status).toBe(200);
    expect((await post(url, login.body.token, signedReport(login.body.user))).status).toBe(201);
    // It seals the audit chain too (failsafe_seal_audit: EXECUTE is PUBLIC's; it updates rows the grant covers).
    await appDb.query(`INSERT INTO audit (at, action) VALUES (now(), 'login')`);
    await sealAuditChain(appDb, { waitMs: 5000 }); // throws if this login may not
    expect(await verifyAuditChain(appDb)).toMatchObject({ ok: true });
    expect((await auditUnsealed(appDb)).rows).toBe(0);
  });

  it('cannot drop, disable or replace the immutability triggers, nor truncate; the triggers refuse its UPDATE and DELETE', async () => {
    const attempts = [
      'DROP TRIGGER signed_reports_state_only ON signed_reports',
      'ALTER TABLE signed_reports DISABLE TRIGGER ALL',
      'ALTER TABLE audit DISABLE TRIGGER audit_no_update',
      `CREATE OR REPLACE FUNCTION failsafe_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
      'TRUNCATE audit',
      'DROP TABLE signatures CASCADE',
      'SET session_replication_role = replica',
    ];
    for (const sql of attempts) await expect(appDb.query(sql), sql).rejects.toThrow(/must be owner|permission denied/);
    await expect(appDb.query(`UPDATE signed_reports SET content = '{}'::jsonb`)).rejects.toThrow(/immutable/);
    await expect(appDb.query('DELETE FROM signatures')).rejects.toThrow(/immutable/);
    await expect(appDb.query('DELETE FROM audit')).rejects.toThrow(/immutable/);
    const { rows } = await ownerDb.query<{ n: number }>('SELECT count(*)::int AS n FROM signatures');
    expect(rows[0]!.n).toBe(1);
  });

  it('a pending migration on the application login is refused in words, naming the owner step', async () => {
    const next = { id: 999, name: 'test: one more table', sql: 'CREATE TABLE later_table (id int);' };
    await expect(migrate(appDb, [{ id: 1, name: 'already', sql: '' }, next])).rejects.toThrow(MigrationError);
    await expect(migrate(appDb, [{ id: 1, name: 'already', sql: '' }, next])).rejects.toThrow(/may not change the schema [^]*npm run hub -- migrate/);
  });
});
