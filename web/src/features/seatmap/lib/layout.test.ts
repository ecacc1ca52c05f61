/** Layout: hints are followed as the venue schema defines them; the automatic layout never overlaps. */
import { describe, expect, it } from 'vitest';
import { layoutVenue, placeSection, type LayoutSection } from './layout';

const seated = (key: string, rows: number, seats: number): LayoutSection => ({
  key, kind: 'seated', rows: Array.from({ length: rows }, () => ({ seats })),
});

describe('layout', () => {
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
    const sections = ['L1', 'L2', 'L3', 'L4', 'L5', 'L6', 'U1', 'U2'].map((k) => seated(k, 12, 20));
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
      for (let j = i + 1; j < points.length && (points[j] as [number, number])[0] - (points[i] as [number, number])[0] < 1; j += 1) {
        const [ax, ay] = points[i] as [number, number];
        const [bx, by] = points[j] as [number, number];
        closest = Math.min(closest, Math.hypot(ax - bx, ay - by));
      }
    }
    expect(closest).toBeGreaterThan(0.9);
  });
});
