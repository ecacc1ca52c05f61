/**
 * The seat map's immutable scene: every seat's position, section, row and number in typed
 * arrays (50,000 seats stay a few hundred kilobytes), the sections' outlines, zone colours,
 * and the spatial index. Live status is not here: it changes, the scene does not (the
 * store keeps it), so the scene is built once per page.
 */
import { layoutVenue, type LayoutHint, type LayoutSection } from '../../../lib/venueGeometry';
import { buildGrid, type SpatialGrid } from './spatial';

/** Seat status codes in the store's status array. */
export const AVAILABLE = 0;
export const HELD = 1;
export const SOLD = 2;
export type StatusCode = typeof AVAILABLE | typeof HELD | typeof SOLD;

export const statusCodes: Record<string, StatusCode> = {
  available: AVAILABLE, held: HELD, sold: SOLD,
};
export const statusNames = ['available', 'held', 'sold'] as const;
export type SeatStatusName = (typeof statusNames)[number];

/** Zone colours: distinct hues, each dark enough to read as a colour on white. */
export const zonePalette = ['#2563eb', '#c026d3', '#059669', '#ea580c', '#7c3aed', '#0891b2',
  '#db2777', '#65a30d', '#b45309', '#4f46e5', '#0d9488', '#dc2626'];

export interface SceneZone {
  key: string;
  name: string;
  priceCents: number;
  currency: string;
  color: string;
  /** Kinds of section in the zone: seated zones get best available, standing by quantity. */
  seated: boolean;
  standing: boolean;
}

export interface SceneRow {
  label: string;
  firstSeat: number;
  count: number;
}

export interface SceneSection {
  key: string;
  name: string;
  kind: 'seated' | 'standing';
  zone: number;
  capacity: number;
  outline: number[];
  label: { x: number; y: number };
  firstSeat: number;
  rows: SceneRow[];
}

export interface Scene {
  eventId: string;
  zones: SceneZone[];
  sections: SceneSection[];
  seatCount: number;
  xs: Float32Array;
  ys: Float32Array;
  sectionOf: Uint16Array;
  rowOf: Uint16Array;
  numberOf: Uint16Array;
  ids: string[];
  indexById: Map<string, number>;
  stage: { x: number; y: number; width: number; height: number } | undefined;
  bounds: { minX: number; minY: number; maxX: number; maxY: number };
  grid: SpatialGrid;
}

/** The seat map reply, as far as the scene needs it. */
export interface SeatMapInput {
  version: number;
  sections: {
    key: string; name: string; kind: 'seated' | 'standing'; zone: string; capacity: number;
    available: number;
    rows: { label: string; seats: { id: string; number: number; status: string }[] }[];
  }[];
}

export interface ZoneInput {
  key: string;
  name: string;
  priceCents: number;
  currency: string;
}

/** Builds the scene from the seat map, the event's zones and the venue's layout hints. */
export function buildScene(
  eventId: string, seatmap: SeatMapInput, zones: ZoneInput[],
  hints: ReadonlyMap<string, LayoutHint> = new Map(),
): Scene {
  const zoneIndex = new Map(zones.map((zone, i) => [zone.key, i]));
  const sceneZones: SceneZone[] = zones.map((zone, i) => ({
    ...zone, color: zonePalette[i % zonePalette.length] as string, seated: false, standing: false,
  }));
  const layoutInput: LayoutSection[] = seatmap.sections.map((s) => {
    const layout = hints.get(s.key);
    return s.kind === 'standing'
      ? { key: s.key, kind: 'standing', capacity: s.capacity, ...(layout ? { layout } : {}) }
      : { key: s.key, kind: 'seated', rows: s.rows.map((r) => ({ seats: r.seats.length })),
        ...(layout ? { layout } : {}) };
  });
  const layout = layoutVenue(layoutInput);
  const seatCount = seatmap.sections.reduce(
    (sum, s) => sum + s.rows.reduce((n, r) => n + r.seats.length, 0), 0);
  const xs = new Float32Array(seatCount);
  const ys = new Float32Array(seatCount);
  const sectionOf = new Uint16Array(seatCount);
  const rowOf = new Uint16Array(seatCount);
  const numberOf = new Uint16Array(seatCount);
  const ids: string[] = new Array<string>(seatCount);
  const indexById = new Map<string, number>();
  const sections: SceneSection[] = [];
  let next = 0;
  seatmap.sections.forEach((section, s) => {
    const placed = layout.sections[s];
    const zone = zoneIndex.get(section.zone) ?? 0;
    const sceneZone = sceneZones[zone];
    if (sceneZone) sceneZone[section.kind] = true;
    const firstSeat = next;
    const rows: SceneRow[] = [];
    let k = 0;
    section.rows.forEach((row, r) => {
      rows.push({ label: row.label, firstSeat: next, count: row.seats.length });
      for (const seat of row.seats) {
        xs[next] = placed?.seats[k] ?? 0;
        ys[next] = placed?.seats[k + 1] ?? 0;
        k += 2;
        sectionOf[next] = s;
        rowOf[next] = r;
        numberOf[next] = seat.number;
        ids[next] = seat.id;
        indexById.set(seat.id, next);
        next += 1;
      }
    });
    sections.push({
      key: section.key, name: section.name, kind: section.kind, zone, capacity: section.capacity,
      outline: placed ? [...placed.outline] : [], label: placed?.label ?? { x: 0, y: 0 },
      firstSeat, rows,
    });
  });
  return {
    eventId, zones: sceneZones, sections, seatCount, xs, ys, sectionOf, rowOf, numberOf, ids,
    indexById, stage: layout.stage, bounds: layout.bounds, grid: buildGrid(xs, ys, layout.bounds),
  };
}

/** Describes a seat for people: "Lower 103, row 5, seat 12". */
export function seatLabel(
  scene: Scene, index: number,
): { section: string; row: string; seat: number } {
  const section = scene.sections[scene.sectionOf[index] as number];
  return {
    section: section?.name ?? '',
    row: section?.rows[scene.rowOf[index] as number]?.label ?? '',
    seat: scene.numberOf[index] as number,
  };
}

/** True when (x, y) lies inside a section's outline (a convex quadrilateral). */
export function insideOutline(outline: readonly number[], x: number, y: number): boolean {
  let sign = 0;
  for (let k = 0; k < 8; k += 2) {
    const ax = outline[k] as number;
    const ay = outline[k + 1] as number;
    const bx = outline[(k + 2) % 8] as number;
    const by = outline[(k + 3) % 8] as number;
    const cross = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    if (cross !== 0) {
      if (sign === 0) sign = Math.sign(cross);
      else if (Math.sign(cross) !== sign) return false;
    }
  }
  return true;
}
