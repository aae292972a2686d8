import { describe, expect, it } from 'vitest';
import { may, staleText, syncText, waitingText } from '../../renderer/hub/hubText.ts';
import { refusalReason } from '../../common/refusal.ts';
import type { HubUser } from '../../common/hub.ts';

const user = (role: HubUser['role']): HubUser => ({ username: 'u', name: 'Dr U', role, registration: 'GMC 1' });

describe('staleText', () => {
  it('gives the reasons in words', () => {
    expect(staleText({ stale: true, staleReasons: ['idle'], idleMs: 5 * 3_600_000 })).toBe('idle 5 h');
    expect(staleText({ stale: true, staleReasons: ['session-ended'], idleMs: 60_000 })).toBe("author's session ended");
    expect(staleText({ stale: true, staleReasons: ['idle', 'session-ended'], idleMs: 3 * 24 * 3_600_000 })).toBe("idle 3 days; author's session ended");
  });
  it('is empty for a draft that is not stale, and never blank for one that is', () => {
    expect(staleText({ stale: false, staleReasons: [], idleMs: 10 })).toBe('');
    expect(staleText({ stale: true, staleReasons: [], idleMs: 10 })).toBe('stale');
  });
});

describe('syncText', () => {
  it('names each state, with the reason for a refusal and for a wait', () => {
    expect(syncText({ state: 'synced', reason: null, attempts: 1 })).toBe('At the hub');
    expect(syncText({ state: 'failed', reason: 'The hub refused this report (422 hash-mismatch)', attempts: 1 })).toBe(
      'Not delivered: The hub refused this report (422 hash-mismatch)',
    );
    // The outbox's own words (common/refusal.ts refusalReason) are shown as they are.
    const words = refusalReason('report', 422, 'hash-mismatch', 'bad hash');
    expect(syncText({ state: 'failed', reason: words, attempts: 1 })).toBe(words);
    expect(words).toMatch(/^Not delivered: the signed content does not match its signature hash\. /);
    expect(syncText({ state: 'failed', reason: null, attempts: 1 })).toBe('Not delivered: no reason given');
    expect(syncText({ state: 'pending', reason: 'hub unreachable: ECONNREFUSED', attempts: 3 })).toBe('Waiting to reach the hub (3 attempts): hub unreachable: ECONNREFUSED');
    expect(syncText({ state: 'pending', reason: null, attempts: 0 })).toBe('Waiting to reach the hub');
    expect(syncText({ state: 'local', reason: null, attempts: 0 })).toBe('Not sent (this workstation only)');
  });
});

describe('may', () => {
  it('follows the role permissions: reporters take over, a trainee and a referrer do not', () => {
    expect(may(user('radiologist'), 'draft:take-over')).toBe(true);
    expect(may(user('locum'), 'draft:take-over')).toBe(true);
    expect(may(user('trainee'), 'draft:take-over')).toBe(false);
    expect(may(user('trainee'), 'unfinished:list')).toBe(true);
    expect(may(user('referrer'), 'unfinished:list')).toBe(false);
    expect(may(user('safety-lead'), 'unfinished:list')).toBe(true);
    expect(may(user('safety-lead'), 'draft:take-over')).toBe(false);
  });
  it('allows nothing without a logged-in user', () => {
    expect(may(null, 'unfinished:list')).toBe(false);
  });
});

describe('waitingText', () => {
  it('counts the reports waiting', () => {
    expect(waitingText(0)).toBe('No signed report is waiting to be sent.');
    expect(waitingText(1)).toContain('1 signed report is waiting');
    expect(waitingText(3)).toContain('3 signed reports are waiting');
  });
});
