import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Result } from '../../common/contract.ts';
import { Autosaver, type SaveHow, type SaveState } from '../../renderer/report/autosave.ts';

type SaveResult = Result<{ revision: number; savedAt: string }>;

/** A fake store: records calls, answers with the next revision unless told otherwise. */
function fakeStore(startRevision = 0) {
  let revision = startRevision;
  const calls: { content: string; base: number; how: SaveHow }[] = [];
  const next: (() => SaveResult | Promise<SaveResult>)[] = [];
  const save = vi.fn(async (content: string, base: number, how: SaveHow): Promise<SaveResult> => {
    calls.push({ content, base, how });
    const planned = next.shift();
    if (planned) return planned();
    if (base !== revision) return { ok: false, error: { code: 'conflict', message: `base ${base} is not ${revision}` } };
    revision += 1;
    return { ok: true, value: { revision, savedAt: new Date().toISOString() } };
  });
  return {
    save,
    calls,
    next,
    get revision() {
      return revision;
    },
    set revision(r: number) {
      revision = r;
    },
  };
}

function make(store: ReturnType<typeof fakeStore>, extra: Partial<ConstructorParameters<typeof Autosaver<string>>[0]> = {}) {
  const states: SaveState[] = [];
  const saver = new Autosaver<string>({ revision: store.revision, save: store.save, onState: (s) => states.push(s), debounceMs: 800, ...extra });
  return { saver, states };
}

describe('Autosaver', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('saves once, at most the debounce after the last keystroke, with the latest text', async () => {
    const store = fakeStore(3);
    const { saver } = make(store);
    saver.change('a');
    await vi.advanceTimersByTimeAsync(500);
    saver.change('ab');
    await vi.advanceTimersByTimeAsync(500);
    saver.change('abc');
    expect(store.save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(799);
    expect(store.save).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(store.calls).toEqual([{ content: 'abc', base: 3, how: { keepalive: false } }]);
    expect(saver.revision).toBe(4);
    expect(saver.hasUnsaved).toBe(false);
  });

  it('never waits longer than 1 s even if configured to', async () => {
    const store = fakeStore();
    const { saver } = make(store, { debounceMs: 5000 });
    saver.change('x');
    await vi.advanceTimersByTimeAsync(1000);
    expect(store.save).toHaveBeenCalledTimes(1);
  });

  it('flush saves at once and chains revisions', async () => {
    const store = fakeStore();
    const { saver, states } = make(store);
    saver.change('one');
    expect(await saver.flush()).toBe(true);
    saver.change('two');
    expect(await saver.flush()).toBe(true);
    expect(store.calls.map((c) => [c.content, c.base])).toEqual([
      ['one', 0],
      ['two', 1],
    ]);
    expect(states.at(-1)).toMatchObject({ kind: 'saved', revision: 2 });
    // Nothing new: no call.
    expect(await saver.flush()).toBe(true);
    expect(store.save).toHaveBeenCalledTimes(2);
  });

  it('keeps one save in flight; changes made meanwhile are saved next, on the new revision', async () => {
    const store = fakeStore();
    let release!: () => void;
    store.next.push(
      () =>
        new Promise<SaveResult>((resolve) => {
          release = () => {
            store.revision = 1;
            resolve({ ok: true, value: { revision: 1, savedAt: 't1' } });
          };
        }),
    );
    const { saver, states } = make(store);
    saver.change('first');
    const f1 = saver.flush();
    await vi.advanceTimersByTimeAsync(0);
    saver.change('second');
    const f2 = saver.flush();
    await vi.advanceTimersByTimeAsync(0);
    expect(store.save).toHaveBeenCalledTimes(1);
    expect(states.at(-1)).toEqual({ kind: 'pending' });
    release();
    expect(await f1).toBe(true);
    expect(await f2).toBe(true);
    expect(store.calls.map((c) => [c.content, c.base])).toEqual([
      ['first', 0],
      ['second', 1],
    ]);
  });

  it('a failed save keeps the text, reports the reason and retries', async () => {
    const store = fakeStore();
    store.next.push(() => ({ ok: false, error: { code: 'unavailable', message: 'Cannot reach Failsafe' } }));
    const { saver, states } = make(store, { retryMs: 2000 });
    saver.change('precious');
    expect(await saver.flush()).toBe(false);
    expect(states.at(-1)).toEqual({ kind: 'error', message: 'Cannot reach Failsafe' });
    expect(saver.hasUnsaved).toBe(true);
    expect(saver.unsavedContent).toBe('precious');
    await vi.advanceTimersByTimeAsync(2000);
    expect(store.calls.map((c) => c.content)).toEqual(['precious', 'precious']);
    expect(saver.hasUnsaved).toBe(false);
    expect(states.at(-1)).toMatchObject({ kind: 'saved', revision: 1 });
  });

  it('a thrown transport error is a failed save, not a lost one', async () => {
    const store = fakeStore();
    store.next.push(() => {
      throw new Error('socket hang up');
    });
    const { saver, states } = make(store);
    saver.change('text');
    expect(await saver.flush()).toBe(false);
    expect(states.at(-1)).toEqual({ kind: 'error', message: 'socket hang up' });
    expect(saver.unsavedContent).toBe('text');
  });

  it('stops on conflict, hands over the unsaved text, and resumes on the stored revision', async () => {
    const store = fakeStore(5);
    const onConflict = vi.fn();
    const { saver, states } = make(store, { onConflict, revision: 4 });
    saver.change('mine');
    expect(await saver.flush()).toBe(false);
    expect(states.at(-1)).toMatchObject({ kind: 'conflict' });
    expect(onConflict).toHaveBeenCalledWith(expect.stringContaining('base 4'), 'mine');
    // No more saves while the conflict is open, even after edits and time.
    saver.change('mine, more');
    await vi.advanceTimersByTimeAsync(5000);
    expect(store.save).toHaveBeenCalledTimes(1);
    expect(await saver.flush()).toBe(false);
    // The reporter keeps their version: it is saved over the stored revision.
    saver.resume(5);
    await vi.advanceTimersByTimeAsync(0);
    expect(store.calls.at(-1)).toMatchObject({ content: 'mine, more', base: 5 });
    expect(saver.revision).toBe(6);
  });

  it('discardAndResume drops unsaved text only when asked', async () => {
    const store = fakeStore(2);
    const { saver } = make(store, { revision: 1 });
    saver.change('mine');
    await saver.flush();
    saver.discardAndResume(2);
    expect(saver.hasUnsaved).toBe(false);
    await vi.advanceTimersByTimeAsync(5000);
    expect(store.save).toHaveBeenCalledTimes(1);
  });

  it('passes keepalive through for page hide', async () => {
    const store = fakeStore();
    const { saver } = make(store);
    saver.change('bye');
    await saver.flush({ keepalive: true });
    expect(store.calls[0]?.how).toEqual({ keepalive: true });
  });
});
