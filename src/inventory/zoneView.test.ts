/**
 * The zone view's bookkeeping on its own, over a stand-in database whose committed state
 * the test sets: reservations, the batch's answers, reads that land while picks are in
 * flight, and live-feed rows applied on top of a read. (Races against real batches and a
 * real feed on both backends: holds/staleViews.http.test.ts.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { limits } from '../config/limits.js';
import type { Unsubscribe } from '../coord/index.js';
import type { FeedFollower, FeedRow } from '../outbox/feed.js';
import type { Queryable } from '../storage/index.js';
import { pickSpread } from '../holds/holds.js';
import { readUnsoldSql, ZoneView, ZoneViews, type ZoneReadKind } from './zoneView.js';

/** The stand-in's committed feed version, its reads, and what holds a read's answer back. */
interface FakeFeed {
  version: number;
  reads: number;
  gate?: Promise<void>;
  /** How long a read takes (setTimeout: fake timers move it). */
  latencyMs?: number;
}

/**
 * One section of `rows` rows of `seats` seats; ticket numbers in layout order from 1. It
 * answers the full read (every row) and the unsold read (the free tickets) alike.
 */
function fakeZone(rows: number, seats: number): { db: Queryable; taken: Set<number>;
  feed: FakeFeed } {
  const taken = new Set<number>();
  const feed: FakeFeed = { version: 0, reads: 0 };
  const db = {
    query: async (sql: string) => {
      feed.reads += 1;
      // The snapshot is taken when the read starts; the gate holds its answer back.
      const version = feed.version;
      if (sql === readUnsoldSql) {
        const free = Array.from({ length: rows * seats }, (_, i) => i + 1)
          .filter((no) => !taken.has(no));
        await answerLater(feed);
        return { rows: [{ feed_version: String(version), free }], rowCount: 1 };
      }
      const result = Array.from({ length: rows }, (_, r) => {
        const first = r * seats + 1;
        const available = Array.from({ length: seats }, (_, i) => i + 1)
          .filter((n) => !taken.has(first + n - 1));
        return { section_position: 0, row_index: r, seat_count: seats, first_ticket_no: first,
          first_seat: 1, available: available.length > 0 ? available : null,
          feed_version: String(version) };
      });
      await answerLater(feed);
      return { rows: result, rowCount: rows };
    },
    exec: async () => undefined,
  } as unknown as Queryable;
  return { db, taken, feed };
}

async function answerLater(feed: FakeFeed): Promise<void> {
  if (feed.latencyMs !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, feed.latencyMs));
  }
  await feed.gate;
}

async function viewOf(rows: number, seats: number, readGapMs?: number): Promise<{
  view: ZoneView; taken: Set<number>; refused: number[];
}> {
  const { db, taken } = fakeZone(rows, seats);
  const refused: number[] = [];
  const view = new ZoneView(db, 'event', 'seats', {
    refreshMs: Infinity, refused: (_e, _z, tickets) => refused.push(...tickets),
    ...(readGapMs === undefined ? {} : { readGapMs }),
  });
  await view.ensureFresh();
  return { view, taken, refused };
}

