// Draft snapshots reach the hub throttled (at once, then at most every 30 s while typing, and at
// once on close); a take-over stops publishing and names the new owner.
import { afterEach, describe, expect, it } from 'vitest';
import type { DraftAck, DraftSnapshot, HubUser } from '../../../common/hub.ts';
import { DraftPublisher, type DraftSink, type DraftTakenOver } from '../../../main/sync/DraftPublisher.ts';
import { HubClient, HubError } from '../../../main/sync/HubClient.ts';
import { startFakeHub, type FakeHub } from '../../support/fakeHub.ts';
import { ManualClock, settle } from '../../support/manualClock.ts';
import { contentWithAlert, uniqueStudy } from '../../support/syncWorkstation.ts';

const ADA: HubUser = { username: 'ada', name: 'Dr Ada Lovelace', role: 'radiologist', registration: 'GMC 1234567' };
const GRACE: HubUser = { username: 'grace', name: 'Dr Grace Hopper', role: 'radiologist', registration: 'GMC 7654321' };

function recordingSink(clock: ManualClock): DraftSink & { calls: { at: number; reportId: string; snap: DraftSnapshot }[]; fail: Error | null } {
  const calls: { at: number; reportId: string; snap: DraftSnapshot }[] = [];
  return {
    calls,
    fail: null,
    async putDraft(reportId, snap): Promise<DraftAck> {
      calls.push({ at: clock.now(), reportId, snap });
      if (this.fail) throw this.fail;
      return { reportId, revision: snap.revision, applied: true, owner: ADA };
    },
  };
}

const study = uniqueStudy('draft');
const snap = (revision: number, clock: ManualClock) => ({
  study,
  content: contentWithAlert('none'),
  revision,
  lastActivity: new Date(clock.now()).toISOString(),
  author: ADA.name,
});

