// Corrected reports (issue 7, line 9): a signed report the hub refused for good is replaced by a
// corrected report, a new draft of the same study that names it. reports.replaces holds that id,
// set when the correction is created and never changed (it is bound into the correction's signature).
import type { Migration } from './index.ts';

const migration: Migration = {
  version: 70,
  name: 'corrections',
  up(db) {
    db.exec(`
      ALTER TABLE reports ADD COLUMN replaces TEXT REFERENCES reports(id);
      CREATE INDEX reports_replaces ON reports(replaces) WHERE replaces IS NOT NULL;
      CREATE TRIGGER reports_replaces_fixed BEFORE UPDATE OF replaces ON reports
      WHEN NEW.replaces IS NOT OLD.replaces
      BEGIN SELECT RAISE(ABORT, 'a corrected report always replaces the report it was created for'); END;
    `);
  },
};

export default migration;
