/**
 * Where a venue's seats and standing areas lie, from the sections' optional layout hints
 * (the `layout` of a venue section in the API; its schema documents the convention). The
 * one geometry module of the app: the organizer's venue preview and the fans' seat map
 * both place seats with it, so they agree seat for seat. A section with hints is placed
 * by them; `layoutVenue` arranges the others around a stage at the origin: standing areas
 * in front of it, seated sections in concentric bowls facing it (one bowl per group of
 * sections sharing a key prefix, e.g. L101…L108, U201…U206).
 *
 * The plane's unit is one seat pitch; the stage is toward negative y; y grows away from
 * it, as on a screen. Pure functions only.
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
 * Seat centres in the section's own frame as x, y pairs, row by row (front row first),
 * seat 1 first: typed arrays keep a 50,000-seat map a few hundred kilobytes. Straight rows
 * are centred on x = 0 one unit apart; curved rows are concentric arcs about (0, -r0),
 * r0 = (seats in the first row - 1) / curve, seats one unit apart on each arc.
 */
export function localSeatCoordinates(
  rows: readonly { seats: number }[], curveDeg = 0,
): Float64Array {
  const total = rows.reduce((sum, row) => sum + row.seats, 0);
  const out = new Float64Array(total * 2);
  const curve = toRad(curveDeg);
  const r0 = curve > 0 ? Math.max((rows[0]?.seats ?? 1) - 1, 1) / curve : 0;
  let k = 0;
  rows.forEach((row, i) => {
    for (let j = 0; j < row.seats; j += 1, k += 2) {
      const offset = j - (row.seats - 1) / 2;
      if (curve <= 0) {
        out[k] = offset;
        out[k + 1] = i;
        continue;
      }
      const radius = r0 + i;
      const angle = offset / radius;
      out[k] = radius * Math.sin(angle);
      out[k + 1] = -r0 + radius * Math.cos(angle);
    }
  });
  return out;
}

