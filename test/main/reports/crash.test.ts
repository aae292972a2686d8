// A draft survives `kill -9`: a real child process types into a report (one save per
// keystroke, `ACK <revision>` printed after each save returns); the parent SIGKILLs it at a
// random moment, reopens the database and finds the last acknowledged revision with its exact
// content, contiguous history and a database that passes `PRAGMA integrity_check`.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../main/db/database.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CRASH_DAY_START, STUDY_A, tempDir, typedContent } from './fixtures.ts';
import { KEEP_EVERY_REVISION_MS } from '../../../main/reports/ReportRepository.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
// Under the repo, so the bundle's `import 'better-sqlite3'` resolves to the repo's node_modules.
const outDir = path.join(repoRoot, 'node_modules', '.cache', 'failsafe-test', `crash-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
const childJs = path.join(outDir, 'crashChild.mjs');
let dataDir: string;

beforeAll(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(import.meta.dirname, 'crashChild.ts')],
    outfile: childJs,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['better-sqlite3'],
    logLevel: 'warning',
  });
  dataDir = tempDir('crash');
});

afterAll(() => {
  fs.rmSync(outDir, { recursive: true, force: true });
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Round {
  readyRevision: number;
  lastAck: number;
  acks: number;
  signal: NodeJS.Signals | null;
  code: number | null;
  stderr: string;
}

/** Runs the child until it has acknowledged `killAfterAcks` saves (+ a random 0–3 ms), then SIGKILLs it. */
function typeAndKill(dbFile: string, killAfterAcks: number, extraDelayMs: number, clockStepMs?: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childJs, dbFile, ...(clockStepMs === undefined ? [] : [String(clockStepMs)])], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let readyRevision = -1;
    let lastAck = -1;
    let acks = 0;
    let killScheduled = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child made no progress: ${acks} acks, stderr: ${stderr}`));
    }, 20_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const [word, a, b] = line.split(' ');
        if (word === 'READY') readyRevision = Number(b ?? a);
        if (word === 'ACK') {
          lastAck = Number(a);
          acks += 1;
          if (acks >= killAfterAcks && !killScheduled) {
            killScheduled = true;
            setTimeout(() => child.kill('SIGKILL'), extraDelayMs);
          }
        }
      }
    });
    child.on('error', reject);
    // 'close': the process has exited and its stdout is drained, so lastAck is final.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ readyRevision, lastAck, acks, signal, code, stderr });
    });
  });
}

describe('a draft survives kill -9 while the reporter types', () => {
  it('keeps the last acknowledged revision, exactly, across repeated SIGKILLs', async () => {
    const dbFile = path.join(dataDir, 'failsafe.sqlite');
    let previous = -1;
    for (let round = 0; round < 5; round++) {
      const killAfter = crypto.randomInt(3, 150);
      const delay = crypto.randomInt(0, 4);
      const r = await typeAndKill(dbFile, killAfter, delay);
      const ctx = `round ${round} (kill after ${killAfter} acks + ${delay} ms): ${JSON.stringify({ ...r, stderr: r.stderr.slice(0, 500) })}`;
      expect(r.signal, ctx).toBe('SIGKILL');
      expect(r.acks, ctx).toBeGreaterThanOrEqual(killAfter);
      // Each run continues where the killed one left off (the crash lost nothing acknowledged).
      if (previous >= 0) expect(r.readyRevision, ctx).toBeGreaterThanOrEqual(previous);

      const db = openDatabase(dbFile);
      try {
        expect(db.pragma('integrity_check', { simple: true }), ctx).toBe('ok');
        const store = new ReportStore(db);
        const [item] = store.list();
        expect(item, ctx).toBeDefined();
        const report = store.get(item!.id, 'crash-test-parent');
        // Everything acknowledged is there; at most the one in-flight save beyond it committed.
        expect([r.lastAck, r.lastAck + 1], ctx).toContain(report.revision);
        expect(report.content, ctx).toEqual(typedContent(report.revision));
        const revisions = store.revisions(report.id);
        expect(revisions.map((x) => x.revision), ctx).toEqual(Array.from({ length: report.revision + 1 }, (_, i) => i));
        const acked = revisions.find((x) => x.revision === r.lastAck);
        expect(acked?.content, ctx).toEqual(typedContent(r.lastAck));
        expect(acked?.content.fields['brainParenchyma']?.length, ctx).toBe(r.lastAck);
        const edits = store.audit(report.id).filter((a) => a.action === 'edit');
        expect(edits.length, ctx).toBe(report.revision);
        expect(report.study, ctx).toEqual(STUDY_A);
        previous = report.revision;
      } finally {
        db.close();
      }
    }
    expect(previous).toBeGreaterThan(0);
  });
});