describe('zone view', () => {
  it('reserves a pick until its batch answers: concurrent picks never share a seat', async () => {
    const { view } = await viewOf(2, 10);
    const picks = Array.from({ length: 10 }, () => view.plan(2, 1));
    const seats = picks.flatMap((pick) => pick?.ticketNos ?? []);
    expect(new Set(seats).size).toBe(20);
    expect(view.plan(1, 1)).toBeUndefined();
    // Answered: a refusal without taken seats frees the pick's seats again.
    view.settle(picks[0] as NonNullable<(typeof picks)[0]>, { granted: false });
    expect(view.freeSeats).toBe(2);
  });

  it('a refused pick drops exactly the seats the batch named', async () => {
    const { view, refused } = await viewOf(1, 10);
    const pick = view.plan(2, 1);
    if (pick === undefined) throw new Error('no pick');
    view.settle(pick, { granted: false, taken: [pick.ticketNos[0] as number] });
    expect(refused).toEqual([pick.ticketNos[0]]);
    expect(view.freeSeats).toBe(9);
    const again = view.plan(2, 1);
    expect(again?.ticketNos).not.toContain(pick.ticketNos[0]);
  });

  it('is contested only once a batch refused one of its picks as taken', async () => {
    const { view } = await viewOf(2, 10);
    const first = view.plan(2, 1);
    const second = view.plan(2, 1);
    if (first === undefined || second === undefined) throw new Error('no pick');
    // Granted and plainly refused picks say nothing of other nodes.
    view.settle(first, { granted: true });
    view.settle(second, { granted: false });
    expect(view.contested).toBe(false);
    expect(pickSpread(32, 2, 0, view.contested)).toBe(1);
    const third = view.plan(2, 1);
    if (third === undefined) throw new Error('no pick');
    view.settle(third, { granted: false, taken: third.ticketNos });
    expect(view.contested).toBe(true);
    expect(pickSpread(32, 2, 0, view.contested)).toBe(256);
    expect(pickSpread(32, 2, 1, view.contested)).toBe(1024);
  });

  it('a read keeps reservations and learns what committed state took', async () => {
    const { view, taken } = await viewOf(1, 10);
    const pick = view.plan(2, 1);
    if (pick === undefined) throw new Error('no pick');
    // Another node took seats 1 and 10, and one seat of the pick.
    for (const no of [1, 10, pick.ticketNos[0] as number]) taken.add(no);
    await view.fresh(view.readsStarted);
    expect(view.freeSeats).toBe(6);
    // The pick is refused for a reason the view does not know: its seat read as taken stays
    // taken, the other is free again.
    view.settle(pick, { granted: false });
    expect(view.freeSeats).toBe(7);
  });

  it('a grant answered while a read runs is not undone by that read', async () => {
    // No gap: the read's statement goes out at once (a grant answered while a read still
    // waits out its gap committed before its snapshot, which then has it).
    const { view } = await viewOf(1, 4, 0);
    const pick = view.plan(2, 1);
    if (pick === undefined) throw new Error('no pick');
    // The read's snapshot predates the grant's commit: it still shows the seats free.
    const read = view.fresh(view.readsStarted);
    view.settle(pick, { granted: true });
    await read;
    expect(view.freeSeats).toBe(2);
  });

  it('a refusal answered while a read waits out its gap does not outlast that read', async () => {
    // Seats 1-2 picked; the batch refuses them as taken by another node (seat 1), which
    // releases it before the read's statement goes out: the read's snapshot has it free.
    const { view, taken } = await viewOf(1, 4, 1_000);
    const pick = view.plan(2, 1);
    if (pick === undefined) throw new Error('no pick');
    const read = view.fresh(view.readsStarted);
    taken.add(1);
    view.settle(pick, { granted: false, taken: [pick.ticketNos[0] as number] });
    taken.delete(1);
    await read;
    expect(view.freeSeats).toBe(4);
  });

  it('a read that fails fails every fan who joined it, and the next read starts afresh',
    async () => {
      const { db, feed } = fakeZone(1, 4);
      const view = new ZoneView(db, 'event', 'seats', { refreshMs: Infinity, readGapMs: 50 });
      await view.ensureFresh();
      const down = Promise.reject(new Error('database down'));
      down.catch(() => undefined);
      feed.gate = down;
      const seen = view.readsStarted;
      // Two fans short of seats: the second joins the read still waiting out its gap.
      const first = view.fresh(seen);
      const second = view.fresh(view.readsStarted);
      await expect(first).rejects.toThrow('database down');
      await expect(second).rejects.toThrow('database down');
      expect(view.readsStarted).toBe(seen + 1);
      feed.gate = undefined;
      expect(await view.fresh(view.readsStarted)).toBe(4);
    });

  it('answers the zone\'s free seats on committed state from a fresh read', async () => {
    const { view, taken } = await viewOf(1, 4);
    for (const no of [1, 2, 3]) taken.add(no);
    expect(view.freeSeats).toBe(4);
    expect(await view.fresh(view.readsStarted)).toBe(1);
    expect(view.plan(2, 1)).toBeUndefined();
  });
});

/** A feed row: `effect` for the tickets, at `version`. */
function row(version: number, effect: FeedRow['effect'], tickets: number[]): FeedRow {
  return { version, effect, tickets: tickets.map((no) => [no, `S-1-${no}`]) };
}

