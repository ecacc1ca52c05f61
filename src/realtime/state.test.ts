/**
 * The in-memory seat states: counts stay exact (available + held + sold = capacity) under
 * any sequence of rows, duplicates are skipped, a hole is refused, and a 50,000-seat
 * snapshot is compact (a status string per row: far under 100 KB gzipped).
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { SectionInput } from '../catalog/schemas.js';
import type { SeatStates } from '../inventory/seatmap.js';
import type { FeedRow } from '../outbox/feed.js';
import { GapError, LiveEventState } from './state.js';

/** A venue of `sections` seated sections of rows x seats, plus one standing area. */
function states(sections: number, rows: number, seats: number, standing: number,
  fill: (i: number) => string = () => 'a'): SeatStates {
  const layout: SectionInput[] = [];
  for (let s = 0; s < sections; s++) {
    layout.push({ key: `S${s}`, name: `S${s}`, kind: 'seated',
      rows: Array.from({ length: rows }, (_, r) => ({ label: String(r + 1), seats })) });
  }
  layout.push({ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: standing });
  const total = sections * rows * seats + standing;
  return {
    layout,
    zones: [{ key: 'seats', sections: layout.slice(0, -1).map((s) => s.key) },
      { key: 'floor', sections: ['FLOOR'] }],
    states: Array.from({ length: total }, (_, i) => fill(i)).join(''),
    version: 7, cancelled: false,
  };
}

const effects = ['held', 'available', 'sold'] as const;

describe('live event state', () => {
  it('keeps every count exact under any sequence of rows', () => {
    fc.assert(fc.property(
      fc.array(fc.record({
        effect: fc.constantFrom(...effects),
        tickets: fc.uniqueArray(fc.integer({ min: 1, max: 2 * 3 * 4 + 5 }), { maxLength: 6 }),
      }), { maxLength: 40 }),
      (steps) => {
        const state = new LiveEventState(states(2, 3, 4, 5));
        const truth = Array.from({ length: state.size }, () => 'a');
        let version = 7;
        for (const step of steps) {
          version += 1;
          const row: FeedRow = { version, effect: step.effect,
            tickets: step.tickets.map((no) => [no, no <= 24 ? `seat-${no}` : null]) };
          const applied = state.apply([row]);
          expect(applied?.version).toBe(version);
          expect(applied?.prevVersion).toBe(version - 1);
          for (const no of step.tickets) truth[no - 1] = step.effect[0] as string;
        }
        const snapshot = state.snapshot();
        const counted = (status: string) => truth.filter((t) => t === status).length;
        const zones = snapshot.zones;
        const sum = (key: 'available' | 'held' | 'sold') =>
          zones.reduce((total, zone) => total + zone[key], 0);
        expect([sum('available'), sum('held'), sum('sold')])
          .toEqual([counted('a'), counted('h'), counted('s')]);
        for (const zone of zones) {
          expect(zone.available + zone.held + zone.sold).toBe(zone.capacity);
        }
        const seated = snapshot.sections.slice(0, 2)
          .flatMap((s) => s.rows?.map((r) => r.seats) ?? []).join('');
        expect(seated).toBe(truth.slice(0, 24).join(''));
      },
    ), { seed: 20261125, numRuns: 200 });
  });

  it('skips duplicates and refuses a hole, changing nothing past it', () => {
    const state = new LiveEventState(states(1, 1, 10, 0));
    expect(state.apply([{ version: 5, effect: 'held', tickets: [[1, 'S0-1-1']] }]))
      .toBeUndefined();
    const ok = state.apply([{ version: 8, effect: 'held', tickets: [[2, 'S0-1-2']] }]);
    expect(ok?.seats).toEqual({ version: 8, prevVersion: 7,
      changes: [{ seatId: 'S0-1-2', status: 'held' }] });
    expect(() => state.apply([{ version: 10, effect: 'sold', tickets: [[3, 'S0-1-3']] }]))
      .toThrow(GapError);
    expect(state.version).toBe(8);
    expect(state.snapshot().sections[0]?.rows?.[0]?.seats).toBe('ahaaaaaaaa');
  });

  it('an end row marks the feed over; rows of other kinds only move the version', () => {
    const state = new LiveEventState(states(1, 1, 4, 0));
    const applied = state.apply([{ version: 8, effect: 'none', tickets: [] },
      { version: 9, effect: 'end', tickets: [] }]);
    expect(applied).toMatchObject({ prevVersion: 7, version: 9, ended: true,
      seats: { changes: [] }, availability: undefined });
    expect(state.ended).toBe(true);
  });

  it('encodes a 50,000-seat map in well under 100 KB gzipped', () => {
    // 20 sections x 50 rows x 50 seats, a third held or sold in scattered runs.
    const mixed = states(20, 50, 50, 2_000, (i) => (i % 7 < 2 ? 's' : i % 11 < 2 ? 'h' : 'a'));
    const json = JSON.stringify(new LiveEventState(mixed).snapshot());
    const gzipped = gzipSync(json).length;
    expect(json.length).toBeLessThan(150_000);
    expect(gzipped).toBeLessThan(100_000);
  });
});
