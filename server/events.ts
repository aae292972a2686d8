// Pushed events: every change worth telling workstations about is a row in `events` (seq =
// bigserial), written in the same transaction as the change. After the commit the instance wakes
// its own dispatcher and sends one coalesced NOTIFY (outside the transaction: a NOTIFY inside it
// takes PostgreSQL's global notify lock until commit, serialising every ingest behind one WAL
// flush). Each hub instance LISTENs and also polls, so a lost NOTIFY (crash between commit and
// NOTIFY, dropped LISTEN connection) delays an event by at most POLL_MS, never loses it. New rows
// are read in seq order and handed to the connected clients. Transactions can commit out of seq
// order, so a gap (seq n+1 missing while n+2 is visible) is waited for up to GAP_WAIT_MS before it
// is treated as a rolled-back transaction and skipped: clients see events in seq order.
import { HubEvent } from '../common/hub.ts';
import type { HubDb, Queryable } from './db/adapter.ts';

export const POLL_MS = 1000;
export const GAP_WAIT_MS = 2000;

type EventBody = HubEvent extends infer E ? (E extends HubEvent ? Omit<E, 'seq'> : never) : never;

/** Inserts an event inside the caller's transaction. Returns its seq. Call `EventDispatcher.announce()` after the commit. */
export async function emitEvent(tx: Queryable, body: EventBody): Promise<number> {
  const { rows } = await tx.query<{ seq: number }>(
    'INSERT INTO events (at, type, report_id, body) VALUES ($1, $2, $3, $4) RETURNING seq',
    [body.at, body.type, body.reportId, JSON.stringify(body)],
  );
  return rows[0]!.seq;
}

interface EventRow { seq: number; body: Omit<HubEvent, 'seq'> }

const toEvent = (r: EventRow): HubEvent => ({ ...r.body, seq: r.seq }) as HubEvent;

export type Subscriber = (event: HubEvent) => void;

export class EventDispatcher {
  /** Highest seq handed to subscribers (everything ≤ cursor has been delivered or skipped). */
  cursor = 0;
  private subscribers = new Set<Subscriber>();
  private unlisten: (() => Promise<void>) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private again = false;
  private gapSince: number | null = null;
  private closed = false;

  constructor(private readonly db: HubDb) {}

  async start(): Promise<void> {
    const { rows } = await this.db.query<{ head: number | null }>('SELECT max(seq) AS head FROM events');
    this.cursor = rows[0]?.head ?? 0;
    this.unlisten = await this.db.listen(this.db.eventChannel, () => this.kick());
    this.schedule(POLL_MS);
  }

  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Events after `since` that this instance has already delivered (catch-up for a reconnecting client). */
  async backlog(since: number, limit = 10_000, upTo = this.cursor): Promise<HubEvent[]> {
    const { rows } = await this.db.query<EventRow>(
      'SELECT seq, body FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
      [since, upTo, limit],
    );
    return rows.map(toEvent);
  }

  private notifying = false;
  private notifyAgain = false;

  /**
   * After this instance committed events: wake the local pump, and NOTIFY the other instances
   * (at most one NOTIFY in flight; announcements made meanwhile share the next one).
   */
  announce(): void {
    this.kick();
    if (this.closed) return;
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    setImmediate(() => {
      this.db.query('SELECT pg_notify($1, $2)', [this.db.eventChannel, 'new'])
        .catch(() => { /* the others' poll picks it up */ })
        .finally(() => {
          this.notifying = false;
          if (this.notifyAgain) {
            this.notifyAgain = false;
            this.announce();
          }
        });
    });
  }

  /** Wakes the pump now (after a NOTIFY, or after this instance committed an event). */
  kick(): void {
    if (this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch(() => { /* database unreachable: the poll retries */ })
      .finally(() => {
        this.pumping = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Resolves once every event committed so far has been handed to subscribers (tests). */
  async settle(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      this.kick();
      while (this.pumping) await this.pumping;
      const { rows } = await this.db.query<{ head: number | null }>('SELECT max(seq) AS head FROM events');
      if ((rows[0]?.head ?? 0) <= this.cursor) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
      this.schedule(POLL_MS);
    }, ms);
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    for (;;) {
      const { rows } = await this.db.query<EventRow>('SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq LIMIT 1000', [this.cursor]);
      if (rows.length === 0) return;
      for (const row of rows) {
        if (row.seq !== this.cursor + 1) {
          const now = Date.now();
          this.gapSince ??= now;
          if (now - this.gapSince < GAP_WAIT_MS) {
            // An earlier transaction has not committed yet: look again shortly.
            this.schedule(25);
            return;
          }
          // Waited long enough: that seq belonged to a rolled-back transaction.
        }
        this.gapSince = null;
        this.cursor = row.seq;
        const event = toEvent(row);
        for (const s of this.subscribers) {
          try {
            s(event);
          } catch {
            /* one broken subscriber must not stop the others */
          }
        }
      }
      if (rows.length < 1000) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.subscribers.clear();
    if (this.unlisten) await this.unlisten().catch(() => {});
    while (this.pumping) await this.pumping;
  }
}
