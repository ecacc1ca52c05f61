import { describe, expect, it } from 'vitest';
import {
  boundsOf, fitTransform, layoutVenue, localSeatPositions, placePoint, placeSection,
  seatPositions, standingOutline, type LayoutSection,
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

const seated = (key: string, rows: number, seats: number): LayoutSection => ({
  key, kind: 'seated', rows: Array.from({ length: rows }, () => ({ seats })),
});

describe('venue layout (seat map and preview)', () => {
  it('places a straight section from its front-edge centre, rows one unit apart', () => {
    const placed = placeSection(seated('A', 2, 3), { x: 10, y: 20 });
    expect([...placed.seats]).toEqual([9, 20, 10, 20, 11, 20, 9, 21, 10, 21, 11, 21]);
  });

  it('turns a section clockwise about its front-edge centre', () => {
    const placed = placeSection(seated('A', 1, 3), { x: 0, y: 0, rotationDeg: 90 });
    const rounded = [...placed.seats].map((v) => Math.round(v * 1e6) / 1e6 + 0);
    expect(rounded).toEqual([0, -1, 0, 0, 0, 1]);
  });

  it('bends curved rows into arcs with seats one unit apart', () => {
    const placed = placeSection(seated('A', 1, 5), { x: 0, y: 0, curve: 60 });
    const s = placed.seats;
    for (let k = 0; k < 8; k += 2) {
      const d = Math.hypot((s[k + 2] as number) - (s[k] as number),
        (s[k + 3] as number) - (s[k + 1] as number));
      expect(d).toBeCloseTo(1, 1);
    }
    expect(s[1]).toBeLessThan(s[5] as number);
  });

  it('keeps every seat of an automatic bowl layout apart from every other', () => {
    const sections = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'U1', 'U2']
      .map((k) => seated(k, 12, 20));
    const layout = layoutVenue([{ key: 'F', kind: 'standing', capacity: 400 }, ...sections]);
    const points: [number, number][] = [];
    for (const section of layout.sections) {
      for (let k = 0; k < section.seats.length; k += 2) {
        points.push([section.seats[k] as number, section.seats[k + 1] as number]);
      }
    }
    expect(points).toHaveLength(8 * 12 * 20);
    points.sort((a, b) => a[0] - b[0]);
    let closest = Infinity;
    for (let i = 0; i < points.length; i += 1) {
      const x = (k: number) => (points[k] as [number, number])[0];
      for (let j = i + 1; j < points.length && x(j) - x(i) < 1; j += 1) {
        const [ax, ay] = points[i] as [number, number];
        const [bx, by] = points[j] as [number, number];
        closest = Math.min(closest, Math.hypot(ax - bx, ay - by));
      }
    }
    expect(closest).toBeGreaterThan(0.9);
  });

  it('places seats and standing areas exactly where the organizer preview draws them', () => {
    const hint = { x: 7, y: 30, rotationDeg: -25, curve: 40 };
    const rows = [{ label: 'A', seats: 9 }, { label: 'B', seats: 11 }];
    const placed = placeSection({ key: 'A', kind: 'seated', rows }, hint);
    const preview = seatPositions(rows, hint).flat().flatMap((p) => [p.x, p.y]);
    expect([...placed.seats]).toEqual(preview);
    const area = { x: 0, y: 2, width: 12, depth: 6 };
    const floor = placeSection({ key: 'F', kind: 'standing', capacity: 70 }, area);
    expect(floor.outline).toEqual(standingOutline(70, area).flatMap((p) => [p.x, p.y]));
  });
});