async function fedView(rows: number, seats: number, version = 0): Promise<{
  view: ZoneView; taken: Set<number>; feed: FakeFeed;
}> {
  const { db, taken, feed } = fakeZone(rows, seats);
  feed.version = version;
  const view = new ZoneView(db, 'event', 'seats', { refreshMs: Infinity });
  view.follow();
  await view.ensureFresh();
  return { view, taken, feed };
}

describe('zone view reads', () => {
  it('reads the layout once, then only the free tickets, cancelled ones included',
    async () => {
      const { db, taken } = fakeZone(2, 10);
      const kinds: ZoneReadKind[] = [];
      const view = new ZoneView(db, 'event', 'seats',
        { refreshMs: Infinity, read: (_event, _zone, kind) => kinds.push(kind) });
      await view.ensureFresh();
      for (const no of [1, 2, 11, 20]) taken.add(no);
      expect(await view.fresh(view.readsStarted)).toBe(16);
      const all = Array.from({ length: 20 }, (_, i) => i + 1);
      expect(view.freeTicketNos()).toEqual(all.filter((no) => !taken.has(no)));
      // A cancellation returns a sold seat: the next read has it again.
      taken.delete(11);
      expect(await view.fresh(view.readsStarted)).toBe(17);
      expect(view.freeTicketNos()).toContain(11);
      expect(kinds).toEqual(['full', 'unsold', 'unsold']);
    });
});

