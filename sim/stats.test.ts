import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';
import { kendallTau, percentile } from './stats.js';

/** Kendall tau-b by definition, O(n²), to check the fast version against. */
function naiveTau(xs: number[], ys: number[]): number {
  let c = 0;
  let d = 0;
  let tx = 0;
  let ty = 0;
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      const a = Math.sign((xs[i] as number) - (xs[j] as number));
      const b = Math.sign((ys[i] as number) - (ys[j] as number));
      if (a === 0 && b === 0) continue;
      if (a === 0) tx++;
      else if (b === 0) ty++;
      else if (a === b) c++;
      else d++;
    }
  }
  const denominator = Math.sqrt((c + d + tx) * (c + d + ty));
  return denominator === 0 ? 1 : (c - d) / denominator;
}

describe('kendallTau', () => {
  it('is 1 for the same order and -1 for the reverse', () => {
    expect(kendallTau([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(kendallTau([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
  });

  it('matches the definition on random rankings with ties', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })),
        { minLength: 2, maxLength: 40 }),
      (pairs) => {
        const xs = pairs.map((p) => p[0]);
        const ys = pairs.map((p) => p[1]);
        expect(kendallTau(xs, ys)).toBeCloseTo(naiveTau(xs, ys), 9);
      },
    ), { seed: 42, numRuns: 300 });
  });
});

describe('percentile and rng', () => {
  it('takes the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
  });

  it('replays the same sequence for the same seed and skews zipf towards 0', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    expect(Array.from({ length: 5 }, () => a.next())).toEqual(Array.from({ length: 5 },
      () => b.next()));
    const rng = new Rng(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const index = rng.zipf(10);
      counts[index] = (counts[index] ?? 0) + 1;
    }
    expect(counts[0]).toBeGreaterThan(counts[9] as number);
  });
});
