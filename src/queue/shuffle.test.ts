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

/** χ² of how often each of the 24 orders of 4 entries comes out over `draws` seeds. */
function orderChiSquare(draws: number, order: (seed: number) => string[]): number {
  const counts = new Map<string, number>();
  for (let seed = 0; seed < draws; seed += 1) {
    const key = order(seed).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  expect(counts.size).toBe(24);
  const expected = draws / 24;
  let chiSquare = 0;
  for (const observed of counts.values()) chiSquare += (observed - expected) ** 2 / expected;
  return chiSquare;
}

/**
 * χ² of entry-by-place counts for `size` entries over `draws` seeds. Rows and columns both
 * sum to fixed totals: (size − 1)² degrees of freedom.
 */
function positionChiSquare(
  size: number, draws: number, order: (items: number[], seed: number) => number[],
): number {
  const atPosition = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  for (let seed = 0; seed < draws; seed += 1) {
    order([...Array(size).keys()], seed).forEach((item, place) => {
      const row = atPosition[item] as number[];
      row[place] = (row[place] ?? 0) + 1;
    });
  }
  const expected = draws / size;
  let chiSquare = 0;
  for (const row of atPosition) {
    for (const observed of row) chiSquare += (observed - expected) ** 2 / expected;
  }
  return chiSquare;
}

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
    const chiSquare = orderChiSquare(2_400,
      (seed) => seededShuffle(['a', 'b', 'c', 'd'], `chi-square-${seed}`));
    // Deterministic seeds: this either always passes or always fails; p > 0.001 required.
    expect(chiSquare).toBeLessThan(chiSquare23AtP001);
  });

  it('puts each entry in each place equally often (position bias check, 10 entries)', () => {
    const chiSquare = positionChiSquare(10, 5_000,
      (items, seed) => seededShuffle(items, `pos-${seed}`));
    // 81 degrees of freedom: critical value at p = 0.001 about 126.1 (Wilson–Hilferty).
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
    const chiSquare = orderChiSquare(2_400, (seed) => keyedOrder(ids, `chi-square-${seed}`));
    expect(chiSquare).toBeLessThan(chiSquare23AtP001);
  });

  it('puts each entry in each place equally often (position bias check, 10 entries)', () => {
    const chiSquare = positionChiSquare(10, 5_000,
      (items, seed) => keyedOrder(items.map(String), `pos-${seed}`).map(Number));
    expect(chiSquare).toBeLessThan(126.1);
  });
});
