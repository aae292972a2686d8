// A day of typing (issue 8 finding 7, acceptance line 6): 10,000 autosaves of a report that grows
// to about 20,000 characters, keystroke-sized edits with pauses on a simulated clock spanning a
// working day, on a real database file (WAL, synchronous=FULL). Measured for today's store
// (deltas + coalescing, ReportRepository.ts "Revision history") and, in the same run, for the
// previous behaviour (a full copy per save, nothing pruned: the release's schema and its save
// transaction); then migration 0080 on that old database and 1,000 more saves on it, to show the
// freed pages being reused.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ReportContent } from '../common/report.ts';
import { openDatabase, type Db } from '../main/db/database.ts';
import { MIGRATIONS } from '../main/db/migrations/index.ts';
import { ReportStore } from '../main/reports/ReportStore.ts';
import { mulberry32 } from '../test/support/faultProxy.ts';
import { signableContent } from '../test/support/reportFixtures.ts';

const SAVES = 10_000;
const MORE_SAVES = 1_000;
const DAY_START = Date.parse('2026-03-02T08:00:00.000Z');
const FIELDS = ['clinicalQuestion', 'technique', 'brainParenchyma', 'ventricles', 'bonesSinuses', 'conclusion'];
const WORDS = 'the brain parenchyma demonstrates normal grey white matter differentiation no acute infarct haemorrhage or mass lesion ventricles sulci basal cisterns patent'.split(' ');

interface Keystrokes {
  content: ReportContent;
  /** Milliseconds since the previous save. */
  gap: number;
}

/**
 * The day's saves: mostly 1–4 characters typed at the end of the field being written (fields in
 * turn, about 20,000 characters in all), sometimes a few deleted, sometimes a word put into an
 * earlier field; a save every 1–2.5 s while typing, short pauses (3–15 s) and a few long ones
 * (1–5 min: the next study, a phone call).
 */
