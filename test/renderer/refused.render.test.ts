// A signed report the hub refused for good, as the workstation shows it (react-dom/server): "Not
// delivered: <the hub's reason in words>"; Retry only for a refusal a change on the hub's side can
// lift; otherwise "Issue a corrected report"; once a corrected report is signed, "Replaced by the
// corrected report of <time>" and neither action. Every permanent refusal of common/refusal.ts.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { SyncStatusInfo } from '../../common/contract.ts';
import { formatDateTime } from '../../common/format.ts';
import { REFUSAL_MEANINGS, refusalReason, tamperedReason } from '../../common/refusal.ts';
import { SyncStatusView } from '../../renderer/hub/SyncStatus.tsx';

const none = async (): Promise<string | null> => null;

function view(status: SyncStatusInfo, extra: { replacedBy?: { reportId: string; signedAt: string } | null; compact?: boolean } = {}): string {
  return renderToStaticMarkup(createElement(SyncStatusView, { status, error: null, onRetry: none, onCorrect: none, ...extra }))
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

const failed = (code: string): SyncStatusInfo => ({
  reportId: 'r1',
  state: 'failed',
  reason: refusalReason('report', 422, code, `scripted ${code}`),
  attempts: 1,
  syncedAt: null,
  items: 1,
  criticalUndelivered: false,
  phoned: false,
});

describe('a report refused for good, on screen', () => {
  for (const [code, meaning] of Object.entries(REFUSAL_MEANINGS)) {
    const correct = !meaning.resendCanHelp && meaning.correctionCanHelp !== false;
    it(`${code}: "Not delivered: ${meaning.words}" with ${meaning.resendCanHelp ? 'Retry' : correct ? 'Issue a corrected report' : 'neither (the words say what to do)'}`, () => {
      const t = view(failed(code));
      expect(t).toContain(`Not delivered: ${meaning.words}.`);
      expect(t.includes('Retry')).toBe(meaning.resendCanHelp);
      expect(t.includes('Issue a corrected report')).toBe(correct);
    });
  }

  it('once replaced: says by the corrected report of when, and offers nothing more', () => {
    const signedAt = '2026-11-28T10:42:00.000Z';
    const t = view(failed('signoff-problems'), { replacedBy: { reportId: 'r2', signedAt } });
    expect(t).toContain(`Replaced by the corrected report of ${formatDateTime(signedAt)}.`);
    expect(t).not.toContain('Retry');
    expect(t).not.toContain('Issue a corrected report');
  });

  it('a record changed after signing (not sent by the workstation): the reason in words, neither Retry nor a corrected report of the changed text', () => {
    const t = view({ ...failed('x'), reason: tamperedReason('its hash is not the one on the signature record') });
    expect(t).toContain('no longer matches what was signed');
    expect(t).toContain('tell your imaging safety lead');
    expect(t).not.toContain('Retry');
    expect(t).not.toContain('Issue a corrected report');
  });

  it('the reports list says "Not delivered" in one word-line', () => {
    expect(view(failed('hash-mismatch'), { compact: true })).toMatch(/^Not delivered/);
  });
});
