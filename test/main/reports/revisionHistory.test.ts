// Revision history that stays small (issue 8 finding 7, line 6): deltas against a checkpoint and
// coalescing (every revision of the last hour, one per minute of typing before that, pinned
// boundaries), with nothing acknowledged, signed or audited lost. Each test tries to break one
// promise of ReportRepository.ts "Revision history".
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ReportContent } from '../../../common/report.ts';
import type { Db } from '../../../main/db/database.ts';
import { KEEP_EVERY_REVISION_MS, PRUNE_LIMIT } from '../../../main/reports/ReportRepository.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, fixtureExam, RADIOLOGIST, signableContent, STUDY_A, STUDY_B, tempDb, typedContent } from './fixtures.ts';

const START = Date.parse('2026-03-02T08:00:00.000Z');
let db: Db;
let dir: string;
let clock = START;
let store: ReportStore;
const ADA = RADIOLOGIST.name;

beforeEach(() => {
  ({ db, dir } = tempDb('history'));
  clock = START;
  store = new ReportStore(db, { now: () => new Date(clock), examFor: fixtureExam });
});

afterEach(() => {
  if (db.open) db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Saved {
  revision: number;
  at: number;
  content: ReportContent;
}

/** Saves `contents` in order, advancing the clock by `gapMs(i)` before each; returns every save. */
function type(reportId: string, from: number, contents: ReportContent[], gapMs: (i: number) => number): Saved[] {
  let revision = from;
  return contents.map((content, i) => {
    clock += gapMs(i);
    revision = store.save(reportId, STUDY_A, content, revision, ADA).revision;
    return { revision, at: clock, content };
  });
}

const minute = (t: number): number => Math.floor(t / 60_000);

/** What the coalescing promises to keep of `saved` (oldest first) as of the last save, with `pinned` revisions. */
function expectedKept(saved: Saved[], pinned: ReadonlySet<number>): number[] {
  const last = saved[saved.length - 1]!;
  return saved
    .filter((s, i) => {
      const next = saved[i + 1];
      return i === 0 || !next || pinned.has(s.revision) || s.at >= last.at - KEEP_EVERY_REVISION_MS || minute(next.at) !== minute(s.at);
    })
    .map((s) => s.revision);
}

/** The kept revisions are exactly the promised ones plus the checkpoints a kept delta is stored against. */
function expectCoalesced(reportId: string, promised: number[]): void {
  const stored = rows(reportId);
  const bases = new Set(stored.filter((x) => promised.includes(x.revision) && x.base !== null).map((x) => x.base!));
  expect(stored.map((x) => x.revision)).toEqual([...new Set([...promised, ...bases])].sort((a, b) => a - b));
  expect(bases.size).toBeLessThan(promised.length / 10);
}

const rows = (reportId: string): { revision: number; base: number | null; pin: string | null; bytes: number }[] =>
  db.prepare('SELECT revision, base, pin, length(content) AS bytes FROM report_revisions WHERE report_id = ? ORDER BY revision').all(reportId) as never;

describe('coalescing', () => {
  it('keeps every revision of the last hour and the last of each earlier minute, each with exactly the text saved; the audit still lists every save', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    // Three hours of typing: a save every 7 s (several a minute), with a 10-minute pause every 200 saves.
    const n = 1500;
    const saved = [{ revision: 0, at: START, content: r.content }, ...type(r.id, 0, Array.from({ length: n }, (_, i) => typedContent(i + 1)), (i) => (i > 0 && i % 200 === 0 ? 600_000 : 7_000))];
    const revisions = store.revisions(r.id);
    expectCoalesced(r.id, expectedKept(saved, new Set()));
    // It really coalesced (not a vacuous pass): far fewer than saved, more than the last hour alone.
    expect(revisions.length).toBeLessThan(saved.length / 2);
    for (const x of revisions) {
      const s = saved.find((y) => y.revision === x.revision)!;
      expect(x.content).toEqual(s.content);
      expect(x.savedAt).toBe(new Date(s.at).toISOString());
    }
    expect(store.audit(r.id).filter((a) => a.action === 'edit').map((a) => a.detail)).toEqual(saved.slice(1).map((s) => `revision ${s.revision}`));
    expect(store.get(r.id, ADA).content).toEqual(typedContent(n));
  });

  it('prunes at most PRUNE_LIMIT revisions in one save, and catches up over the next saves', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    // 300 saves within one minute, then two hours later more typing.
    type(r.id, 0, Array.from({ length: 300 }, (_, i) => typedContent(i + 1)), () => 100);
    const before = rows(r.id).length;
    clock += 2 * KEEP_EVERY_REVISION_MS;
    type(r.id, 300, [typedContent(301)], () => 0);
    const pruned = before + 1 - rows(r.id).length;
    expect(pruned).toBeGreaterThan(PRUNE_LIMIT / 2);
    expect(pruned).toBeLessThanOrEqual(PRUNE_LIMIT);
    type(r.id, 301, Array.from({ length: 10 }, (_, i) => typedContent(302 + i)), () => 1000);
    // Of the burst minute only revision 0 (the first) and 300 (the last of its minute) are left.
    expect(store.revisions(r.id).map((x) => x.revision).filter((v) => v <= 300)).toEqual([0, 300].concat(rows(r.id).filter((x) => x.revision === 300 && x.base !== null).map((x) => x.base!)).sort((a, b) => a - b));
  });

  it('keeps a template switch and the revision taken over, however old, and the first revision', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    const saved = type(r.id, 0, Array.from({ length: 20 }, (_, i) => typedContent(i + 1)), () => 1000);
    const switched = store.open(STUDY_A, { actor: ADA, ...CT_HEAD, templateId: 'generic' });
    expect(switched.revision).toBe(21);
    type(r.id, 21, Array.from({ length: 20 }, (_, i) => ({ ...switched.content, fields: { ...switched.content.fields, findings: 'x'.repeat(i + 1) } })), () => 1000);
    clock += 2 * KEEP_EVERY_REVISION_MS;
    type(r.id, 41, [{ ...switched.content, fields: { ...switched.content.fields, findings: 'done' } }], () => 0);
    // Revision 1 is the checkpoint the deltas 2–20 were stored against: it goes on the save after theirs.
    expect(store.revisions(r.id).map((x) => x.revision)).toEqual([0, 1, 21, 41, 42]);
    expect(rows(r.id).find((x) => x.revision === 1)?.base).toBeNull();
    type(r.id, 42, [{ ...switched.content, fields: { ...switched.content.fields, findings: 'done.' } }], () => 1000);
    const kept = store.revisions(r.id).map((x) => x.revision);
    expect(kept).toEqual([0, 21, 41, 42, 43]);
    expect(rows(r.id).find((x) => x.revision === 21)?.pin).toBe('template');
    expect(saved.length).toBe(20);

    // The revision a take-over carried in is pinned the same way.
    const hub = [
      { revision: 0, savedAt: '2026-03-01T20:00:00.000Z', content: typedContent(5) },
      { revision: 4, savedAt: '2026-03-01T20:00:10.000Z', content: typedContent(9) },
      { revision: 6, savedAt: '2026-03-01T20:00:20.000Z', content: typedContent(12) },
    ];
    const adopted = store.adoptTakenOver({ reportId: 'hub-1', study: STUDY_B, author: ADA, revisions: hub, previousOwner: 'Dr B', actor: ADA });
    expect(store.revisions(adopted.id).map((x) => x.revision)).toEqual([0, 4, 6]);
    let rev = 6;
    for (let i = 0; i < 3; i++) rev = store.save(adopted.id, STUDY_B, typedContent(20 + i), rev, ADA).revision;
    expect(store.revisions(adopted.id).map((x) => x.revision)).toEqual([0, 6, 7, 8, 9]);
    expect(store.revisions(adopted.id)[1]!.content).toEqual(typedContent(12));
  });
});

