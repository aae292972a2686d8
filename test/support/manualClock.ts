// A virtual clock for the sync services: time moves only when a test calls `advance`, which fires
// due timers in order. Randomness is fixed unless given.
import type { SyncClock } from '../../main/sync/clock.ts';

export class ManualClock implements SyncClock {
  /** The wall clock (now()): moved by advance() and by jump(). */
  private t: number;
  /** The monotonic clock: moved only by advance(); timers run on it, as Node's do. */
  private m = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(
    start = Date.parse('2026-01-05T09:00:00Z'),
    readonly random: () => number = () => 0.5,
  ) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  monotonic(): number {
    return this.m;
  }

  /** The wall clock is set (by a person or NTP) by `ms`, either way; no time passes and no timer fires. */
  jump(ms: number): void {
    this.t += ms;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.seq += 1;
    this.timers.set(this.seq, { at: this.m + Math.max(0, ms), fn });
    return this.seq;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Pending timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Lets `ms` pass, firing each timer that falls due (in time order), letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.m + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (next === null || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t += next[1].at - this.m;
      this.m = next[1].at;
      next[1].fn();
      await settle();
    }
    this.t += end - this.m;
    this.m = end;
    await settle();
  }
}

/** Lets pending promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}
