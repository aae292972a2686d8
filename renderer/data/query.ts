// The state of one fetched value, without React: the latest answer wins, an error keeps the last
// good data, and refetches asked for by events honour a floor between two fetches (at once when
// the floor allows, else once when it has passed; requests in between join that one). Pure and
// timer-injectable: unit-tested in test/renderer/query.test.ts; `useQuery` binds it to React.
import type { Result } from '../../common/contract.ts';

export interface QueryState<T> {
  /** The last value fetched successfully (kept while a refetch runs or after it fails). */
  data: T | undefined;
  /** The last fetch's error message, or null once a fetch succeeds. */
  error: string | null;
  /** A fetch is in flight. */
  loading: boolean;
}

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class Query<T> {
  private state: QueryState<T> = { data: undefined, error: null, loading: false };
  private readonly listeners = new Set<() => void>();
  /** Fetches started; an answer is applied only if no later fetch started (and no stop) since. */
  private seq = 0;
  private lastStart = Number.NEGATIVE_INFINITY;
  private trailing: unknown = null;
  /** Fetches started over the query's life (for tests and traffic counts). */
  fetches = 0;

  constructor(
    private fetcher: () => Promise<Result<T>> = () => Promise.resolve({ ok: false, error: { code: 'internal', message: 'Nothing to fetch yet.' } }),
    /** The floor between two fetches asked for with `request()`. */
    public minIntervalMs = 0,
    private readonly timers: Timers = realTimers,
  ) {}

  readonly getState = (): QueryState<T> => this.state;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The function that fetches, and the floor between two fetches asked for with `request()`. */
  configure(fetcher: () => Promise<Result<T>>, minIntervalMs = this.minIntervalMs): void {
    this.fetcher = fetcher;
    this.minIntervalMs = minIntervalMs;
  }

  /** Fetch now (first load, a person's Refresh); a fetch already waiting on the floor is folded in. */
  fetch(): void {
    this.clearTrailing();
    this.lastStart = this.timers.now();
    this.fetches += 1;
    const mine = ++this.seq;
    this.set({ ...this.state, loading: true });
    let answer: Promise<Result<T>>;
    try {
      answer = this.fetcher();
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (r) => {
        if (mine !== this.seq) return;
        this.set(r.ok ? { data: r.value, error: null, loading: false } : { data: this.state.data, error: r.error.message, loading: false });
      },
      (err: unknown) => {
        if (mine !== this.seq) return;
        this.set({ data: this.state.data, error: err instanceof Error ? err.message : String(err), loading: false });
      },
    );
  }

  /** Fetch soon, honouring the floor: at once if it allows, else once when it has passed. */
  request(): void {
    if (this.trailing !== null) return;
    const wait = this.lastStart + this.minIntervalMs - this.timers.now();
    if (wait <= 0) this.fetch();
    else
      this.trailing = this.timers.setTimeout(() => {
        this.trailing = null;
        this.fetch();
      }, wait);
  }

  /** Replace the data (the answer of an action, e.g. a retry, that returns the new value). */
  setData(data: T): void {
    this.set({ data, error: null, loading: this.state.loading });
  }

  /** Stop: a fetch waiting on the floor is dropped (an answer in flight still lands). */
  stop(): void {
    this.clearTrailing();
  }

  private clearTrailing(): void {
    if (this.trailing !== null) this.timers.clearTimeout(this.trailing);
    this.trailing = null;
  }

  private set(next: QueryState<T>): void {
    this.state = next;
    for (const l of this.listeners) l();
  }
}
