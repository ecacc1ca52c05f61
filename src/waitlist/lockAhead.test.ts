/**
 * Which fans a return locks before its first offer (`lockAhead`, src/waitlist/offers.ts):
 * those first fit reaches on the returned tickets' counts, plus at most
 * `limits.waitlistOfferLocksAhead` fans it passes over, and never a lock per waiting fan.
 * The database side (the locks taken, the deadlock they prevent) is in offerOrder.test.ts.
 */
import { describe, expect, it } from 'vitest';

import { limits } from '../config/limits.js';
import { lockAhead, type WaitingRow } from './offers.js';

const zones = ['front', 'back', 'floor'];

/** A waiting fan: `zone` null takes any zone; seq by position in the line. */
function fan(i: number, quantity: number, zone: string | null = null): WaitingRow {
  return { customer_id: `c${i}`, seq: String(i), zone_key: zone, quantity };
}

const ids = (rows: readonly WaitingRow[]): string[] => rows.map((row) => row.customer_id);

/** Returned ticket numbers per zone: `n` tickets of each zone given. */
function pool(counts: Record<string, number>): Map<string, number[]> {
  return new Map(Object.entries(counts).map(([zone, n]) =>
    [zone, Array.from({ length: n }, (_, i) => i + 1)]));
}

describe('lockAhead', () => {
  it('locks the fans first fit reaches, earliest first, in their zones', () => {
    const line = [fan(1, 2, 'front'), fan(2, 1, 'floor'), fan(3, 2), fan(4, 1, 'front')];
    // front 3: fan 1 (2), then fan 4 (1); floor 1: fan 2; fan 3 (2 of any zone) finds one
    // ticket left anywhere and is locked as one of the spares.
    const ahead = lockAhead(line, pool({ front: 3, floor: 1 }), zones);
    expect(ids(ahead)).toEqual(['c1', 'c2', 'c3', 'c4']);
  });

  it('serves a fan of any zone from the first zone, in the event\'s order, that fits', () => {
    const spares = limits.waitlistOfferLocksAhead;
    // Fan 1 (any zone) takes front's two; fans of floor (none of floor came back) take
    // every spare; back's two then reach fan 2, and fan 3 of front finds front empty and no
    // spare left. Had fan 1 taken back's, fan 2 would be left out and fan 3 reached.
    const line = [fan(1, 2), ...Array.from({ length: spares }, (_, i) => fan(100 + i, 1,
      'floor')), fan(2, 2, 'back'), fan(3, 2, 'front')];
    const ahead = lockAhead(line, pool({ front: 2, back: 2 }), zones);
    expect(ids(ahead)).toContain('c1');
    expect(ids(ahead)).toContain('c2');
    expect(ids(ahead)).not.toContain('c3');
    expect(ahead).toHaveLength(2 + spares);
  });

  it('bounds the fans passed over by the spares allowed, however long the line', () => {
    const spares = limits.waitlistOfferLocksAhead;
    // Three returned tickets: a fan of two, then a long run of fans of two (they fit the
    // return, not what is left of it), then fans of one.
    const line = [
      fan(0, 2), ...Array.from({ length: spares + 50 }, (_, i) => fan(100 + i, 2)),
      fan(1_000, 1), fan(1_001, 1),
    ];
    const ahead = lockAhead(line, pool({ floor: 3 }), zones);
    expect(ids(ahead)).toContain('c0');
    expect(ids(ahead)).toContain('c1000');
    expect(ids(ahead)).not.toContain('c1001');
    expect(ahead).toHaveLength(2 + spares);
  });

  it('takes the spares after the last ticket, never the rest of the line', () => {
    const spares = limits.waitlistOfferLocksAhead;
    // Fans of one, far more than the tickets: the end of a sale, when everyone fits.
    const line = Array.from({ length: 10_000 }, (_, i) => fan(i, 1));
    const ahead = lockAhead(line, pool({ front: 3, floor: 2 }), zones);
    expect(ids(ahead).slice(0, 5)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(ahead).toHaveLength(5 + spares);
  });
});