describe('a draft survives kill -9 while its saves prune the history', () => {
  it('loses nothing acknowledged and keeps exactly what the coalescing promises, across repeated SIGKILLs mid-prune', async () => {
    // A save every 20 s of simulated time: from revision 180 on, every save also prunes (three saves a minute, one kept).
    const step = 20_000;
    const at = (n: number): number => CRASH_DAY_START + Math.max(n, 1) * step;
    const minute = (n: number): number => Math.floor(at(n) / 60_000);
    const dbFile = path.join(dataDir, 'pruning.sqlite');
    let previous = -1;
    for (let round = 0; round < 4; round++) {
      const killAfter = crypto.randomInt(150, 400);
      const delay = crypto.randomInt(0, 4);
      const r = await typeAndKill(dbFile, killAfter, delay, step);
      const ctx = `round ${round} (kill after ${killAfter} acks + ${delay} ms): ${JSON.stringify({ ...r, stderr: r.stderr.slice(0, 500) })}`;
      expect(r.signal, ctx).toBe('SIGKILL');
      if (previous >= 0) expect(r.readyRevision, ctx).toBeGreaterThanOrEqual(previous);
      const db = openDatabase(dbFile);
      try {
        expect(db.pragma('integrity_check', { simple: true }), ctx).toBe('ok');
        const store = new ReportStore(db);
        const report = store.get(store.list()[0]!.id, 'crash-test-parent');
        expect([r.lastAck, r.lastAck + 1], ctx).toContain(report.revision);
        expect(report.content, ctx).toEqual(typedContent(report.revision));
        const last = report.revision;
        const promised = Array.from({ length: last + 1 }, (_, n) => n).filter(
          (n) => n === 0 || n === last || at(n) >= at(last) - KEEP_EVERY_REVISION_MS || minute(n) !== minute(n + 1),
        );
        const revisions = store.revisions(report.id);
        const kept = revisions.map((x) => x.revision);
        for (const n of promised) expect(kept, `${ctx}: revision ${n} promised`).toContain(n);
        // Anything else kept is a full checkpoint (stored against by a kept delta, or going on the next save).
        const full = new Set((db.prepare('SELECT revision FROM report_revisions WHERE report_id = ? AND base IS NULL').all(report.id) as { revision: number }[]).map((x) => x.revision));
        for (const n of kept.filter((x) => !promised.includes(x))) expect(full.has(n), `${ctx}: revision ${n} kept`).toBe(true);
        expect(revisions[0]?.revision, ctx).toBe(0); // the draft as created (the template, nothing typed)
        for (const x of revisions.slice(1)) expect(x.content, ctx).toEqual(typedContent(x.revision));
        expect(revisions.find((x) => x.revision === r.lastAck)?.content, ctx).toEqual(typedContent(r.lastAck));
        expect(store.audit(report.id).filter((a) => a.action === 'edit').length, ctx).toBe(last);
        previous = last;
      } finally {
        db.close();
      }
    }
    // The history really was pruned while the child was killed.
    expect(previous).toBeGreaterThan(500);
    const db = openDatabase(dbFile);
    try {
      const n = (db.prepare('SELECT count(*) AS n FROM report_revisions').get() as { n: number }).n;
      expect(n).toBeLessThan(previous / 2);
    } finally {
      db.close();
    }
  });
});
