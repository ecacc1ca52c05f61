/**
 * A pure canvas renderer for a venue layout (Excalidraw style: the component owns the
 * canvas, this only draws). Seats are squares one pitch wide, standing areas outlined and
 * filled, the stage a bar at the front. Used by the generator's live preview.
 */
import {
  boundsOf, fitTransform, sectionPoints, seatPositions, standingOutline, type Point,
  type SectionShape,
} from '../../../lib/venueGeometry';

/** A section as the preview needs it: the API's section body. */
export type PreviewSection = SectionShape & { key: string; name: string };

const palette = ['#9a3412', '#1d4ed8', '#047857', '#7c3aed', '#b45309', '#be123c'];
const standingFill = 'rgba(21, 128, 61, 0.18)';
const standingStroke = '#15803d';
const stageFill = '#292524';

/** The stage: a bar in front of the first row, as wide as the front of the venue. */
export function stageOutline(sections: readonly PreviewSection[]): Point[] {
  const front = boundsOf(sections.flatMap((s) => sectionPoints(s)).filter((p) => p.y < 40));
  const half = Math.max(8, Math.min(((front?.maxX ?? 8) - (front?.minX ?? -8)) / 3, 30));
  return [{ x: -half, y: -8 }, { x: half, y: -8 }, { x: half, y: -2 }, { x: -half, y: -2 }];
}

function polygon(ctx: CanvasRenderingContext2D, points: readonly Point[]): void {
  ctx.beginPath();
  points.forEach((p, i) => (i === 0 ? ctx.moveTo(p.x, p.y) : ctx.lineTo(p.x, p.y)));
  ctx.closePath();
}

function centroid(points: readonly Point[]): Point {
  const sum = points.reduce((acc, p) => ({ x: acc.x + p.x, y: acc.y + p.y }), { x: 0, y: 0 });
  return { x: sum.x / Math.max(points.length, 1), y: sum.y / Math.max(points.length, 1) };
}

/** Draws the venue fitted into a width × height (CSS pixels) canvas context. */
export function drawVenue(ctx: CanvasRenderingContext2D, sections: readonly PreviewSection[],
  width: number, height: number, labels: { stage: string }): void {
  ctx.clearRect(0, 0, width, height);
  const stage = stageOutline(sections);
  const bounds = boundsOf([...stage, ...sections.flatMap((s) => sectionPoints(s))], 2);
  if (bounds === undefined) return;
  const fit = fitTransform(bounds, width, height);
  ctx.save();
  ctx.translate(fit.offsetX, fit.offsetY);
  ctx.scale(fit.scale, fit.scale);
  ctx.fillStyle = stageFill;
  polygon(ctx, stage);
  ctx.fill();
  const labelAt: { text: string; at: Point }[] = [{ text: labels.stage, at: centroid(stage) }];
  sections.forEach((section, i) => {
    if (section.kind === 'standing') {
      const outline = standingOutline(section.capacity, section.layout);
      ctx.fillStyle = standingFill;
      ctx.strokeStyle = standingStroke;
      ctx.lineWidth = 1.5 / fit.scale;
      polygon(ctx, outline);
      ctx.fill();
      ctx.stroke();
      labelAt.push({ text: section.name, at: centroid(outline) });
      return;
    }
    ctx.fillStyle = palette[i % palette.length] ?? '#9a3412';
    // Below about two pixels a seat is a dot; keep it visible as one pixel.
    const size = Math.max(0.8, 1 / fit.scale);
    const seats = seatPositions(section.rows, section.layout).flat();
    for (const seat of seats) ctx.fillRect(seat.x - size / 2, seat.y - size / 2, size, size);
    labelAt.push({ text: section.key, at: centroid(seats) });
  });
  ctx.restore();
  ctx.font = '600 12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (const { text, at } of labelAt) {
    const x = at.x * fit.scale + fit.offsetX;
    const y = at.y * fit.scale + fit.offsetY;
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.strokeText(text, x, y);
    ctx.fillStyle = '#1c1917';
    ctx.fillText(text, x, y);
  }
}