function dayOfTyping(): Keystrokes[] {
  const rnd = mulberry32(20261202); // seeded: every run types the same day
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const text = Object.fromEntries(FIELDS.map((f) => [f, ''])) as Record<string, string>;
  const word = (): string => `${WORDS[int(0, WORDS.length - 1)]!} `;
  let typed = '';
  const saves: Keystrokes[] = [];
  for (let i = 0; i < SAVES; i++) {
    const field = FIELDS[Math.min(FIELDS.length - 1, Math.floor((i / SAVES) * FIELDS.length))]!;
    const roll = rnd();
    if (roll < 0.1 && text[field]!.length > 5) {
      text[field] = text[field]!.slice(0, -int(1, 3));
    } else if (roll < 0.15 && field !== FIELDS[0]) {
      const earlier = FIELDS[int(0, FIELDS.indexOf(field) - 1)]!;
      const at = int(0, text[earlier]!.length);
      text[earlier] = text[earlier]!.slice(0, at) + word() + text[earlier]!.slice(at);
    } else {
      while (typed.length < 4) typed += word();
      const n = int(1, 4);
      text[field] += typed.slice(0, n);
      typed = typed.slice(n);
    }
    const pause = rnd();
    const gap = pause < 0.93 ? int(1000, 2500) : pause < 0.995 ? int(3000, 15_000) : int(60_000, 300_000);
    saves.push({ content: { ...signableContent(), fields: { ...text } }, gap });
  }
  return saves;
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
const round = (x: number): number => Math.round(x * 100) / 100;
const MB = 1_000_000;

/** Bytes on disk: the main file and the WAL, after a TRUNCATE checkpoint. */
function onDisk(db: Db, file: string): { bytes: number; freeBytes: number } {
  db.pragma('wal_checkpoint(TRUNCATE)');
  const size = (f: string): number => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  return { bytes: size(file) + size(`${file}-wal`), freeBytes: (db.pragma('freelist_count', { simple: true }) as number) * pageSize };
}

const study = { patientId: 'BENCH-1', studyUid: '1.2.826.0.1.3680043.8.498.778' };

/** Today's store: every save through ReportStore.save() on the simulated clock. */
function typeToday(file: string, day: readonly Keystrokes[]): { latencies: number[]; kept: number; readMs: number; db: Db } {
  let clock = DAY_START;
  const db = openDatabase(file);
  const store = new ReportStore(db, { now: () => new Date(clock) });
  const report = store.open(study, { actor: 'bench', modality: 'CT', description: 'CT HEAD' });
  let revision = report.revision;
  const latencies: number[] = [];
  for (const k of day) {
    clock += k.gap;
    const t0 = performance.now();
    revision = store.save(report.id, study, k.content, revision, 'bench').revision;
    latencies.push(performance.now() - t0);
  }
  const t0 = performance.now();
  const kept = store.revisions(report.id).length;
  return { latencies, kept, readMs: performance.now() - t0, db };
}

/** The previous release's behaviour: its schema (up to 0070) and its save transaction, a full copy per save. */
function typeAsBefore(file: string, day: readonly Keystrokes[]): { latencies: number[]; db: Db } {
  let clock = DAY_START;
  const iso = (): string => new Date(clock).toISOString();
  const db = openDatabase(file, { migrations: MIGRATIONS.filter((m) => m.version < 80) });
  const id = crypto.randomUUID();
  const first = JSON.stringify(signableContent());
  db.prepare(`INSERT INTO reports (id, patient_id, study_uid, state, template_id, content, revision, author, created_at, updated_at) VALUES (?, ?, ?, 'draft', 'ct-head', ?, 0, 'bench', ?, ?)`).run(id, study.patientId, study.studyUid, first, iso(), iso());
  db.prepare(`INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, 0, ?, 'bench', ?)`).run(id, iso(), first);
  const update = db.prepare(`UPDATE reports SET template_id = ?, content = ?, revision = ?, updated_at = ? WHERE id = ? AND state = 'draft' AND revision = ?`);
  const insert = db.prepare('INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, ?, ?, ?, ?)');
  const audit = db.prepare(`INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES (?, 'bench', 'edit', ?, ?, ?)`);
  const save = db.transaction((content: ReportContent, revision: number) => {
    const json = JSON.stringify(content);
    const at = iso();
    update.run(content.templateId, json, revision, at, id, revision - 1);
    insert.run(id, revision, at, 'bench', json);
    audit.run(at, id, revision, `revision ${revision}`);
  });
  const latencies: number[] = [];
  day.forEach((k, i) => {
    clock += k.gap;
    const t0 = performance.now();
    save.immediate(k.content, i + 1);
    latencies.push(performance.now() - t0);
  });
  return { latencies, db };
}

export default async function run(): Promise<{ name: string; rows: { metric: string; value: number; unit: string; target?: string }[]; notes?: string }> {
  const dir = path.join(process.cwd(), 'node_modules', '.cache', 'failsafe-bench', `revisions-${crypto.randomUUID().slice(0, 8)}`);
  fs.mkdirSync(dir, { recursive: true });
  try {
    const day = dayOfTyping();
    const chars = Object.values(day[day.length - 1]!.content.fields).reduce((n, t) => n + t.length, 0);
    const span = day.reduce((ms, k) => ms + k.gap, 0);

    const nowFile = path.join(dir, 'today.sqlite');
    const today = typeToday(nowFile, day);
    const todayDisk = onDisk(today.db, nowFile);
    today.db.close();

    const oldFile = path.join(dir, 'before.sqlite');
    const before = typeAsBefore(oldFile, day);
    const beforeDisk = onDisk(before.db, oldFile);
    before.db.close();

    // Migration 0080 on the old database (a day later), then 1,000 more saves on the freed pages.
    const t0 = performance.now();
    const migrated = openDatabase(oldFile);
    const migrateMs = performance.now() - t0;
    const afterMigration = onDisk(migrated, oldFile);
    const store = new ReportStore(migrated);
    const [item] = store.list();
    let revision = store.get(item!.id, 'bench').revision;
    const last = day[day.length - 1]!.content;
    for (let i = 0; i < MORE_SAVES; i++) revision = store.save(item!.id, study, { ...last, fields: { ...last.fields, conclusion: `${last.fields['conclusion']!}${'x'.repeat(i)}` } }, revision, 'bench').revision;
    const afterMore = onDisk(migrated, oldFile);
    migrated.close();

    const sortedNew = [...today.latencies].sort((a, b) => a - b);
    const sortedOld = [...before.latencies].sort((a, b) => a - b);
    return {
      name: 'revisions: a day of typing (10,000 autosaves), history size and save latency',
      rows: [
        { metric: 'database on disk, today (main + WAL after checkpoint)', value: round(todayDisk.bytes / MB), unit: 'MB', target: '< 50 MB' },
        { metric: 'save p50, today', value: round(percentile(sortedNew, 50)), unit: 'ms' },
        { metric: 'save p99, today', value: round(percentile(sortedNew, 99)), unit: 'ms', target: '≤ 25 ms' },
        { metric: 'save max, today', value: round(sortedNew[sortedNew.length - 1]!), unit: 'ms' },
        { metric: 'revisions kept, today (of 10,001)', value: today.kept, unit: 'revisions' },
        { metric: 'reading the kept history (reports:revisions)', value: round(today.readMs), unit: 'ms' },
        { metric: 'database on disk, before (full copy per save)', value: round(beforeDisk.bytes / MB), unit: 'MB' },
        { metric: 'save p50, before', value: round(percentile(sortedOld, 50)), unit: 'ms' },
        { metric: 'save p99, before', value: round(percentile(sortedOld, 99)), unit: 'ms' },
        { metric: 'size before / today', value: round(beforeDisk.bytes / todayDisk.bytes), unit: 'ratio' },
        { metric: 'migration 0080 on the before database', value: Math.round(migrateMs), unit: 'ms' },
        { metric: 'before database after 0080: file', value: round(afterMigration.bytes / MB), unit: 'MB' },
        { metric: 'before database after 0080: free pages in it', value: round(afterMigration.freeBytes / MB), unit: 'MB' },
        { metric: `after ${MORE_SAVES} more saves: file`, value: round(afterMore.bytes / MB), unit: 'MB' },
        { metric: `after ${MORE_SAVES} more saves: free pages in it`, value: round(afterMore.freeBytes / MB), unit: 'MB' },
        { metric: 'report at end of day', value: chars, unit: 'characters' },
        { metric: 'simulated day', value: round(span / 3_600_000), unit: 'hours' },
      ],
      notes:
        `${SAVES} saves of one CT head report, seeded: 1–4 characters typed at the end of the field being written (six fields in turn), 10 % of saves ` +
        'deleting 1–3 characters, 5 % putting a word into an earlier field; a save every 1–2.5 s, 6.5 % after a 3–15 s pause, 0.5 % after 1–5 min; ' +
        'the store\'s clock is simulated, latency is real (performance.now around save()). File database, WAL, synchronous=FULL. ' +
        '"Before" is the release\'s schema (migrations to 0070) with its save transaction (report row, full revision, audit row). ' +
        'The migrated database keeps its file size (no VACUUM at start-up); its free pages are reused by later saves instead of growing the file.',
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
