/**
 * The live-shopper cap of a paced line (storePace.ts `storeLiveCap`) and the tick's rate and
 * slot budget built on it (admission.ts `planBudget`), pure: time is the `dtMs` passed in.
 */
import { describe, expect, it } from 'vitest';

import { limits } from '../config/limits.js';
import { planBudget, type BudgetInput } from './admission.js';
import {
  nextStoreFactor, storeLiveCap, type StorePaceKnobs, type StoreSignal,
} from './storePace.js';

const knobs: StorePaceKnobs = { targetWaitMs: 1_000, minFactor: 0.1, recoverPerSecond: 0.1 };
const busy: StoreSignal = { waitMs: 4_000, refusing: false };

/** The rehearsal's line: 250 admissions a second, 9,000 slots, one tick a second. */
const line: BudgetInput = {
  credit: 250, admitPerMinute: 15_000, lastMinute: 0, maxActive: 9_000, live: 0, factor: 1,
  tickMs: 1_000,
};

describe('the live-shopper cap of a paced line', () => {
  it('is maxActiveShoppers when not paced, and scales with the factor', () => {
    expect(storeLiveCap(9_000, 1, 250)).toBe(9_000);
    expect(storeLiveCap(9_000, 0.3, 250)).toBe(2_700);
    expect(storeLiveCap(9_000, 0.1, 250)).toBe(900);
    expect(storeLiveCap(10, 0.25, 1)).toBe(3);
  });

  it('never falls below its floor (nor 1) and never rises above maxActiveShoppers', () => {
    expect(storeLiveCap(9_000, 0.01, 250)).toBe(250);
    expect(storeLiveCap(9_000, 0, 0)).toBe(1);
    expect(storeLiveCap(100, 0.1, 250)).toBe(100);
    expect(storeLiveCap(9_000, 7, 250)).toBe(9_000);
    expect(storeLiveCap(9_000, Number.NaN, 250)).toBe(9_000);
    expect(storeLiveCap(0, 0.5, 250)).toBe(0);
  });
});

describe('the tick\'s slot budget follows the store', () => {
  it('falls with the factor while the store is busy and recovers with it once healthy',
    () => {
      let factor = 1;
      const caps: number[] = [];
      for (let second = 0; second < 10; second++) {
        factor = nextStoreFactor(factor, busy, 1_000, knobs);
        caps.push(planBudget({ ...line, factor }).liveCap);
      }
      for (let second = 0; second < 10; second++) {
        factor = nextStoreFactor(factor, null, 1_000, knobs);
        caps.push(planBudget({ ...line, factor }).liveCap);
      }
      const falling = caps.slice(0, 10);
      const rising = caps.slice(10);
      expect(falling[0]).toBe(4_500);
      expect(falling.every((cap, i) => i === 0 || cap <= (falling[i - 1] ?? 0))).toBe(true);
      expect(falling.at(-1)).toBe(900);
      expect(rising.every((cap, i) => i === 0 || cap >= (rising[i - 1] ?? 0))).toBe(true);
      expect(rising.at(-1)).toBe(9_000);
    });

  it('admits nobody into a full store paced below its live count, and again once the cap '
    + 'clears the live shoppers', () => {
    const paced = planBudget({ ...line, live: 6_000, factor: 0.5 });
    expect(paced).toMatchObject({ liveCap: 4_500, bySlots: -1_500 });
    expect(paced.budget).toBeLessThanOrEqual(0);
    // Rate alone (the cap as it was, maxActiveShoppers): the same tick would admit.
    expect(planBudget({ ...line, live: 6_000, factor: 1 }).budget).toBe(250);
    const cleared = planBudget({ ...line, live: 4_400, factor: 0.5 });
    expect(cleared).toMatchObject({ bySlots: 100, budget: 100 });
  });

  it('the rate terms are unchanged: credit, the 60 s window and the per-tick cap still bind',
    () => {
      expect(planBudget({ ...line, credit: 24.999_999_999_9, factor: 0.1 }).budget).toBe(25);
      expect(planBudget({ ...line, lastMinute: 14_990 }).budget).toBe(10);
      const huge = { ...line, admitPerMinute: 1_000_000, credit: 1e6, maxActive: 1e6 };
      expect(planBudget(huge).budget).toBe(limits.queueAdmitPerTickMax);
    });

  it('never starves the line: with no live shoppers a tick with credit admits, at any factor '
    + 'and any size of store', () => {
    for (const factor of [0, 0.01, 0.1, 0.5, 1]) {
      for (const maxActive of [1, 3, 100, 9_000]) {
        for (const admitPerMinute of [1, 60, 600, 15_000]) {
          const plan = planBudget({
            ...line, credit: 1, admitPerMinute, maxActive, live: 0, factor,
          });
          expect(plan.budget, `factor ${factor}, ${maxActive} slots, ${admitPerMinute}/min`)
            .toBeGreaterThanOrEqual(1);
        }
      }
    }
  });

  it('a store that stays busy with nobody inside still moves the line at the paced rate',
    () => {
      // The worst case: every admitted fan is gone by the next tick, yet the store keeps
      // reporting a long wait, so the factor sits at its floor for the whole minute.
      let factor = 1;
      let credit = 0;
      let admitted = 0;
      for (let second = 0; second < 60; second++) {
        factor = nextStoreFactor(factor, { waitMs: 9_000, refusing: true }, 1_000, knobs);
        credit += (line.admitPerMinute / 60) * factor;
        const { budget } = planBudget({ ...line, credit, live: 0, factor });
        const now = Math.max(0, budget);
        credit -= now;
        admitted += now;
        expect(now).toBeGreaterThan(0);
      }
      // At least the floor's 25 a second, after the first seconds' fall.
      expect(admitted).toBeGreaterThanOrEqual(25 * 60);
    });
});
