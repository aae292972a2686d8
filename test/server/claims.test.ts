// Issue 7 findings 6, 7 and 8 (parts) at the hub, on PGlite and on PostgreSQL:
// - one signed report per study: a second report for the study (another report id, another
//   radiologist, or a study sharing the exam's accession) is refused for good (409
//   study-already-reported, naming who signed it and when); an addendum to the first still goes;
//   a trainee's provisional report blocks a second one too; many signed at the same moment, one
//   is stored;
// - started is visible: a study opened and left (an empty draft) is on the unfinished list with
//   author and age and can be taken over as empty; a draft whose study was signed by anyone leaves
//   the list;
// - a returning author is told at login which drafts were taken over, and by whom.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TakenFromMeList, type UnfinishedList } from '../../common/hub.ts';
import { emptyReport, type Role, type StudyRef } from '../../common/report.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import {
  addUser, examFor, http, loginAs, post, signableContent, signedAddendum, signedReport, studyFor, type DbKind, type TestUser, count, errorCode as code, openTestHub, type ErrorBody,
} from './support.ts';



describe.each<DbKind>(['pglite', 'postgres'])('one report per study, started is visible (%s)', (kind) => {
  let db: HubDb;
  let url: string;
  let close: () => Promise<void> = async () => {};

  beforeAll(async () => {
    ({ db, url, close } = await openTestHub(kind, `claims_${kind}`, { pingMs: 200 }));
  }, 180_000);
  afterAll(async () => close());

  const session = async (role: Role, name?: string): Promise<{ u: TestUser; token: string }> => {
    const u = await addUser(db, role, name);
    return { u, token: await loginAs(url, u) };
  };
  const storedFor = (study: StudyRef): Promise<number> => count(db, 'signed_reports WHERE study_uid = $1', [study.studyUid]);
  const snapshot = (study: StudyRef, revision: number, content = emptyReport('ct-head')) =>
    ({ study, content, revision, lastActivity: new Date().toISOString() });
  const unfinished = async (token: string): Promise<UnfinishedList> => {
    const r = await http<UnfinishedList>(url, 'GET', '/api/unfinished', { token });
    expect(r.status).toBe(200);
    return r.body;
  };

  describe('finding 6: two final reports for one study', () => {
    it('refuses a second radiologist\'s report for a study already reported, naming who signed it; the first stays, an addendum still goes', async () => {
      const a = await session('radiologist', 'Dr Ada Normal');
      const b = await session('radiologist', 'Dr Ben Bleed');
      const study = studyFor('dup');
      const first = signedReport(a.u, { study, content: signableContent('Normal.') });
      expect((await post(url, a.token, first)).status).toBe(201);
      const second = signedReport(b.u, { study, content: signableContent('Acute subdural haematoma.') });
      const r = await post(url, b.token, second);
      expect(r.status).toBe(409);
      expect(code(r)).toBe('study-already-reported');
      const err = (r.body as ErrorBody).error;
      expect(err.message).toContain('Dr Ada Normal');
      expect(err.message).toContain(first.report.signature.signedAt);
      expect(err.message).toMatch(/addendum/);
      expect(err.details).toMatchObject({ reportId: first.report.id, signerName: 'Dr Ada Normal', signedAt: first.report.signature.signedAt });
      expect(await storedFor(study)).toBe(1);
      // Permanent: sent again under the same key, the same refusal; never stored.
      const key = crypto.randomUUID();
      expect((await post(url, b.token, second, key)).status).toBe(409);
      expect((await post(url, b.token, second, key)).status).toBe(409);
      expect(await storedFor(study)).toBe(1);
      // The finding goes as an addendum to the report that holds the study.
      expect((await post(url, b.token, signedAddendum(b.u, first, 'Addendum: acute subdural haematoma on review.'))).status).toBe(201);
      // The first report resent (a retry under a new key) is still the same report, not a second.
      expect((await post(url, a.token, first)).status).toBe(200);
    });

    it('two studies of one patient sharing an accession are one exam; another patient\'s same accession is another exam', async () => {
      const a = await session('radiologist');
      const b = await session('radiologist');
      const s1 = studyFor('acc');
      const s2 = { patientId: s1.patientId, studyUid: `${s1.studyUid}.2` };
      const exam = examFor(s1);
      expect((await post(url, a.token, signedReport(a.u, { study: s1, exam }))).status).toBe(201);
      const r = await post(url, b.token, signedReport(b.u, { study: s2, exam }));
      expect(r.status).toBe(409);
      expect(code(r)).toBe('study-already-reported');
      expect((r.body as ErrorBody).error.message).toMatch(/accession/);
      const other = { patientId: `${s1.patientId}-X`, studyUid: `${s1.studyUid}.3` };
      expect((await post(url, b.token, signedReport(b.u, { study: other, exam }))).status).toBe(201);
    });

    it('a trainee\'s provisional report awaiting verification blocks a second report (provisional or final)', async () => {
      const trainee = await session('trainee');
      const rad = await session('radiologist');
      const trainee2 = await session('trainee');
      const study = studyFor('prov');
      expect((await post(url, trainee.token, signedReport(trainee.u, { study, meaning: 'provisional' }))).status).toBe(201);
      const f = await post(url, rad.token, signedReport(rad.u, { study }));
      expect([f.status, code(f)]).toEqual([409, 'study-already-reported']);
      expect((f.body as ErrorBody).error.message).toMatch(/provisional/);
      const p = await post(url, trainee2.token, signedReport(trainee2.u, { study, meaning: 'provisional' }));
      expect([p.status, code(p)]).toEqual([409, 'study-already-reported']);
      expect(await storedFor(study)).toBe(1);
    });

    it('many reports for one study signed at the same moment on many workstations: exactly one is stored', async () => {
      const people = await Promise.all(Array.from({ length: 6 }, () => session('radiologist')));
      const study = studyFor('race');
      const exam = examFor(study);
      const results = await Promise.all(people.map((p, i) => post(url, p.token, signedReport(p.u, {
        study: i % 2 === 0 ? study : { ...study, studyUid: `${study.studyUid}.${i}` }, exam,
      }))));
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      expect(results.filter((r) => r.status === 409 && code(r) === 'study-already-reported')).toHaveLength(people.length - 1);
      expect(await count(db, "study_reports WHERE study_key = $1", [`acc:${study.patientId}|${exam.accession}`])).toBe(1);
      expect(await count(db, 'signed_reports WHERE patient_id = $1 AND accession = $2', [study.patientId, exam.accession])).toBe(1);
    });

    it('the study key cannot be moved or removed by SQL', async () => {
      const a = await session('radiologist');
      const study = studyFor('sql');
      expect((await post(url, a.token, signedReport(a.u, { study }))).status).toBe(201);
      await expect(db.query('DELETE FROM study_reports WHERE study_key = $1', [`uid:${study.studyUid}`])).rejects.toThrow();
      await expect(db.query("UPDATE study_reports SET report_id = report_id WHERE study_key = $1", [`uid:${study.studyUid}`])).rejects.toThrow();
    });
  });

  describe('finding 7: opened and abandoned is visible', () => {
    it('an empty draft (a study opened and left) is on the unfinished list with author and age, and takes over as empty', async () => {
      const locum = await session('locum', 'Dr Lou Locum');
      const rad = await session('radiologist', 'Dr Rae Regular');
      const study = studyFor('empty');
      const id = crypto.randomUUID();
      const empty = emptyReport('ct-head');
      expect((await http(url, 'PUT', `/api/drafts/${id}`, { token: locum.token, body: { ...snapshot(study, 0, empty), closed: true } })).status).toBe(200);
      const item = (await unfinished(rad.token)).items.find((i) => i.reportId === id);
      expect(item).toMatchObject({ study, owner: { name: 'Dr Lou Locum' }, closed: true });
      expect(item!.ageMs).toBeGreaterThanOrEqual(0);
      const to = await http<{ draft: { content: unknown; owner: { name: string } } }>(url, 'POST', `/api/drafts/${id}/take-over`, { token: rad.token, body: {} });
      expect(to.status).toBe(200);
      expect(to.body.draft.content).toEqual(empty);
      expect(to.body.draft.owner.name).toBe('Dr Rae Regular');
    });
  });

  describe('finding 8: stale entries and silent take-overs', () => {
    it('a draft whose study was signed by someone else leaves the unfinished list', async () => {
      const a = await session('radiologist');
      const b = await session('radiologist');
      const study = studyFor('gone');
      const draftId = crypto.randomUUID();
      expect((await http(url, 'PUT', `/api/drafts/${draftId}`, { token: a.token, body: snapshot(study, 1, signableContent()) })).status).toBe(200);
      expect((await unfinished(b.token)).items.map((i) => i.reportId)).toContain(draftId);
      expect((await post(url, b.token, signedReport(b.u, { study }))).status).toBe(201);
      expect((await unfinished(b.token)).items.map((i) => i.reportId)).not.toContain(draftId);
      // Her own draft, signed later, is refused as a second report for the study; she keeps it.
      const late = await post(url, a.token, signedReport(a.u, { id: draftId, study }));
      expect([late.status, code(late)]).toEqual([409, 'study-already-reported']);
    });

    it('the returning author is told at login which of her drafts were taken over, by whom, and only once per login', async () => {
      const locum = await session('locum', 'Dr Lia Away');
      const rad = await session('radiologist', 'Dr Tom Takes');
      const ids = [crypto.randomUUID(), crypto.randomUUID()];
      for (const id of ids) {
        expect((await http(url, 'PUT', `/api/drafts/${id}`, { token: locum.token, body: snapshot(studyFor('to'), 1) })).status).toBe(200);
      }
      expect((await http(url, 'DELETE', '/api/session', { token: locum.token })).status).toBeLessThan(300);
      expect((await http(url, 'POST', `/api/drafts/${ids[0]}/take-over`, { token: rad.token, body: { reason: 'locum gone home' } })).status).toBe(200);
      const again = await loginAs(url, locum.u);
      const r = await http(url, 'GET', '/api/drafts/taken-from-me', { token: again });
      expect(r.status).toBe(200);
      const list = TakenFromMeList.parse(r.body);
      expect(list.items.map((i) => i.reportId)).toEqual([ids[0]]);
      expect(list.items[0]).toMatchObject({ to: { name: 'Dr Tom Takes' }, reason: 'locum gone home', signed: false });
      // Told once: at her next login it is old news.
      const third = await loginAs(url, locum.u);
      expect(TakenFromMeList.parse((await http(url, 'GET', '/api/drafts/taken-from-me', { token: third })).body).items).toEqual([]);
      // A referrer has no drafts to be told about.
      const ref = await session('referrer');
      expect((await http(url, 'GET', '/api/drafts/taken-from-me', { token: ref.token })).status).toBe(403);
    });
  });
});
