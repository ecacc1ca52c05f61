/**
 * The pre-queue shuffle: deterministic per seed, and uniform over permutations.
 */
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  drawKey, drawOrder, hmacPads, keyedOrder, SeededRandom, seededShuffle,
} from './shuffle.js';

/** Upper-tail critical value of χ² with 23 degrees of freedom at p = 0.001. */
const chiSquare23AtP001 = 49.728;

describe('seeded shuffle', () => {
  it('replays bit for bit from its seed, and another seed gives another order', () => {
    const items = Array.from({ length: 50 }, (_, i) => i);
    expect(seededShuffle(items, 'seed-a')).toEqual(seededShuffle(items, 'seed-a'));
    expect(seededShuffle(items, 'seed-a')).not.toEqual(seededShuffle(items, 'seed-b'));
    expect([...seededShuffle(items, 'seed-a')].sort((a, b) => a - b)).toEqual(items);
  });

  it('draws from the sorted ids, so the input order cannot steer the result', () => {
    const ids = ['c', 'a', 'd', 'b'];
    expect(drawOrder(ids, 's1')).toEqual(drawOrder(['b', 'd', 'a', 'c'], 's1'));
  });

  it('below(n) stays in range and rejects impossible bounds', () => {
    const random = new SeededRandom('range');
    for (let i = 0; i < 1_000; i += 1) {
      const value = random.below(7);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(7);
    }
    expect(() => random.below(0)).toThrow(/below/);
  });

  it('is uniform over all 24 orders of 4 entries (χ² over 2,400 seeded draws)', () => {
    const counts = new Map<string, number>();
    const draws = 2_400;
    for (let seed = 0; seed < draws; seed += 1) {
      const order = seededShuffle(['a', 'b', 'c', 'd'], `chi-square-${seed}`).join('');
      counts.set(order, (counts.get(order) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    const expected = draws / 24;
    let chiSquare = 0;
    for (const observed of counts.values()) chiSquare += (observed - expected) ** 2 / expected;
    // Deterministic seeds: this either always passes or always fails; p > 0.001 required.
    expect(chiSquare).toBeLessThan(chiSquare23AtP001);
  });

  it('puts each entry in each place equally often (position bias check, 10 entries)', () => {
    const size = 10;
    const draws = 5_000;
    const atPosition = Array.from({ length: size }, () => new Array<number>(size).fill(0));
    for (let seed = 0; seed < draws; seed += 1) {
      seededShuffle([...Array(size).keys()], `pos-${seed}`).forEach((item, place) => {
        const row = atPosition[item] as number[];
        row[place] = (row[place] ?? 0) + 1;
      });
    }
    const expected = draws / size;
    // Rows and columns both sum to fixed totals: (10 − 1)² = 81 degrees of freedom, whose
    // critical value at p = 0.001 is about 126.1 (Wilson–Hilferty).
    let chiSquare = 0;
    for (const row of atPosition) {
      for (const observed of row) chiSquare += (observed - expected) ** 2 / expected;
    }
    expect(chiSquare).toBeLessThan(126.1);
  });
});

describe('keyed draw order (HMAC-SHA256 of the seed)', () => {
  const ids = ['a', 'b', 'c', 'd'];

  it('replays from its seed, and does not depend on the input order', () => {
    expect(keyedOrder(ids, 'ab12')).toEqual(keyedOrder([...ids].reverse(), 'ab12'));
    expect(new Set(keyedOrder(ids, 'ab12'))).toEqual(new Set(ids));
  });

  it('matches HMAC computed from the pads, as PostgreSQL computes it', () => {
    const seed = 'f'.repeat(64);
    const { inner, outer } = hmacPads(seed);
    const innerHash = createHash('sha256').update(inner).update('some-id').digest();
    const hmac = createHash('sha256').update(outer).update(innerHash).digest();
    expect(hmac).toEqual(drawKey(seed, 'some-id'));
  });

  it('is uniform over all 24 orders of 4 entries (χ² over 2,400 seeded draws)', () => {
    const counts = new Map<string, number>();
    const draws = 2_400;
    for (let seed = 0; seed < draws; seed += 1) {
      const order = keyedOrder(ids, `chi-square-${seed}`).join('');
      counts.set(order, (counts.get(order) ?? 0) + 1);
    }
    expect(counts.size).toBe(24);
    const expected = draws / 24;
    let chiSquare = 0;
    for (const observed of counts.values()) chiSquare += (observed - expected) ** 2 / expected;
    expect(chiSquare).toBeLessThan(chiSquare23AtP001);
  });

  it('puts each entry in each place equally often (position bias check, 10 entries)', () => {
    const size = 10;
    const draws = 5_000;
    const items = [...Array(size).keys()].map(String);
    const atPosition = Array.from({ length: size }, () => new Array<number>(size).fill(0));
    for (let seed = 0; seed < draws; seed += 1) {
      keyedOrder(items, `pos-${seed}`).forEach((item, place) => {
        const row = atPosition[Number(item)] as number[];
        row[place] = (row[place] ?? 0) + 1;
      });
    }
    const expected = draws / size;
    let chiSquare = 0;
    for (const row of atPosition) {
      for (const observed of row) chiSquare += (observed - expected) ** 2 / expected;
    }
    expect(chiSquare).toBeLessThan(126.1);
  });
});
