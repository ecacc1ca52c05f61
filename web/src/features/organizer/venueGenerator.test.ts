import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VenueInput } from '@server/catalog/schemas';
import {
  sectionPoints, seatPositions, standingOutline, type Point,
} from '../../lib/venueGeometry';
import {
  defaultGeneratorInput, generateVenue, rowLabel, validateGeneratorInput, venueCapacity,
  type GeneratorInput,
} from './venueGenerator';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv({ discriminator: true, strict: false });
addFormats(ajv);
const acceptsVenue = ajv.compile(VenueInput);

const input = (over: Partial<GeneratorInput> = {}): GeneratorInput =>
  ({ ...defaultGeneratorInput, name: 'Arena', city: 'Lyon', ...over });

/** The smallest distance between seats of different sections (grid-bucketed). */
function closestAcrossSections(sections: Point[][]): number {
  const cells = new Map<string, { p: Point; s: number }[]>();
  let best = Number.POSITIVE_INFINITY;
  sections.forEach((points, s) => {
    for (const p of points) {
      const cx = Math.floor(p.x);
      const cy = Math.floor(p.y);
      for (let dx = -1; dx <= 1; dx += 1) {
        for (let dy = -1; dy <= 1; dy += 1) {
          for (const other of cells.get(`${cx + dx},${cy + dy}`) ?? []) {
            if (other.s !== s) best = Math.min(best, Math.hypot(p.x - other.p.x, p.y - other.p.y));
          }
        }
      }
      const key = `${cx},${cy}`;
      cells.set(key, [...(cells.get(key) ?? []), { p, s }]);
    }
  });
  return best;
}

describe('venue generator', () => {
  it('labels rows by number or like spreadsheet columns', () => {
    expect([0, 1, 25, 26, 27, 701, 702].map((i) => rowLabel(i, 'letters')))
      .toEqual(['A', 'B', 'Z', 'AA', 'AB', 'ZZ', 'AAA']);
    expect(rowLabel(9, 'numbers')).toBe('10');
  });

  it('builds a body the API schema accepts, with the capacity it announces', () => {
    const venue = generateVenue(input({ sections: 3, rowsPerSection: 4, seatsPerRow: 10,
      widenRows: false, standingAreas: 2, standingCapacity: 500 }));
    expect(acceptsVenue(venue), JSON.stringify(acceptsVenue.errors)).toBe(true);
    expect(venue.sections.map((s) => s.key)).toEqual(['GA1', 'GA2', '101', '102', '103']);
    expect(venueCapacity(venue)).toBe(3 * 4 * 10 + 2 * 500);
  });

  it('widens curved rows toward the back and keeps straight rows as typed', () => {
    const curved = generateVenue(input({ shape: 'curved', sections: 4, rowsPerSection: 20 }));
    const rows = curved.sections.find((s) => s.kind === 'seated');
    if (rows?.kind !== 'seated') throw new Error('no seated section');
    expect(rows.rows[0]?.seats).toBe(16);
    expect(rows.rows[19]?.seats).toBeGreaterThan(16);
    const straight = generateVenue(input({ shape: 'straight', rowsPerSection: 20 }));
    for (const section of straight.sections) {
      if (section.kind === 'seated') expect(section.rows.every((r) => r.seats === 16)).toBe(true);
    }
  });

  it('never puts seats of two sections on top of each other, nor inside standing areas',
    () => {
      fc.assert(fc.property(
        fc.record({
          shape: fc.constantFrom('curved' as const, 'straight' as const),
          sections: fc.integer({ min: 1, max: 14 }),
          rowsPerSection: fc.integer({ min: 1, max: 25 }),
          seatsPerRow: fc.integer({ min: 1, max: 40 }),
          widenRows: fc.boolean(),
          standingAreas: fc.integer({ min: 0, max: 3 }),
          standingCapacity: fc.integer({ min: 1, max: 3_000 }),
        }),
        (over) => {
          const venue = generateVenue(input(over));
          expect(acceptsVenue(venue)).toBe(true);
          const seated = venue.sections.flatMap((s) => s.kind === 'seated'
            ? [seatPositions(s.rows, s.layout).flat()] : []);
          expect(closestAcrossSections(seated)).toBeGreaterThanOrEqual(0.99);
          const areas = venue.sections.flatMap((s) => s.kind === 'standing'
            ? [standingOutline(s.capacity, s.layout)] : []);
          const allSeats = seated.flat();
          for (const [a, , c] of areas.map((outline) => outline)) {
            if (a === undefined || c === undefined) continue;
            const inside = allSeats.some((p) => p.x > a.x && p.x < c.x && p.y > a.y && p.y < c.y);
            expect(inside).toBe(false);
          }
          expect(venue.sections.every((s) => sectionPoints(s).length > 0)).toBe(true);
        },
      ), { numRuns: 60 });
    });

  it('names the field of every problem before anything is sent', () => {
    expect(validateGeneratorInput(input())).toEqual([]);
    const fields = validateGeneratorInput(input({ name: ' ', rowsPerSection: 0,
      seatsPerRow: 1.5, standingCapacity: 10_000_000 })).map((p) => p.field);
    expect(fields).toEqual(['name', 'rowsPerSection', 'seatsPerRow', 'standingCapacity']);
    expect(validateGeneratorInput(input({ sections: 0, standingAreas: 0 })).map((p) => p.field))
      .toEqual(['sections']);
    const huge = validateGeneratorInput(input({ sections: 400, rowsPerSection: 50,
      seatsPerRow: 100, standingAreas: 0 }));
    expect(huge).toEqual([{ field: 'sections', message: 'at most 250000 tickets' }]);
  });
});
