// The browser-mode bridge (main/bridge/BrowserBridge.ts) fuzzed: a valid call for every channel of
// the contract (common/contract.ts), with the per-launch token, our Host and our Origin, then
// mutated (test/fuzz/mutate.ts): its body, its token, Host and Origin, its Content-Type, its
// channel name and method; and static-file, DICOM-file and event-stream requests with odd paths.
// `bridgeRequest` is pure given its context; `openBridgeFuzzTarget` starts the workstation's
// services (the bundled sample indexed, a real hub on PostgreSQL, logged in) behind a bridge;
// `runBridgeFuzz` sends the requests and checks every answer. Shared by
// test/fuzz/bridge.fuzz.test.ts and bench/fuzz.bench.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CHANNELS, type Channel } from '../../common/channels.ts';
import { contract, ErrorCode, type Input } from '../../common/contract.ts';
import { TOKEN_HEADER } from '../../common/security.ts';
import { startBridge, type Bridge } from '../../main/bridge/BrowserBridge.ts';
import type { Services } from '../../main/services.ts';
import { SAMPLE_DIR, testServices } from '../support/callHandler.ts';
import { signableContent } from '../support/reportFixtures.ts';
import { addUser, openTestHub, type TestUser } from '../server/support.ts';
import { mutateBody, ODD_CONTENT_TYPES, ODD_HEADER_VALUES, ODD_METHODS, ODD_PATH_SEGMENTS, Rng } from './mutate.ts';
import { runFuzz, sendRaw, type Exchange, type FuzzReport, type FuzzRequest } from './send.ts';
import http from 'node:http';

/** The bridge's largest body in the fuzz: huge strings go up to it and just past it. */
export const BRIDGE_FUZZ_BODY_LIMIT = 4 * 1024 * 1024;

export interface BridgeFuzzContext {
  port: number;
  token: string;
  study: { patientId: string; studyUid: string };
  seriesUid: string;
  fileId: string;
  /** Drafts opened on the sample study. */
  reportIds: string[];
  /** A folder with one file that is no DICOM, for library:openFolder. */
  folder: string;
  hubUser: TestUser;
}

/**
 * A valid input for each channel: typed over every channel of the contract, so a new channel does
 * not type-check until it has one here (and is fuzzed from a valid call).
 */
