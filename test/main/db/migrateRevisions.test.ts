// Migration 0080 (issue 8 finding 7) on a database of the current release's schema (the release
// 865b120 fixture brought to version 70, plus a day of old-style full-copy autosaves): existing
// history is compacted by the coalescing policy, and nothing else changes: every signed report's
// revisions, every report row, the audit trail; the store then carries on with deltas.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../../main/db/database.ts';
import { MIGRATIONS } from '../../../main/db/migrations/index.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { fixtureExam, RADIOLOGIST, tempDir, typedContent } from '../reports/fixtures.ts';

const FIXTURE = path.join(import.meta.dirname, '../../fixtures/release-865b120/reports.sqlite');
const DAY = Date.parse('2026-10-02T08:00:00.000Z'); // after the fixture; long before any run of this test
const OLD = 'old-day';
const RECENT = 'recent';
const SWITCH_AT = 300;

let dir: string;
let file: string;
let db: Db;

/** A draft saved the release's way: a full copy per revision and an audit row, as its store wrote them. */
function oldDraft(old: Db, id: string, studyUid: string, times: number[], switchAt?: number): void {
  const iso = (t: number): string => new Date(t).toISOString();
  const last = times.length - 1;
  old.prepare(`INSERT INTO reports (id, patient_id, study_uid, state, template_id, content, revision, author, created_at, updated_at) VALUES (?, 'PAT-9', ?, 'draft', 'ct-head', ?, ?, 'Dr Old', ?, ?)`)
    .run(id, studyUid, JSON.stringify(typedContent(last)), last, iso(times[0]!), iso(times[last]!));
  const rev = old.prepare('INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, ?, ?, ?, ?)');
  const audit = old.prepare('INSERT INTO audit (at, actor, action, report_id, revision, detail) VALUES (?, ?, ?, ?, ?, ?)');
  times.forEach((t, n) => {
    rev.run(id, n, iso(t), 'Dr Old', JSON.stringify(typedContent(n)));
    audit.run(iso(t), 'Dr Old', n === 0 ? 'create' : n === switchAt ? 'template-change' : 'edit', id, n, `revision ${n}`);
  });
}

beforeEach(() => {
  dir = tempDir('migrate-revisions');
  file = path.join(dir, 'failsafe.sqlite');
  fs.copyFileSync(FIXTURE, file);
  const old = openDatabase(file, { migrations: MIGRATIONS.filter((m) => m.version < 80) });
  expect(old.pragma('user_version', { simple: true })).toBe(70);
  // Two hours of typing, a save every 5 s (12 a minute), a long time ago.
  oldDraft(old, OLD, '1.2.9.1', Array.from({ length: 1440 }, (_, n) => DAY + n * 5000), SWITCH_AT);
  // Typing of the last few minutes: all of it within the hour, so all of it is kept.
  oldDraft(old, RECENT, '1.2.9.2', Array.from({ length: 30 }, (_, n) => Date.now() - 300_000 + n * 1000));
  old.close();
});

afterEach(() => {
  if (db?.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const snapshot = (d: Db, sql: string): unknown[] => d.prepare(sql).all();
const REVISIONS = 'SELECT report_id, revision, saved_at, actor, content FROM report_revisions ORDER BY report_id, revision';

it('compacts old draft history by the policy, keeps recent history, signed revisions, reports and the audit trail as they were', () => {
  const old = openDatabase(file, { migrations: MIGRATIONS.filter((m) => m.version < 80) });
  const before = {
    revisions: snapshot(old, REVISIONS) as { report_id: string; revision: number; saved_at: string }[],
    reports: snapshot(old, 'SELECT rowid, * FROM reports ORDER BY rowid'),
    audit: snapshot(old, 'SELECT seq, at, actor, action, report_id, revision, detail FROM audit ORDER BY seq'),
    signed: (snapshot(old, `SELECT id FROM reports WHERE state IN ('provisional', 'final', 'appended')`) as { id: string }[]).map((r) => r.id),
  };
  old.close();
  expect(before.signed.length).toBeGreaterThanOrEqual(4);

  db = openDatabase(file);
  expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
  expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
  const after = snapshot(db, REVISIONS) as typeof before.revisions;
  const key = (r: object): string => JSON.stringify(r);
  const afterKeys = new Set(after.map(key));
  // Nothing kept was changed; every row after was a row before.
  const beforeKeys = new Set(before.revisions.map(key));
  for (const r of after) expect(beforeKeys.has(key(r))).toBe(true);
  // Every revision of a signed report and of the recent draft is still there.
  for (const r of before.revisions.filter((x) => before.signed.includes(x.report_id) || x.report_id === RECENT)) expect(afterKeys.has(key(r))).toBe(true);
  // The old day: exactly the first, the template switch, the last of each minute and the current.
  const minute = (n: number): number => Math.floor((DAY + n * 5000) / 60_000);
  const promised = Array.from({ length: 1440 }, (_, n) => n).filter((n) => n === 0 || n === SWITCH_AT || n === 1439 || minute(n) !== minute(n + 1));
  expect(after.filter((r) => r.report_id === OLD).map((r) => r.revision)).toEqual(promised);
  expect(promised.length).toBe(122);
  expect(snapshot(db, 'SELECT rowid, id, patient_id, study_uid, state, template_id, content, revision, author, created_at, updated_at, exam, taken_over_by, taken_over_at, replaces FROM reports ORDER BY rowid')).toEqual(before.reports);
  // The columns as written (0090 adds the audit chain's beside them).
  expect(snapshot(db, 'SELECT seq, at, actor, action, report_id, revision, detail FROM audit ORDER BY seq')).toEqual(before.audit);

  // The store carries on: the history reads back, new saves are deltas, and the old drafts sign.
  const store = new ReportStore(db, { examFor: fixtureExam });
  const study = { patientId: 'PAT-9', studyUid: '1.2.9.1' };
  expect(store.revisions(OLD).map((r) => r.content)).toEqual(promised.map((n) => typedContent(n)));
  store.save(OLD, study, typedContent(1440), 1439, RADIOLOGIST.name);
  expect(db.prepare('SELECT base FROM report_revisions WHERE report_id = ? AND revision = 1440').get(OLD)).toEqual({ base: 1439 });
  expect(store.revisions(OLD).at(-1)?.content).toEqual(typedContent(1440));
  expect(store.sign(OLD, study, 1440, RADIOLOGIST).state).toBe('final');
  expect(() => db.prepare('DELETE FROM report_revisions WHERE report_id = ?').run(OLD)).toThrow(/signed report content cannot be deleted|stored against/);
});

it('a compaction that reached a signed report\'s revisions would stop the whole migration, changing nothing', () => {
  const careless = { version: 990, name: 'careless', up: (d: Db) => d.exec(`DELETE FROM report_revisions WHERE report_id IN (SELECT id FROM reports WHERE state = 'final')`) };
  expect(() => openDatabase(file, { migrations: [...MIGRATIONS, careless] })).toThrow(/signed report content cannot be deleted/);
  db = openDatabase(file, { migrations: MIGRATIONS.filter((m) => m.version < 80) });
  expect(db.pragma('user_version', { simple: true })).toBe(70);
  expect((db.prepare('SELECT count(*) AS n FROM report_revisions WHERE report_id = ?').get(OLD) as { n: number }).n).toBe(1440);
});
