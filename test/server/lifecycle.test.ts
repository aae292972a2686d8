// The report life cycle at the hub (issue 6), on PGlite and on PostgreSQL: exam details stored
// and bound into the hash, requester unknown flagged, a trainee's provisional report, a trainer's
// verification making it final with both people recorded, addenda only on final reports, and
// signature records that nothing can change. Each rule is attacked the way a careless or hostile
// client would: the wrong role, the wrong person, the wrong hash, two at once, raw SQL.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubEvent, HubSignedReport as HubSignedReportSchema, IngestReceipt as IngestReceiptSchema, type HubSignedReport, type IngestReceipt } from '../../common/hub.ts';
import type { Role } from '../../common/report.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { checkSignatures } from './signatureCheck.ts';
import {
  addUser, examFor, http, loginAs, openSse, post, signedAddendum, signedReport, studyFor, verificationOf, type DbKind, type TestUser, count, errorCode as code, openTestHub, type ErrorBody,
} from './support.ts';



describe.each<DbKind>(['pglite', 'postgres'])('report life cycle at the hub (%s)', (kind) => {
  let db: HubDb;
  let url: string;
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    ({ db, url, close } = await openTestHub(kind, `lifecycle_${kind}`, { pingMs: 200 }));
  }, 180_000); // PGlite compiles its WebAssembly on open: slow on a busy machine
  afterAll(async () => close());

  const session = async (role: Role): Promise<{ u: TestUser; token: string }> => {
    const u = await addUser(db, role);
    return { u, token: await loginAs(url, u) };
  };
  const getReport = async (token: string, id: string): Promise<HubSignedReport> => {
    const r = await http<HubSignedReport>(url, 'GET', `/api/reports/${id}`, { token });
    expect(r.status).toBe(200);
    return HubSignedReportSchema.parse(r.body);
  };

  describe('exam details', () => {
    it('stores the exam with the report, in indexed columns for routing, and the hash binds it', async () => {
      const { u, token } = await session('radiologist');
      const p = signedReport(u);
      const exam = p.report.exam!;
      // Moved to another exam after signing: refused.
      const moved = structuredClone(p);
      moved.report.exam = { ...exam, accession: 'ACC-SOMEONE-ELSE' };
      expect(code(await post(url, token, moved))).toBe('hash-mismatch');
      const dropped = structuredClone(p);
      delete dropped.report.exam;
      expect(code(await post(url, token, dropped))).toBe('hash-mismatch');
      expect(await count(db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(0);
      expect((await post(url, token, p)).status).toBe(201);
      const got = await getReport(token, p.report.id);
      expect(got).toMatchObject({ state: 'final', exam, requesterUnknown: false });
      expect(got.signatures).toEqual([expect.objectContaining({ reportId: p.report.id, meaning: 'final-report', contentHash: p.report.signature.contentHash, addendumId: null })]);
      const { rows } = await db.query('SELECT accession, referring_physician, requesting_service, modality, study_date, requester_unknown FROM signed_reports WHERE id = $1', [p.report.id]);
      expect(rows[0]).toEqual({
        accession: exam.accession, referring_physician: exam.referringPhysician, requesting_service: exam.requestingService,
        modality: 'CT', study_date: '20261128', requester_unknown: false,
      });
    });

    it('accepts a report from a study with no requester and flags it; a legacy payload without exam likewise', async () => {
      const { u, token } = await session('radiologist');
      const study = studyFor('noreq');
      const noRequester = signedReport(u, { study, exam: examFor(study, ' ^^ ', '') });
      expect((await post(url, token, noRequester)).status).toBe(201);
      expect(await getReport(token, noRequester.report.id)).toMatchObject({ requesterUnknown: true, exam: noRequester.report.exam });
      const serviceOnly = signedReport(u, { exam: examFor(study, '', 'Ward 7') });
      expect((await post(url, token, serviceOnly)).status).toBe(201);
      expect((await getReport(token, serviceOnly.report.id)).requesterUnknown).toBe(false);
      const legacy = signedReport(u, { exam: null });
      expect(legacy.report.exam).toBeUndefined();
      expect((await post(url, token, legacy)).status).toBe(201);
      expect(await getReport(token, legacy.report.id)).toMatchObject({ exam: null, requesterUnknown: true, state: 'final' });
      expect(await count(db, 'signed_reports WHERE requester_unknown AND id = ANY($1::text[])', [[noRequester.report.id, legacy.report.id, serviceOnly.report.id]])).toBe(2);
    });
  });

  describe('who may sign what', () => {
    it('a trainee\'s final report is refused (403); a referrer\'s or a radiologist\'s provisional report is refused (403); nothing stored', async () => {
      const trainee = await session('trainee');
      const referrer = await session('referrer');
      const rad = await session('radiologist');
      const attempts = [
        [trainee, signedReport(trainee.u), 'A trainee may not issue a final report.'],
        [referrer, signedReport(referrer.u, { meaning: 'provisional' }), 'A referrer may not sign a provisional report.'],
        [rad, signedReport(rad.u, { meaning: 'provisional' }), 'A radiologist may not sign a provisional report.'],
      ] as const;
      for (const [who, p, message] of attempts) {
        const key = crypto.randomUUID();
        const r = await post(url, who.token, p, key);
        expect([who.u.role, r.status]).toEqual([who.u.role, 403]);
        expect((r.body as ErrorBody).error).toMatchObject({ code: 'forbidden', message });
        expect(await count(db, 'signed_reports WHERE id = $1', [p.report.id])).toBe(0);
        expect(await count(db, 'idempotency WHERE key = $1', [key])).toBe(0);
      }
    });
  });

  describe('provisional report and verification', () => {
    it('a trainee\'s provisional report is stored as provisional; a trainer\'s verification makes it final with both people recorded', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const sse = openSse(url, trainer.token);
      await sse.hello;
      try {
        const p = signedReport(trainee.u, { meaning: 'provisional' });
        const stored = await post(url, trainee.token, p);
        expect(stored.status).toBe(201);
        expect(IngestReceiptSchema.parse(stored.body)).toMatchObject({ kind: 'report', reportId: p.report.id, alreadyStored: false });
        const provisional = await getReport(trainee.token, p.report.id);
        expect(provisional.state).toBe('provisional');
        expect(provisional.signature).toEqual(p.report.signature);
        const signedEvent = await sse.waitFor((e) => e.type === 'report-signed' && e.reportId === p.report.id);
        expect(signedEvent).toMatchObject({ kind: 'report', state: 'provisional' });

        const v = verificationOf(trainer.u, p);
        const key = crypto.randomUUID();
        const first = await post(url, trainer.token, v, key);
        expect(first.status).toBe(201);
        expect(IngestReceiptSchema.parse(first.body)).toMatchObject({ kind: 'verification', reportId: p.report.id, contentHash: v.signature.contentHash, alreadyStored: false });
        // Idempotent like everything else: the same key replays, a new key finds it stored.
        const again = await post(url, trainer.token, v, key);
        expect(again.text).toBe(first.text);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        const newKey = await post(url, trainer.token, v);
        expect(newKey.status).toBe(200);
        expect((newKey.body as IngestReceipt).alreadyStored).toBe(true);

        const final = await getReport(trainer.token, p.report.id);
        expect(final.state).toBe('final');
        expect(final.signatures.map((s) => [s.meaning, s.name, s.role])).toEqual([
          ['provisional', trainee.u.name, 'trainee'],
          ['verification', trainer.u.name, 'trainer'],
        ]);
        expect(final.signatures[1]!.contentHash).toBe(v.signature.contentHash);
        const verified = await sse.waitFor((e) => e.type === 'report-signed' && e.reportId === p.report.id && e.kind === 'verification');
        expect(HubEvent.parse(verified)).toMatchObject({ state: 'final', signer: { name: trainer.u.name, role: 'trainer' } });
        expect(await count(db, `events WHERE report_id = $1 AND type = 'report-signed'`, [p.report.id])).toBe(2);
        const { rows: audit } = await db.query<{ action: string; actor_id: number; detail: { provisionalSigner?: { name: string } } }>(
          'SELECT action, actor_id, detail FROM audit WHERE report_id = $1 ORDER BY seq', [p.report.id]);
        expect(audit.map((a) => a.action)).toEqual(['ingest-report', 'ingest-verification']);
        expect(audit[1]!.detail.provisionalSigner?.name).toBe(trainee.u.name);
        expect((await checkSignatures(db, [p.report.id])).map((s) => s.verifies)).toEqual([true, true]);
      } finally {
        sse.close();
      }
    });

    it('a verification that arrives before its provisional report is retried, not remembered (original-not-synced)', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const p = signedReport(trainee.u, { meaning: 'provisional' });
      const v = verificationOf(trainer.u, p);
      const key = crypto.randomUUID();
      const early = await post(url, trainer.token, v, key);
      expect(early.status).toBe(409);
      expect(code(early)).toBe('original-not-synced');
      expect(await count(db, 'idempotency WHERE key = $1', [key])).toBe(0);
      expect((await post(url, trainee.token, p)).status).toBe(201);
      expect((await post(url, trainer.token, v, key)).status).toBe(201);
    });

    it('refuses a verification by a trainee, by a radiologist, and by the trainee who wrote it (now a trainer)', async () => {
      const trainee = await session('trainee');
      const other = await session('trainee');
      const rad = await session('radiologist');
      const p = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, p)).status).toBe(201);
      for (const who of [trainee, other, rad]) {
        const r = await post(url, who.token, verificationOf(who.u, p));
        expect([who.u.role, r.status, code(r)]).toEqual([who.u.role, 403, 'forbidden']);
      }
      // The writer is promoted to trainer: still not the one to verify their own report.
      await db.query(`UPDATE users SET role = 'trainer' WHERE username = $1`, [trainee.u.username]);
      const promoted = { ...trainee.u, role: 'trainer' as const };
      const self = await post(url, await loginAs(url, promoted), verificationOf(promoted, p));
      expect(self.status).toBe(403);
      expect((self.body as ErrorBody).error.message).toContain('another person must verify it');
      expect((await getReport(trainee.token, p.report.id)).state).toBe('provisional');
      expect(await count(db, `signatures WHERE report_id = $1`, [p.report.id])).toBe(1);
    });

    it('refuses a verification of an unknown hash, a tampered one, one signed as someone else, and one of a final report', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const other = await session('trainer');
      const p = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, p)).status).toBe(201);
      const unknown = await post(url, trainer.token, verificationOf(trainer.u, p, { provisionalHash: 'a'.repeat(64) }));
      expect([unknown.status, code(unknown)]).toEqual([422, 'original-hash-mismatch']);
      const tampered = verificationOf(trainer.u, p);
      tampered.signature.signedAt = new Date(Date.now() + 1000).toISOString();
      expect(code(await post(url, trainer.token, tampered))).toBe('hash-mismatch');
      expect(code(await post(url, other.token, verificationOf(trainer.u, p)))).toBe('signer-mismatch');
      // A trainer's own final report is not awaiting verification.
      const final = signedReport(trainer.u);
      expect((await post(url, trainer.token, final)).status).toBe(201);
      const notProvisional = await post(url, other.token, verificationOf(other.u, final));
      expect([notProvisional.status, code(notProvisional)]).toEqual([409, 'invalid-transition']);
      expect(await count(db, `signatures WHERE report_id = ANY($1::text[]) AND meaning = 'verification'`, [[p.report.id, final.report.id]])).toBe(0);
      expect((await getReport(trainer.token, p.report.id)).state).toBe('provisional');
    });

    it('refuses a verification signed before the provisional report it verifies, and an addendum signed before the signature that made its report final', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const at = (minutes: number): string => new Date(Date.now() + minutes * 60_000).toISOString();
      const p = signedReport(trainee.u, { meaning: 'provisional', signedAt: at(4) });
      expect((await post(url, trainee.token, p)).status).toBe(201);
      // Six minutes before the provisional signature: beyond any clock difference between workstations.
      const refused = await post(url, trainer.token, verificationOf(trainer.u, p, { signedAt: at(-2) }));
      expect([refused.status, code(refused)]).toEqual([422, 'signed-at-implausible']);
      expect((refused.body as ErrorBody).error.message).toMatch(/before the report it refers to was signed/);
      // Within 5 minutes (two clocks that differ a little): accepted.
      const v = verificationOf(trainer.u, p, { signedAt: at(0) });
      expect((await post(url, trainer.token, v)).status).toBe(201);
      const q = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, q)).status).toBe(201);
      const v2 = verificationOf(trainer.u, q, { signedAt: at(4.5) });
      expect((await post(url, trainer.token, v2)).status).toBe(201);
      // Signed (and hashed) six minutes before the verification that made its report final.
      const late = await post(url, trainer.token, signedAddendum(trainer.u, q, 'Backdated addendum.', v2.signature.contentHash, at(-1.5)));
      expect([late.status, code(late)]).toEqual([422, 'signed-at-implausible']);
      expect(await count(db, 'addenda WHERE report_id = $1', [q.report.id])).toBe(0);
      expect((await getReport(trainer.token, q.report.id)).state).toBe('final');
    });

    it('two verifications at once by two trainers: one is stored, the other refused', async () => {
      const trainee = await session('trainee');
      const a = await session('trainer');
      const b = await session('trainer');
      const p = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, p)).status).toBe(201);
      // Eight different verifications (each its own signing time: copies signed within one
      // millisecond would be one record, answered as already stored).
      const base = Date.now();
      const at = (i: number): { signedAt: string } => ({ signedAt: new Date(base + i * 1000).toISOString() });
      const results = await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => post(url, a.token, verificationOf(a.u, p, at(i)))),
        ...Array.from({ length: 4 }, (_, i) => post(url, b.token, verificationOf(b.u, p, at(i + 4)))),
      ]);
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.every((r) => r.status === 201 || code(r) === 'invalid-transition')).toBe(true);
      expect(await count(db, `signatures WHERE report_id = $1 AND meaning = 'verification'`, [p.report.id])).toBe(1);
      expect(await count(db, `events WHERE report_id = $1 AND type = 'report-signed'`, [p.report.id])).toBe(2);
    });

    it('one verification delivered many times at once, under one key and under new keys, is stored once with one event', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const p = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, p)).status).toBe(201);
      const v = verificationOf(trainer.u, p);
      const key = crypto.randomUUID();
      const results = await Promise.all([
        ...Array.from({ length: 6 }, () => post(url, trainer.token, v, key)),
        ...Array.from({ length: 6 }, () => post(url, trainer.token, v)),
      ]);
      // One first answer (201); the same key replays it, a new key finds it stored (200).
      expect(results.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);
      // (On PostgreSQL a delivery that waited for the first one's row lock used to be refused as
      // invalid-transition: the joined signature stayed invisible to the re-read row.)
      expect(results.filter((r) => r.status !== 201 && r.status !== 200).map((r) => [r.status, r.text])).toEqual([]);
      expect(new Set(results.slice(0, 6).map((r) => r.text)).size).toBe(1);
      expect(await count(db, `signatures WHERE report_id = $1 AND meaning = 'verification'`, [p.report.id])).toBe(1);
      expect(await count(db, `events WHERE report_id = $1 AND type = 'report-signed' AND body->>'kind' = 'verification'`, [p.report.id])).toBe(1);
      expect(await count(db, `audit WHERE report_id = $1 AND action = 'ingest-verification'`, [p.report.id])).toBe(1);
    });

    it('an addendum to a provisional report is refused; after verification it is accepted and the report is appended', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const p = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, p)).status).toBe(201);
      const early = await post(url, trainer.token, signedAddendum(trainer.u, p));
      expect([early.status, code(early)]).toEqual([409, 'invalid-transition']);
      expect((early.body as ErrorBody).error.message).toContain('provisional');
      const v = verificationOf(trainer.u, p);
      expect((await post(url, trainer.token, v)).status).toBe(201);
      // An addendum names the signature that made the report final: the verification, not the provisional one.
      const onProvisional = await post(url, trainer.token, signedAddendum(trainer.u, p));
      expect([onProvisional.status, code(onProvisional)]).toEqual([422, 'original-hash-mismatch']);
      expect((await post(url, trainer.token, signedAddendum(trainer.u, p, 'First addendum.', v.signature.contentHash))).status).toBe(201);
      expect((await post(url, trainer.token, signedAddendum(trainer.u, p, 'Second addendum.', v.signature.contentHash))).status).toBe(201);
      const got = await getReport(trainer.token, p.report.id);
      expect(got.state).toBe('appended');
      expect(got.signatures.map((s) => s.meaning)).toEqual(['provisional', 'verification', 'addendum', 'addendum']);
      expect(got.addenda).toHaveLength(2);
      expect((await checkSignatures(db, [p.report.id])).every((s) => s.verifies)).toBe(true);
    });
  });

  describe('signature records are immutable', () => {
    it('raw SQL cannot change or remove a signature, or move a report back along the life cycle', async () => {
      const trainee = await session('trainee');
      const trainer = await session('trainer');
      const p = signedReport(trainee.u, { meaning: 'provisional' });
      expect((await post(url, trainee.token, p)).status).toBe(201);
      const q = signedReport(trainer.u);
      expect((await post(url, trainer.token, q)).status).toBe(201);
      const attempts = [
        ['UPDATE signatures SET content_hash = $1 WHERE report_id = $2', ['0'.repeat(64), p.report.id], /immutable/],
        ['UPDATE signatures SET meaning = $1 WHERE report_id = $2', ['final-report', p.report.id], /immutable/],
        ['DELETE FROM signatures WHERE report_id = $1', [p.report.id], /immutable/],
        ['TRUNCATE signatures', [], /immutable/],
        // The one column that may change is the state, and only forward along the life cycle.
        ['UPDATE signed_reports SET state = $1 WHERE id = $2', ['final', p.report.id], /cannot move from provisional to final without the signature/],
        ['UPDATE signed_reports SET state = $1 WHERE id = $2', ['provisional', q.report.id], /cannot move from final to provisional/],
        ['UPDATE signed_reports SET state = $1 WHERE id = $2', ['draft', q.report.id], /cannot move/],
        ['UPDATE signed_reports SET state = $1, content_hash = $2 WHERE id = $3', ['appended', '1'.repeat(64), q.report.id], /immutable/],
        ['UPDATE signed_reports SET exam = $1 WHERE id = $2', [JSON.stringify(examFor(studyFor('x'))), q.report.id], /immutable/],
        ['DELETE FROM signed_reports WHERE id = $1', [q.report.id], /immutable/],
      ] as const;
      for (const [sql, params, error] of attempts) {
        await expect(db.query(sql, params), sql).rejects.toThrow(error);
      }
      expect((await checkSignatures(db, [p.report.id, q.report.id])).map((s) => [s.meaning, s.verifies])).toEqual([['provisional', true], ['final-report', true]]);
      expect((await getReport(trainer.token, p.report.id)).state).toBe('provisional');
    });
  });
});
