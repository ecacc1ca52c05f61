import { describe, expect, it } from 'vitest';
import {
  boundsOf, fitTransform, localSeatPositions, placePoint, seatPositions, standingOutline,
} from './venueGeometry';

const dist = (a: { x: number; y: number }, b: { x: number; y: number }) =>
  Math.hypot(a.x - b.x, a.y - b.y);

describe('venue geometry', () => {
  it('lays straight rows one unit apart, centred, seat 1 leftmost', () => {
    const rows = localSeatPositions([{ seats: 3 }, { seats: 4 }]);
    expect(rows[0]).toEqual([{ x: -1, y: 0 }, { x: 0, y: 0 }, { x: 1, y: 0 }]);
    expect(rows[1]?.map((p) => p.x)).toEqual([-1.5, -0.5, 0.5, 1.5]);
    expect(rows[1]?.every((p) => p.y === 1)).toBe(true);
  });

  it('bends curved rows into concentric arcs about a centre on the stage side', () => {
    const curve = 60;
    const rows = localSeatPositions([{ seats: 11 }, { seats: 12 }, { seats: 14 }], curve);
    const r0 = 10 / ((curve * Math.PI) / 180);
    const centre = { x: 0, y: -r0 };
    rows.forEach((row, i) => {
      for (const seat of row) expect(dist(seat, centre)).toBeCloseTo(r0 + i, 6);
      for (let j = 1; j < row.length; j += 1) {
        // One unit along the arc: the chord is a hair shorter.
        const chord = dist(row[j - 1] ?? seat0, row[j] ?? seat0);
        expect(chord).toBeLessThanOrEqual(1);
        expect(chord).toBeGreaterThan(0.99);
      }
    });
    // The first row spans the curve's angle, and its middle seat is the front centre.
    const front = rows[0] ?? [];
    const angle = (p: { x: number; y: number }) => Math.atan2(p.x - centre.x, p.y - centre.y);
    expect(((angle(front[10] ?? seat0) - angle(front[0] ?? seat0)) * 180) / Math.PI)
      .toBeCloseTo(curve, 6);
    expect(front[5]?.x).toBeCloseTo(0, 9);
    expect(front[5]?.y).toBeCloseTo(0, 9);
  });

  it('turns clockwise (y down) about the front centre, then moves there', () => {
    const p = placePoint({ x: 1, y: 0 }, { x: 10, y: 20, rotationDeg: 90 });
    expect(p.x).toBeCloseTo(10);
    expect(p.y).toBeCloseTo(21);
    const seats = seatPositions([{ seats: 1 }, { seats: 1 }], { x: 5, y: 5, rotationDeg: 180 });
    expect(seats[1]?.[0]?.x).toBeCloseTo(5);
    expect(seats[1]?.[0]?.y).toBeCloseTo(4);
  });

  it('draws a standing area behind its front edge, sized by its hint or its capacity', () => {
    const hinted = standingOutline(100, { x: 0, y: 2, width: 20, depth: 5 });
    expect(boundsOf(hinted)).toEqual({ minX: -10, minY: 1.5, maxX: 10, maxY: 6.5 });
    const sized = boundsOf(standingOutline(200));
    expect((sized?.maxX ?? 0) - (sized?.minX ?? 0)).toBe(20);
    expect((sized?.maxY ?? 0) - (sized?.minY ?? 0)).toBe(10);
  });

  it('fits a box centred into a canvas', () => {
    const fit = fitTransform({ minX: -10, minY: 0, maxX: 10, maxY: 10 }, 400, 100);
    expect(fit.scale).toBe(10);
    expect(-10 * fit.scale + fit.offsetX).toBe(100);
    expect(10 * fit.scale + fit.offsetX).toBe(300);
    expect(0 * fit.scale + fit.offsetY).toBe(0);
    expect(boundsOf([])).toBeUndefined();
  });
});

const seat0 = { x: Number.NaN, y: Number.NaN };