describe('DraftPublisher', () => {
  it('sends nothing more for a draft forgotten (signed) while its first snapshot was in flight', async () => {
    // Open, save, sign in quick succession: the open's snapshot is in flight when the save's
    // arrives (held for the next window), then the report is signed and the draft forgotten.
    const clock = new ManualClock();
    let release: () => void = () => undefined;
    const calls: number[] = [];
    const sink: DraftSink = {
      putDraft: (reportId, s) => {
        calls.push(s.revision);
        return new Promise((resolve) => {
          release = () => resolve({ reportId, revision: s.revision, applied: true, owner: ADA });
        });
      },
    };
    const pub = new DraftPublisher({ hub: sink, clock, throttleMs: 30_000 });
    pub.update('r-signed', snap(1, clock));
    await settle();
    pub.update('r-signed', snap(2, clock));
    pub.forget('r-signed');
    release();
    await settle();
    await clock.advance(120_000);
    expect(calls).toEqual([1]);
  });

  it('publishes the first change at once, then at most once per 30 s with the newest snapshot, and at once on close', async () => {
    const clock = new ManualClock();
    const sink = recordingSink(clock);
    const pub = new DraftPublisher({ hub: sink, clock, throttleMs: 30_000 });
    const t0 = clock.now();
    pub.update('r1', snap(1, clock));
    await settle();
    expect(sink.calls.map((c) => c.snap.revision)).toEqual([1]);
    // Typing for 70 s, one save per second.
    for (let rev = 2; rev <= 71; rev++) {
      await clock.advance(1000);
      pub.update('r1', snap(rev, clock));
    }
    await clock.advance(30_000);
    const times = sink.calls.map((c) => c.at - t0);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(30_000);
    expect(sink.calls.length).toBeLessThanOrEqual(4);
    // Each publish carried the newest snapshot at its time; the last one is the final revision.
    expect(sink.calls.at(-1)!.snap.revision).toBe(71);
    expect(sink.calls.every((c) => c.snap.closed === false)).toBe(true);
    const before = sink.calls.length;
    pub.update('r1', snap(72, clock));
    await pub.close('r1');
    expect(sink.calls.length).toBe(before + 1);
    expect(sink.calls.at(-1)!.snap).toMatchObject({ revision: 72, closed: true });
    expect(clock.pending).toBe(0);
  });

  it('keeps the newest snapshot after a failed publish and sends it in the next window', async () => {
    const clock = new ManualClock();
    const sink = recordingSink(clock);
    const errors: string[] = [];
    const pub = new DraftPublisher({ hub: sink, clock, throttleMs: 30_000 });
    pub.events.on('publish-error', (e) => errors.push(e.error.message));
    sink.fail = new HubError(null, 'network', 'The hub is unreachable (ECONNREFUSED).');
    pub.update('r1', snap(1, clock));
    await settle();
    expect(errors).toEqual(['The hub is unreachable (ECONNREFUSED).']);
    sink.fail = null;
    pub.update('r1', snap(2, clock));
    await clock.advance(30_000);
    expect(sink.calls.map((c) => c.snap.revision)).toEqual([1, 2]);
  });

  it('does not resend a snapshot the hub refused for good every window; the next save publishes afresh', async () => {
    const clock = new ManualClock();
    const sink = recordingSink(clock);
    const errors: string[] = [];
    const pub = new DraftPublisher({ hub: sink, clock, throttleMs: 30_000 });
    pub.events.on('publish-error', (e) => errors.push(e.error.message));
    sink.fail = new HubError(422, 'invalid-input', 'content.fields.findings: text holds a NUL character');
    pub.update('r1', snap(1, clock));
    await settle();
    await clock.advance(10 * 60_000);
    // Before: resent every 30 s for as long as the workstation ran (20 requests in these 10 minutes).
    expect(sink.calls).toHaveLength(1);
    expect(errors).toEqual(['content.fields.findings: text holds a NUL character']);
    sink.fail = null;
    pub.update('r1', snap(2, clock));
    await clock.advance(30_000);
    expect(sink.calls.map((c) => c.snap.revision)).toEqual([1, 2]);
    expect(clock.pending).toBe(0);
  });

  it('stops publishing when the hub says the draft was taken over, naming the new owner', async () => {
    const clock = new ManualClock();
    const sink = recordingSink(clock);
    const pub = new DraftPublisher({ hub: sink, clock });
    const taken: DraftTakenOver[] = [];
    pub.events.on('taken-over', (t) => taken.push(t));
    sink.fail = new HubError(409, 'draft-taken-over', 'taken over', { newOwner: GRACE });
    pub.update('r1', snap(1, clock));
    await settle();
    expect(taken).toEqual([{ reportId: 'r1', newOwner: GRACE, newOwnerName: 'Dr Grace Hopper', message: 'Dr Grace Hopper has taken over this report; your copy is read-only.' }]);
    expect(pub.takenOver('r1')).toEqual(taken[0]);
    pub.update('r1', snap(2, clock));
    await pub.close('r1', snap(3, clock));
    await clock.advance(120_000);
    expect(sink.calls).toHaveLength(1);
  });
});

describe('DraftPublisher with HubClient against the fake hub', () => {
  let hub: FakeHub;
  afterEach(async () => {
    await hub.close();
  });

  it('publishes, then surfaces a colleague\'s take-over', async () => {
    hub = await startFakeHub();
    const client = new HubClient({ baseUrl: hub.url });
    await client.login('ada', 'pw');
    const pub = new DraftPublisher({ hub: client, throttleMs: 10 });
    const acks: DraftAck[] = [];
    const taken: DraftTakenOver[] = [];
    pub.events.on('published', (a) => acks.push(a));
    pub.events.on('taken-over', (t) => taken.push(t));
    const clock = new ManualClock(Date.now());
    pub.update('r9', snap(1, clock));
    await pub.flush('r9');
    expect(acks).toEqual([{ reportId: 'r9', revision: 1, applied: true, owner: ADA }]);
    hub.takeOver('r9', GRACE);
    await pub.close('r9', snap(2, clock));
    expect(taken.map((t) => t.newOwnerName)).toEqual(['Dr Grace Hopper']);
  });
});
