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
import type { Exchange } from './send.ts';

const REQUESTS = 2_000;

/**
 * Bridge findings of this fuzz reported for a fix in main/ (which this test's author may not
 * change; see the issue 8 line 10 report). Only these exact answers are left out of the count;
 * every other 5xx fails the run. Remove a line when its fix lands.
 *  B1: POST /api/library:pickFolder in browser mode answers 503 `unavailable` ("The folder picker
 *      exists only in the desktop app"): a permanent property of the mode, not a failure of the
 *      server; should be a 4xx (e.g. 404 or 409), as main/bridge/BrowserBridge.ts maps codes.
 *  B2: a reportId holding a lone surrogate ({"reportId":"\ud800"}) passes the contract's Uid and
 *      makes unfinished:takeOver throw URIError in encodeURIComponent (common/hub.ts HUB_PATHS):
 *      500 `internal` "URI malformed"; should be 400 `invalid-input` (a storable Uid).
 */
function knownBridgeFinding(e: Exchange): string | null {
  const body = ((): { error?: { code?: string; message?: string } } | undefined => {
    try {
      return JSON.parse(e.answer.body.toString('utf8')) as { error?: { code?: string; message?: string } };
    } catch {
      return undefined;
    }
  })();
  if (e.answer.status === 503 && e.request.target === 'library:pickFolder' && body?.error?.code === 'unavailable') return 'B1 pickFolder 503';
  if (e.answer.status === 500 && body?.error?.code === 'internal' && body.error.message === 'URI malformed') return 'B2 lone surrogate reportId 500';
  return null;
}

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
    const report = await runBridgeFuzz(target, { count: REQUESTS, seed, known: knownBridgeFinding });
    const context = `seed ${seed} (replay: FUZZ_SEED=${seed}); statuses ${JSON.stringify(report.statuses)}; reported findings ${JSON.stringify(report.known)}`;
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