describe('deltas', () => {
  it('stores keystroke saves as small deltas against a full checkpoint and reads back every one exactly', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    const saved = type(r.id, 0, Array.from({ length: 400 }, (_, i) => typedContent(i + 1)), () => 1000);
    const stored = rows(r.id);
    const full = stored.filter((x) => x.base === null);
    expect(full.length).toBeGreaterThanOrEqual(2); // checkpoints are renewed as the text grows
    expect(full.length).toBeLessThan(stored.length / 20);
    const fullBytes = JSON.stringify(typedContent(400)).length;
    for (const x of stored.filter((y) => y.base !== null)) {
      expect(x.bytes).toBeLessThanOrEqual(Math.max(256, fullBytes / 8));
      expect(stored.find((y) => y.revision === x.base)?.base).toBeNull();
    }
    const revisions = store.revisions(r.id);
    expect(revisions).toHaveLength(401);
    for (const s of saved) expect(revisions[s.revision]!.content).toEqual(s.content);
  });

  it('round-trips edits anywhere: in the middle, deletions, fields added and removed, emoji split across saves, key order changed', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    const base = signableContent();
    const f = base.fields;
    const contents: ReportContent[] = [
      base,
      { ...base, fields: { ...f, brainParenchyma: `${f['brainParenchyma']} Small 🧠 lesion.` } },
      { ...base, fields: { ...f, brainParenchyma: `Left: ${f['brainParenchyma']}` } },
      { ...base, fields: { ...f, brainParenchyma: '' } },
      { ...base, fields: { conclusion: 'Reordered.', ...f } },
      { ...base, fields: { technique: f['technique']!, conclusion: 'Only two.' } },
      { ...base, fields: { ...f, extra: '\u{1F600}\u{1F600}' }, unexpected: { kind: 'findings', items: [{ id: 'u1', text: 'Nodule.', category: 'significant' }] }, alertCode: 'significant' },
      { ...base, fields: { ...f, extra: '\u{1F600}\u{1F601}' }, alertCode: null },
      { ...base, comparison: { kind: 'compared', text: 'CT 2025-01-01' } },
    ];
    type(r.id, 0, contents, () => 1000);
    expect(store.revisions(r.id).slice(1).map((x) => x.content)).toEqual(contents);
    expect(rows(r.id).some((x) => x.base !== null)).toBe(true);
  });
});

