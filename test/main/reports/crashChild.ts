// Child process of crash.test.ts (bundled with esbuild, run with plain Node): opens the report
// store on the database file given as argv[2] and "types" into the study's report, saving a
// revision per keystroke and printing `ACK <revision>` only after save() has returned. The
// parent kills it with SIGKILL at a random moment. With argv[3] (milliseconds), the store's clock
// is simulated: revision n is saved at DAY_START + n × argv[3], so the history is pruned as it goes.
import fs from 'node:fs';
import { openDatabase } from '../../../main/db/database.ts';
import { ReportStore } from '../../../main/reports/ReportStore.ts';
import { CRASH_DAY_START, CT_HEAD, STUDY_A, typedContent } from './fixtures.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: crashChild <db file>');
const step = process.argv[3] === undefined ? null : Number(process.argv[3]);
const db = openDatabase(file);
let revision = 0;
const store = new ReportStore(db, step === null ? {} : { now: () => new Date(CRASH_DAY_START + (revision + 1) * step) });
const report = store.open(STUDY_A, { actor: 'crash-test', ...CT_HEAD });
revision = report.revision;
// Synchronous writes to fd 1: the line is in the pipe before the next save starts.
fs.writeSync(1, `READY ${report.id} ${revision}\n`);
const deadline = Date.now() + 30_000; // never outlive a broken parent
while (Date.now() < deadline) {
  const next = typedContent(revision + 1);
  revision = store.save(report.id, STUDY_A, next, revision, 'crash-test').revision;
  fs.writeSync(1, `ACK ${revision}\n`);
}
fs.writeSync(1, 'TIMEOUT\n');
process.exit(3);
