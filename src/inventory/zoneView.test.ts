/**
 * The zone view's bookkeeping on its own, over a stand-in database whose committed state
 * the test sets: reservations, the batch's answers, reads that land while picks are in
 * flight, and live-feed rows applied on top of a read. (Races against real batches and a
 * real feed on both backends: holds/staleViews.http.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { FeedRow } from '../outbox/feed.js';
import type { Queryable } from '../storage/index.js';
import { pickSpread } from '../holds/holds.js';
import { ZoneView } from './zoneView.js';

/** One section of `rows` rows of `seats` seats; ticket numbers in layout order from 1. */
function fakeZone(rows: number, seats: number): { db: Queryable; taken: Set<number>;
  feed: { version: number; reads: number; gate?: Promise<void> } } {
  const taken = new Set<number>();
  const feed: { version: number; reads: number; gate?: Promise<void> } = { version: 0, reads: 0 };
  const db = {
    query: async () => {
      feed.reads += 1;
      // The snapshot is taken when the read starts; the gate holds its answer back.
      const version = feed.version;
      const result = Array.from({ length: rows }, (_, r) => {
        const first = r * seats + 1;
        const available = Array.from({ length: seats }, (_, i) => i + 1)
          .filter((n) => !taken.has(first + n - 1));
        return { section_position: 0, row_index: r, seat_count: seats, first_ticket_no: first,
          first_seat: 1, available: available.length > 0 ? available : null,
          feed_version: String(version) };
      });
      await feed.gate;
      return { rows: result, rowCount: rows };
    },
    exec: async () => undefined,
  } as unknown as Queryable;
  return { db, taken, feed };
}

async function viewOf(rows: number, seats: number): Promise<{
  view: ZoneView; taken: Set<number>; refused: number[];
}> {
  const { db, taken } = fakeZone(rows, seats);
  const refused: number[] = [];
  const view = new ZoneView(db, 'event', 'seats',
    { refreshMs: Infinity, refused: (_e, _z, tickets) => refused.push(...tickets) });
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
    const { view } = await viewOf(1, 4);
    const pick = view.plan(2, 1);
    if (pick === undefined) throw new Error('no pick');
    // The read's snapshot predates the grant's commit: it still shows the seats free.
    const read = view.fresh(view.readsStarted);
    view.settle(pick, { granted: true });
    await read;
    expect(view.freeSeats).toBe(2);
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
  view: ZoneView; taken: Set<number>; feed: { version: number; reads: number;
    gate?: Promise<void> };
}> {
  const { db, taken, feed } = fakeZone(rows, seats);
  feed.version = version;
  const view = new ZoneView(db, 'event', 'seats', { refreshMs: Infinity });
  view.follow();
  await view.ensureFresh();
  return { view, taken, feed };
}

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
});
