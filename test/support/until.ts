// Waiting in tests that run against real timers: poll a condition until it holds (or fail with a
// clear error after `ms`), and sleep.

/** Resolves once `cond` holds; polls every `stepMs`; throws after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 10_000, stepMs = 5): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
