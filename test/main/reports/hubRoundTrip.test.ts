// The workstation's signature records reach the real hub (PGlite) as they were made: a trainee's
// provisional report and, after a trainer verifies it on the same workstation, the verification
// and an addendum, each delivered by the outbox under its signer's session. The hub holds the
// report as final (appended) with the same signature records, hashes and exam as the workstation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubDb } from '../../../server/db/adapter.ts';
import { WorkstationHub } from '../../../main/hub/WorkstationHub.ts';
import { addTrialUser, openTrialDb, startRealTrialHub, TRIAL_PASSWORD, type RealTrialHub } from '../../support/realHub.ts';
import { uniqueStudy, workstation } from '../../support/syncWorkstation.ts';
import { until } from '../../support/until.ts';
import { CT_HEAD, fixtureExam, RADIOLOGIST, signableContent, TRAINEE, TRAINER } from './fixtures.ts';

let db: HubDb;
let drop: () => Promise<void>;
let hub: RealTrialHub;

beforeAll(async () => {
  ({ db, drop } = await openTrialDb('pglite'));
  hub = await startRealTrialHub(db, { ...RADIOLOGIST, username: 'ada' });
  await addTrialUser(db, { ...TRAINEE, username: 'alan' });
  await addTrialUser(db, { ...TRAINER, username: 'grace' });
}, 60_000);

afterAll(async () => {
  await hub?.close();
  await drop?.();
});

describe('provisional, verification and addendum at the hub', () => {
  it('arrive in order under each signer, and the hub holds exactly the workstation signature records', async () => {
    const ws = workstation({ profile: TRAINEE });
    const h = new WorkstationHub({ baseUrl: hub.url, embedded: false, db: ws.db, reports: ws.store, timeoutMs: 3000, baseDelayMs: 20 });
    try {
      const study = uniqueStudy('verify');
      const r = ws.store.open(study, { actor: TRAINEE.name, ...CT_HEAD });
      ws.store.save(r.id, study, signableContent(), 0, TRAINEE.name);
      ws.store.sign(r.id, study, 1, TRAINEE);
      await h.login('alan', TRIAL_PASSWORD);
      h.start();
      h.signed(r.id);
      await until(() => h.syncStatus(r.id).state === 'synced', 15_000);
      const atHub = await h.client.signedReport(r.id);
      expect(atHub.state).toBe('provisional');

      // The trainer verifies on the same workstation, then adds an addendum; delivered under the trainer's session.
      await h.logout();
      ws.store.verify(r.id, study, TRAINER);
      ws.store.addendum(r.id, 'Reviewed with the trainee.', TRAINER);
      await h.login('grace', TRIAL_PASSWORD);
      h.signed(r.id);
      h.sender.wake();
      await until(() => h.syncStatus(r.id).state === 'synced', 15_000);

      const local = ws.store.get(r.id, 'test');
      const stored = await h.client.signedReport(r.id);
      expect(stored.state).toBe('appended');
      expect(stored.exam).toEqual(fixtureExam(study.studyUid));
      expect(stored.requesterUnknown).toBe(false);
      const strip = (s: { name: string; role: string; registration: string; signedAt: string; meaning: string; contentHash: string }) =>
        ({ name: s.name, role: s.role, registration: s.registration, signedAt: s.signedAt, meaning: s.meaning, contentHash: s.contentHash });
      expect(stored.signatures.map(strip)).toEqual(local.signatures.map(strip));
      expect(stored.signatures.map((s) => s.meaning)).toEqual(['provisional', 'verification', 'addendum']);
      expect((await hub.counts([r.id])).get(r.id)!.reports).toBe(1);
    } finally {
      await h.stop();
    }
  });
});
