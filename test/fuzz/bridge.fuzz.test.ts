// The workstation's browser-mode bridge under schema-fuzzed requests (issue 8 acceptance 10):
// 2,000 mutated calls of every channel of the contract, most with the token, Host and Origin
// right and some with them wrong, plus file and event-stream requests with odd paths. No answer is
// a 5xx, every error is the bridge's `{ ok: false, error: { code, message } }`, every value parses
// as its channel's output, the process does not crash and the bridge still works afterwards.
// FUZZ_SEED=<n> replays a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseSeed } from '../support/faultProxy.ts';
import { signableContent } from '../support/reportFixtures.ts';
import { callBridge, openBridgeFuzzTarget, runBridgeFuzz, type BridgeFuzzTarget } from './bridgeFuzz.ts';

const REQUESTS = 2_000;

// Its findings B1 (library:pickFolder answered 503 in browser mode) and B2 (a lone-surrogate
// reportId made unfinished:takeOver answer 500) are fixed in main/ (regression tests in
// test/main/bridge/BrowserBridge.test.ts): no answer is left out of the count.

let target: BridgeFuzzTarget;

beforeAll(async () => {
  target = await openBridgeFuzzTarget('bridgefuzz');
});

afterAll(async () => {
  await target?.close();
});

describe('browser-mode bridge under schema-fuzzed requests', () => {
  const seed = Number(process.env['FUZZ_SEED'] ?? chooseSeed()) >>> 0;

  it(`answers ${REQUESTS} mutated requests with no 5xx, no crash and only contract-shaped bodies (seed ${seed})`, async () => {
    const report = await runBridgeFuzz(target, { count: REQUESTS, seed });
    const context = `seed ${seed} (replay: FUZZ_SEED=${seed}); statuses ${JSON.stringify(report.statuses)}`;
    expect(report.sent, context).toBe(REQUESTS);
    expect(report.problems, context).toEqual([]);
    expect(report.serverErrors, context).toBe(0);
    expect(report.crashes, context).toBe(0);
    // The run reached the handlers: calls were answered with values and refused with reasons.
    expect(report.statuses[200] ?? 0, context).toBeGreaterThan(0);
    expect(report.statuses[400] ?? 0, context).toBeGreaterThan(0);
  });

  it('still works afterwards: a draft is opened, saved and read back', async () => {
    const { ctx } = target;
    const info = await callBridge(ctx, 'app:info', {});
    expect(info.mode).toBe('browser');
    const report = await callBridge(ctx, 'reports:open', { study: ctx.study });
    const content = signableContent(' After the fuzz.');
    const saved = await callBridge(ctx, 'reports:save', { reportId: report.id, study: ctx.study, content, baseRevision: report.revision });
    const again = await callBridge(ctx, 'reports:get', { reportId: report.id });
    expect(again.revision).toBe(saved.revision);
    expect(again.content.fields['brainParenchyma']).toBe(content.fields['brainParenchyma']);
  });
});
