// The two halves of "less traffic for the same screen" on the main side (main/sync/unfinishedSignal.ts):
// our own draft snapshot's echo is recognised (and nothing else is), and "the unfinished list
// changed" is signalled at most once per floor, the first at once and the rest folded into one.
import { describe, expect, it } from 'vitest';
import { OWN_ECHO_WINDOW_MS, OwnSnapshots, RefetchSignal } from '../../../main/sync/unfinishedSignal.ts';
import { ManualClock } from '../../support/manualClock.ts';

describe('OwnSnapshots', () => {
  it('recognises the echo of a snapshot sent here once, whether it arrives before or after the answer', () => {
    const own = new OwnSnapshots(new ManualClock());
    own.sending('r1');
    expect(own.isEcho('r1')).toBe(true); // the event came before the hub's answer
    expect(own.isEcho('r1')).toBe(false); // consumed: a second event is someone's news
    own.sending('r1');
    own.sending('r1'); // two stored snapshots, two echoes owed
    expect(own.isEcho('r1')).toBe(true);
    expect(own.isEcho('r1')).toBe(true);
    expect(own.isEcho('r1')).toBe(false);
  });

  it('an event for another report, or for a snapshot the hub did not store, is not an echo', () => {
    const own = new OwnSnapshots(new ManualClock());
    own.sending('r1');
    expect(own.isEcho('r2')).toBe(false);
    own.notStored('r1'); // ignored as not newer, refused, or no answer
    expect(own.isEcho('r1')).toBe(false);
    own.notStored('r1'); // more "not stored" than sent changes nothing
    own.sending('r1');
    expect(own.isEcho('r1')).toBe(true);
  });

  it('an echo that never came stops being awaited after the window, and log out forgets all', async () => {
    const clock = new ManualClock();
    const own = new OwnSnapshots(clock);
    own.sending('r1');
    await clock.advance(OWN_ECHO_WINDOW_MS + 1);
    expect(own.isEcho('r1')).toBe(false);
    own.sending('r2');
    own.clear();
    expect(own.isEcho('r2')).toBe(false);
  });
});

describe('RefetchSignal', () => {
  function setup(floorMs = 10_000) {
    const clock = new ManualClock();
    const fired: number[] = [];
    let floor = floorMs;
    const signal = new RefetchSignal(() => fired.push(clock.now()), () => floor, clock);
    return { clock, fired, signal, setFloor: (ms: number) => (floor = ms), t0: clock.now() };
  }

  it('the first signal goes at once; a burst within the floor becomes one more at the end of the window', async () => {
    const { clock, fired, signal, t0 } = setup();
    signal.signal();
    expect(fired).toEqual([t0]);
    for (let i = 0; i < 50; i++) {
      await clock.advance(100);
      signal.signal();
    }
    expect(fired).toEqual([t0]);
    await clock.advance(10_000);
    expect(fired).toEqual([t0, t0 + 10_000]);
    // Quiet for longer than the floor: the next one goes at once again.
    await clock.advance(20_000);
    signal.signal();
    expect(fired).toEqual([t0, t0 + 10_000, t0 + 35_000]);
    expect(clock.pending).toBe(0);
  });

  it('never more than one per floor however many events arrive (a busy department for a minute)', async () => {
    const { clock, fired, signal } = setup(10_000);
    for (let i = 0; i < 600; i++) {
      signal.signal();
      await clock.advance(100);
    }
    await clock.advance(10_000);
    expect(fired.length).toBeLessThanOrEqual(7);
    for (let i = 1; i < fired.length; i++) expect(fired[i]! - fired[i - 1]!).toBeGreaterThanOrEqual(10_000);
  });

  it('now() goes at once whatever the floor and replaces the pending one; the floor is read at each signal', async () => {
    const { clock, fired, signal, setFloor, t0 } = setup();
    signal.signal();
    await clock.advance(1000);
    signal.signal(); // pending for t0 + 10 s
    signal.now(); // the user's own draft was taken over
    expect(fired).toEqual([t0, t0 + 1000]);
    expect(clock.pending).toBe(0);
    setFloor(2000); // the site raised or lowered it
    await clock.advance(500);
    signal.signal();
    await clock.advance(2000);
    expect(fired).toEqual([t0, t0 + 1000, t0 + 3000]);
  });

  it('stop() drops the pending signal', async () => {
    const { clock, fired, signal } = setup();
    signal.signal();
    signal.signal();
    signal.stop();
    await clock.advance(60_000);
    expect(fired).toHaveLength(1);
  });
});
