// Hub ingest on PostgreSQL: signed reports posted over loopback HTTP to a hub running in a worker
// thread (its own event loop, as a separate process would have), each through the full path:
// session, zod parse, sign-off rules, content-hash recomputation, then the idempotency record,
// report row with its exam, signature record, draft check, audit row and event in one transaction
// (the one ingest rule of server/ingest.ts; new reports that arrive together are stored by one
// statement with one commit, everything else in a shared transaction: IngestBatcher), NOTIFY
// after the commit.
//   1. sustained reports/s, closed loop, 32 concurrent senders;
//   2. latency at an open-loop 200 requests/s (timed from each request's scheduled start, so a
//      slow hub cannot hide queueing);
//   3. raw PostgreSQL: the same rows, one INSERT each, autocommit, 32 concurrent connections;
//   4. the same ingest rule called directly (no HTTP, no JSON, same batcher) from 32 concurrent
//      callers: what the database side sustains, to tell it apart from the hub's HTTP thread.
// Loopback only; bounded in count and time. DATABASE_URL or postgres://postgres@127.0.0.1:5432/test;
// everything lives in a schema of its own, dropped at the end.
import crypto from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { SignedReportPayload } from '../common/hubPayload.ts';
import { requesterUnknown, signedPayload, type ExamDetails, type Profile, type ReportContent } from '../common/report.ts';
import { SseParser } from '../common/sse.ts';
import { buildHub } from '../server/app.ts';
import { createUser, lookupSession } from '../server/auth.ts';
import { OutboxPayload } from '../common/hubPayload.ts';
import { ingest, IngestBatcher } from '../server/ingest.ts';
import { migrate } from '../server/db/migrations.ts';
import { dropPgSchema, openPg } from '../server/db/pg.ts';
import { signableContent } from '../test/support/reportFixtures.ts';

const PG_URL = process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/test';
const CONCURRENCY = 32;
const CLOSED_LOOP_MAX = 30_000;
const CLOSED_LOOP_SECONDS = 8;
const WARMUP = 600;
const OPEN_RATE = 200;
const OPEN_SECONDS = 10;
const DIRECT_MAX = 12_000;
const DIRECT_SECONDS = 6;
const USERS = 8;
const DRAFTS = 200;
const LIST_SECONDS = 3;
const SSE_CLIENTS = 500;
const SSE_EVENTS = 20;

interface HubWorkerData { role: 'hub'; schema: string }

// ---- the hub, in a worker thread ---------------------------------------------------------------
if (!isMainThread && (workerData as HubWorkerData | undefined)?.role === 'hub') {
  const { schema } = workerData as HubWorkerData;
  const db = await openPg({ connectionString: PG_URL, schema, max: 20 });
  const hub = await buildHub({ db, migrate: false, ownsDb: true });
  const url = await hub.listen(0, '127.0.0.1');
  parentPort!.postMessage({ url });
  parentPort!.on('message', (m: string) => {
    if (m === 'close') void hub.close().then(() => parentPort!.postMessage('closed'));
  });
}

const TYPED =
  'The brain parenchyma demonstrates normal grey-white matter differentiation. No acute territorial infarct, ' +
  'intracranial haemorrhage or space-occupying lesion. Mild periventricular white matter low attenuation in keeping ' +
  'with small vessel disease. The ventricles and sulci are of normal size for age; no hydrocephalus, no midline shift. ';

function content(i: number): ReportContent {
  return signableContent(` Report ${i}.`, `${TYPED}${TYPED}`);
}

function payload(signer: Profile, i: number): SignedReportPayload {
  const id = crypto.randomUUID();
  const study = { patientId: `PAT-${String(i).padStart(7, '0')}`, studyUid: `1.2.826.0.1.3680043.8.498.${100000 + i}` };
  const c = content(i);
  const signedAt = new Date().toISOString();
  const who = { name: signer.name, role: signer.role, registration: signer.registration };
  // The exam from the DICOM index, bound into the signed payload (one in 10 with no requester).
  const exam: ExamDetails = {
    patientName: `BENCH^Patient^${i}`, birthDate: '19600101', sex: i % 2 ? 'F' : 'M', accession: `ACC${String(i).padStart(9, '0')}`, modality: 'CT',
    studyDescription: 'CT head without contrast', studyDate: '20261128', studyTime: '093000',
    referringPhysician: i % 10 === 0 ? '' : `REFERRER^${i % 50}^^Dr`, requestingService: i % 10 === 0 ? '' : 'Emergency Department',
  };
  const contentHash = crypto.createHash('sha256').update(signedPayload(c, study, who, signedAt, 'final-report', exam)).digest('hex');
  return { kind: 'report', report: { id, study, exam, content: c, signature: { ...who, signedAt, meaning: 'final-report', contentHash }, author: signer.name, createdAt: signedAt } };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 });

