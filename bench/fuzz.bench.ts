// Schema-fuzzed surfaces (issue 8 acceptance 10) at scale: the generators of test/fuzz/ send
// 100,000 contract-shaped mutated requests to a hub on PostgreSQL (users of every role) and
// 100,000 to the workstation's browser-mode bridge (the real services with the bundled sample and
// a hub), and count 5xx answers, crashes (no answer, uncaught exceptions, unhandled rejections)
// and answers that are not the contract's. FUZZ_SEED replays a run; FUZZ_REQUESTS changes the count.
// Loopback only. DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in schemas of its own
// that are dropped at the end.
import path from 'node:path';
import { chooseSeed } from '../test/support/faultProxy.ts';
import { openBridgeFuzzTarget, runBridgeFuzz } from '../test/fuzz/bridgeFuzz.ts';
import { hubHoldings, openHubFuzzTarget, runHubFuzz } from '../test/fuzz/hubFuzz.ts';
import type { FuzzReport } from '../test/fuzz/send.ts';

type Row = { metric: string; value: number; unit: string; target?: string };

const fiveXx = (r: FuzzReport): number => Object.entries(r.statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0);

export default async function run(): Promise<{ name: string; rows: Row[]; notes?: string }> {
  const requests = Number(process.env['FUZZ_REQUESTS'] ?? 100_000);
  const seed = Number(process.env['FUZZ_SEED'] ?? chooseSeed()) >>> 0;
  console.log(`fuzz: ${requests} requests each to the hub and the bridge, seed=${seed} (rerun with FUZZ_SEED=${seed})`);

  const hub = await openHubFuzzTarget('benchfuzz', 200);
  let hubReport;
  let stored;
  try {
    const before = await hubHoldings(hub.db);
    hubReport = await runHubFuzz(hub, { count: requests, seed });
    const after = await hubHoldings(hub.db);
    // Stored beyond what was seeded and what the hub answered 201 for: must be nothing.
    stored = [...after.reportIds].filter((id) => !before.reportIds.has(id) && !hubReport!.storedReportIds.has(id)).length;
  } finally {
    await hub.close();
  }
  for (const p of hubReport.problems.slice(0, 10)) console.error(`hub: ${p}`);

  // The bundled sample, from the checkout (scripts/bench.mjs runs benchmarks from its root; the
  // bundle's own directory is elsewhere).
  const bridge = await openBridgeFuzzTarget('benchfuzzbridge', path.resolve('resources', 'samples', 'ct-head'));
  let bridgeReport;
  try {
    bridgeReport = await runBridgeFuzz(bridge, { count: requests, seed });
  } finally {
    await bridge.close();
  }
  for (const p of bridgeReport.problems.slice(0, 10)) console.error(`bridge: ${p}`);

  const rows: Row[] = [
    { metric: 'hub: requests sent', value: hubReport.sent, unit: 'requests', target: '100000' },
    { metric: 'hub: 5xx answers', value: fiveXx(hubReport), unit: 'answers', target: '0' },
    { metric: 'hub: crashes (no answer, uncaught)', value: hubReport.crashes, unit: 'crashes', target: '0' },
    { metric: 'hub: answers not the contract\'s', value: hubReport.problems.length, unit: 'answers', target: '0' },
    { metric: 'hub: signed reports stored without a 201', value: stored, unit: 'reports', target: '0' },
    { metric: 'hub: signed reports stored (201)', value: hubReport.storedReportIds.size, unit: 'reports' },
    { metric: 'hub: requests/s', value: hubReport.perSecond, unit: 'req/s' },
    { metric: 'bridge: requests sent', value: bridgeReport.sent, unit: 'requests', target: '100000' },
    { metric: 'bridge: 5xx answers', value: fiveXx(bridgeReport), unit: 'answers', target: '0' },
    { metric: 'bridge: crashes (no answer, uncaught)', value: bridgeReport.crashes, unit: 'crashes', target: '0' },
    { metric: 'bridge: answers not the contract\'s', value: bridgeReport.problems.length, unit: 'answers', target: '0' },
    { metric: 'bridge: requests/s', value: bridgeReport.perSecond, unit: 'req/s' },
  ];
  const statuses = (r: FuzzReport): string => Object.entries(r.statuses).map(([s, n]) => `${s}: ${n}`).join(', ');
  return {
    name: 'Schema-fuzzed surfaces: hub (PostgreSQL) and browser-mode bridge',
    rows,
    notes:
      `Seed ${seed}. Generators: test/fuzz/ (mutate.ts, hubFuzz.ts, bridgeFuzz.ts); 8 requests in flight to the hub, 4 to the bridge; ` +
      `the hub and the bridge run in this process, so an uncaught exception counts as a crash. ` +
      `Hub statuses: ${statuses(hubReport)}. Bridge statuses: ${statuses(bridgeReport)}.`,
  };
}
