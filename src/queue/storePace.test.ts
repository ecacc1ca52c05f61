/**
 * The store pacing rule (storePace.ts), pure: time is the `dtMs` passed in, no clock read.
 */
import { describe, expect, it } from 'vitest';

import { nextStoreFactor, type StorePaceKnobs, type StoreSignal } from './storePace.js';

const knobs: StorePaceKnobs = { targetWaitMs: 1_000, minFactor: 0.1, recoverPerSecond: 0.1 };
const busy: StoreSignal = { waitMs: 4_000, refusing: false };
const refusing: StoreSignal = { waitMs: 9_000, refusing: true };

/** The factor after `ticks` ticks of `tickMs` with the same signal, from `start`. */
function run(start: number, signal: StoreSignal | null, ticks: number, tickMs = 1_000): number[] {
  const factors: number[] = [];
  let factor = start;
  for (let i = 0; i < ticks; i++) {
    factor = nextStoreFactor(factor, signal, tickMs, knobs);
    factors.push(factor);
  }
  return factors;
}

describe('the store pacing rule', () => {
  it('stays at the full rate while no store reports (a missing signal is healthy)', () => {
    expect(run(1, null, 5)).toEqual([1, 1, 1, 1, 1]);
  });

  it('stays at the full rate while the reported wait is at or under the target', () => {
    expect(run(1, { waitMs: 1_000, refusing: false }, 3)).toEqual([1, 1, 1]);
  });

  it('slows by the ratio of target to wait per second while the store is over target', () => {
    const factors = run(1, busy, 3);
    expect(factors[0]).toBeCloseTo(0.5); // target / wait = 0.25, clamped to half a second
    expect(factors[1]).toBeCloseTo(0.25);
    // Just over the target: a gentle slow-down (at most 0.95 per second).
    expect(nextStoreFactor(1, { waitMs: 1_010, refusing: false }, 1_000, knobs))
      .toBeCloseTo(0.95);
  });

  it('halves per second while the store refuses holds, whatever the wait', () => {
    expect(nextStoreFactor(1, { waitMs: 0, refusing: true }, 1_000, knobs)).toBeCloseTo(0.5);
    expect(nextStoreFactor(0.8, refusing, 2_000, knobs)).toBeCloseTo(0.2);
  });

  it('never goes below the floor, and never above the full rate', () => {
    expect(Math.min(...run(1, refusing, 30))).toBeCloseTo(0.1);
    expect(Math.max(...run(0.1, null, 30))).toBe(1);
    expect(nextStoreFactor(7, null, 1_000, knobs)).toBe(1);
    expect(nextStoreFactor(-1, null, 0, knobs)).toBeCloseTo(0.1);
    expect(nextStoreFactor(Number.NaN, refusing, 1_000, knobs)).toBeCloseTo(0.5);
  });

  it('recovers linearly once healthy: from the floor to the full rate in nine seconds', () => {
    const factors = run(0.1, null, 10);
    expect(factors[0]).toBeCloseTo(0.2);
    expect(factors[4]).toBeCloseTo(0.6);
    expect(factors[8]).toBeCloseTo(1);
    expect(factors[9]).toBe(1);
  });

  it('moves by elapsed time, not by ticks: two half-second ticks make one second', () => {
    const halves = run(1, busy, 2, 500);
    expect(halves[1]).toBeCloseTo(nextStoreFactor(1, busy, 1_000, knobs));
    const up = run(0.1, null, 2, 500);
    expect(up[1]).toBeCloseTo(nextStoreFactor(0.1, null, 1_000, knobs));
  });

  it('a paused leader moves the factor by at most five seconds\' worth, and a tick with no '
    + 'time elapsed not at all', () => {
    expect(nextStoreFactor(0.1, null, 600_000, knobs)).toBeCloseTo(0.6);
    expect(nextStoreFactor(0.4, busy, 0, knobs)).toBeCloseTo(0.4);
    expect(nextStoreFactor(0.4, null, -5_000, knobs)).toBeCloseTo(0.4);
  });

  it('is off with a target of 0: always the full rate', () => {
    expect(nextStoreFactor(0.2, refusing, 1_000, { ...knobs, targetWaitMs: 0 })).toBe(1);
  });
});
