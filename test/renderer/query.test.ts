// The renderer's data-fetching core (renderer/data/query.ts, behind useQuery): the latest answer
// wins, an error keeps the last good data, and event-driven refetches honour the floor (the
// Unfinished panel's is the site policy's unfinishedRefetchMinMs): a burst of requests within it
// costs one fetch at its end, never one per event.
import { describe, expect, it } from 'vitest';
import type { Result } from '../../common/contract.ts';
import { Query, type Timers } from '../../renderer/data/query.ts';

class FakeTimers implements Timers {
  t = 0;
  private queue: { at: number; fn: () => void; id: number }[] = [];
  private next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.next++;
    this.queue.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.queue = this.queue.filter((x) => x.id !== h);
  };
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at);
      const due = this.queue[0];
      if (!due || due.at > end) break;
      this.queue.shift();
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.queue.length;
  }
}

/** A fetcher whose answers the test releases by hand, in any order. */
function controlled<T>() {
  const calls: { resolve(r: Result<T>): void; reject(e: unknown): void }[] = [];
  const fetcher = () => new Promise<Result<T>>((resolve, reject) => calls.push({ resolve, reject }));
  return { calls, fetcher };
}

const ok = <T,>(value: T): Result<T> => ({ ok: true, value });
const fail = (message: string): Result<never> => ({ ok: false, error: { code: 'unavailable', message } });
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('Query', () => {
  it('loads, reports loading, and tells subscribers', async () => {
    const timers = new FakeTimers();
    const f = controlled<number>();
    const q = new Query(f.fetcher, 0, timers);
    let notified = 0;
    q.subscribe(() => notified++);
    q.fetch();
    expect(q.getState()).toEqual({ data: undefined, error: null, loading: true });
    f.calls[0]!.resolve(ok(7));
    await settle();
    expect(q.getState()).toEqual({ data: 7, error: null, loading: false });
    expect(notified).toBe(2);
  });

  it('keeps the last good data when a refetch fails, and shows the error', async () => {
    const f = controlled<string>();
    const q = new Query(f.fetcher, 0, new FakeTimers());
    q.fetch();
    f.calls[0]!.resolve(ok('list'));
    await settle();
    q.fetch();
    f.calls[1]!.resolve(fail('hub unreachable'));
    await settle();
    expect(q.getState()).toEqual({ data: 'list', error: 'hub unreachable', loading: false });
    // A thrown fetcher is an error too, not an unhandled rejection.
    q.fetch();
    f.calls[2]!.reject(new Error('boom'));
    await settle();
    expect(q.getState().error).toBe('boom');
    expect(q.getState().data).toBe('list');
  });

  it('applies only the latest answer: an older one arriving late is dropped', async () => {
    const f = controlled<string>();
    const q = new Query(f.fetcher, 0, new FakeTimers());
    q.fetch();
    q.fetch();
    f.calls[1]!.resolve(ok('new'));
    await settle();
    f.calls[0]!.resolve(ok('old'));
    await settle();
    expect(q.getState().data).toBe('new');
  });

  it('coalesces a burst of requests within the floor into one fetch at its end', async () => {
    const timers = new FakeTimers();
    let fetches = 0;
    const q = new Query(() => (fetches++, Promise.resolve(ok(fetches))), 10_000, timers);
    q.request(); // the first: at once
    expect(fetches).toBe(1);
    for (let i = 0; i < 50; i++) {
      timers.advance(100);
      q.request(); // 50 events in 5 s
    }
    expect(fetches).toBe(1);
    expect(timers.pending).toBe(1);
    timers.advance(4_999);
    expect(fetches).toBe(1); // not before the floor has passed
    timers.advance(1);
    expect(fetches).toBe(2); // at 10 s after the first, one more, for all 50
    timers.advance(60_000);
    expect(fetches).toBe(2); // nothing asked since
    q.request(); // long after: at once again
    expect(fetches).toBe(3);
    await settle();
  });

  it('never fetches twice within the floor, however the requests are spaced', () => {
    const timers = new FakeTimers();
    const starts: number[] = [];
    const q = new Query(() => (starts.push(timers.now()), Promise.resolve(ok(0))), 3_000, timers);
    for (let t = 0; t < 30_000; t += 700) {
      q.request();
      timers.advance(700);
    }
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(3_000);
    expect(starts.length).toBeGreaterThanOrEqual(9);
  });

  it('a fetch now (a person\'s Refresh) folds in the waiting one; stop drops it', () => {
    const timers = new FakeTimers();
    let fetches = 0;
    const q = new Query(() => (fetches++, Promise.resolve(ok(0))), 10_000, timers);
    q.request();
    q.request(); // waits
    expect(timers.pending).toBe(1);
    q.fetch();
    expect(fetches).toBe(2);
    expect(timers.pending).toBe(0);
    q.request(); // within the floor of the manual fetch: waits
    q.stop();
    timers.advance(20_000);
    expect(fetches).toBe(2);
  });

  it('setData replaces the data (an action returned the new value)', () => {
    const q = new Query<number>(() => Promise.resolve(ok(1)), 0, new FakeTimers());
    q.setData(5);
    expect(q.getState()).toEqual({ data: 5, error: null, loading: false });
  });
});