describe('what is never lost', () => {
  it('a signed report keeps every revision it had, untouched, while other drafts are typed and pruned', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    type(r.id, 0, Array.from({ length: 50 }, (_, i) => signableContent(` ${i}`)), () => 500);
    store.sign(r.id, STUDY_A, 50, RADIOLOGIST);
    const frozen = db.prepare('SELECT * FROM report_revisions WHERE report_id = ? ORDER BY revision').all(r.id);
    const signedRevisions = store.revisions(r.id);
    expect(signedRevisions).toHaveLength(51);
    expect(signedRevisions[50]!.content).toEqual(store.get(r.id, ADA).content);
    clock += 3 * KEEP_EVERY_REVISION_MS;
    const other = store.open(STUDY_B, { actor: ADA, ...CT_HEAD });
    let rev = 0;
    for (let i = 0; i < 100; i++) {
      clock += 30_000;
      rev = store.save(other.id, STUDY_B, typedContent(i + 1), rev, ADA).revision;
    }
    expect(db.prepare('SELECT * FROM report_revisions WHERE report_id = ? ORDER BY revision').all(r.id)).toEqual(frozen);
    expect(store.revisions(r.id)).toEqual(signedRevisions);
  });

  it('the triggers refuse a delta without its full base, and deleting a checkpoint a delta is stored against', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    type(r.id, 0, [typedContent(1), typedContent(2)], () => 1000);
    const stored = rows(r.id);
    const delta = stored.find((x) => x.base !== null)!;
    expect(() => db.prepare('DELETE FROM report_revisions WHERE report_id = ? AND revision = ?').run(r.id, delta.base)).toThrow(/other revisions are stored against/);
    expect(() => db.prepare('DELETE FROM report_revisions WHERE report_id = ?').run(r.id)).toThrow(/other revisions are stored against/);
    const insert = db.prepare(`INSERT INTO report_revisions (report_id, revision, saved_at, actor, content, base) VALUES (?, ?, 't', 'x', '{"o":{}}', ?)`);
    expect(() => insert.run(r.id, 9, 7)).toThrow(/earlier full revision/);
    expect(() => insert.run(r.id, 9, delta.revision)).toThrow(/earlier full revision/);
    expect(() => insert.run(r.id, 9, 9)).toThrow(/earlier full revision/);
    expect(() => db.prepare(`UPDATE report_revisions SET content = '{}' WHERE report_id = ?`).run(r.id)).toThrow(/append-only/);
    expect(rows(r.id)).toEqual(stored);
  });

  it('a take-over of a local draft with delta history keeps the replaced local revisions in full in the audit', () => {
    const r = store.open(STUDY_A, { actor: ADA, ...CT_HEAD });
    type(r.id, 0, Array.from({ length: 5 }, (_, i) => typedContent(i + 1)), () => 1000);
    expect(rows(r.id).some((x) => x.base !== null)).toBe(true);
    store.markTakenOver(r.id, 'Dr B');
    const hub = [{ revision: 3, savedAt: new Date(clock).toISOString(), content: typedContent(3) }, { revision: 9, savedAt: new Date(clock).toISOString(), content: typedContent(40) }];
    store.adoptTakenOver({ reportId: r.id, study: STUDY_A, author: ADA, revisions: hub, previousOwner: 'Dr B', actor: ADA });
    expect(store.revisions(r.id).map((x) => [x.revision, x.content])).toEqual(hub.map((h) => [h.revision, h.content]));
    const detail = store.audit(r.id).find((a) => a.action === 'take-over')!.detail;
    const kept = JSON.parse(detail.split('kept here in full): ')[1]!) as { revision: number; content: ReportContent }[];
    expect(kept.map((k) => k.revision)).toEqual([0, 1, 2, 4, 5]);
    for (const k of kept.slice(1)) expect(k.content).toEqual(typedContent(k.revision));
  });
});
