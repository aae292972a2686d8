// Publishes open drafts to the hub so the team sees every unfinished report (domain.md §6, the
// locum case). Throttled per draft: the first change is published at once, later changes at
// most once per `throttleMs` (30 s) with the newest snapshot, and closing publishes at once.
// When the hub answers that the draft was taken over, publishing stops for it and
// `taken-over` names the new owner so the editor becomes read-only.
// Snapshots are best-effort (the draft itself is safe in the local database): a failed publish
// is retried at the next throttle window with the newest snapshot.
import { EventEmitter } from 'node:events';
import { HubUser, type DraftAck, type DraftSnapshot } from '../../common/hub.ts';
import { realClock, type SyncClock } from './clock.ts';
import { HubError } from './HubClient.ts';

export interface DraftSink {
  putDraft(reportId: string, snapshot: DraftSnapshot): Promise<DraftAck>;
}

export interface DraftTakenOver {
  reportId: string;
  /** The new owner as the hub described them (null if the hub gave no full record). */
  newOwner: HubUser | null;
  /** The new owner's name for the message (null if the hub gave none). */
  newOwnerName: string | null;
  message: string;
}

export interface DraftPublisherEvents {
  published: [DraftAck];
  'taken-over': [DraftTakenOver];
  /** The hub holds this report as signed already: nothing more to publish. */
  'already-signed': [{ reportId: string }];
  'login-required': [string];
  'publish-error': [{ reportId: string; error: Error }];
}

export interface DraftPublisherOptions {
  hub: DraftSink;
  clock?: SyncClock;
  /** Minimum time between two publishes of one draft while typing. Default 30 s. */
  throttleMs?: number;
}

type Snapshot = Omit<DraftSnapshot, 'closed'>;

interface DraftState {
  latest: DraftSnapshot | null;
  lastSentAt: number | null;
  lastSentRevision: number | null;
  timer: unknown;
  inFlight: Promise<void> | null;
  /** Set once the hub refuses this draft for good (taken over, signed), or it was forgotten here (signed, discarded). */
  stopped: 'taken-over' | 'already-signed' | 'forgotten' | null;
  takenOver: DraftTakenOver | null;
}

export class DraftPublisher {
  readonly events = new EventEmitter<DraftPublisherEvents>();
  private readonly hub: DraftSink;
  private readonly clock: SyncClock;
  private readonly throttleMs: number;
  private readonly drafts = new Map<string, DraftState>();
  private stoppedAll = false;

  constructor(opts: DraftPublisherOptions) {
    this.hub = opts.hub;
    this.clock = opts.clock ?? realClock;
    this.throttleMs = opts.throttleMs ?? 30_000;
  }

  /** Call on every change (or save) of an open draft. */
  update(reportId: string, snapshot: Snapshot): void {
    const s = this.state(reportId);
    if (s.stopped || this.stoppedAll) return;
    s.latest = { ...snapshot, closed: false };
    this.plan(reportId, s, false);
  }

  /** Call when the editor closes the draft: publishes at once (closed = true). */
  async close(reportId: string, snapshot?: Snapshot): Promise<void> {
    const s = this.state(reportId);
    if (s.stopped) return;
    if (snapshot) s.latest = { ...snapshot, closed: true };
    else if (s.latest) s.latest = { ...s.latest, closed: true };
    else return;
    await this.flush(reportId);
  }

  /** Publishes this draft's newest unsent snapshot now. */
  async flush(reportId: string): Promise<void> {
    const s = this.drafts.get(reportId);
    if (!s) return;
    if (s.timer !== null) {
      this.clock.clearTimeout(s.timer);
      s.timer = null;
    }
    while (s.inFlight) await s.inFlight;
    if (s.latest && !s.stopped) await this.send(reportId, s);
  }

  /** The take-over that made this draft read-only, or null. */
  takenOver(reportId: string): DraftTakenOver | null {
    return this.drafts.get(reportId)?.takenOver ?? null;
  }

