// The hub on real PostgreSQL under schema-fuzzed requests (issue 8 acceptance 10): 2,000 mutated
// requests of every route from users of every role. No answer is a 5xx, every answer is the hub's
// error shape or what the contract says, the process does not crash, the hub still answers, and
// exactly the records it answered 201 for are stored. FUZZ_SEED=<n> replays a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubHealth, IngestReceipt } from '../../common/hub.ts';
import { chooseSeed } from '../support/faultProxy.ts';
import { addUser, http, loginAs, post, signedReport } from '../server/support.ts';
import { hubHoldings, openHubFuzzTarget, runHubFuzz, type HubFuzzReport, type HubFuzzTarget } from './hubFuzz.ts';

const REQUESTS = 2_000;

let target: HubFuzzTarget;
let seeded: Awaited<ReturnType<typeof hubHoldings>>;

beforeAll(async () => {
  target = await openHubFuzzTarget('hubfuzz');
  seeded = await hubHoldings(target.db);
});

afterAll(async () => {
  await target?.close();
});

describe('hub under schema-fuzzed requests (PostgreSQL)', () => {
  const seed = Number(process.env['FUZZ_SEED'] ?? chooseSeed()) >>> 0;
  let report: HubFuzzReport;

  it(`answers ${REQUESTS} mutated requests with no 5xx, no crash and only contract-shaped bodies (seed ${seed})`, async () => {
    report = await runHubFuzz(target, { count: REQUESTS, seed });
    const context = `seed ${seed} (replay: FUZZ_SEED=${seed}); statuses ${JSON.stringify(report.statuses)}`;
    expect(report.sent, context).toBe(REQUESTS);
    expect(report.problems, context).toEqual([]);
    expect(report.serverErrors, context).toBe(0);
    expect(report.crashes, context).toBe(0);
    // The run reached past the parsers: valid requests were stored and mutated ones refused.
    expect(report.storedReportIds.size, context).toBeGreaterThan(0);
    expect(Object.keys(report.statuses).some((s) => Number(s) >= 400), context).toBe(true);
  });

  it('stored exactly what it answered 201 for, and nothing else', async () => {
    const now = await hubHoldings(target.db);
    const expected = new Set([...seeded.reportIds, ...report.storedReportIds]);
    expect([...now.reportIds].filter((id) => !expected.has(id)), `seed ${seed}`).toEqual([]);
    expect(now.reportIds.size, `seed ${seed}`).toBe(expected.size);
    expect(now.addenda, `seed ${seed}`).toBe(seeded.addenda + report.addenda201);
    expect(now.verifications, `seed ${seed}`).toBe(seeded.verifications + report.verifications201);
  });

  it('still answers afterwards: health, and a valid signed report is stored', async () => {
    const health = await http(target.url, 'GET', '/api/health');
    expect(health.status).toBe(200);
    expect(HubHealth.safeParse(health.body).success).toBe(true);
    // A radiologist the fuzz never saw (its users may be locked out by the wrong passwords it sent).
    const rad = await addUser(target.db, 'radiologist');
    const r = await post(target.url, await loginAs(target.url, rad), signedReport(rad));
    expect(r.status, r.text).toBe(201);
    expect(IngestReceipt.safeParse(r.body).success).toBe(true);
  });
});
