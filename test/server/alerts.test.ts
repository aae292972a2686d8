// Issue 9 line 1 (in part): an alert-coded report's alert is created in the statement that stores
// the report: category, finding text, patient and exam, the requester (unknown flagged), the
// escalation ladder timed by the site policy from the signature, and for a critical finding the
// verbal-communication record. A report is never stored without its alert. Routing to teams,
// acknowledgement and escalation are later lines of the issue. PGlite and PostgreSQL.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escalationLadder } from '../../common/alertDeadline.ts';
import { SitePolicy } from '../../common/hub.ts';
import type { HubDb } from '../../server/db/adapter.ts';
import { contentWithAlert } from '../support/syncWorkstation.ts';
import { addUser, count, loginAs, openTestHub, post, signedReport, studyFor, type DbKind, type TestUser } from './support.ts';

interface AlertRowOut {
  category: string; finding: string; patient_id: string; study_uid: string; accession: string | null; requester: string | null;
  requesting_service: string | null; requester_unknown: boolean; signed_at: string; due_by: string | null; ladder: { rung: number; to: string; dueBy: string | null }[];
  verbal: { clinician: string; role: string; time: string } | null; state: string;
}

for (const kind of ['pglite', 'postgres'] as DbKind[]) {
  describe(`alerts created with their report (${kind})`, () => {
    let db: HubDb;
    let url = '';
    let close: () => Promise<void> = async () => {};
    let rad: TestUser;
    let token = '';
    const policy = SitePolicy.parse({});
    const alertOf = async (reportId: string): Promise<AlertRowOut | undefined> =>
      (await db.query<AlertRowOut>('SELECT * FROM alerts WHERE report_id = $1', [reportId])).rows[0];

    beforeAll(async () => {
      ({ db, url, close } = await openTestHub(kind, `alerts_${kind}`));
      rad = await addUser(db, 'radiologist');
      token = await loginAs(url, rad);
    }, 60_000);
    afterAll(async () => close());

    it('a critical report: its alert with the finding, exam, requester, verbal record and the ladder timed from the signature', async () => {
      const p = signedReport(rad, { content: contentWithAlert('critical') });
      expect((await post(url, token, p)).status).toBe(201);
      const a = (await alertOf(p.report.id))!;
      expect(a).toMatchObject({
        category: 'critical', finding: 'Large acute subdural haematoma with midline shift.', patient_id: p.report.study.patientId,
        study_uid: p.report.study.studyUid, accession: p.report.exam!.accession, requester: 'SMITH^Jane^^Dr', requesting_service: 'Emergency Department',
        requester_unknown: false, signed_at: p.report.signature.signedAt, state: 'open',
      });
      expect(a.verbal).toEqual(p.report.content.verbal);
      const ladder = escalationLadder('critical', p.report.signature.signedAt, policy);
      expect(a.ladder).toEqual(JSON.parse(JSON.stringify(ladder)));
      expect(new Date(a.due_by!).toISOString()).toBe(ladder[0]!.dueBy);
      // The default policy: a critical finding is due within an hour of the signature.
      expect(Date.parse(a.due_by!) - Date.parse(p.report.signature.signedAt)).toBe(3600_000);
    });

    it('no alert for "none"; a cancer alert due in working days; a study with no requester is flagged on its alert', async () => {
      const none = signedReport(rad);
      expect((await post(url, token, none)).status).toBe(201);
      expect(await alertOf(none.report.id)).toBeUndefined();
      const study = studyFor(`nr${crypto.randomInt(1e6)}`);
      const cancer = signedReport(rad, { study, content: contentWithAlert('cancer'), exam: { ...signedReport(rad, { study }).report.exam!, referringPhysician: '', requestingService: '' } });
      expect((await post(url, token, cancer)).status).toBe(201);
      const a = (await alertOf(cancer.report.id))!;
      expect(a.category).toBe('cancer');
      expect(a.finding).toBe('Spiculated 2 cm lung mass. (primary site: lung)');
      expect(a.requester_unknown).toBe(true);
      expect(new Date(a.due_by!).toISOString()).toBe(escalationLadder('cancer', cancer.report.signature.signedAt, policy)[0]!.dueBy);
    });

    it('a report is never stored without its alert: when the alert cannot be written, nothing of the report is', async () => {
      // The alert's write fails (as a full disk or a broken constraint would): the report, its
      // signature, audit row, event and key must not be stored either.
      await db.exec(`
        CREATE FUNCTION test_refuse_alert() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.finding LIKE '%REFUSE-ALERT%' THEN RAISE EXCEPTION 'test: alert write failed'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER test_refuse_alert BEFORE INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION test_refuse_alert();`);
      try {
        const content = contentWithAlert('urgent');
        const bad = signedReport(rad, { content: { ...content, unexpected: { kind: 'findings', items: [{ id: 'f1', text: 'Small acute subdural haematoma REFUSE-ALERT.', category: 'urgent' }] } } });
        const good = signedReport(rad, { content: contentWithAlert('urgent') });
        const key = crypto.randomUUID();
        const [r1, r2] = await Promise.all([post(url, token, bad, key), post(url, token, good)]);
        expect(r1.status).toBeGreaterThanOrEqual(500);
        expect(r2.status).toBe(201);
        expect(await count(db, 'signed_reports WHERE id = $1', [bad.report.id])).toBe(0);
        expect(await count(db, 'signatures WHERE report_id = $1', [bad.report.id])).toBe(0);
        expect(await count(db, 'idempotency WHERE key = $1', [key])).toBe(0);
        expect(await count(db, `events WHERE report_id = $1`, [bad.report.id])).toBe(0);
        expect(await alertOf(good.report.id)).toMatchObject({ category: 'urgent' });
      } finally {
        await db.exec('DROP TRIGGER test_refuse_alert ON alerts; DROP FUNCTION test_refuse_alert();');
      }
    });
  });
}
