// The database itself refuses to change what was signed: every immutability trigger of
// migrations 0010 and 0050, exercised with raw SQL (as a bug or someone with the sqlite3 shell
// would), including INSERT OR REPLACE, which deletes the row it conflicts with without firing
// DELETE triggers (recursive_triggers is off by default, as here).
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../main/db/database.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, fixtureExam, RADIOLOGIST, signableContent, STUDY_A, STUDY_B, tempDb, TRAINEE, TRAINER } from '../reports/fixtures.ts';

let db: Db;
let dir: string;
let store: ReportStore;
let signedId: string;
let draftId: string;
let provisionalId: string;

const STUDY_C = { patientId: 'PAT-0003', studyUid: '1.2.826.0.1.3680043.8.498.3003' };
const HASH = 'a'.repeat(64);
/** Either guard may fire first (the existing-row guard or the state guard); both refuse. */
const IMMUTABLE = /signatures are immutable|does not fit the report's life-cycle state/;

beforeEach(() => {
  ({ db, dir } = tempDb('triggers'));
  store = new ReportStore(db, { examFor: fixtureExam });
  const r = store.open(STUDY_A, { actor: 'a', ...CT_HEAD });
  store.save(r.id, STUDY_A, signableContent(), 0, 'a');
  store.sign(r.id, STUDY_A, 1, RADIOLOGIST);
  store.addendum(r.id, 'An addendum.', RADIOLOGIST);
  signedId = r.id;
  draftId = store.open(STUDY_B, { actor: 'b', ...CT_HEAD }).id;
  const p = store.open(STUDY_C, { actor: 'c', ...CT_HEAD });
  store.save(p.id, STUDY_C, signableContent(), 0, 'c');
  provisionalId = store.sign(p.id, STUDY_C, 1, TRAINEE).id;
});

afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const TABLES = ['reports', 'report_revisions', 'addenda', 'signatures', 'audit', 'outbox'];

/** Snapshot of every protected table, to prove a rejected statement changed nothing. */
function snapshot(): unknown {
  return TABLES.map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all());
}

function rejects(sql: string, message: RegExp, ...params: unknown[]): void {
  const before = snapshot();
  expect(() => db.prepare(sql).run(...params)).toThrow(message);
  expect(snapshot()).toEqual(before);
}

const row = (table: string, where: string, ...params: unknown[]): Record<string, unknown> =>
  db.prepare(`SELECT * FROM ${table} WHERE ${where}`).get(...params) as Record<string, unknown>;

/** INSERT OR REPLACE of `r` into `table` (every column, as read). */
function replaceSql(table: string, r: Record<string, unknown>): [string, unknown[]] {
  const cols = Object.keys(r);
  return [`INSERT OR REPLACE INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`, Object.values(r)];
}

it('recursive_triggers is off here, so INSERT OR REPLACE really would bypass DELETE triggers', () => {
  expect(db.pragma('recursive_triggers', { simple: true })).toBe(0);
});