function send(url: URL, token: string, body: string, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: '/api/ingest', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}`, 'idempotency-key': key },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function request(url: URL, method: string, path: string, token: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const req = http.request({ host: url.hostname, port: url.port, path, method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens an SSE stream (own socket) and calls `onEvent(reportId)` for each report-signed event. */
function sse(url: URL, token: string, onEvent: (reportId: string) => void): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: '/api/events', headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      const parser = new SseParser();
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        for (const m of parser.push(d)) {
          if (m.event === 'hello') resolve(req);
          if (m.event !== 'message') continue;
          const e = JSON.parse(m.data) as { type?: string; reportId?: string };
          if (e.type === 'report-signed' && e.reportId) onEvent(e.reportId);
        }
      });
    });
    req.on('error', reject);
  });
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const round = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d;

export default async function run(): Promise<{ name: string; rows: { metric: string; value: number; unit: string; target?: string }[]; notes?: string }> {
  const schema = `bench_hub_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const setup = await openPg({ connectionString: PG_URL, schema, max: CONCURRENCY + 4 });
  let worker: Worker | null = null;
  try {
    await migrate(setup);
    await setup.exec('CREATE TABLE raw_signed_reports (LIKE signed_reports INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)');
    const users: (Profile & { username: string; password: string })[] = [];
    for (let i = 0; i < USERS; i++) {
      const u = { username: `bench${i}`, name: `Dr Bench ${i}`, role: 'radiologist' as const, registration: `GMC 90000${i}`, password: `bench-password-${i}` };
      await createUser(setup, u, { cost: { N: 1024, r: 8, p: 1 } });
      users.push(u);
    }
    worker = new Worker(new URL(import.meta.url), { workerData: { role: 'hub', schema } satisfies HubWorkerData });
    const url = new URL(await new Promise<string>((resolve, reject) => {
      worker!.once('message', (m: { url: string }) => resolve(m.url));
      worker!.once('error', reject);
    }));
    const tokens: string[] = [];
    for (const u of users) {
      const r = await fetch(new URL('/api/session', url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: u.username, password: u.password }) });
      tokens.push(((await r.json()) as { token: string }).token);
    }

    // Payloads prepared up front: the timed loops measure the hub, not the client's hashing.
    const total = WARMUP + CLOSED_LOOP_MAX + OPEN_RATE * OPEN_SECONDS + DIRECT_MAX;
    const prepared = Array.from({ length: total }, (_, i) => {
      const w = i % USERS;
      const p = payload(users[w]!, i);
      return { token: tokens[w]!, body: JSON.stringify(p), key: crypto.randomUUID(), p };
    });
    let next = 0;
    let failures = 0;

    // Warm-up (JIT, pool connections, plan caches).
    const warm = prepared.slice(0, WARMUP);
    next = WARMUP;
    await Promise.all(Array.from({ length: CONCURRENCY }, async (_, k) => {
      for (let i = k; i < warm.length; i += CONCURRENCY) if ((await send(url, warm[i]!.token, warm[i]!.body, warm[i]!.key)) !== 201) failures++;
    }));

    // 1. Closed loop.
    const closedLatencies: number[] = [];
    const closedEnd = next + CLOSED_LOOP_MAX;
    const deadline = performance.now() + CLOSED_LOOP_SECONDS * 1000;
    const t0 = performance.now();
    let closedDone = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < closedEnd && performance.now() < deadline) {
        const item = prepared[next++]!;
        const s = performance.now();
        const status = await send(url, item.token, item.body, item.key);
        closedLatencies.push(performance.now() - s);
        if (status !== 201) failures++;
        closedDone++;
      }
    }));
    const closedSeconds = (performance.now() - t0) / 1000;
    const hubRate = closedDone / closedSeconds;
    closedLatencies.sort((a, b) => a - b);
    next = closedEnd;

    // 2. Open loop at OPEN_RATE/s: request i is due at start + i/rate; latency counts from then.
    const openItems = prepared.slice(next, next + OPEN_RATE * OPEN_SECONDS);
    const openLatencies: number[] = [];
    const start = performance.now() + 50;
    await new Promise<void>((resolve) => {
      let issued = 0;
      let finished = 0;
      const tick = (): void => {
        const now = performance.now();
        while (issued < openItems.length && start + (issued * 1000) / OPEN_RATE <= now) {
          const due = start + (issued * 1000) / OPEN_RATE;
          const item = openItems[issued++]!;
          void send(url, item.token, item.body, item.key).then((status) => {
            if (status !== 201) failures++;
            openLatencies.push(performance.now() - due);
            if (++finished === openItems.length) resolve();
          }, () => {
            failures++;
            if (++finished === openItems.length) resolve();
          });
        }
        if (issued < openItems.length) setTimeout(tick, 1);
      };
      tick();
    });
    openLatencies.sort((a, b) => a - b);

    // Direct: the ingest rule without HTTP, on a pool of this thread's own (the hub worker idles).
    next += openItems.length;
    const sessionUsers = await Promise.all(tokens.map(async (t) => {
      const found = await lookupSession(setup, t, Date.now());
      if (!found.ok) throw new Error('bench session not found');
      return found.user;
    }));
    const batcher = new IngestBatcher(setup);
    const directEnd = next + DIRECT_MAX;
    const directDeadline = performance.now() + DIRECT_SECONDS * 1000;
    let directDone = 0;
    const d0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < directEnd && performance.now() < directDeadline) {
        const i = next++;
        const item = prepared[i]!;
        const raw = JSON.parse(item.body) as unknown;
        const r = await ingest(setup, sessionUsers[i % USERS]!, item.key, raw, OutboxPayload.parse(raw), Date.now(), batcher);
        if (r.status !== 201) failures++;
        directDone++;
      }
    }));
    const directRate = directDone / ((performance.now() - d0) / 1000);

    // 3. Raw PostgreSQL: the closed-loop rows again, one INSERT each, 32 connections.
    const rawRows = prepared.slice(WARMUP, WARMUP + closedDone).map((x) => x.p.report);
    let rawNext = 0;
    const r0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (rawNext < rawRows.length) {
        const r = rawRows[rawNext++]!;
        const sig = r.signature;
        await setup.query(
          `INSERT INTO raw_signed_reports (id, patient_id, study_uid, content, signer_name, signer_role, signer_registration, signed_at,
             content_hash, author, created_at, stored_at, stored_by, idempotency_key,
             exam, accession, referring_physician, requesting_service, modality, study_date, requester_unknown)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), 1, $12, $13, $14, $15, $16, $17, $18, $19)`,
          [r.id, r.study.patientId, r.study.studyUid, JSON.stringify(r.content), sig.name, sig.role, sig.registration, sig.signedAt,
            sig.contentHash, r.author, r.createdAt, crypto.randomUUID(), JSON.stringify(r.exam), r.exam!.accession, r.exam!.referringPhysician,
            r.exam!.requestingService, r.exam!.modality, r.exam!.studyDate, requesterUnknown(r.exam)],
        );
      }
    }));
    const rawRate = rawRows.length / ((performance.now() - r0) / 1000);

    // 4. Draft snapshots (the unfinished list's input): DRAFTS drafts × 10 revisions, 32 concurrent.
    const draftIds = Array.from({ length: DRAFTS }, () => crypto.randomUUID());
    const snapshots: { token: string; id: string; body: string }[] = [];
    for (let rev = 1; rev <= 10; rev++) {
      draftIds.forEach((id, i) => snapshots.push({
        token: tokens[i % USERS]!, id,
        body: JSON.stringify({ study: { patientId: `PAT-D${i}`, studyUid: `1.2.826.0.1.3680043.8.498.9${i}` }, content: content(i), revision: rev, lastActivity: new Date().toISOString() }),
      }));
    }
    let snapNext = 0;
    const s0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (snapNext < snapshots.length) {
        const sn = snapshots[snapNext++]!;
        if ((await request(url, 'PUT', `/api/drafts/${sn.id}`, sn.token, sn.body)).status !== 200) failures++;
      }
    }));
    const snapRate = snapshots.length / ((performance.now() - s0) / 1000);

    // 5. The unfinished list with DRAFTS drafts, 16 concurrent readers, LIST_SECONDS.
    let lists = 0;
    let listBytes = 0;
    const listEnd = performance.now() + LIST_SECONDS * 1000;
    const l0 = performance.now();
    await Promise.all(Array.from({ length: 16 }, async (_, k) => {
      while (performance.now() < listEnd) {
        const r = await request(url, 'GET', '/api/unfinished', tokens[k % USERS]!);
        if (r.status !== 200) failures++;
        listBytes = r.text.length;
        lists++;
      }
    }));
    const listRate = lists / ((performance.now() - l0) / 1000);

    // 6. Fan-out: SSE_CLIENTS connected workstations, SSE_EVENTS reports signed at 10/s; the time
    //    from each POST to its event arriving at every client.
    const sent = new Map<string, number>();
    const delivery: number[] = [];
    const streams = await Promise.all(Array.from({ length: SSE_CLIENTS }, (_, k) => sse(url, tokens[k % USERS]!, (id) => {
      const t = sent.get(id);
      if (t !== undefined) delivery.push(performance.now() - t);
    })));
    for (let i = 0; i < SSE_EVENTS; i++) {
      const it = payload(users[i % USERS]!, 900_000 + i);
      sent.set(it.report.id, performance.now());
      if ((await send(url, tokens[i % USERS]!, JSON.stringify(it), crypto.randomUUID())) !== 201) failures++;
      await new Promise((r) => setTimeout(r, 100));
    }
    const fanDeadline = performance.now() + 10_000;
    while (delivery.length < SSE_CLIENTS * SSE_EVENTS && performance.now() < fanDeadline) await new Promise((r) => setTimeout(r, 20));
    for (const st of streams) st.destroy();
    delivery.sort((a, b) => a - b);

    const { rows: counted } = await setup.query<{ n: number; d: number }>('SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM signed_reports');
    const stored = counted[0]!;
    const expected = WARMUP + closedDone + openItems.length + directDone + SSE_EVENTS;
    worker.postMessage('close');
    await new Promise((r) => worker!.once('message', r));
    await worker.terminate();
    worker = null;

    return {
      name: 'Hub ingest of signed reports (PostgreSQL)',
      rows: [
        { metric: 'hub sustained ingest (closed loop, 32 concurrent)', value: round(hubRate, 0), unit: 'reports/s', target: '≥ 1000' },
        { metric: 'closed-loop latency p50', value: round(pct(closedLatencies, 50), 2), unit: 'ms' },
        { metric: 'closed-loop latency p99', value: round(pct(closedLatencies, 99), 2), unit: 'ms' },
        { metric: `open loop ${OPEN_RATE}/s latency p50`, value: round(pct(openLatencies, 50), 2), unit: 'ms' },
        { metric: `open loop ${OPEN_RATE}/s latency p99`, value: round(pct(openLatencies, 99), 2), unit: 'ms' },
        { metric: `open loop ${OPEN_RATE}/s latency max`, value: round(openLatencies[openLatencies.length - 1] ?? NaN, 2), unit: 'ms' },
        { metric: 'raw PostgreSQL INSERT of the same rows (32 connections)', value: round(rawRate, 0), unit: 'rows/s' },
        { metric: 'hub / raw ratio', value: round(hubRate / rawRate, 2), unit: '', target: '≥ 0.3' },
        { metric: 'the same ingest called directly (no HTTP), 32 concurrent', value: round(directRate, 0), unit: 'reports/s' },
        { metric: `draft snapshots (PUT, ${DRAFTS} drafts, 32 concurrent)`, value: round(snapRate, 0), unit: 'snapshots/s' },
        { metric: `unfinished list (GET, ${DRAFTS} drafts, ${Math.round(listBytes / 1024)} KiB, 16 concurrent)`, value: round(listRate, 0), unit: 'lists/s' },
        { metric: `SSE fan-out to ${SSE_CLIENTS} clients: delivery p50`, value: round(pct(delivery, 50), 1), unit: 'ms' },
        { metric: `SSE fan-out to ${SSE_CLIENTS} clients: delivery p99`, value: round(pct(delivery, 99), 1), unit: 'ms' },
        { metric: 'SSE events delivered / expected', value: round(delivery.length / (SSE_CLIENTS * SSE_EVENTS), 3), unit: '', target: '1' },
        { metric: 'non-2xx answers', value: failures, unit: 'requests', target: '0' },
        { metric: 'rows stored / posted (distinct)', value: stored.d === expected && stored.n === expected ? 1 : 0, unit: 'exact', target: '1' },
      ],
      notes: `${closedDone} reports in ${round(closedSeconds, 2)} s closed loop, then ${openItems.length} at ${OPEN_RATE}/s open loop; ` +
        `${stored.n} rows stored for ${expected} posted. Hub in a worker thread of the bench process (own event loop), ` +
        'PostgreSQL on the same machine; every request is a full ingest (session, zod parse, sign-off rules, hash recomputation, then a transaction with ' +
        'idempotency record, report with exam, signature record, audit and event; new reports arriving together are stored by one statement with one commit). Raw = one autocommit INSERT per row into an identical table.',
    };
  } finally {
    if (worker) await worker.terminate();
    agent.destroy();
    await setup.close();
    await dropPgSchema(PG_URL, schema);
  }
}
