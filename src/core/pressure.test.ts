/**
 * The event-loop pressure signal (pressure.ts) against a loop the test really blocks: it
 * turns overloaded once the loop runs late, and stopping it clears the signal. Waits on the
 * condition, not on time: a busier machine only makes the loop later, so the signal comes
 * sooner; the deadline only turns a signal that never comes into a clear failure. Whether
 * an idle loop reads as not overloaded depends on the machine, so it is not asserted here
 * (the shedding tests drive the signal through a seam instead).
 */
import { describe, expect, it } from 'vitest';
import { EventLoopPressure, neverOverloaded } from './pressure.js';

/** Blocks the event loop for `ms` (the stall the signal must see). */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* busy on purpose */ }
}

describe('EventLoopPressure', () => {
  it('says overloaded once the loop runs later than the bound, and not after stop', async () => {
    const pressure = new EventLoopPressure({ delayMs: 5, windowMs: 100 });
    pressure.start();
    try {
      const deadline = Date.now() + 20_000;
      while (!pressure.overloaded()) {
        if (Date.now() > deadline) throw new Error('a blocked loop never read as overloaded');
        block(50);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(pressure.lastDelayMs).toBeGreaterThan(5);
    } finally {
      pressure.stop();
    }
    expect(pressure.overloaded()).toBe(false);
  });

  it('refuses bounds that are not positive', () => {
    expect(() => new EventLoopPressure({ delayMs: 0, windowMs: 100 })).toThrow();
    expect(() => new EventLoopPressure({ delayMs: 20, windowMs: 0 })).toThrow();
  });

  it('has a signal for shedding off that never says overloaded', () => {
    expect(neverOverloaded.overloaded()).toBe(false);
  });
});
