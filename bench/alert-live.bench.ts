// P7 (issue 9 line 9): from a signature to the alert showing on a referrer page that is already
// open, median of 20, target ≤ 1 s. A hub on PostgreSQL serving its built page (dist/hub-web,
// `npm run bench` builds first), a referrer logged in on that page in Chromium (Debian's, headless)
// with the live event stream open; 20 times, a radiologist's signed critical report is sent to the
// ingest route (as a workstation's outbox sends it) and the clock runs until its row is on the
// referrer's screen. The time includes the ingest, the alert's routing, the pushed event, the
// page's refetch and its render.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { buildHub } from '../server/app.ts';
import { createUser } from '../server/auth.ts';
import { importDirectory } from '../server/directory.ts';
import { migrate } from '../server/db/migrations.ts';
import { dropPgSchema, openPg } from '../server/db/pg.ts';
import { contentWithAlert } from '../test/support/syncWorkstation.ts';
import { examFor, signedReport, studyFor } from '../test/server/support.ts';

const PG_URL = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
const RUNS = 20;
const PASSWORD = 'bench-password-long-enough';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
const round = (v: number): number => Math.round(v * 10) / 10;

export default async function run(): Promise<{ name: string; rows: { metric: string; value: number; unit: string; target?: string }[]; notes?: string }> {
  const webDir = path.resolve(process.cwd(), 'dist', 'hub-web');
  if (!fs.existsSync(path.join(webDir, 'index.html'))) throw new Error(`the hub page is not built (${webDir}): run npm run build first`);
  const schema = `bench_alertlive_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const db = await openPg({ connectionString: PG_URL, schema, max: 8 });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    await migrate(db);
    const cost = { N: 1024, r: 8, p: 1 };
    const radiologist = { username: 'bench-rad', name: 'Dr Bench Radiologist', role: 'radiologist' as const, registration: 'GMC 9000001' };
    const referrer = { username: 'bench-ref', name: 'Dr Bench Referrer', role: 'referrer' as const, registration: 'GMC 9000002' };
    await createUser(db, { ...radiologist, password: PASSWORD }, { cost });
    await createUser(db, { ...referrer, password: PASSWORD }, { cost });
    await importDirectory(db, `team,team name,referring physician,requesting service,consultant,members\nED,Emergency Department,SMITH^JANE^^DR,,,${referrer.username}\n`);
    const hub = await buildHub({ db, webDir, escalation: false });
    const url = await hub.listen(0, '127.0.0.1');
    try {
      const login = await fetch(`${url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: radiologist.username, password: PASSWORD }) });
      const token = ((await login.json()) as { token: string }).token;
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${url}/`);
      await page.locator('#login-username').fill(referrer.username);
      await page.locator('#login-password').fill(PASSWORD);
      await page.locator('#login-password').press('Enter');
      await page.getByTestId('hub-user').waitFor();
      await page.locator('[data-testid="live-state"][data-live="live"]').waitFor({ timeout: 15_000 });
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const study = studyFor(`live${i}`);
        const p = signedReport({ ...radiologist }, { study, content: contentWithAlert('critical'), exam: examFor(study) });
        const started = performance.now();
        const res = await fetch(`${url}/api/ingest`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': crypto.randomUUID() },
          body: JSON.stringify(p),
        });
        if (res.status !== 201) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
        await page.locator(`[data-report-id="${p.report.id}"]`).waitFor({ timeout: 10_000 });
        times.push(performance.now() - started);
        // Apart, as signatures are: each measured alone.
        await new Promise((r) => setTimeout(r, 150));
      }
      return {
        name: 'Alert live on an open referrer page (P7)',
        rows: [
          { metric: `signature sent → alert on the open referrer page, median of ${RUNS}`, value: round(median(times)), unit: 'ms', target: '≤ 1000 ms' },
          { metric: 'p95', value: round(pct(times, 95)), unit: 'ms' },
          { metric: 'slowest', value: round(Math.max(...times)), unit: 'ms' },
        ],
        notes: `PostgreSQL hub in this process serving its built page; Chromium headless (${browser.version()}); ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end.`,
      };
    } finally {
      await hub.close();
    }
  } finally {
    await browser.close();
    await db.close();
    await dropPgSchema(PG_URL, schema);
  }
}