describe('signed reports', () => {
  it('UPDATE of any column of a signed (final, appended or provisional) report row is rejected', () => {
    for (const id of [signedId, provisionalId]) {
      rejects(`UPDATE reports SET content = '{}' WHERE id = ?`, /signed reports are immutable/, id);
      rejects(`UPDATE reports SET updated_at = '2000-01-01' WHERE id = ?`, /signed reports are immutable/, id);
      rejects(`UPDATE reports SET exam = '{}' WHERE id = ?`, /signed reports are immutable/, id);
      rejects(`UPDATE reports SET state = 'draft' WHERE id = ?`, /life-cycle transition/, id);
    }
    rejects(`UPDATE reports SET author = 'someone else'`, /signed reports are immutable/);
  });

  it('DELETE of a signed report row is rejected', () => {
    rejects('DELETE FROM reports WHERE id = ?', /signed reports cannot be deleted/, signedId);
    rejects('DELETE FROM reports WHERE id = ?', /signed reports cannot be deleted/, provisionalId);
    rejects('DELETE FROM reports', /signed reports cannot be deleted/);
  });

  it('INSERT OR REPLACE cannot swap a signed report row (or any report row) for another', () => {
    for (const id of [signedId, provisionalId, draftId]) {
      const [sql, params] = replaceSql('reports', { ...row('reports', 'id = ?', id), content: '{"forged":true}' });
      rejects(sql, /starts as a new draft/, ...params);
    }
  });

  it('signed content (its revisions) cannot be updated, deleted, added to or replaced', () => {
    rejects(`UPDATE report_revisions SET content = '{}' WHERE report_id = ?`, /append-only/, signedId);
    rejects('DELETE FROM report_revisions WHERE report_id = ?', /signed report content cannot be deleted/, signedId);
    rejects(`INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, 9, 'now', 'x', '{}')`, /signed reports are immutable/, signedId);
    for (const id of [signedId, draftId]) {
      const [sql, params] = replaceSql('report_revisions', { ...row('report_revisions', 'report_id = ? AND revision = 0', id), content: '{}' });
      rejects(sql, id === draftId ? /append-only/ : /append-only|signed reports are immutable/, ...params);
    }
  });

  it('a draft cannot become signed by SQL: only a transition, only after its signature is recorded', () => {
    rejects(`UPDATE reports SET state = 'final' WHERE id = ?`, /life-cycle transition/, draftId);
    rejects(`UPDATE reports SET state = 'provisional' WHERE id = ?`, /life-cycle transition/, draftId);
    rejects(`UPDATE reports SET state = 'appended' WHERE id = ?`, /life-cycle transition/, draftId);
    // Not a state at all (the old 'signed'), or taken-over without the colleague's name.
    rejects(`UPDATE reports SET state = 'signed' WHERE id = ?`, /life-cycle transition|CHECK constraint failed/, draftId);
    rejects(`UPDATE reports SET state = 'taken-over' WHERE id = ?`, /CHECK constraint failed/, draftId);
    // A new report starts as a draft.
    rejects(
      `INSERT INTO reports (id, patient_id, study_uid, state, template_id, content, revision, author, created_at, updated_at)
       VALUES ('forged', 'P', '1.2.3', 'final', 'ct-head', '{}', 0, 'x', 't', 't')`,
      /starts as a new draft/,
    );
  });

  it('a report stays bound to its study, even as a draft', () => {
    rejects(`UPDATE reports SET study_uid = '9.9.9' WHERE id = ?`, /bound to its study/, draftId);
    rejects(`UPDATE reports SET patient_id = 'PAT-X' WHERE id = ?`, /bound to its study/, draftId);
    // Draft revisions are history too: append-only.
    rejects(`UPDATE report_revisions SET content = '{}' WHERE report_id = ?`, /append-only/, draftId);
  });
});

