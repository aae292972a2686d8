// Autosave: keystroke-to-durable latency of ReportStore.save() on a real database file
// (WAL, synchronous=FULL): each save validates the content, writes the report row, a revision
// and an audit entry in one transaction and returns only after the commit is fsynced.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ReportContent } from '../common/report.ts';
import { openDatabase } from '../main/db/database.ts';
import { ReportStore } from '../main/reports/ReportStore.ts';
import { signableContent } from '../test/support/reportFixtures.ts';

const SAVES = 2000;
const WARMUP = 20;

const TYPED =
  'The brain parenchyma demonstrates normal grey-white matter differentiation. No acute territorial infarct, ' +
  'intracranial haemorrhage or space-occupying lesion. Mild periventricular white matter low attenuation in keeping ' +
  'with small vessel disease. The ventricles and sulci are of normal size for age; no hydrocephalus, no midline shift. ' +
  'The basal cisterns are patent. The visualised paranasal sinuses and mastoid air cells are clear. No calvarial fracture. ';

/** A realistic CT head report with `n` characters typed into the findings. */
function reportAfter(n: number): ReportContent {
  let text = '';
  while (text.length < n) text += TYPED;
  return signableContent('', text.slice(0, n));
}

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export default async function run(): Promise<{ name: string; rows: { metric: string; value: number; unit: string; target?: string }[]; notes?: string }> {
  // On the repo's disk (not a tmpfs /tmp): durability costs what it costs on a real disk.
  const dir = path.join(process.cwd(), 'node_modules', '.cache', 'failsafe-bench', `autosave-${crypto.randomUUID().slice(0, 8)}`);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'failsafe.sqlite');
  const db = openDatabase(file);
  try {
    const sync = db.pragma('synchronous', { simple: true });
    const journal = db.pragma('journal_mode', { simple: true });
    if (sync !== 2 || journal !== 'wal') throw new Error(`expected WAL + synchronous FULL, got ${String(journal)} + ${String(sync)}`);
    const store = new ReportStore(db);
    const study = { patientId: 'BENCH-1', studyUid: '1.2.826.0.1.3680043.8.498.777' };
    const report = store.open(study, { actor: 'bench', modality: 'CT', description: 'CT HEAD' });
    let revision = report.revision;
    let typed = 0;
    for (let i = 0; i < WARMUP; i++) revision = store.save(report.id, study, reportAfter(++typed), revision, 'bench').revision;

    const latencies: number[] = [];
    for (let i = 0; i < SAVES; i++) {
      const content = reportAfter(++typed); // the keystroke (outside the timing: the editor already has it)
      const t0 = performance.now();
      revision = store.save(report.id, study, content, revision, 'bench').revision;
      latencies.push(performance.now() - t0);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const mean = latencies.reduce((s, x) => s + x, 0) / latencies.length;
    const round = (x: number): number => Math.round(x * 100) / 100;
    const dbBytes = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    const finalChars = JSON.stringify(reportAfter(typed)).length;
    return {
      name: 'autosave: ReportStore.save() keystroke-to-durable latency',
      rows: [
        { metric: 'save p50', value: round(percentile(sorted, 50)), unit: 'ms' },
        { metric: 'save p95', value: round(percentile(sorted, 95)), unit: 'ms' },
        { metric: 'save p99', value: round(percentile(sorted, 99)), unit: 'ms', target: '≤ 25 ms' },
        { metric: 'save max', value: round(sorted[sorted.length - 1] ?? Number.NaN), unit: 'ms' },
        { metric: 'save mean', value: round(mean), unit: 'ms' },
        { metric: 'saves', value: SAVES, unit: 'count' },
        { metric: 'report size at end', value: finalChars, unit: 'bytes (JSON)' },
        { metric: 'database size at end (incl. WAL)', value: Math.round(dbBytes / 1024), unit: 'KiB' },
      ],
      notes:
        `${SAVES} consecutive saves (after ${WARMUP} warm-up saves) of a CT head report whose findings grow by one character per save, ` +
        'each a full revision + audit entry in one transaction on a file database in WAL mode with synchronous=FULL ' +
        '(every commit fsynced; includes WAL auto-checkpoints). Timed from the save() call to its return.',
    };
  } finally {
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