describe('zone view on the live feed', () => {
  it('learns holds, sales and releases from the feed without reading', async () => {
    const { view, feed } = await fedView(1, 10, 7);
    expect(view.version).toBe(7);
    view.applyFeed([row(8, 'held', [1, 2]), row(9, 'sold', [3]), row(10, 'none', [])]);
    expect(view.freeSeats).toBe(7);
    view.applyFeed([row(11, 'available', [1, 3])]);
    expect(view.freeSeats).toBe(9);
    expect(view.version).toBe(11);
    expect(feed.reads).toBe(1);
  });

  it('skips rows at or below its version (duplicates, rows the read already has)',
    async () => {
      const { view } = await fedView(1, 10, 5);
      // Rows 4 and 5 are in the read (seat 2 free there); 5 again is a duplicate.
      view.applyFeed([row(4, 'held', [2]), row(5, 'held', [2]), row(6, 'held', [1])]);
      view.applyFeed([row(5, 'held', [2]), row(6, 'available', [1])]);
      expect(view.freeSeats).toBe(9);
      expect(view.version).toBe(6);
    });

  it('a gap in versions forces a read of committed state', async () => {
    const { view, taken, feed } = await fedView(1, 10, 3);
    // Batch 4 was lost: seat 5 was held in it. Committed state knows.
    taken.add(5);
    feed.version = 5;
    view.applyFeed([row(5, 'held', [6])]);
    expect(view.version).toBeUndefined();
    await view.fresh(0);
    expect(feed.reads).toBe(2);
    expect(view.version).toBe(5);
    expect(view.freeSeats).toBe(9);
    // Committed state at version 5 says seat 6 free (the stand-in does not hold it), and
    // the rows go on from there.
    view.applyFeed([row(6, 'held', [6, 7])]);
    expect(view.freeSeats).toBe(7);
    expect(feed.reads).toBe(2);
  });

  it('control: a view that follows no feed learns nothing from it', async () => {
    const { db } = fakeZone(1, 10);
    const view = new ZoneView(db, 'event', 'seats', { refreshMs: Infinity });
    await view.ensureFresh();
    view.applyFeed([row(1, 'held', [1, 2, 3])]);
    expect(view.freeSeats).toBe(10);
    expect(view.version).toBeUndefined();
  });

  it('rows that arrive while a read runs are applied on top of it', async () => {
    const { view, feed, taken } = await fedView(1, 10, 2);
    let open = (): void => undefined;
    feed.gate = new Promise((resolve) => {
      open = resolve;
    });
    taken.add(1);
    feed.version = 3;
    const read = view.fresh(view.readsStarted);
    // Row 3 (seat 1, in the read's snapshot) and row 4 (after it) arrive mid-read.
    view.applyFeed([row(3, 'held', [1]), row(4, 'held', [2])]);
    open();
    await read;
    expect(view.version).toBe(4);
    expect(view.freeSeats).toBe(8);
  });

  it('keeps this node\'s reservations and grants against older rows', async () => {
    const { view } = await fedView(1, 4, 0);
    const pick = view.plan(2, 1);
    if (pick === undefined) throw new Error('no pick');
    const [a, b] = pick.ticketNos as [number, number];
    // A release older than the grant reaches the view after the batch answered: the seats
    // stay taken until the grant's own row, and only a later release frees them.
    view.settle(pick, { granted: true });
    view.applyFeed([row(1, 'available', [a, b])]);
    expect(view.freeSeats).toBe(2);
    view.applyFeed([row(2, 'held', [a, b])]);
    expect(view.freeSeats).toBe(2);
    view.applyFeed([row(3, 'available', [a])]);
    expect(view.freeSeats).toBe(3);
    // A reservation: another node's hold on it makes it taken if the pick is refused.
    const next = view.plan(1, 1);
    if (next === undefined) throw new Error('no pick');
    view.applyFeed([row(4, 'held', next.ticketNos)]);
    expect(view.freeSeats).toBe(2);
    view.settle(next, { granted: false });
    expect(view.freeSeats).toBe(2);
  });

  it('a grant whose own row came before the answer does not hide a later release',
    async () => {
      const { view } = await fedView(1, 10, 0);
      const pick = view.plan(2, 1);
      if (pick === undefined) throw new Error('no pick');
      const [a] = pick.ticketNos as [number, number];
      // The relay is quicker than the batch's answer: the grant's own row comes first.
      view.applyFeed([row(1, 'held', pick.ticketNos)]);
      view.settle(pick, { granted: true });
      expect(view.freeSeats).toBe(8);
      // The hold is released: a real, newer row frees the seat.
      view.applyFeed([row(2, 'available', [a])]);
      expect(view.freeSeats).toBe(9);
    });

  it('a grant answered while a read waits ends at its own row, even one the read has',
    async () => {
      const { view, feed, taken } = await fedView(1, 10, 0);
      const pick = view.plan(2, 1);
      if (pick === undefined) throw new Error('no pick');
      const [a, b] = pick.ticketNos as [number, number];
      let open = (): void => undefined;
      feed.gate = new Promise((resolve) => {
        open = resolve;
      });
      // The read's snapshot follows the grant's commit (it waited for a connection) and
      // includes its row 1; the batch answers before the read does.
      taken.add(a);
      taken.add(b);
      feed.version = 1;
      const read = view.fresh(view.readsStarted);
      view.settle(pick, { granted: true });
      open();
      await read;
      view.applyFeed([row(1, 'held', [a, b])]);
      view.applyFeed([row(2, 'available', [a])]);
      expect(view.freeSeats).toBe(9);
    });

  it('a gap keeps this node\'s grants guarded against older rows the read catches up',
    async () => {
      const { view, feed, taken } = await fedView(1, 10, 0);
      const pick = view.plan(2, 1);
      if (pick === undefined) throw new Error('no pick');
      const [a, b] = pick.ticketNos as [number, number];
      view.settle(pick, { granted: true });
      taken.add(a);
      taken.add(b);
      let open = (): void => undefined;
      feed.gate = new Promise((resolve) => {
        open = resolve;
      });
      // Row 1 is lost; the read for the gap reflects version 2, its snapshot already holds
      // the grant, whose row the relay has not stamped yet. Row 3 releases an older hold of
      // the same seats (committed before the grant, stamped after the read's version).
      feed.version = 2;
      view.applyFeed([row(2, 'none', [])]);
      expect(view.version).toBeUndefined();
      view.applyFeed([row(3, 'available', [a, b])]);
      open();
      await view.fresh(0);
      expect(view.version).toBe(3);
      expect(view.freeSeats).toBe(8);
      view.applyFeed([row(4, 'held', [a, b]), row(5, 'available', [a])]);
      expect(view.freeSeats).toBe(9);
    });
});