describe('signatures', () => {
  it('UPDATE, DELETE and INSERT OR REPLACE of a signature record are rejected', () => {
    rejects(`UPDATE signatures SET content_hash = ?`, /signatures are immutable/, HASH);
    rejects(`UPDATE signatures SET signer_name = 'Dr Forger' WHERE report_id = ?`, /signatures are immutable/, signedId);
    rejects('DELETE FROM signatures', /signatures cannot be deleted/);
    rejects('DELETE FROM signatures WHERE report_id = ?', /signatures cannot be deleted/, provisionalId);
    for (const where of [`report_id = '${signedId}' AND addendum_id IS NULL`, `report_id = '${signedId}' AND addendum_id IS NOT NULL`, `report_id = '${provisionalId}'`]) {
      const original = row('signatures', where);
      // Same row id, another hash / signer.
      const [sql, params] = replaceSql('signatures', { ...original, content_hash: HASH, signer_name: 'Dr Forger' });
      rejects(sql, IMMUTABLE, ...params);
      // A new seq but the same signature id (UNIQUE), so REPLACE would delete the original.
      const { seq: _seq, ...noSeq } = original;
      const [sql2, params2] = replaceSql('signatures', { ...noSeq, content_hash: HASH });
      rejects(sql2, IMMUTABLE, ...params2);
    }
    // A second final signature under a new id: the one-of-each index would make REPLACE drop the first.
    const { seq: _s, id: _i, ...finalSig } = row('signatures', 'report_id = ? AND addendum_id IS NULL', signedId);
    const [sql3, params3] = replaceSql('signatures', { ...finalSig, id: 'another-id', content_hash: HASH });
    rejects(sql3, IMMUTABLE, ...params3);
  });

  it('the replace guard is what stops it: without it, INSERT OR REPLACE silently swaps an addendum signature', () => {
    const original = row('signatures', 'report_id = ? AND addendum_id IS NOT NULL', signedId);
    const [sql, params] = replaceSql('signatures', { ...original, content_hash: HASH, signer_name: 'Dr Forger' });
    rejects(sql, /signatures are immutable/, ...params);
    // Negative control: drop the guard and the same statement replaces the record (no UPDATE or DELETE trigger fires).
    db.exec('DROP TRIGGER signatures_no_replace');
    db.prepare(sql).run(...params);
    expect(row('signatures', 'seq = ?', original['seq'])).toMatchObject({ content_hash: HASH, signer_name: 'Dr Forger' });
  });

  it('a signature must fit the report state: no final over a provisional, no verification of a final, no addendum on a draft', () => {
    const ins = `INSERT INTO signatures (id, report_id, meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id)
                 VALUES (?, ?, ?, 'Dr X', 'radiologist', 'GMC 1', 't', ?, NULL)`;
    rejects(ins, /does not fit the report's life-cycle state/, 'x1', provisionalId, 'final-report', HASH);
    rejects(ins, /does not fit the report's life-cycle state/, 'x2', signedId, 'verification', HASH);
    rejects(ins, /does not fit the report's life-cycle state/, 'x3', draftId, 'verification', HASH);
    rejects(ins, /CHECK constraint failed|does not fit/, 'x4', draftId, 'addendum', HASH);
    rejects(ins, /CHECK constraint failed/, 'x5', draftId, 'final-report', 'not-a-hash');
    rejects(ins, /CHECK constraint failed|does not fit/, 'x6', draftId, 'approval', HASH);
    rejects(
      `INSERT INTO signatures (id, report_id, meaning, signer_name, signer_role, signer_registration, signed_at, content_hash, addendum_id)
       VALUES ('x7', ?, 'final-report', 'Dr X', 'wizard', 'GMC 1', 't', ?, NULL)`,
      /CHECK constraint failed/,
      draftId,
      HASH,
    );
  });

  it('the store verifies through the same rules: trainer verification is accepted by the triggers', () => {
    const verified = store.verify(provisionalId, STUDY_C, TRAINER);
    expect(verified.state).toBe('final');
    rejects(`UPDATE reports SET state = 'provisional' WHERE id = ?`, /life-cycle transition/, provisionalId);
  });
});

describe('addenda', () => {
  it('UPDATE, DELETE and INSERT OR REPLACE are rejected; an addendum to a draft or a provisional report cannot be inserted', () => {
    rejects(`UPDATE addenda SET text = 'changed'`, /addenda are immutable/);
    rejects('DELETE FROM addenda', /addenda cannot be deleted/);
    for (const id of [draftId, provisionalId]) {
      rejects(
        `INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash)
         VALUES ('x', ?, 'h', 'text', 'n', 'radiologist', 'r', 't', ?)`,
        /final reports only/,
        id,
        HASH,
      );
    }
    const [sql, params] = replaceSql('addenda', { ...row('addenda', 'report_id = ?', signedId), text: 'Rewritten.' });
    rejects(sql, /addenda are immutable/, ...params);
  });
});

describe('audit', () => {
  it('UPDATE, DELETE and INSERT OR REPLACE are rejected', () => {
    rejects(`UPDATE audit SET actor = 'nobody'`, /append-only/);
    rejects(`UPDATE audit SET detail = '' WHERE action = 'sign'`, /append-only/);
    rejects('DELETE FROM audit', /append-only/);
    rejects('DELETE FROM audit WHERE report_id = ?', /append-only/, draftId);
    const [sql, params] = replaceSql('audit', { ...row('audit', `action = 'sign'`), detail: 'nothing happened' });
    rejects(sql, /append-only/, ...params);
  });
});

describe('outbox', () => {
  it('delivery state may change; the payload may not (nor be replaced); unsynced rows cannot be deleted', () => {
    rejects(`UPDATE outbox SET payload = '{}'`, /outbox payloads are immutable/);
    rejects(`UPDATE outbox SET idempotency_key = 'k' || id`, /outbox payloads are immutable/);
    rejects('DELETE FROM outbox', /unsynced outbox rows cannot be deleted/);
    rejects(`INSERT INTO outbox (kind, report_id, idempotency_key, payload, created_at) VALUES ('other', 'r', 'k', '{}', 't')`, /CHECK constraint failed/);
    const key = (db.prepare('SELECT idempotency_key AS k FROM outbox LIMIT 1').get() as { k: string }).k;
    rejects(`INSERT INTO outbox (kind, report_id, idempotency_key, payload, created_at) VALUES ('report', 'r', ?, '{}', 't')`, /outbox payloads are immutable/, key);
    const [sql, params] = replaceSql('outbox', { ...row('outbox', 'id = 1'), payload: '{}' });
    rejects(sql, /outbox payloads are immutable/, ...params);
    expect(db.prepare(`UPDATE outbox SET attempts = attempts + 1, last_error = 'e'`).run().changes).toBe(3);
    db.prepare(`UPDATE outbox SET state = 'synced' WHERE id = 1`).run();
    expect(db.prepare('DELETE FROM outbox WHERE id = 1').run().changes).toBe(1);
    // The new kind is accepted.
    db.prepare(`INSERT INTO outbox (kind, report_id, idempotency_key, payload, created_at) VALUES ('verification', 'r', 'k-new', '{}', 't')`).run();
  });
});

describe('drafts stay editable', () => {
  it('a draft row may be updated by the store', () => {
    expect(db.prepare(`UPDATE reports SET updated_at = 'later' WHERE id = ?`).run(draftId).changes).toBe(1);
  });
});
