// Time, timers and randomness for the sync services, injectable so tests run with zero backoff
// and reproducible jitter.
export interface SyncClock {
  /** Milliseconds since the epoch (the wall clock: a person or NTP may move it, either way). */
  now(): number;
  /**
   * Milliseconds on a clock that only moves forward, at the pace of real time (not since the
   * epoch): for how long something has waited, whatever the wall clock did meanwhile.
   */
  monotonic(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Uniform in [0, 1). */
  random(): number;
}

export const realClock: SyncClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Sync timers never keep a process alive on their own.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  random: () => Math.random(),
};

/** Exponential backoff with full jitter: uniform in [0, min(cap, base · 2^attempt)]. */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * (exp + 1));
}
