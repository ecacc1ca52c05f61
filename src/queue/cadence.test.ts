import { describe, expect, it } from 'vitest';

import { nextRoundDelayMs } from './duty.js';

describe('the admission cadence', () => {
  it('starts rounds every period, however long the last one took', () => {
    // A 1 s period whose rounds take 700 ms on a busy node: the next starts 300 ms after
    // the last one ended, so rounds start 1 s apart (waiting a whole period after each
    // round would stretch the period to 1.7 s, and every ETA reckoned in periods with it).
    expect(nextRoundDelayMs(1_000, 700)).toBe(300);
    expect(nextRoundDelayMs(1_000, 0)).toBe(1_000);
    const starts = [0];
    for (const roundMs of [700, 650, 20, 850, 400]) {
      const last = starts.at(-1) as number;
      starts.push(last + roundMs + nextRoundDelayMs(1_000, roundMs));
    }
    expect(starts).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000]);
  });

  it('leaves the node a tenth of a period after a round that overran it', () => {
    expect(nextRoundDelayMs(1_000, 1_000)).toBe(100);
    expect(nextRoundDelayMs(1_000, 4_000)).toBe(100);
    expect(nextRoundDelayMs(50, 400)).toBe(5);
    // A clock step backwards reads as a round of no length, not a longer wait.
    expect(nextRoundDelayMs(1_000, -30)).toBe(1_000);
  });
});
