import { describe, expect, it } from 'vitest';
import type { EndOfSale, Refusals } from './endsale.js';
import { endOfSaleLines } from './report.js';

const refusals: Refusals = { holdsOk: 10, insufficientInventory: 2, seatsTaken: 1,
  perSuccessfulHold: 0.3 };
const base: EndOfSale = { lastSaleSeconds: 100, lastResolvedSeconds: 112.5,
  lastSaleToLastResolvedSeconds: 12.5, unresolved: 0, toldSoldOut: 5, movedToWaitlist: 2,
  leftLine: 1, freed: null };

describe('the end-of-sale line', () => {
  it('gives the time from the last sale to the last fan once everyone is resolved', () => {
    const [line] = endOfSaleLines({ endOfSale: base, refusals });
    expect(line).toContain('last fan resolved 112.5 s: 12.5 s after the last sale');
    expect(line).toContain('0 unresolved');
  });

  it('says how many are still unresolved instead of a time it cannot know', () => {
    const [line] = endOfSaleLines({ endOfSale: { ...base, unresolved: 42,
      lastSaleToLastResolvedSeconds: null }, refusals });
    expect(line).toContain('42 still unresolved');
    expect(line).not.toContain('after the last sale');
    expect(line).not.toContain('–');
  });
});