  /** Forget a draft (signed or discarded locally); pending snapshots are dropped. */
  forget(reportId: string): void {
    const s = this.drafts.get(reportId);
    if (!s) return;
    if (s.timer !== null) this.clock.clearTimeout(s.timer);
    s.timer = null;
    // A publish still in flight must not plan a follow-up from this state: a snapshot of a report
    // signed meanwhile reached the hub a throttle window later (refused there as already signed:
    // one needless request per signed report; before the signed report synced, a stale draft).
    s.stopped = 'forgotten';
    s.latest = null;
    this.drafts.delete(reportId);
  }

  /** Stops: publishes every draft's pending snapshot once (bounded by the client's timeout). */
  async stop(): Promise<void> {
    this.stoppedAll = true;
    await Promise.all([...this.drafts.keys()].map((id) => this.flush(id).catch(() => undefined)));
  }

  private state(reportId: string): DraftState {
    let s = this.drafts.get(reportId);
    if (!s) {
      s = { latest: null, lastSentAt: null, lastSentRevision: null, timer: null, inFlight: null, stopped: null, takenOver: null };
      this.drafts.set(reportId, s);
    }
    return s;
  }

  /** Publish now if the window allows, else once at the end of the window. */
  private plan(reportId: string, s: DraftState, retry: boolean): void {
    if (s.timer !== null || s.inFlight) {
      // A publish is scheduled or running; it (or its follow-up) takes the newest snapshot.
      return;
    }
    const now = this.clock.now();
    const wait = s.lastSentAt === null && !retry ? 0 : Math.max(0, (s.lastSentAt ?? now) + this.throttleMs - now);
    const fire = (): void => {
      s.timer = null;
      void this.send(reportId, s);
    };
    if (wait === 0) fire();
    else s.timer = this.clock.setTimeout(fire, wait);
  }

  private send(reportId: string, s: DraftState): Promise<void> {
    const snapshot = s.latest;
    if (!snapshot || s.stopped) return Promise.resolve();
    s.latest = null;
    const run = (async () => {
      s.lastSentAt = this.clock.now();
      try {
        const ack = await this.hub.putDraft(reportId, snapshot);
        s.lastSentRevision = snapshot.revision;
        this.events.emit('published', ack);
      } catch (err) {
        if (err instanceof HubError && err.code === 'draft-taken-over') {
          const owner = readOwner(err.details);
          s.stopped = 'taken-over';
          s.takenOver = {
            reportId,
            newOwner: owner.user,
            newOwnerName: owner.name,
            message: owner.name !== null ? `${owner.name} has taken over this report; your copy is read-only.` : err.message,
          };
          this.events.emit('taken-over', s.takenOver);
          return;
        }
        if (err instanceof HubError && err.code === 'already-signed') {
          s.stopped = 'already-signed';
          this.events.emit('already-signed', { reportId });
          return;
        }
        if (err instanceof HubError && err.status !== null && err.status !== 401 && !err.retryable) {
          // Refused for good (e.g. invalid-input, forbidden): the same snapshot would be refused
          // again, so it is not resent every window; the next local save publishes afresh.
          this.events.emit('publish-error', { reportId, error: err });
          return;
        }
        // Keep the newest snapshot for the next window (a newer one may have arrived meanwhile).
        if (s.latest === null) s.latest = snapshot;
        else if (snapshot.closed) s.latest = { ...s.latest, closed: true };
        if (err instanceof HubError && err.status === 401) this.events.emit('login-required', err.message);
        else this.events.emit('publish-error', { reportId, error: err instanceof Error ? err : new Error(String(err)) });
      }
    })();
    s.inFlight = run;
    return run.finally(() => {
      s.inFlight = null;
      if (s.latest && !s.stopped && !this.stoppedAll) this.plan(reportId, s, true);
    });
  }
}

function readOwner(details: Record<string, unknown> | undefined): { user: HubUser | null; name: string | null } {
  const o = details?.newOwner;
  const parsed = HubUser.safeParse(o);
  if (parsed.success) return { user: parsed.data, name: parsed.data.name };
  // The hub sends { newOwner: username, newOwnerName: name }.
  const named = details?.newOwnerName;
  if (typeof named === 'string' && named !== '') return { user: null, name: named };
  if (o && typeof o === 'object' && typeof (o as { name?: unknown }).name === 'string') return { user: null, name: (o as { name: string }).name };
  if (typeof o === 'string' && o !== '') return { user: null, name: o };
  return { user: null, name: null };
}
