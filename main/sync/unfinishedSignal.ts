// Fewer refetches of the department's Unfinished list for the same screen (issue 6, hub load).
// - OwnSnapshots: the draft snapshots this workstation has just sent. The hub answers every stored
//   snapshot with an `unfinished-changed` event to every workstation, this one included. This one
//   already knows (it reacted to the hub's answer to its PUT), so that echo is recognised (same
//   report, our user, a snapshot of ours in flight or stored moments ago) and not reacted to again.
// - RefetchSignal: "the Unfinished list changed" signals, coalesced to at most one per floor (the
//   site policy's unfinishedRefetchMinMs): the first at once, every further one in the window folded
//   into one at its end, so a busy department costs each workstation one refetch per window.
import { realClock, type SyncClock } from './clock.ts';

/** How long a stored snapshot's echo is awaited (events normally arrive within milliseconds). */
export const OWN_ECHO_WINDOW_MS = 60_000;

export class OwnSnapshots {
  /** Per report: when each expected echo stops being expected, oldest first. */
  private readonly expected = new Map<string, number[]>();

  constructor(
    private readonly clock: SyncClock = realClock,
    private readonly windowMs = OWN_ECHO_WINDOW_MS,
  ) {}

  /** A snapshot of this report is being sent (its echo may arrive before the hub's answer). */
  sending(reportId: string): void {
    const list = this.live(reportId);
    list.push(this.clock.now() + this.windowMs);
    this.expected.set(reportId, list);
  }

  /**
   * The hub did not store the snapshot (ignored as not newer, refused, or no answer): no echo is
   * owed, so an event for the report is someone else's news and must be reacted to.
   */
  notStored(reportId: string): void {
    const list = this.live(reportId);
    list.pop();
    if (list.length === 0) this.expected.delete(reportId);
    else this.expected.set(reportId, list);
  }

  /** An `unfinished-changed` snapshot event by this workstation's user: true (and consumed) if it echoes a snapshot sent here. */
  isEcho(reportId: string): boolean {
    const list = this.live(reportId);
    if (list.length === 0) {
      this.expected.delete(reportId);
      return false;
    }
    list.shift();
    if (list.length === 0) this.expected.delete(reportId);
    else this.expected.set(reportId, list);
    return true;
  }

  /** Forgets everything (log out: the next user's events are never taken for ours). */
  clear(): void {
    this.expected.clear();
  }

  private live(reportId: string): number[] {
    const now = this.clock.now();
    return (this.expected.get(reportId) ?? []).filter((until) => until > now);
  }
}

export class RefetchSignal {
  private last = Number.NEGATIVE_INFINITY;
  private timer: unknown = null;

  constructor(
    private readonly fire: () => void,
    /** The current floor between two signals, ms (read at each signal: the policy may change). */
    private readonly floorMs: () => number,
    private readonly clock: SyncClock = realClock,
  ) {}

  /** The list may have changed: signal now if the floor allows, else once at the end of the window. */
  signal(): void {
    if (this.timer !== null) return;
    const wait = this.last + this.floorMs() - this.clock.now();
    if (wait <= 0) this.emit();
    else this.timer = this.clock.setTimeout(() => this.emit(), wait);
  }

  /** Signal at once, whatever the floor (the user's own draft was taken over, or they took one over). */
  now(): void {
    this.emit();
  }

  stop(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private emit(): void {
    this.stop();
    this.last = this.clock.now();
    this.fire();
  }
}
