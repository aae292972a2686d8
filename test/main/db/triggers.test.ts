// The database itself refuses to change what was signed: every immutability trigger of
// migration 0010, exercised with raw SQL (as a bug or someone with the sqlite3 shell would).
import fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../../main/db/database.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CT_HEAD, RADIOLOGIST, signableContent, STUDY_A, STUDY_B, tempDb } from '../reports/fixtures.ts';

let db: Db;
let dir: string;
let store: ReportStore;
let signedId: string;
let draftId: string;

beforeEach(() => {
  ({ db, dir } = tempDb('triggers'));
  store = new ReportStore(db);
  const r = store.open(STUDY_A, { actor: 'a', ...CT_HEAD });
  store.save(r.id, STUDY_A, signableContent(), 0, 'a');
  store.sign(r.id, STUDY_A, 1, RADIOLOGIST);
  store.addendum(r.id, 'An addendum.', RADIOLOGIST);
  signedId = r.id;
  draftId = store.open(STUDY_B, { actor: 'b', ...CT_HEAD }).id;
});

afterEach(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Snapshot of every protected table, to prove a rejected statement changed nothing. */
function snapshot(): unknown {
  return ['reports', 'report_revisions', 'addenda', 'audit', 'outbox'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).all());
}

function rejects(sql: string, message: RegExp, ...params: unknown[]): void {
  const before = snapshot();
  expect(() => db.prepare(sql).run(...params)).toThrow(message);
  expect(snapshot()).toEqual(before);
}

describe('signed reports', () => {
  it('UPDATE of any column of a signed report row is rejected', () => {
    rejects(`UPDATE reports SET content = '{}' WHERE id = ?`, /signed reports are immutable/, signedId);
    rejects(`UPDATE reports SET status = 'draft', signer_name = NULL, signer_role = NULL, signer_registration = NULL, signed_at = NULL, signature_meaning = NULL, content_hash = NULL WHERE id = ?`, /signed reports are immutable/, signedId);
    rejects(`UPDATE reports SET updated_at = '2000-01-01' WHERE id = ?`, /signed reports are immutable/, signedId);
    rejects(`UPDATE reports SET author = 'someone else'`, /signed reports are immutable/);
  });

  it('DELETE of a signed report row is rejected', () => {
    rejects('DELETE FROM reports WHERE id = ?', /signed reports cannot be deleted/, signedId);
    rejects('DELETE FROM reports', /signed reports cannot be deleted/);
  });

  it('signed content (its revisions) cannot be updated, deleted or added to', () => {
    rejects(`UPDATE report_revisions SET content = '{}' WHERE report_id = ?`, /append-only/, signedId);
    rejects('DELETE FROM report_revisions WHERE report_id = ?', /signed report content cannot be deleted/, signedId);
    rejects(`INSERT INTO report_revisions (report_id, revision, saved_at, actor, content) VALUES (?, 9, 'now', 'x', '{}')`, /signed reports are immutable/, signedId);
  });

  it('a draft cannot be marked signed without a complete signature', () => {
    rejects(`UPDATE reports SET status = 'signed' WHERE id = ?`, /CHECK constraint failed/, draftId);
    rejects(`UPDATE reports SET status = 'signed', signer_name = 'x', signer_role = 'radiologist', signer_registration = 'r', signed_at = 't', signature_meaning = 'final-report', content_hash = 'short' WHERE id = ?`, /CHECK constraint failed/, draftId);
  });

  it('a report stays bound to its study, even as a draft', () => {
    rejects(`UPDATE reports SET study_uid = '9.9.9' WHERE id = ?`, /bound to its study/, draftId);
    rejects(`UPDATE reports SET patient_id = 'PAT-X' WHERE id = ?`, /bound to its study/, draftId);
    // Draft revisions are history too: append-only.
    rejects(`UPDATE report_revisions SET content = '{}' WHERE report_id = ?`, /append-only/, draftId);
  });
});

describe('addenda', () => {
  it('UPDATE and DELETE are rejected; an addendum to a draft cannot be inserted', () => {
    rejects(`UPDATE addenda SET text = 'changed'`, /addenda are immutable/);
    rejects('DELETE FROM addenda', /addenda cannot be deleted/);
    rejects(
      `INSERT INTO addenda (id, report_id, original_hash, text, signer_name, signer_role, signer_registration, signed_at, content_hash)
       VALUES ('x', ?, 'h', 'text', 'n', 'radiologist', 'r', 't', ?)`,
      /signed reports only/,
      draftId,
      'a'.repeat(64),
    );
  });
});

describe('audit', () => {
  it('UPDATE and DELETE are rejected', () => {
    rejects(`UPDATE audit SET actor = 'nobody'`, /append-only/);
    rejects(`UPDATE audit SET detail = '' WHERE action = 'sign'`, /append-only/);
    rejects('DELETE FROM audit', /append-only/);
    rejects('DELETE FROM audit WHERE report_id = ?', /append-only/, draftId);
  });
});

describe('outbox', () => {
  it('delivery state may change; the payload may not; unsynced rows cannot be deleted', () => {
    rejects(`UPDATE outbox SET payload = '{}'`, /outbox payloads are immutable/);
    rejects(`UPDATE outbox SET idempotency_key = 'k' || id`, /outbox payloads are immutable/);
    rejects('DELETE FROM outbox', /unsynced outbox rows cannot be deleted/);
    rejects(`INSERT INTO outbox (kind, report_id, idempotency_key, payload, created_at) VALUES ('other', 'r', 'k', '{}', 't')`, /CHECK constraint failed/);
    const key = (db.prepare('SELECT idempotency_key AS k FROM outbox LIMIT 1').get() as { k: string }).k;
    rejects(`INSERT INTO outbox (kind, report_id, idempotency_key, payload, created_at) VALUES ('report', 'r', ?, '{}', 't')`, /UNIQUE constraint failed/, key);
    expect(db.prepare(`UPDATE outbox SET attempts = attempts + 1, last_error = 'e'`).run().changes).toBe(2);
    db.prepare(`UPDATE outbox SET state = 'synced' WHERE id = 1`).run();
    expect(db.prepare('DELETE FROM outbox WHERE id = 1').run().changes).toBe(1);
  });
});

describe('drafts stay editable', () => {
  it('a draft row may be updated by the store', () => {
    expect(db.prepare(`UPDATE reports SET updated_at = 'later' WHERE id = ?`).run(draftId).changes).toBe(1);
  });
});