const VALID_INPUTS = (rng: Rng, ctx: BridgeFuzzContext, reportId: string): { [C in Channel]: () => Input<C> } => ({
  'app:info': () => ({}),
  'profile:get': () => ({}),
  'profile:set': () => ({ name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' }),
  'library:list': () => ({}),
  'library:openFolder': () => ({ path: ctx.folder }),
  'library:importFiles': () => ({ files: [{ name: `note-${rng.int(1000)}.txt`, dataBase64: Buffer.from('not a DICOM file').toString('base64') }] }),
  'library:errors': () => ({}),
  'library:pickFolder': () => ({}),
  'series:images': () => ({ seriesUid: ctx.seriesUid }),
  'study:priors': () => ctx.study,
  'reports:open': () => ({ study: ctx.study, ...(rng.chance(0.5) ? { templateId: 'ct-head' } : {}) }),
  'reports:get': () => ({ reportId }),
  'reports:save': () => ({ reportId, study: ctx.study, content: signableContent(` Fuzz ${rng.int(1e6)}.`), baseRevision: rng.int(50) }),
  'reports:list': () => ({}),
  'reports:sign': () => ({ reportId, study: ctx.study, revision: rng.int(50) }),
  'reports:verify': () => ({ reportId, study: ctx.study }),
  'reports:addendum': () => ({ reportId, text: 'Addendum: no change on review.' }),
  'reports:correct': () => ({ reportId }),
  'reports:audit': () => ({ reportId }),
  'reports:revisions': () => ({ reportId }),
  'reports:close': () => ({ reportId }),
  'hub:status': () => ({}),
  'hub:login': () => ({ username: ctx.hubUser.username, password: ctx.hubUser.password }),
  // The hub already has users: refused (the first user only), whatever the fuzz does to it.
  'hub:createFirstUser': () => ({ username: `first-${rng.int(1e6)}`, name: 'Dr First User', role: 'radiologist', registration: 'GMC 7654321', password: 'a long enough password' }),
  'hub:logout': () => ({}),
  'hub:confirmSigner': () => ({ password: ctx.hubUser.password }),
  'sync:status': () => ({ reportId }),
  'sync:statuses': () => ({ reportIds: ctx.reportIds }),
  'sync:retry': () => ({ reportId }),
  'sync:recordPhone': () => ({ reportId, clinician: 'Dr Jane Smith', role: 'ED registrar', time: '2026-11-28T10:42Z', note: '' }),
  'alerts:forReport': () => ({ reportId }),
  'alerts:mine': () => ({}),
  'unfinished:list': () => ({}),
  'unfinished:takeOver': () => ({ reportId }),
});

/** The channels the fuzz calls (all of them, once VALID_INPUTS type-checks). */
const FUZZED_CHANNELS = CHANNELS.filter((c) => c in VALID_INPUTS(new Rng(0), {} as BridgeFuzzContext, ''));

function validInput(rng: Rng, ctx: BridgeFuzzContext, channel: Channel): unknown {
  const reportId = rng.chance(0.8) ? rng.pick(ctx.reportIds) : rng.uuid();
  return VALID_INPUTS(rng, ctx, reportId)[channel]();
}

const goodHeaders = (ctx: BridgeFuzzContext): Record<string, string> => ({ host: `127.0.0.1:${ctx.port}`, [TOKEN_HEADER]: ctx.token });

/** One fuzz request: mostly a channel call, sometimes a file or the event stream; nine in ten mutated. */
export function bridgeRequest(rng: Rng, ctx: BridgeFuzzContext): FuzzRequest {
  const headers = goodHeaders(ctx);
  const mutations: string[] = [];
  const kind = rng.weighted<'api' | 'static' | 'file' | 'events'>([[20, 'api'], [1, 'static'], [1, 'file'], [0.3, 'events']]);
  if (kind !== 'api') {
    const odd = rng.chance(0.8) ? rng.pick(ODD_PATH_SEGMENTS) : null;
    const base = kind === 'static' ? '/' : kind === 'file' ? '/files/' : '/events';
    const p = kind === 'events' ? (odd ? `/events/${odd}` : '/events') : `${base}${odd ?? (kind === 'file' ? ctx.fileId : 'index.html')}`;
    if (odd) mutations.push(`path:${odd.slice(0, 40)}`);
    mutateAccess(rng, ctx, headers, mutations);
    return { target: kind, method: rng.chance(0.9) ? 'GET' : rng.pick(ODD_METHODS), path: p, headers, mutations, ...(kind === 'events' ? { stream: true } : {}) };
  }
  // hub:logout ends the workstation's hub session for the rest of the run: rarely.
  const channel = rng.weighted(FUZZED_CHANNELS.map((c) => [c === 'hub:logout' ? 0.1 : c === 'library:openFolder' || c === 'library:importFiles' ? 0.5 : 1, c] as const));
  const input = validInput(rng, ctx, channel);
  let channelPath = encodeURIComponent(channel);
  let method = 'POST';
  headers['content-type'] = 'application/json';
  let body = mutateBody(rng, input, { bodyLimit: BRIDGE_FUZZ_BODY_LIMIT, mutate: false }).body;
  if (!rng.chance(0.1)) {
    const what = rng.weighted<string[]>([[7, ['body']], [1.5, ['access']], [0.7, ['content-type']], [0.7, ['channel']], [0.3, ['method']], [0.7, ['body', 'access']]]);
    for (const w of what) {
      if (w === 'body') {
        const m = mutateBody(rng, input, { bodyLimit: BRIDGE_FUZZ_BODY_LIMIT });
        body = m.body;
        mutations.push(...m.mutations);
      } else if (w === 'access') {
        mutateAccess(rng, ctx, headers, mutations);
      } else if (w === 'content-type') {
        const ct = rng.pick(ODD_CONTENT_TYPES);
        if (ct === null) delete headers['content-type'];
        else headers['content-type'] = ct;
        mutations.push(`content-type:${ct}`);
      } else if (w === 'channel') {
        channelPath = rng.pick([channel, `${channel}x`, 'system:exec', '__proto__', 'constructor', 'toString', '']) + (rng.chance(0.5) ? rng.pick(ODD_PATH_SEGMENTS) : '');
        if (rng.chance(0.3)) channelPath = channelPath.replace('%3A', ':');
        mutations.push(`channel:${channelPath.slice(0, 40)}`);
      } else {
        method = rng.pick(ODD_METHODS.filter((m) => m !== 'POST'));
        mutations.push(`method:${method}`);
      }
    }
  }
  return { target: channel, method, path: `/api/${channelPath}`, headers, body, mutations };
}

/** The token, Host or Origin wrong (or the Origin right: ours is allowed). */
function mutateAccess(rng: Rng, ctx: BridgeFuzzContext, headers: Record<string, string>, mutations: string[]): void {
  const choice = rng.int(8);
  switch (choice) {
    case 0: delete headers[TOKEN_HEADER]; break;
    case 1: headers[TOKEN_HEADER] = 'x'.repeat(ctx.token.length); break;
    case 2: headers[TOKEN_HEADER] = rng.pick(ODD_HEADER_VALUES); break;
    case 3: headers['host'] = rng.pick([`evil.example:${ctx.port}`, `localhost:${ctx.port}`, '127.0.0.1', `127.0.0.1:${ctx.port + 1}`, `[::1]:${ctx.port}`]); break;
    case 4: headers['origin'] = rng.pick(['http://evil.example', 'null', `http://localhost:${ctx.port}`, `https://127.0.0.1:${ctx.port}`, '']); break;
    case 5: headers['origin'] = `http://127.0.0.1:${ctx.port}`; break;
    case 6: headers[TOKEN_HEADER] = `${ctx.token} `; break;
    default: headers[TOKEN_HEADER] = ctx.token.toUpperCase(); break;
  }
  mutations.push(`access:${choice}`);
}

// ---- what an answer may be ----------------------------------------------------------------------

const BridgeErrorBody = z.object({ ok: z.literal(false), error: z.object({ code: ErrorCode, message: z.string().min(1) }).strict() }).strict();

const jsonOf = (b: Buffer): unknown => {
  try {
    return JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
};

/** What is wrong with one answer, or null. */
export function bridgeAnswerProblem(e: Exchange): string | null {
  const { request: r, answer: a } = e;
  if (a.status === -1) return null; // never sent (the client refused it)
  if (a.status === 0) return `no answer (${a.error})`;
  if (a.status >= 500) return `answered ${a.status}`;
  if (r.method === 'HEAD') return null;
  const json = jsonOf(a.body);
  const isApiCall = r.path.startsWith('/api/') && a.status !== 401 && a.status !== 403 && a.status !== 405 && a.status !== 415;
  if (a.status >= 400 || (json as { ok?: unknown } | undefined)?.ok === false) {
    return BridgeErrorBody.safeParse(json).success ? null : `${a.status} is not the bridge's error shape: ${a.body.toString('utf8').slice(0, 300)}`;
  }
  if (!isApiCall || !(CHANNELS as readonly string[]).includes(r.target)) return null;
  const value = (json as { ok?: unknown; value?: unknown } | undefined);
  if (value?.ok !== true) return `${a.status} answer is neither a value nor an error: ${a.body.toString('utf8').slice(0, 300)}`;
  const out = contract[r.target as Channel].output.safeParse(value.value);
  return out.success ? null : `${a.status} value does not parse as ${r.target}'s output: ${out.error.message.slice(0, 300)}`;
}

// ---- the target ------------------------------------------------------------------------------------

export interface BridgeFuzzTarget {
  ctx: BridgeFuzzContext;
  bridge: Bridge;
  services: Services;
  close(): Promise<void>;
}

/** Sends one well-formed call and returns its value (fails loudly when it does not succeed). */
export async function callBridge<C extends Channel>(ctx: Pick<BridgeFuzzContext, 'port' | 'token'>, channel: C, input: Input<C>): Promise<z.output<(typeof contract)[C]['output']>> {
  const agent = new http.Agent();
  try {
    const a = await sendRaw(ctx.port, agent, {
      target: channel, method: 'POST', path: `/api/${encodeURIComponent(channel)}`, mutations: [],
      headers: { host: `127.0.0.1:${ctx.port}`, [TOKEN_HEADER]: ctx.token, 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(input)),
    });
    const body = jsonOf(a.body) as { ok: boolean; value: unknown } | undefined;
    if (a.status !== 200 || body?.ok !== true) throw new Error(`${channel}: ${a.status} ${a.body.toString('utf8').slice(0, 300)}`);
    return contract[channel].output.parse(body.value) as never;
  } finally {
    agent.destroy();
  }
}

/** The workstation's services (the bundled sample, a hub on PostgreSQL, logged in) behind a browser-mode bridge. */
export async function openBridgeFuzzTarget(label: string, sampleDir = SAMPLE_DIR): Promise<BridgeFuzzTarget> {
  const hub = await openTestHub('postgres', label);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-fuzz-data-'));
  const rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-fuzz-renderer-'));
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'failsafe-fuzz-folder-'));
  fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>fuzz</title>');
  fs.writeFileSync(path.join(folder, 'note.txt'), 'not a DICOM file');
  let bridge: Bridge | undefined;
  const services = await testServices(dataDir, {
    sampleDir,
    hub: { baseUrl: hub.url, embedded: false },
    fileAccess: () => ({ fileBaseUrl: `${bridge!.origin}/files/`, fileAuthHeader: { name: TOKEN_HEADER, value: bridge!.token } }),
  });
  bridge = await startBridge({ handlers: services.handlers, rendererDir, filePath: services.filePath, maxBodyBytes: BRIDGE_FUZZ_BODY_LIMIT });
  const close = async (): Promise<void> => {
    await bridge?.close();
    await services.close();
    await hub.close();
    for (const d of [dataDir, rendererDir, folder]) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    const access = { port: bridge.port, token: bridge.token };
    const hubUser = await addUser(hub.db, 'radiologist');
    await callBridge(access, 'hub:login', { username: hubUser.username, password: hubUser.password });
    const patients = await callBridge(access, 'library:list', {});
    const sample = patients.flatMap((p) => p.studies).find((s) => s.series.length > 0 && s.patientId !== '')!;
    const study = { patientId: sample.patientId, studyUid: sample.studyUid };
    const seriesUid = sample.series[0]!.seriesUid;
    const images = await callBridge(access, 'series:images', { seriesUid });
    const report = await callBridge(access, 'reports:open', { study });
    return { ctx: { ...access, study, seriesUid, fileId: images[0]!.fileId, reportIds: [report.id], folder, hubUser }, bridge, services, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Sends `count` fuzz requests (seeded) to the bridge and checks each answer. */
export function runBridgeFuzz(t: BridgeFuzzTarget, opts: { count: number; seed: number; concurrency?: number }): Promise<FuzzReport> {
  const rng = new Rng(opts.seed);
  return runFuzz({
    port: t.ctx.port, count: opts.count, seed: opts.seed, concurrency: opts.concurrency ?? 4, make: () => bridgeRequest(rng, t.ctx),
    problem: bridgeAnswerProblem,
  });
}