/** The same seat centres as points, grouped by row. */
export function localSeatPositions(
  rows: readonly { seats: number }[], curveDeg = 0,
): Point[][] {
  const flat = localSeatCoordinates(rows, curveDeg);
  let k = 0;
  return rows.map((row) => Array.from({ length: row.seats }, () => {
    const point = { x: flat[k] as number, y: flat[k + 1] as number };
    k += 2;
    return point;
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

/** A section as `layoutVenue` needs it (a venue section from the API fits). */
export type LayoutSection =
  | { key: string; kind: 'seated'; rows: readonly { seats: number }[]; layout?: LayoutHint }
  | { key: string; kind: 'standing'; capacity: number; layout?: LayoutHint };

/** A placed section: seat centres (seated) or its area (standing), and its outline. */
export interface PlacedSection {
  key: string;
  /** Seat centres as x, y pairs, row by row, seat 1 first; empty for standing areas. */
  seats: Float64Array;
  /** Four corners (x0,y0,…,x3,y3) of the section's outline (standing: its area). */
  outline: [number, number, number, number, number, number, number, number];
  /** Where its label goes. */
  label: Point;
}

/** The whole plane: sections, the stage (automatic layouts only), and the bounds. */
export interface VenueLayout {
  sections: PlacedSection[];
  stage: { x: number; y: number; width: number; height: number } | undefined;
  bounds: Bounds;
}

const aisle = 4;
const maxBowlRad = (250 * Math.PI) / 180;

function flatOutline(points: readonly Point[]): PlacedSection['outline'] {
  return points.flatMap((p) => [p.x, p.y]) as PlacedSection['outline'];
}

/** Places one section by its hint (the schema's definition of x, y, rotation and curve). */
export function placeSection(section: LayoutSection, hint: LayoutHint): PlacedSection {
  if (section.kind === 'standing') {
    const corners = standingOutline(section.capacity, hint);
    const { depth } = standingSize(section.capacity, hint);
    return {
      key: section.key, seats: new Float64Array(0), outline: flatOutline(corners),
      label: placePoint({ x: 0, y: depth / 2 - 0.5 }, hint),
    };
  }
  const local = localSeatCoordinates(section.rows, hint.curve ?? 0);
  const seats = new Float64Array(local.length);
  let minU = Infinity; let maxU = -Infinity; let minV = Infinity; let maxV = -Infinity;
  for (let k = 0; k < local.length; k += 2) {
    const u = local[k] as number;
    const v = local[k + 1] as number;
    minU = Math.min(minU, u); maxU = Math.max(maxU, u);
    minV = Math.min(minV, v); maxV = Math.max(maxV, v);
    const p = placePoint({ x: u, y: v }, hint);
    seats[k] = p.x;
    seats[k + 1] = p.y;
  }
  const pad = 0.8;
  const corners = [{ x: minU - pad, y: minV - pad }, { x: maxU + pad, y: minV - pad },
    { x: maxU + pad, y: maxV + pad }, { x: minU - pad, y: maxV + pad }];
  return {
    key: section.key, seats, outline: flatOutline(corners.map((c) => placePoint(c, hint))),
    // Labels sit just in front of the first row, on the stage side.
    label: placePoint({ x: (minU + maxU) / 2, y: minV - 2.2 }, hint),
  };
}

/** Groups consecutive seated sections by key prefix (digits stripped); one bowl each. */
function bowls(sections: LayoutSection[]): LayoutSection[][] {
  const prefix = (key: string) => key.replace(/[0-9_]+$/, '');
  const groups: LayoutSection[][] = [];
  for (const section of sections) {
    const last = groups.at(-1);
    const same = last !== undefined && prefix(last[0]?.key ?? '') === prefix(section.key);
    if (same) last.push(section);
    else groups.push([section]);
  }
  // Keys without shared prefixes (A, B, C…) would give one bowl per section: one bowl then.
  return groups.every((g) => g.length === 1) && groups.length > 1 ? [sections] : groups;
}

/** Angular width a seated section needs at radius r (its widest row decides). */
function angularSpan(section: LayoutSection, r: number): number {
  if (section.kind !== 'seated') return 0;
  let span = 0;
  section.rows.forEach((row, i) => {
    span = Math.max(span, (row.seats + 1) / (r + i));
  });
  return span;
}

function depthOf(section: LayoutSection): number {
  return section.kind === 'seated' ? section.rows.length
    : standingSize(section.capacity, section.layout).depth;
}

function widthOf(section: LayoutSection): number {
  return section.kind === 'seated' ? Math.max(...section.rows.map((row) => row.seats))
    : standingSize(section.capacity, section.layout).width;
}

/** Computes hints for sections that have none: the floor, then the bowls. */
function autoHints(sections: LayoutSection[], startRadius: number): Map<string, LayoutHint> {
  const hints = new Map<string, LayoutHint>();
  const floor = sections.filter((s) => s.kind === 'standing');
  const floorWidth = floor.reduce((sum, s) => sum + widthOf(s), 0) + aisle * (floor.length - 1);
  let x = -floorWidth / 2;
  let floorDepth = 0;
  for (const section of floor) {
    const w = widthOf(section);
    hints.set(section.key, { x: x + w / 2, y: 2 });
    x += w + aisle;
    floorDepth = Math.max(floorDepth, depthOf(section));
  }
  let radius = Math.max(startRadius, floorDepth + 2 + aisle, 10);
  for (const bowl of bowls(sections.filter((s) => s.kind === 'seated'))) {
    const arc = bowl.reduce((sum, s) => sum + widthOf(s) + aisle, 0);
    radius = Math.max(radius, arc / maxBowlRad);
    const gap = aisle / radius;
    const spans = bowl.map((s) => angularSpan(s, radius));
    const total = spans.reduce((sum, span) => sum + span, 0) + gap * (bowl.length - 1);
    let angle = -total / 2;
    bowl.forEach((section, i) => {
      const span = spans[i] as number;
      const theta = angle + span / 2;
      const first = section.kind === 'seated' ? (section.rows[0]?.seats ?? 1) : 1;
      const curve = first > 1 ? (((first - 1) / radius) * 180) / Math.PI : 0;
      // Facing the stage: front-edge centre on the circle, turned by -theta.
      hints.set(section.key, {
        x: radius * Math.sin(theta), y: radius * Math.cos(theta),
        rotationDeg: (-theta * 180) / Math.PI, curve,
      });
      angle += span + gap;
    });
    radius += Math.max(...bowl.map(depthOf)) + aisle;
  }
  return hints;
}

function outlinePoints(section: PlacedSection): Point[] {
  const points: Point[] = [];
  for (let k = 0; k < 8; k += 2) {
    points.push({ x: section.outline[k] as number, y: section.outline[k + 1] as number });
  }
  return points;
}

/** Lays out a venue: hinted sections where they say, the rest around a stage. */
export function layoutVenue(sections: LayoutSection[]): VenueLayout {
  const hinted = sections.filter((s) => s.layout !== undefined);
  const placedHinted = hinted.map((s) => placeSection(s, s.layout as LayoutHint));
  const reach = Math.max(0,
    ...placedHinted.flatMap(outlinePoints).map((p) => Math.hypot(p.x, p.y)));
  const rest = sections.filter((s) => s.layout === undefined);
  const hints = autoHints(rest, hinted.length > 0 ? reach + aisle : 0);
  const placed = sections.map((s) => (s.layout !== undefined
    ? placedHinted[hinted.indexOf(s)] as PlacedSection
    : placeSection(s, hints.get(s.key) as LayoutHint)));
  // A stage is drawn where the automatic layout put it (as wide as the floor, or a third
  // of the first bowl's front row); hinted venues draw their own plan.
  const standing = rest.filter((s) => s.kind === 'standing');
  const floorWidth = standing.reduce((sum, s) => sum + widthOf(s), 0)
    + aisle * Math.max(0, standing.length - 1);
  const seated = rest.filter((s) => s.kind === 'seated');
  const stageWidth = Math.max(8, floorWidth || seated.reduce((n, s) => n + widthOf(s), 0) / 3);
  const stage = hinted.length === sections.length ? undefined
    : { x: -stageWidth / 2, y: -4, width: stageWidth, height: 3 };
  const corners = placed.flatMap(outlinePoints);
  if (stage) corners.push(stage, { x: stage.x + stage.width, y: stage.y + stage.height });
  const bounds = boundsOf(corners) ?? { minX: -10, minY: -10, maxX: 10, maxY: 10 };
  return { sections: placed, stage, bounds };
}
