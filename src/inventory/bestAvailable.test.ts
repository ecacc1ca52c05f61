import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  freeRuns, leavesOrphan, pickBestAvailable, pickFromBestRows, type Pick, type PickRow,
} from './bestAvailable.js';

/** A zone: 1-3 sections of 1-6 rows of 1-14 seats, each seat free or not. */
const zone = fc
  .array(
    fc.array(
      fc.integer({ min: 1, max: 14 }).chain((seatCount) =>
        fc.array(fc.boolean(), { minLength: seatCount, maxLength: seatCount })),
      { minLength: 1, maxLength: 6 },
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((sections) => sections.flatMap((rows, sectionPosition) =>
    rows.map((free, rowIndex): PickRow => ({
      sectionPosition, rowIndex, seatCount: free.length,
      available: free.flatMap((isFree, i) => (isFree ? [i + 1] : [])),
    }))));

const key = (s: { sectionPosition: number; rowIndex: number }): string =>
  `${s.sectionPosition}/${s.rowIndex}`;

/** Every adjacent block of `quantity` seats in the zone, with whether it leaves an orphan. */
function blocks(rows: readonly PickRow[], quantity: number) {
  return rows.flatMap((row) => freeRuns(row.available).flatMap((run) => {
    const out = [];
    for (let first = run[0]; first + quantity - 1 <= run[1]; first++) {
      out.push({ row, first, orphan: leavesOrphan(run, first, first + quantity - 1) });
    }
    return out;
  }));
}

function isAdjacent(pick: Pick): boolean {
  const rowKeys = new Set(pick.seats.map(key));
  const numbers = pick.seats.map((seat) => seat.seatNumber).sort((a, b) => a - b);
  return rowKeys.size === 1 && numbers.every((n, i) => i === 0 || n === (numbers[i - 1] ?? 0) + 1);
}

const params = { numRuns: 400, seed: Number(process.env.FC_SEED ?? Date.now() % 2 ** 31) };

describe('best available picker', () => {
  it('picks exactly N distinct free seats, or nothing when fewer are free', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 12 }), (rows, quantity) => {
      const pick = pickBestAvailable(rows, quantity);
      const free = rows.reduce((sum, row) => sum + row.available.length, 0);
      if (free < quantity) return pick === undefined;
      if (pick === undefined) return false;
      const freeSet = new Set(rows.flatMap((row) =>
        row.available.map((n) => `${key(row)}/${n}`)));
      const picked = pick.seats.map((seat) => `${key(seat)}/${seat.seatNumber}`);
      return picked.length === quantity
        && new Set(picked).size === quantity
        && picked.every((id) => freeSet.has(id))
        && pick.adjacent === isAdjacent(pick);
    }), params);
  });

  it('is adjacent whenever some row has N seats in a run', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), (rows, quantity) => {
      const pick = pickBestAvailable(rows, quantity);
      if (blocks(rows, quantity).length === 0) return true;
      return pick?.adjacent === true;
    }), params);
  });

  it('never leaves a single orphan seat when an orphan-free block exists', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), (rows, quantity) => {
      const pick = pickBestAvailable(rows, quantity);
      const all = blocks(rows, quantity);
      if (pick === undefined || !pick.adjacent) return true;
      const first = Math.min(...pick.seats.map((seat) => seat.seatNumber));
      const chosen = all.find((b) => key(b.row) === key(pick.seats[0] ?? b.row)
        && b.first === first);
      if (chosen === undefined) return false;
      return !chosen.orphan || all.every((b) => b.orphan);
    }), params);
  });

  it('takes the front-most row of the best section among orphan-free blocks', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), (rows, quantity) => {
      const pick = pickBestAvailable(rows, quantity);
      const clean = blocks(rows, quantity).filter((b) => !b.orphan);
      if (clean.length === 0 || pick === undefined) return true;
      const seat = pick.seats[0];
      if (seat === undefined) return false;
      return clean.every((b) => b.row.sectionPosition > seat.sectionPosition
        || (b.row.sectionPosition === seat.sectionPosition && b.row.rowIndex >= seat.rowIndex));
    }), params);
  });

  it('is deterministic', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), (rows, quantity) => {
      expect(pickBestAvailable(rows, quantity)).toEqual(pickBestAvailable([...rows], quantity));
    }), params);
  });

  it('prefers the centre of the front row and avoids orphans', () => {
    const row = (rowIndex: number, available: number[]): PickRow => ({
      sectionPosition: 0, rowIndex, seatCount: 10, available,
    });
    const all = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const empty = [row(0, all), row(1, all)];
    expect(pickBestAvailable(empty, 2)?.seats.map((s) => s.seatNumber)).toEqual([5, 6]);
    // Seats 1-3 free in front: taking 2-3 or 1-2 leaves one seat alone, so row 2 it is.
    const front = [row(0, [1, 2, 3]), row(1, [4, 5, 6, 7])];
    const pick = pickBestAvailable(front, 2);
    expect(pick?.seats.map((s) => [s.rowIndex, s.seatNumber])).toEqual([[1, 4], [1, 5]]);
    expect(pick?.adjacent).toBe(true);
    // No run of 3 anywhere: the closest split, in one row.
    const split = pickBestAvailable([row(0, [1, 2, 4, 9]), row(1, [1, 3, 5, 7])], 3);
    expect(split).toEqual({
      adjacent: false,
      seats: [1, 2, 4].map((seatNumber) => ({ sectionPosition: 0, rowIndex: 0, seatNumber })),
    });
  });
});