describe('zone view on the live feed, refusals', () => {
  it('a refusal naming a seat the feed freed since leaves that seat free', async () => {
    const { view } = await fedView(1, 10, 0);
    const pick = view.plan(2, 1);
    if (pick === undefined) throw new Error('no pick');
    const [a] = pick.ticketNos as [number, number];
    // Another node held seat a and released it; the batch looked while it was held.
    view.applyFeed([row(1, 'held', [a]), row(2, 'available', [a])]);
    view.settle(pick, { granted: false, taken: [a] });
    expect(view.freeSeats).toBe(10);
    // Control: without the release, the refusal's seat is taken.
    const next = view.plan(2, 1);
    if (next === undefined) throw new Error('no pick');
    view.applyFeed([row(3, 'held', [next.ticketNos[0] as number])]);
    view.settle(next, { granted: false, taken: [next.ticketNos[0] as number] });
    expect(view.freeSeats).toBe(9);
  });
});

describe('zone view timing', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after a gap, picks wait for no read, and a too old view waits for the running one',
    async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const { db, feed } = fakeZone(1, 10);
      const view = new ZoneView(db, 'event', 'seats', undefined);
      view.follow();
      await view.ensureFresh();
      expect(view.version).toBe(0);
      // A quiet fed view: its last read is long past.
      vi.advanceTimersByTime(10_000);
      let open = (): void => undefined;
      feed.gate = new Promise((resolve) => {
        open = resolve;
      });
      feed.version = 2;
      view.applyFeed([row(2, 'none', [])]);
      expect(feed.reads).toBe(2);
      // The view was current until the gap: a pick now waits for nothing.
      let answered = false;
      const first = view.ensureFresh().then(() => {
        answered = true;
      });
      await Promise.resolve();
      await Promise.resolve();
      expect(answered).toBe(true);
      await first;
      // Long after the gap with the read still out: a pick waits for that read, not another.
      vi.advanceTimersByTime(10_000);
      const second = view.ensureFresh();
      open();
      await second;
      expect(feed.reads).toBe(2);
      expect(view.version).toBe(2);
    });

  it('a grant whose own row never comes guards its seats for a bounded time only',
    async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const { view } = await fedView(1, 10, 0);
      const pick = view.plan(2, 1);
      if (pick === undefined) throw new Error('no pick');
      const [a, b] = pick.ticketNos as [number, number];
      view.settle(pick, { granted: true });
      // Within the bound an `available` row is taken as older than the grant.
      vi.advanceTimersByTime(1_000);
      view.applyFeed([row(1, 'available', [a])]);
      expect(view.freeSeats).toBe(8);
      // Past it (the grant's row went by unseen), a release frees the seat.
      vi.advanceTimersByTime(1_500);
      view.applyFeed([row(2, 'available', [b])]);
      expect(view.freeSeats).toBe(9);
    });

  /**
   * Fans a millisecond apart for 200 ms, each short of seats (one free, two wanted), as
   * holds.ts asks: a look at the view, then a read started after the look. Reads take 2 ms.
   */
  async function refusalStream(readGapMs?: number): Promise<{ reads: number;
    answers: number[] }> {
    const { db, taken, feed } = fakeZone(1, 4);
    let reads = 0;
    const view = new ZoneView(db, 'event', 'seats', {
      refreshMs: Infinity, read: () => {
        reads += 1;
      },
      ...(readGapMs === undefined ? {} : { readGapMs }),
    });
    for (const no of [1, 2, 3]) taken.add(no);
    await view.ensureFresh();
    feed.latencyMs = 2;
    await vi.advanceTimersByTimeAsync(100);
    reads = 0;
    const answers: Promise<number>[] = [];
    for (let i = 0; i < 200; i++) {
      const seen = view.readsStarted;
      expect(view.plan(2, 1)).toBeUndefined();
      answers.push(view.fresh(seen));
      await vi.advanceTimersByTimeAsync(1);
    }
    await vi.advanceTimersByTimeAsync(100);
    return { reads, answers: await Promise.all(answers) };
  }

  it('a stream of refusals shares reads, at most one a gap; the control reads per refusal',
    async () => {
      vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
      const spaced = await refusalStream();
      expect(spaced.answers).toEqual(Array.from({ length: 200 }, () => 1));
      expect(spaced.reads).toBeLessThanOrEqual(200 / limits.zoneViewReadGapMs + 2);
      // The control: reads start at once, back to back, one per refusal or two.
      const unspaced = await refusalStream(0);
      expect(unspaced.answers).toEqual(Array.from({ length: 200 }, () => 1));
      expect(unspaced.reads).toBeGreaterThan(3 * spaced.reads);
    });

  it('within the gap a refusal still waits for a read that started after it looked',
    async () => {
      vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
      const { db, taken } = fakeZone(1, 4);
      const view = new ZoneView(db, 'event', 'seats', { refreshMs: Infinity });
      for (const no of [1, 2, 3]) taken.add(no);
      await view.ensureFresh();
      expect(view.freeSeats).toBe(1);
      // A release commits just after that read: the next fan, within the gap, must see it.
      taken.delete(3);
      const seen = view.readsStarted;
      expect(view.plan(2, 1)).toBeUndefined();
      const answer = view.fresh(seen);
      await vi.advanceTimersByTimeAsync(limits.zoneViewReadGapMs);
      expect(await answer).toBe(2);
      expect(view.plan(2, 1)?.ticketNos).toEqual([3, 4]);
    });

  it('a fan who looks while a read waits out its gap joins it, and sees what it sees',
    async () => {
      vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
      const { db, taken, feed } = fakeZone(1, 4);
      const view = new ZoneView(db, 'event', 'seats', { refreshMs: Infinity });
      for (const no of [1, 2, 3]) taken.add(no);
      await view.ensureFresh();
      const first = view.fresh(view.readsStarted);
      await vi.advanceTimersByTimeAsync(5);
      // A release commits; the second fan looks after it, while the read has not started.
      taken.delete(3);
      const seen = view.readsStarted;
      expect(view.plan(2, 1)).toBeUndefined();
      const second = view.fresh(seen);
      await vi.advanceTimersByTimeAsync(limits.zoneViewReadGapMs);
      expect([await first, await second]).toEqual([2, 2]);
      expect(feed.reads).toBe(2);
    });

  it('a view follows again after a failed subscribe, at most every retry period',
    async () => {
      vi.useFakeTimers({ toFake: ['performance'] });
      const { db } = fakeZone(1, 10);
      let calls = 0;
      const follower = {
        follow: async (): Promise<Unsubscribe> => {
          calls += 1;
          if (calls === 1) throw new Error('coordination down');
          return async () => undefined;
        },
      } as unknown as FeedFollower;
      const views = new ZoneViews(db, undefined, follower);
      const view = await views.view('event', 'seats');
      expect(view.followed).toBe(false);
      await views.view('event', 'seats');
      expect(calls).toBe(1);
      vi.advanceTimersByTime(5_000);
      await views.view('event', 'seats');
      await Promise.resolve();
      expect(calls).toBe(2);
      expect(view.followed).toBe(true);
      await views.close();
    });

  it('a new view\'s first pick waits for a slow subscribe only briefly', async () => {
    vi.useFakeTimers({ toFake: ['performance', 'setTimeout', 'clearTimeout'] });
    const { db, feed } = fakeZone(1, 10);
    let subscribed = (_unsubscribe: Unsubscribe): void => undefined;
    const follower = {
      follow: (): Promise<Unsubscribe> => new Promise((resolve) => {
        subscribed = resolve;
      }),
    } as unknown as FeedFollower;
    const views = new ZoneViews(db, undefined, follower);
    const pending = views.view('event', 'seats');
    await vi.advanceTimersByTimeAsync(100);
    const view = await pending;
    expect(feed.reads).toBe(1);
    expect(view.freeSeats).toBe(10);
    // Read before the subscription was up: unfed, whatever the feed says meanwhile.
    expect(view.version).toBeUndefined();
    subscribed(async () => undefined);
    await Promise.resolve();
    expect(view.followed).toBe(true);
    view.applyFeed([row(1, 'held', [1])]);
    expect(view.version).toBeUndefined();
    // Its next read (the unfed period) makes it fed.
    vi.advanceTimersByTime(1_000);
    await views.view('event', 'seats');
    await view.fresh(0);
    expect(view.version).toBe(0);
    await views.close();
  });
});
