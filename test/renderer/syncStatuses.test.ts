// A list's hub statuses in one request (issue 6 line 6): `fetchStatuses` asks `sync:statuses`
// once for the whole list (once per 5,000, the contract's bound), never `sync:status` per row; a
// refusal is passed on, not half a list. And the reports list's order: drafts, then provisional,
// then final, newest first within each.
import { describe, expect, it } from 'vitest';
import type { FailsafeApi, ReportListItem, SyncStatusInfo } from '../../common/contract.ts';
import { fetchStatuses, syncEventConcerns } from '../../renderer/hub/useSyncStatuses.ts';
import { orderReports } from '../../renderer/library/ReportsTable.tsx';

function fakeApi(fail = false) {
  const calls: { channel: string; n: number }[] = [];
  const status = (reportId: string): SyncStatusInfo => ({ reportId, state: 'synced', reason: null, attempts: 1, syncedAt: null, items: 1, criticalUndelivered: false, phoned: false });
  const api = new Proxy({} as FailsafeApi, {
    get: (_t, channel: string) => async (input: { reportIds?: string[] }) => {
      calls.push({ channel, n: input.reportIds?.length ?? 1 });
      if (fail) return { ok: false, error: { code: 'unavailable', message: 'main is gone' } };
      return { ok: true, value: (input.reportIds ?? []).map(status) };
    },
  });
  return { api, calls };
}

const ids = (n: number) => Array.from({ length: n }, (_, i) => `r${i}`);

describe('fetchStatuses', () => {
  it('200 reports: one sync:statuses request, no sync:status', async () => {
    const { api, calls } = fakeApi();
    const r = await fetchStatuses(api, ids(200));
    expect(r.ok && r.value.map((s) => s.reportId)).toEqual(ids(200));
    expect(calls).toEqual([{ channel: 'sync:statuses', n: 200 }]);
  });

  it('more than the contract allows in one request: one request per 5,000', async () => {
    const { api, calls } = fakeApi();
    const r = await fetchStatuses(api, ids(12_001));
    expect(r.ok && r.value.length).toBe(12_001);
    expect(calls.map((c) => c.n)).toEqual([5000, 5000, 2001]);
  });

  it('a refusal is passed on whole', async () => {
    const { api } = fakeApi(true);
    const r = await fetchStatuses(api, ids(3));
    expect(r).toEqual({ ok: false, error: { code: 'unavailable', message: 'main is gone' } });
  });

  it('refetches on sync, hub and critical events only (not on every draft snapshot)', () => {
    expect(syncEventConcerns({ type: 'sync-changed' })).toBe(true);
    expect(syncEventConcerns({ type: 'hub-changed', online: true })).toBe(true);
    expect(syncEventConcerns({ type: 'critical-resolved', reportId: 'r', how: 'delivered' })).toBe(true);
    expect(syncEventConcerns({ type: 'unfinished-changed' })).toBe(false);
    expect(syncEventConcerns({ type: 'library-changed' })).toBe(false);
  });
});

describe('orderReports', () => {
  it('drafts first, then provisional, then final and appended; newest first within a state', () => {
    const item = (id: string, state: ReportListItem['state'], updatedAt: string): ReportListItem => ({
      id,
      state,
      updatedAt,
      study: { patientId: 'P', studyUid: id },
      author: 'A',
      patientName: 'X',
      studyDescription: '',
    });
    const out = orderReports([
      item('f1', 'final', '2024-01-01T00:00:00Z'),
      item('p1', 'provisional', '2024-01-01T00:00:00Z'),
      item('d1', 'draft', '2024-01-01T00:00:00Z'),
      item('d2', 'draft', '2024-02-01T00:00:00Z'),
      item('a1', 'appended', '2024-03-01T00:00:00Z'),
    ]);
    expect(out.map((r) => r.id)).toEqual(['d2', 'd1', 'p1', 'f1', 'a1']);
  });
});
