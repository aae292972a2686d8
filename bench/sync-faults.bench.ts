// Exactly-once sync under faults at scale: 10,000 randomised trials (4 workstations at once)
// through the fault proxy against the real hub on embedded PGlite: dropped requests and
// responses, delays past the client timeout, injected 500s, duplicate deliveries, hub restarts
// and senders killed mid-send. Same harness as test/main/sync/exactlyOnce.test.ts.
// SYNC_BENCH_TRIALS overrides the count; FAULT_SEED reruns a seed.
import { chooseSeed } from '../test/support/faultProxy.ts';
import { openTrialDb, startRealTrialHub } from '../test/support/realHub.ts';
import { runTrialsParallel } from '../test/support/syncTrials.ts';
import { RADIOLOGIST, workstation } from '../test/support/syncWorkstation.ts';

export default async function run(): Promise<{ name: string; rows: { metric: string; value: number; unit: string; target?: string }[]; notes?: string }> {
  const t0 = Date.now();
  const trials = Number(process.env.SYNC_BENCH_TRIALS ?? 10_000);
  const lanes = 4;
  const seed = chooseSeed();
  console.log(`sync-faults: ${trials} trials, ${lanes} workstations, seed=${seed} (rerun with FAULT_SEED=${seed})`);
  const { db, drop } = await openTrialDb('pglite');
  const hub = await startRealTrialHub(db, { ...RADIOLOGIST, username: 'ada' });
  try {
    const r = await runTrialsParallel({
      trials,
      seed,
      workstations: Array.from({ length: lanes }, () => workstation({ memoryBacked: true })),
      hub,
      log: (l) => console.log(`  lane 0 ${l}`),
    });
    if (r.problems.length > 0) console.log(r.problems.slice(0, 20).join('\n'));
    const all = r.faults;
    return {
      name: 'Exactly-once sync under injected faults (real hub, PGlite)',
      rows: [
        { metric: 'trials', value: r.trials, unit: 'trials', target: '10000' },
        { metric: 'signed reports', value: r.reports, unit: 'reports' },
        { metric: 'signed addenda', value: r.addenda, unit: 'addenda' },
        { metric: 'duplicates on the hub', value: r.duplicates, unit: 'records', target: '0' },
        { metric: 'missing on the hub', value: r.missing, unit: 'records', target: '0' },
        { metric: 'outbox rows not synced', value: r.unsynced, unit: 'rows', target: '0' },
        { metric: 'content hash mismatches', value: r.hashMismatches, unit: 'records', target: '0' },
        { metric: 'hub restarts', value: r.restarts, unit: 'restarts' },
        { metric: 'senders killed mid-send', value: r.kills, unit: 'kills' },
        { metric: 'deliveries to the hub', value: r.deliveries, unit: 'requests' },
        { metric: 'time (trials)', value: Math.round(r.ms / 100) / 10, unit: 's' },
        { metric: 'time (wall, with hub start)', value: Math.round((Date.now() - t0) / 100) / 10, unit: 's' },
        { metric: 'throughput', value: Math.round((r.trials / r.ms) * 1000 * 10) / 10, unit: 'trials/s' },
      ],
      notes:
        `Seed ${seed}. Faults at the proxy: ${Object.entries(all).map(([k, v]) => `${k} ${v}`).join(', ')}. ` +
        `Client timeout 150 ms, delays up to 200 ms, backoff 1–20 ms (full jitter). ${r.problems.length} problems logged.`,
    };
  } finally {
    await hub.close();
    await drop();
  }
}