describe('best available under contention (spread)', () => {
  it('stays in the best tier: adjacent when possible, orphan-free when possible', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 64 }),
      fc.double({ min: 0, max: 0.999, noNaN: true }), (rows, quantity, spread, r) => {
        const pick = pickBestAvailable(rows, quantity, { spread, random: () => r });
        const all = blocks(rows, quantity);
        if (all.length === 0) return true;
        if (pick === undefined || !pick.adjacent) return false;
        const first = Math.min(...pick.seats.map((seat) => seat.seatNumber));
        const chosen = all.find((b) => key(b.row) === key(pick.seats[0] ?? b.row)
          && b.first === first);
        return chosen !== undefined && (!chosen.orphan || all.every((b) => b.orphan));
      }), params);
  });
});

describe('best available under contention: the candidates', () => {
  // Ranking as the picker ranks: orphan-free first, then row order, centre, seat number.
  const rank = (b: ReturnType<typeof blocks>[number], quantity: number): number[] => [
    Number(b.orphan), b.row.sectionPosition, b.row.rowIndex,
    Math.abs(b.first + (quantity - 1) / 2 - (b.row.seatCount + 1) / 2), b.first];
  const less = (a: number[], b: number[]): number =>
    a.reduce((order, x, i) => order || x - (b[i] as number), 0);

  it('without a spread, is the single best block of every block listed and ranked', () => {
    // The picker stops reading rows once it holds an orphan-free block: the listing does not.
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), (rows, quantity) => {
      const all = blocks(rows, quantity)
        .sort((a, b) => less(rank(a, quantity), rank(b, quantity)));
      const pick = pickBestAvailable(rows, quantity);
      const best = all[0];
      if (best === undefined) return pick === undefined || !pick.adjacent;
      return pick !== undefined && pick.adjacent && key(pick.seats[0] ?? best.row) === key(best.row)
        && Math.min(...pick.seats.map((seat) => seat.seatNumber)) === best.first;
    }), params);
  });

  it('are exactly the `spread` best blocks of the best tier', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 64 }),
      (rows, quantity, spread) => {
        const all = blocks(rows, quantity)
          .sort((a, b) => less(rank(a, quantity), rank(b, quantity)));
        if (all.length === 0) return true;
        const tier = all.filter((b) => b.orphan === (all[0] as (typeof all)[number]).orphan);
        const expected = new Set(tier.slice(0, spread).map((b) => `${key(b.row)}/${b.first}`));
        const seen = new Set<string>();
        for (let i = 0; i < Math.min(spread, tier.length) * 4; i++) {
          const pick = pickBestAvailable(rows, quantity,
            { spread, random: () => (i + 0.5) / (Math.min(spread, tier.length) * 4) });
          const first = Math.min(...(pick?.seats ?? []).map((seat) => seat.seatNumber));
          seen.add(`${key(pick?.seats[0] ?? { sectionPosition: -1, rowIndex: -1 })}/${first}`);
        }
        return seen.size === expected.size && [...seen].every((id) => expected.has(id));
      }), params);
  });
});

describe('picking from the best rows first', () => {
  /** The first `limit` rows in row order having at least `quantity` free seats. */
  const bestRows = (rows: readonly PickRow[], quantity: number, limit: number): PickRow[] =>
    [...rows]
      .sort((a, b) => a.sectionPosition - b.sectionPosition || a.rowIndex - b.rowIndex)
      .filter((row) => row.available.length >= quantity)
      .slice(0, limit);

  it('when it answers, answers exactly what the whole zone would', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }),
      (rows, quantity, limit) => {
        const prefix = bestRows(rows, quantity, limit);
        const complete = prefix.length < limit
          || bestRows(rows, quantity, limit + 1).length === prefix.length;
        const partial = pickFromBestRows(prefix, quantity, complete);
        return partial === undefined
          || JSON.stringify(partial) === JSON.stringify(pickBestAvailable(rows, quantity));
      }), params);
  });

  it('answers whenever the whole zone has an adjacent block and every fuller row is read',
    () => {
      fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), (rows, quantity) => {
        const all = pickBestAvailable(rows, quantity);
        const partial = pickFromBestRows(bestRows(rows, quantity, 1_000), quantity, true);
        return all?.adjacent === true
          ? JSON.stringify(partial) === JSON.stringify(all) : partial === undefined;
      }), params);
    });

  it('answers from a prefix whenever it holds a block that leaves no orphan', () => {
    fc.assert(fc.property(zone, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }),
      (rows, quantity, limit) => {
        const prefix = bestRows(rows, quantity, limit);
        const clean = blocks(prefix, quantity).some((block) => !block.orphan);
        return !clean || pickFromBestRows(prefix, quantity, false) !== undefined;
      }), params);
  });
});
