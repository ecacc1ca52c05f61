import { describe, expect, it } from 'vitest';
import { applyFeedMessage, type LiveAvailability } from './useLiveAvailability';

const zone = (key: string, sold: number) =>
  ({ key, capacity: 10, available: 10 - sold, held: 0, sold });
const start: LiveAvailability = { connected: false, version: 0, stepFrom: 0, countsVersion: 0,
  zones: [],
  updatedAtMs: undefined };

describe('live availability', () => {
  it('starts from a snapshot and applies later versions in order', () => {
    const snap = applyFeedMessage(start, 'snapshot', { version: 5,
      zones: [zone('a', 0), zone('b', 0)] }, 1);
    if (snap === 'gap') throw new Error('gap');
    expect(snap.connected).toBe(true);
    const next = applyFeedMessage(snap, 'availability', { version: 7, prevVersion: 5,
      zones: [zone('b', 3)] }, 2);
    if (next === 'gap') throw new Error('gap');
    expect(next.zones.map((z) => z.sold)).toEqual([0, 3]);
    expect(next.version).toBe(7);
    // A duplicate or older message changes nothing; a seats delta only moves the version.
    expect(applyFeedMessage(next, 'availability', { version: 6, prevVersion: 5,
      zones: [zone('b', 9)] }, 3)).toBe(next);
    const seats = applyFeedMessage(next, 'seats', { version: 8, prevVersion: 7 }, 4);
    expect(seats !== 'gap' && seats.version).toBe(8);
  });

  it('applies the counts of a step after its seats message, once', () => {
    const snap = applyFeedMessage(start, 'snapshot', { version: 5, zones: [zone('a', 0)] }, 1);
    if (snap === 'gap') throw new Error('gap');
    const seats = applyFeedMessage(snap, 'seats', { version: 6, prevVersion: 5 }, 2);
    if (seats === 'gap') throw new Error('gap');
    const counts = applyFeedMessage(seats, 'availability', { version: 6, prevVersion: 5,
      zones: [zone('a', 2)] }, 3);
    if (counts === 'gap') throw new Error('gap');
    expect(counts.zones[0]?.sold).toBe(2);
    // The same availability again (a duplicate) is ignored, as is a seats-only step's echo.
    expect(applyFeedMessage(counts, 'availability', { version: 6, prevVersion: 5,
      zones: [zone('a', 9)] }, 4)).toBe(counts);
    // A step without count changes, then the next step's counts: no gap.
    const quiet = applyFeedMessage(counts, 'seats', { version: 7, prevVersion: 6 }, 5);
    if (quiet === 'gap') throw new Error('gap');
    const later = applyFeedMessage(quiet, 'availability', { version: 8, prevVersion: 7,
      zones: [zone('a', 3)] }, 6);
    expect(later !== 'gap' && later.zones[0]?.sold).toBe(3);
  });

  it('asks for a fresh snapshot on a gap, and ignores deltas before the first snapshot', () => {
    const snap = applyFeedMessage(start, 'snapshot', { version: 5, zones: [zone('a', 0)] }, 1);
    if (snap === 'gap') throw new Error('gap');
    expect(applyFeedMessage(snap, 'availability', { version: 9, prevVersion: 8,
      zones: [zone('a', 1)] }, 2)).toBe('gap');
    expect(applyFeedMessage(start, 'availability', { version: 9, prevVersion: 8,
      zones: [zone('a', 1)] }, 2)).toBe(start);
  });
});
