// Autosave for a draft: at most `debounceMs` after the last change, at once on flush (field
// blur, page hide, before sign), one save in flight at a time, and every save based on the
// revision the previous one returned. A failed save keeps the text and retries; a conflict
// stops saving until the editor has resolved it. Pure logic (no React, no DOM): unit-tested.
import type { Result } from '../../common/contract.ts';

export type SaveState =
  | { kind: 'idle'; revision: number }
  | { kind: 'pending' }
  | { kind: 'saving' }
  | { kind: 'saved'; revision: number; savedAt: string }
  | { kind: 'error'; message: string }
  | { kind: 'conflict'; message: string };

export interface SaveHow {
  /** The page is being hidden or closed: use a transport that outlives the page. */
  keepalive: boolean;
}

export interface AutosaverOptions<T> {
  save(content: T, baseRevision: number, how: SaveHow): Promise<Result<{ revision: number; savedAt: string }>>;
  onState(state: SaveState): void;
  /** Called once when the store reports a conflict (someone else saved a newer revision), with the text not stored. */
  onConflict?(message: string, unsaved: T | null): void;
  revision: number;
  debounceMs?: number;
  /** First retry delay after a failed save; doubles up to 30 s. */
  retryMs?: number;
}

export class Autosaver<T> {
  private revisionValue: number;
  private latest: T | null = null;
  private dirty = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inflight: Promise<boolean> | null = null;
  private stopped: 'conflict' | 'disposed' | null = null;
  private failures = 0;
  private readonly debounceMs: number;
  private readonly retryMs: number;

  constructor(private readonly opts: AutosaverOptions<T>) {
    this.revisionValue = opts.revision;
    this.debounceMs = Math.min(opts.debounceMs ?? 800, 1000);
    this.retryMs = opts.retryMs ?? 2000;
  }

  /** The revision the store holds for what we last saved. */
  get revision(): number {
    return this.revisionValue;
  }

  /** True while some change has not reached the store. */
  get hasUnsaved(): boolean {
    return this.dirty || this.inflight !== null;
  }

  get isStopped(): boolean {
    return this.stopped !== null;
  }

  /** Disposed (e.g. the draft was signed): nothing more will be saved. */
  get isDisposed(): boolean {
    return this.stopped === 'disposed';
  }

  /** Content the store has not confirmed yet (null when all is saved). */
  get unsavedContent(): T | null {
    return this.dirty ? this.latest : null;
  }

  /** Records a change; it is saved at most `debounceMs` later. */
  change(content: T): void {
    if (this.stopped === 'disposed') return;
    this.latest = content;
    this.dirty = true;
    if (this.stopped) return;
    this.opts.onState({ kind: 'pending' });
    this.schedule(this.debounceMs);
  }

  /** Saves now. Resolves true when everything written so far is in the store. */
  async flush(how: SaveHow = { keepalive: false }): Promise<boolean> {
    this.clearTimer();
    while (this.inflight) await this.inflight;
    if (!this.dirty) return this.stopped === null || this.stopped === 'disposed';
    if (this.stopped) return false;
    const content = this.latest as T;
    this.dirty = false;
    const run = this.saveOnce(content, how);
    this.inflight = run;
    try {
      return await run;
    } finally {
      this.inflight = null;
    }
  }

  /** After a conflict was resolved: continue from the store's revision. */
  resume(revision: number): void {
    this.revisionValue = revision;
    this.stopped = null;
    this.failures = 0;
    if (this.dirty) {
      this.opts.onState({ kind: 'pending' });
      this.schedule(0);
    } else {
      this.opts.onState({ kind: 'idle', revision });
    }
  }

  /** Drops unsaved changes (the reporter chose the stored version) and continues from it. */
  discardAndResume(revision: number): void {
    this.dirty = false;
    this.latest = null;
    this.resume(revision);
  }

  /** Stops timers. Call flush() first if the changes matter. */
  dispose(): void {
    this.stopped = 'disposed';
    this.clearTimer();
  }

  private async saveOnce(content: T, how: SaveHow): Promise<boolean> {
    this.opts.onState({ kind: 'saving' });
    let result: Result<{ revision: number; savedAt: string }>;
    try {
      result = await this.opts.save(content, this.revisionValue, how);
    } catch (err) {
      result = { ok: false, error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } };
    }
    if (result.ok) {
      this.failures = 0;
      this.revisionValue = result.value.revision;
      if (this.stopped === 'disposed') return true;
      if (this.dirty) this.opts.onState({ kind: 'pending' });
      else this.opts.onState({ kind: 'saved', revision: result.value.revision, savedAt: result.value.savedAt });
      return true;
    }
    // Keep the text: unless newer changes arrived meanwhile, this content is still the one to save.
    if (!this.dirty) {
      this.latest = content;
      this.dirty = true;
    }
    if (this.stopped === 'disposed') return false;
    if (result.error.code === 'conflict') {
      this.stopped = 'conflict';
      this.clearTimer();
      this.opts.onState({ kind: 'conflict', message: result.error.message });
      this.opts.onConflict?.(result.error.message, this.latest);
      return false;
    }
    this.failures += 1;
    this.opts.onState({ kind: 'error', message: result.error.message });
    this.schedule(Math.min(this.retryMs * 2 ** (this.failures - 1), 30_000));
    return false;
  }

  private schedule(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
