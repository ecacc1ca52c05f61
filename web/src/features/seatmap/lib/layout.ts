/**
 * Where every seat sits on the plane. The venue API has rows and seat counts, not
 * coordinates; sections may carry optional layout hints (x, y, rotation, curve, size). A
 * section with hints is placed by them; the others are arranged around a stage at the
 * origin: standing areas in front of it, seated sections in concentric bowls facing it
 * (one bowl per group of sections sharing a key prefix, e.g. L101…L108, U201…U206).
 *
 * Units are seat pitches (neighbouring seats and rows are one unit apart); y grows away
 * from the stage. The same placement function serves hints and the automatic layout, so
 * both obey one definition (that of the venue schema's layout description).
 */

/** Layout hints as the venue schema defines them. */
export interface LayoutHint {
  x: number;
  y: number;
  rotationDeg?: number;
  curve?: number;
  width?: number;
  depth?: number;
}

/** A section as the layout needs it. */
export type LayoutSection =
  | { key: string; kind: 'seated'; rows: { seats: number }[]; layout?: LayoutHint }
  | { key: string; kind: 'standing'; capacity: number; layout?: LayoutHint };

/** A placed section: seat centres (seated) or a rectangle (standing), and its outline. */
export interface PlacedSection {
  key: string;
  /** Seat centres, row by row, seat 1 first; empty for standing areas. */
  seats: Float64Array;
  /** Four corners (x0,y0,…,x3,y3) of the section's outline (standing: its area). */
  outline: [number, number, number, number, number, number, number, number];
  /** Where its label goes. */
  label: { x: number; y: number };
}

/** The whole plane: sections, the stage (automatic layouts only), and the bounds. */
export interface VenueLayout {
  sections: PlacedSection[];
  stage: { x: number; y: number; width: number; height: number } | undefined;
  bounds: { minX: number; minY: number; maxX: number; maxY: number };
}

const aisle = 4;
const maxBowlRad = (250 * Math.PI) / 180;

function rotate(hint: LayoutHint, u: number, v: number): [number, number] {
  const phi = ((hint.rotationDeg ?? 0) * Math.PI) / 180;
  const cos = Math.cos(phi);
  const sin = Math.sin(phi);
  return [hint.x + u * cos - v * sin, hint.y + u * sin + v * cos];
}

/** Seat positions in section coordinates (u along the row, v towards the back). */
function localSeats(rows: readonly { seats: number }[], curveDeg: number): Float64Array {
  const total = rows.reduce((sum, row) => sum + row.seats, 0);
  const out = new Float64Array(total * 2);
  const first = rows[0]?.seats ?? 1;
  const curveRad = (curveDeg * Math.PI) / 180;
  const r0 = curveRad > 0 && first > 1 ? (first - 1) / curveRad : 0;
  let k = 0;
  rows.forEach((row, i) => {
    for (let j = 0; j < row.seats; j += 1) {
      const offset = j - (row.seats - 1) / 2;
      if (r0 > 0) {
        const r = r0 + i;
        const angle = offset / r;
        out[k] = r * Math.sin(angle);
        out[k + 1] = -r0 + r * Math.cos(angle);
      } else {
        out[k] = offset;
        out[k + 1] = i;
      }
      k += 2;
    }
  });
  return out;
}

function standingSize(section: { capacity: number; layout?: LayoutHint }): [number, number] {
  const side = Math.max(4, Math.ceil(Math.sqrt(section.capacity)));
  return [section.layout?.width ?? side, section.layout?.depth ?? side];
}

/** Places one section by its hint (the schema's definition of x, y, rotation and curve). */
export function placeSection(section: LayoutSection, hint: LayoutHint): PlacedSection {
  if (section.kind === 'standing') {
    const [w, d] = standingSize({ ...section, layout: hint });
    const corners = [[-w / 2, 0], [w / 2, 0], [w / 2, d], [-w / 2, d]] as const;
    const outline = corners.flatMap(([u, v]) => rotate(hint, u, v)) as PlacedSection['outline'];
    const [lx, ly] = rotate(hint, 0, d / 2);
    return { key: section.key, seats: new Float64Array(0), outline, label: { x: lx, y: ly } };
  }
  const local = localSeats(section.rows, hint.curve ?? 0);
  const seats = new Float64Array(local.length);
  let minU = Infinity; let maxU = -Infinity; let minV = Infinity; let maxV = -Infinity;
  for (let k = 0; k < local.length; k += 2) {
    const u = local[k] as number;
    const v = local[k + 1] as number;
    minU = Math.min(minU, u); maxU = Math.max(maxU, u);
    minV = Math.min(minV, v); maxV = Math.max(maxV, v);
    const [x, y] = rotate(hint, u, v);
    seats[k] = x;
    seats[k + 1] = y;
  }
  const pad = 0.8;
  const corners = [[minU - pad, minV - pad], [maxU + pad, minV - pad], [maxU + pad, maxV + pad],
    [minU - pad, maxV + pad]] as const;
  const outline = corners.flatMap(([u, v]) => rotate(hint, u, v)) as PlacedSection['outline'];
  // Labels sit just in front of the first row, on the stage side.
  const [lx, ly] = rotate(hint, (minU + maxU) / 2, minV - 2.2);
  return { key: section.key, seats, outline, label: { x: lx, y: ly } };
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
  return section.kind === 'seated' ? section.rows.length : standingSize(section)[1];
}

function widthOf(section: LayoutSection): number {
  return section.kind === 'seated' ? Math.max(...section.rows.map((row) => row.seats))
    : standingSize(section)[0];
}

/** Computes hints for sections that have none: the stage, the floor, then the bowls. */
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

function boundsOf(placed: PlacedSection[], stage: VenueLayout['stage']): VenueLayout['bounds'] {
  const b = { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity };
  const add = (x: number, y: number) => {
    b.minX = Math.min(b.minX, x); b.maxX = Math.max(b.maxX, x);
    b.minY = Math.min(b.minY, y); b.maxY = Math.max(b.maxY, y);
  };
  for (const section of placed) {
    for (let k = 0; k < 8; k += 2) {
      add(section.outline[k] as number, section.outline[k + 1] as number);
    }
  }
  if (stage) {
    add(stage.x, stage.y);
    add(stage.x + stage.width, stage.y + stage.height);
  }
  if (!Number.isFinite(b.minX)) return { minX: -10, minY: -10, maxX: 10, maxY: 10 };
  return b;
}

/** Lays out a venue: hinted sections where they say, the rest around a stage. */
export function layoutVenue(sections: LayoutSection[]): VenueLayout {
  const hinted = sections.filter((s) => s.layout !== undefined);
  const placedHinted = hinted.map((s) => placeSection(s, s.layout as LayoutHint));
  let reach = 0;
  for (const p of placedHinted) {
    for (let k = 0; k < 8; k += 2) {
      reach = Math.max(reach, Math.hypot(p.outline[k] as number, p.outline[k + 1] as number));
    }
  }
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
  return { sections: placed, stage, bounds: boundsOf(placed, stage) };
}
