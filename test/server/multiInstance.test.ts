// Two hub instances on one PostgreSQL database (their own pools, their own LISTEN connections):
// what happens through one reaches a workstation connected to the other, via LISTEN/NOTIFY.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubEvent, TakeOverResponse } from '../../common/hub.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { addUser, http, loginAs, openSse, post, signableContent, signedReport, startTestHub, studyFor, testDb, type TestHub } from './support.ts';

describe('two hub instances on one PostgreSQL database', () => {
  let a: TestHub;
  let b: TestHub;
  let dbA: HubDb;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const d = await testDb('postgres', 'multi');
    dbA = d.db;
    const dbB = await d.open();
    a = await startTestHub(dbA, { instanceId: 'hub-a' });
    b = await startTestHub(dbB, { instanceId: 'hub-b', migrate: false });
    cleanup = async () => {
      await a.close();
      await b.close();
      await d.cleanup();
    };
  });
  afterAll(async () => cleanup());

  it('a take-over made through one instance reaches an SSE client connected to the other', async () => {
    const locum = await addUser(dbA, 'locum');
    const colleague = await addUser(dbA, 'radiologist');
    const locumToken = await loginAs(b.url, locum);
    const colleagueToken = await loginAs(a.url, colleague);
    const id = crypto.randomUUID();
    const study = studyFor('mi');
    // The locum drafts through instance B and watches B.
    expect((await http(b.url, 'PUT', `/api/drafts/${id}`, { token: locumToken, body: { study, content: signableContent(' locum text'), revision: 1, lastActivity: new Date().toISOString() } })).status).toBe(200);
    const onB = openSse(b.url, locumToken);
    expect((await onB.hello).instanceId).toBe('hub-b');
    try {
      const r = await http<TakeOverResponse>(a.url, 'POST', `/api/drafts/${id}/take-over`, { token: colleagueToken, body: { reason: 'locum gone home' } });
      expect(r.status).toBe(200);
      expect(r.body.draft.content.fields['brainParenchyma']).toContain('locum text');
      const e = await onB.waitFor((x) => x.type === 'draft-taken-over' && x.reportId === id, 5000);
      expect(e).toMatchObject({ from: { username: locum.username }, to: { username: colleague.username } });
      // And the former owner's next snapshot through B is refused, naming the new owner.
      const late = await http<{ error: { code: string; message: string } }>(b.url, 'PUT', `/api/drafts/${id}`, { token: locumToken, body: { study, content: signableContent(' more'), revision: 2, lastActivity: new Date().toISOString() } });
      expect(late.status).toBe(409);
      expect(late.body.error.message).toContain(colleague.name);
    } finally {
      onB.close();
    }
  });

  it('concurrent ingest on both instances reaches a client on each in one gap-free seq order', async () => {
    const users = await Promise.all([addUser(dbA, 'radiologist'), addUser(dbA, 'radiologist')]);
    const tokens = [await loginAs(a.url, users[0]!), await loginAs(b.url, users[1]!)];
    const watchA = openSse(a.url, tokens[0]!);
    const watchB = openSse(b.url, tokens[1]!);
    await Promise.all([watchA.hello, watchB.hello]);
    try {
      const ids: string[] = [];
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 60; i++) {
        const which = i % 2;
        const p = signedReport(users[which]!);
        ids.push(p.report.id);
        sends.push(post(which === 0 ? a.url : b.url, tokens[which]!, p));
      }
      const results = (await Promise.all(sends)) as { status: number }[];
      expect(results.every((r) => r.status === 201)).toBe(true);
      for (const w of [watchA, watchB]) {
        for (const id of ids) await w.waitFor((e) => e.type === 'report-signed' && e.reportId === id, 8000);
        const signed = w.events.filter((e) => e.type === 'report-signed' && ids.includes(e.reportId));
        expect(signed).toHaveLength(60);
        const seqs = w.events.map((e) => e.seq);
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        // Consecutive: nothing skipped between the first and the last.
        expect(seqs[seqs.length - 1]! - seqs[0]! + 1).toBe(seqs.length);
      }
    } finally {
      watchA.close();
      watchB.close();
    }
  });

  it('keeps delivering (by polling, then by a new LISTEN) when the LISTEN connection is killed', async () => {
    const u = await addUser(dbA, 'radiologist');
    const token = await loginAs(b.url, u);
    const watch = openSse(b.url, token);
    await watch.hello;
    try {
      // The listening connection's last statement is the LISTEN of one of its channels (events, sessions).
      const listenOn = `LISTEN "failsafe\\_%\\_${b.hub.db.eventChannel.replace(/^failsafe_events_/, '')}"`;
      const killed = await dbA.query<{ n: number }>(
        'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE query LIKE $1', [listenOn]);
      expect(killed.rows[0]!.n).toBeGreaterThanOrEqual(1);
      const p = signedReport(u);
      expect((await post(a.url, token, p)).status).toBe(201);
      const e: HubEvent = await watch.waitFor((x) => x.reportId === p.report.id, 5000);
      expect(e.type).toBe('report-signed');
      // After the reconnect delay a new LISTEN connection exists again.
      await new Promise((r) => setTimeout(r, 1500));
      const listening = await dbA.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE $1', [listenOn]);
      expect(listening.rows[0]!.n).toBeGreaterThanOrEqual(1);
    } finally {
      watch.close();
    }
  });
});
