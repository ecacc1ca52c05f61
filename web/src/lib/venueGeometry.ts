/**
 * Where a venue's seats and standing areas lie, from the sections' optional layout hints
 * (the `layout` of a venue section in the API; its schema documents the convention). Pure,
 * so the organizer's venue preview and the fans' seat map place seats identically.
 *
 * The plane's unit is one seat pitch; the stage is toward negative y; y grows away from
 * it, as on a screen.
 */

/** A point in venue units. */
export interface Point {
  x: number;
  y: number;
}

/** The drawing hints of one section (all in venue units and degrees). */
export interface LayoutHint {
  x: number;
  y: number;
  rotationDeg?: number;
  curve?: number;
  width?: number;
  depth?: number;
}

/** The parts of a section the geometry needs (a venue section from the API fits). */
export type SectionShape =
  | { kind: 'seated'; rows: readonly { label: string; seats: number }[]; layout?: LayoutHint }
  | { kind: 'standing'; capacity: number; layout?: LayoutHint };

/** An axis-aligned box. */
export interface Bounds {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

const toRad = (deg: number): number => (deg * Math.PI) / 180;

/** Moves a point from a section's own frame (front-centre at 0,0) onto the venue plane. */
export function placePoint(local: Point, layout: LayoutHint): Point {
  const angle = toRad(layout.rotationDeg ?? 0);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  // With y pointing down, this turns clockwise on screen for a positive angle.
  return {
    x: layout.x + local.x * cos - local.y * sin,
    y: layout.y + local.x * sin + local.y * cos,
  };
}

/**
 * Seat centres in the section's own frame, row by row (front row first), seat 1 first.
 * Straight rows are centred on x = 0 one unit apart; curved rows are concentric arcs about
 * (0, -r0), r0 = (seats in the first row - 1) / curve, seats one unit apart on each arc.
 */
export function localSeatPositions(
  rows: readonly { seats: number }[], curveDeg = 0,
): Point[][] {
  const curve = toRad(curveDeg);
  const front = rows[0]?.seats ?? 1;
  const r0 = curve > 0 ? Math.max(front - 1, 1) / curve : 0;
  return rows.map((row, i) => Array.from({ length: row.seats }, (_, j) => {
    const offset = j - (row.seats - 1) / 2;
    if (curve <= 0) return { x: offset, y: i };
    const radius = r0 + i;
    const angle = offset / radius;
    return { x: radius * Math.sin(angle), y: -r0 + radius * Math.cos(angle) };
  }));
}

/** Seat centres of a seated section on the venue plane (hint defaults to the origin). */
export function seatPositions(
  rows: readonly { seats: number }[], layout: LayoutHint = { x: 0, y: 0 },
): Point[][] {
  return localSeatPositions(rows, layout.curve ?? 0)
    .map((row) => row.map((seat) => placePoint(seat, layout)));
}

/** A standing area's size: the hint's, else about twice as wide as deep for its capacity. */
export function standingSize(capacity: number, layout?: LayoutHint): { width: number;
  depth: number } {
  const width = layout?.width ?? Math.max(1, Math.ceil(Math.sqrt(capacity * 2)));
  const depth = layout?.depth ?? Math.max(1, Math.ceil(capacity / width));
  return { width, depth };
}

/** The four corners of a standing area, front edge first (its hint's x, y is mid-front). */
export function standingOutline(capacity: number, layout: LayoutHint = { x: 0, y: 0 }):
  Point[] {
  const { width, depth } = standingSize(capacity, layout);
  const half = width / 2;
  return [
    { x: -half, y: -0.5 }, { x: half, y: -0.5 }, { x: half, y: depth - 0.5 },
    { x: -half, y: depth - 0.5 },
  ].map((corner) => placePoint(corner, layout));
}

/** Every point a section occupies (seat centres, or the corners of its area). */
export function sectionPoints(section: SectionShape): Point[] {
  return section.kind === 'seated'
    ? seatPositions(section.rows, section.layout).flat()
    : standingOutline(section.capacity, section.layout);
}

/** The box around points, padded by `margin` (undefined without points). */
export function boundsOf(points: Iterable<Point>, margin = 0): Bounds | undefined {
  let box: Bounds | undefined;
  for (const p of points) {
    if (box === undefined) {
      box = { minX: p.x, minY: p.y, maxX: p.x, maxY: p.y };
      continue;
    }
    box.minX = Math.min(box.minX, p.x);
    box.minY = Math.min(box.minY, p.y);
    box.maxX = Math.max(box.maxX, p.x);
    box.maxY = Math.max(box.maxY, p.y);
  }
  if (box === undefined) return undefined;
  return { minX: box.minX - margin, minY: box.minY - margin, maxX: box.maxX + margin,
    maxY: box.maxY + margin };
}

/** Scale and offset that fit `bounds` centred into a width × height box. */
export function fitTransform(bounds: Bounds, width: number, height: number): {
  scale: number; offsetX: number; offsetY: number } {
  const spanX = Math.max(bounds.maxX - bounds.minX, 1);
  const spanY = Math.max(bounds.maxY - bounds.minY, 1);
  const scale = Math.min(width / spanX, height / spanY);
  return {
    scale,
    offsetX: (width - spanX * scale) / 2 - bounds.minX * scale,
    offsetY: (height - spanY * scale) / 2 - bounds.minY * scale,
  };
}
