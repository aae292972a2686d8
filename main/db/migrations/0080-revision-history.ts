// Autosave history that stays small (issue 8 finding 7, acceptance line 6): every autosave stored
// a full copy of the report and nothing was ever removed, so a day of typing grew one database
// past 1 GB. From this version (main/reports/ReportRepository.ts, "Revision history"):
// - report_revisions.base: NULL = `content` is the report's full JSON (a checkpoint); else
//   `content` is a delta against revision `base` of the same report, which is always a full row
//   (one level: a revision is read from its checkpoint and one delta, never from a chain).
// - report_revisions.pin: why a revision is kept whatever the coalescing ('created', 'template':
//   a template switch, 'take-over': the draft as it was taken over). NULL for ordinary autosaves.
// - Indexes that let a save find its checkpoint and the history's times without reading content.
// - Triggers (new, nothing weakened): a delta is stored only against an existing full revision of
//   the same report that is earlier than itself; a full revision that a delta is stored against
//   cannot be deleted while that delta exists. The triggers of 0010/0050 stay as they are: draft
//   revisions are never updated, and a signed report's revisions are never deleted, added or changed.
// - Existing history is compacted by the policy saves now apply: every revision of the last hour
//   is kept; before that, at most one per minute of typing (the last of each minute); always the
//   first and the current revision, and every template switch or take-over (their audit rows name
//   the revision). Only reports that are not signed: the DELETE goes through the triggers, so
//   were a signed report's revision ever selected, the whole migration would stop and change
//   nothing. Deleted pages go to SQLite's freelist and are reused by later saves; the file is not
//   shrunk here (a VACUUM of a large database at start-up would hold the app and need as much
//   free disk again; see docs/benchmarks.md for the measured reuse).
// Value lists come from common/lifecycle.ts.
import { SIGNED_STATES } from '../../../common/lifecycle.ts';
import type { Migration } from './index.ts';

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const sqlList = (values: readonly string[]): string => `(${values.map(quote).join(', ')})`;

/** The pins a revision may carry (ReportRepository RevisionPin). */
export const REVISION_PINS = ['created', 'template', 'take-over'] as const;

const SCHEMA = /* sql */ `
ALTER TABLE report_revisions ADD COLUMN base INTEGER CHECK (base IS NULL OR base >= 0);
ALTER TABLE report_revisions ADD COLUMN pin TEXT CHECK (pin IS NULL OR pin IN ${sqlList(REVISION_PINS)});

-- The history's older part by time, without reading any content (covering); the newest checkpoint;
-- the deltas stored against a checkpoint.
CREATE INDEX report_revisions_history ON report_revisions (report_id, saved_at, revision, base, pin);
CREATE INDEX report_revisions_full ON report_revisions (report_id, revision) WHERE base IS NULL;
CREATE INDEX report_revisions_by_base ON report_revisions (report_id, base) WHERE base IS NOT NULL;

CREATE TRIGGER revisions_delta_has_base BEFORE INSERT ON report_revisions
WHEN NEW.base IS NOT NULL AND (NEW.base >= NEW.revision OR NOT EXISTS (
  SELECT 1 FROM report_revisions b WHERE b.report_id = NEW.report_id AND b.revision = NEW.base AND b.base IS NULL))
BEGIN SELECT RAISE(ABORT, 'a delta revision is stored only against an earlier full revision of the same report'); END;

CREATE TRIGGER revisions_base_kept BEFORE DELETE ON report_revisions
WHEN EXISTS (SELECT 1 FROM report_revisions d WHERE d.report_id = OLD.report_id AND d.base = OLD.revision)
BEGIN SELECT RAISE(ABORT, 'a revision that other revisions are stored against cannot be deleted'); END;
`;

/** Every revision the coalescing lets go, over every report that is not signed (all rows are full here). */
const COMPACT = /* sql */ `
DELETE FROM report_revisions WHERE (report_id, revision) IN (
  SELECT report_id, revision FROM (
    SELECT h.report_id, h.revision, h.saved_at, r.revision AS current,
      lead(h.saved_at) OVER w AS next_at,
      first_value(h.revision) OVER w AS first_revision
    FROM report_revisions h JOIN reports r ON r.id = h.report_id
    WHERE r.state NOT IN ${sqlList(SIGNED_STATES)}
    WINDOW w AS (PARTITION BY h.report_id ORDER BY h.revision)
  ) k
  WHERE k.next_at IS NOT NULL AND k.revision <> k.first_revision AND k.revision < k.current
    AND julianday(k.saved_at) < julianday('now') - 1.0 / 24
    AND strftime('%Y-%m-%dT%H:%M', k.saved_at) = strftime('%Y-%m-%dT%H:%M', k.next_at)
    AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.report_id = k.report_id AND a.revision = k.revision
      AND a.action IN ('template-change', 'take-over', 'taken-over'))
);
`;

const migration: Migration = {
  version: 80,
  name: 'revision-history',
  up(db) {
    db.exec(SCHEMA);
    db.exec(COMPACT);
  },
};
export default migration;
