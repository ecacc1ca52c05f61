/**
 * The zone view's bookkeeping on its own, over a stand-in database whose committed state
 * the test sets: reservations, the batch's answers, and reads that land while picks are in
 * flight. (Races against real batches on both backends: holds/staleViews.http.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../storage/index.js';
import { pickSpread } from '../holds/holds.js';
import { ZoneView } from './zoneView.js';

/** One section of `rows` rows of `seats` seats; ticket numbers in layout order from 1. */
function fakeZone(rows: number, seats: number): { db: Queryable; taken: Set<number> } {
  const taken = new Set<number>();
  const db = {
    query: async () => ({
      rows: Array.from({ length: rows }, (_, r) => {
        const first = r * seats + 1;
        const available = Array.from({ length: seats }, (_, i) => i + 1)
          .filter((n) => !taken.has(first + n - 1));
        return { section_position: 0, row_index: r, seat_count: seats, first_ticket_no: first,
          first_seat: 1, available: available.length > 0 ? available : null };
      }),
      rowCount: rows,
    }),
    exec: async () => undefined,
  } as unknown as Queryable;
  return { db, taken };
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
