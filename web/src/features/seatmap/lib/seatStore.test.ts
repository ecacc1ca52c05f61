/** The live store applies versioned messages exactly once and detects gaps. */
import { describe, expect, it } from 'vitest';
import { AVAILABLE, buildScene, HELD, SOLD, type SeatMapInput } from './scene';
import { SeatStore } from './seatStore';

function seatmap(version: number): SeatMapInput {
  const seats = (row: string, n: number) => Array.from({ length: n }, (_, i) => ({
    id: `A-${row}-${i + 1}`, number: i + 1, status: 'available',
  }));
  return {
    version,
    sections: [
      { key: 'A', name: 'A', kind: 'seated', zone: 'z', capacity: 6, available: 6,
        rows: [{ label: '1', seats: seats('1', 3) }, { label: '2', seats: seats('2', 3) }] },
      { key: 'F', name: 'Floor', kind: 'standing', zone: 'f', capacity: 10, available: 10, rows: [] },
    ],
  };
}

const zones = [
  { key: 'z', name: 'Seats', priceCents: 100, currency: 'EUR' },
  { key: 'f', name: 'Floor', priceCents: 50, currency: 'EUR' },
];

function store(version = 5): SeatStore {
  const map = seatmap(version);
  return new SeatStore(buildScene('e', map, zones), map);
}

describe('SeatStore', () => {
  it('applies a step that starts at its version, and ignores duplicates', () => {
    const s = store();
    expect(s.applySeats({ version: 6, prevVersion: 5, changes: [{ seatId: 'A-1-2', status: 'held' }] }))
      .toBe('applied');
    expect(s.statusOf('A-1-2')).toBe(HELD);
    expect(s.drainDirty()).toBe('all');
    expect(s.applySeats({ version: 6, prevVersion: 5, changes: [{ seatId: 'A-1-2', status: 'sold' }] }))
      .toBe('duplicate');
    expect(s.statusOf('A-1-2')).toBe(HELD);
    expect(s.applySeats({ version: 7, prevVersion: 6, changes: [{ seatId: 'A-1-2', status: 'sold' }] }))
      .toBe('applied');
    expect(s.statusOf('A-1-2')).toBe(SOLD);
    expect(s.drainDirty()).toEqual([s.scene.indexById.get('A-1-2')]);
  });

  it('reports a gap instead of applying a step from a later version', () => {
    const s = store();
    expect(s.applySeats({ version: 9, prevVersion: 8, changes: [{ seatId: 'A-1-1', status: 'sold' }] }))
      .toBe('gap');
    expect(s.statusOf('A-1-1')).toBe(AVAILABLE);
    expect(s.version).toBe(5);
  });

  it('takes availability of the same version as the seats step, and snapshots wholesale', () => {
    const s = store();
    s.applySeats({ version: 6, prevVersion: 5, changes: [] });
    expect(s.applyAvailability({
      version: 6, prevVersion: 5,
      zones: [{ key: 'f', capacity: 10, available: 7, held: 2, sold: 1 }],
      sections: [{ key: 'F', available: 7, held: 2, sold: 1 }],
    })).toBe('applied');
    expect(s.sectionCounts[1]).toMatchObject({ available: 7, held: 2, sold: 1 });
    expect(s.zoneCounts[1]).toMatchObject({ available: 7 });
    s.applySnapshot({
      version: 20, zones: [],
      sections: [{ key: 'A', capacity: 6, available: 4, held: 1, sold: 1,
        rows: [{ label: '1', seats: 'ahs' }, { label: '2', seats: 'aaa' }] }],
    });
    expect(s.version).toBe(20);
    expect([s.statusOf('A-1-1'), s.statusOf('A-1-2'), s.statusOf('A-1-3')])
      .toEqual([AVAILABLE, HELD, SOLD]);
  });
});
