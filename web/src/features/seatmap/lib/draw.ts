/**
 * The pure renderer: paints a seat map into a 2D canvas context for a viewport, with no
 * React and no DOM beyond the context, so it can be tested and benchmarked alone. Seats
 * are batched into one path per colour (50,000 seats cost a handful of fills), culled to
 * the viewport and snapped to whole pixels, so a single seat can later be repainted in
 * place (drawSeatPatch) when only its status changes.
 */
import { copy } from '../../../lib/copy';
import { formatCount } from '../../../lib/format';
import { AVAILABLE, HELD, type Scene } from './scene';

/** World → screen: screenX = worldX * scale + x (CSS pixels). */
export interface Viewport {
  scale: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What the painter needs: the scene and the live status of every seat. */
export interface PaintScene {
  scene: Scene;
  status: Uint8Array;
  /** Available places per section (standing areas show theirs). */
  available: (section: number) => number;
}

export const colors = {
  background: '#ffffff',
  section: '#f1f5f9',
  sectionBorder: '#cbd5e1',
  held: '#d4d4d8',
  sold: '#71717a',
  stage: '#1c1917',
  stageText: '#ffffff',
  label: '#334155',
  selected: '#111827',
  hover: '#111827',
  taken: '#dc2626',
} as const;

/** Side of a seat square in CSS pixels at a scale (seats are 0.8 units, at least 1 px). */
export function seatSize(scale: number): number {
  return Math.max(1, Math.round(scale * 0.8));
}

function seatColor(paint: PaintScene, index: number): string {
  const status = paint.status[index];
  if (status === HELD) return colors.held;
  if (status !== AVAILABLE) return colors.sold;
  const zone = paint.scene.sections[paint.scene.sectionOf[index] as number]?.zone ?? 0;
  return paint.scene.zones[zone]?.color ?? colors.sold;
}

function outlinePath(ctx: CanvasRenderingContext2D, outline: number[], v: Viewport): void {
  ctx.beginPath();
  for (let k = 0; k < outline.length; k += 2) {
    const sx = (outline[k] as number) * v.scale + v.x;
    const sy = (outline[k + 1] as number) * v.scale + v.y;
    if (k === 0) ctx.moveTo(sx, sy);
    else ctx.lineTo(sx, sy);
  }
  ctx.closePath();
}

function drawStage(ctx: CanvasRenderingContext2D, scene: Scene, v: Viewport): void {
  const stage = scene.stage;
  if (stage === undefined) return;
  const x = stage.x * v.scale + v.x;
  const y = stage.y * v.scale + v.y;
  const w = stage.width * v.scale;
  const h = stage.height * v.scale;
  ctx.fillStyle = colors.stage;
  ctx.fillRect(x, y, w, h);
  if (h < 10) return;
  ctx.fillStyle = colors.stageText;
  ctx.font = `600 ${Math.min(16, h * 0.6)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(copy.seatmap.stage.toUpperCase(), x + w / 2, y + h / 2);
}

function drawSections(ctx: CanvasRenderingContext2D, paint: PaintScene, v: Viewport): void {
  const { scene } = paint;
  ctx.lineWidth = 1;
  scene.sections.forEach((section, s) => {
    if (section.outline.length === 0) return;
    outlinePath(ctx, section.outline, v);
    if (section.kind === 'standing') {
      const open = paint.available(s) > 0;
      ctx.fillStyle = open ? (scene.zones[section.zone]?.color ?? colors.sold) : colors.sold;
      ctx.globalAlpha = open ? 0.85 : 0.6;
      ctx.fill();
      ctx.globalAlpha = 1;
    } else {
      ctx.fillStyle = colors.section;
      ctx.fill();
    }
    ctx.strokeStyle = colors.sectionBorder;
    ctx.stroke();
  });
}

function drawLabels(ctx: CanvasRenderingContext2D, paint: PaintScene, v: Viewport): void {
  const { scene } = paint;
  const fontPx = Math.max(10, Math.min(15, v.scale * 2.2));
  ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  scene.sections.forEach((section, s) => {
    const x = section.label.x * v.scale + v.x;
    const y = section.label.y * v.scale + v.y;
    if (x < -100 || y < -20 || x > v.width + 100 || y > v.height + 20) return;
    if (section.kind === 'standing') {
      ctx.fillStyle = '#ffffff';
      ctx.fillText(section.name, x, y - fontPx * 0.6);
      ctx.font = `500 ${fontPx * 0.9}px system-ui, sans-serif`;
      ctx.fillText(copy.seatmap.areaLeft(formatCount(paint.available(s))), x,
        y + fontPx * 0.6);
      ctx.font = `600 ${fontPx}px system-ui, sans-serif`;
      return;
    }
    if (v.scale < 1.5) return;
    ctx.fillStyle = colors.label;
    ctx.fillText(section.key, x, y);
  });
}

function drawRowLabels(ctx: CanvasRenderingContext2D, scene: Scene, v: Viewport): void {
  if (v.scale < 12) return;
  ctx.fillStyle = colors.label;
  ctx.font = `500 ${Math.min(12, v.scale * 0.55)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  for (const section of scene.sections) {
    for (const row of section.rows) {
      const first = row.firstSeat;
      const next = first + 1 < first + row.count ? first + 1 : first;
      const x0 = scene.xs[first] as number;
      const y0 = scene.ys[first] as number;
      // One pitch before seat 1, along the row.
      const dx = row.count > 1 ? x0 - (scene.xs[next] as number) : -1;
      const dy = row.count > 1 ? y0 - (scene.ys[next] as number) : 0;
      const sx = (x0 + dx) * v.scale + v.x;
      const sy = (y0 + dy) * v.scale + v.y;
      if (sx < -20 || sy < -20 || sx > v.width + 20 || sy > v.height + 20) continue;
      ctx.fillText(row.label, sx, sy);
    }
  }
}

/** Paints the whole static layer: stage, sections, every visible seat, labels. */
export function drawSeats(ctx: CanvasRenderingContext2D, paint: PaintScene, v: Viewport): void {
  const { scene } = paint;
  ctx.fillStyle = colors.background;
  ctx.fillRect(0, 0, v.width, v.height);
  drawStage(ctx, scene, v);
  drawSections(ctx, paint, v);
  const size = seatSize(v.scale);
  const half = size / 2;
  const paths = new Map<string, Path2D>();
  const { xs, ys } = scene;
  for (let i = 0; i < scene.seatCount; i += 1) {
    const sx = Math.round((xs[i] as number) * v.scale + v.x - half);
    const sy = Math.round((ys[i] as number) * v.scale + v.y - half);
    if (sx < -size || sy < -size || sx > v.width || sy > v.height) continue;
    const color = seatColor(paint, i);
    let path = paths.get(color);
    if (path === undefined) {
      path = new Path2D();
      paths.set(color, path);
    }
    path.rect(sx, sy, size, size);
  }
  for (const [color, path] of paths) {
    ctx.fillStyle = color;
    ctx.fill(path);
  }
  drawLabels(ctx, paint, v);
  drawRowLabels(ctx, scene, v);
}

/** Repaints only the given seats (their status changed; nothing moved). */
export function drawSeatPatch(
  ctx: CanvasRenderingContext2D, paint: PaintScene, v: Viewport, indices: readonly number[],
): void {
  const size = seatSize(v.scale);
  const half = size / 2;
  for (const i of indices) {
    const sx = Math.round((paint.scene.xs[i] as number) * v.scale + v.x - half);
    const sy = Math.round((paint.scene.ys[i] as number) * v.scale + v.y - half);
    if (sx < -size || sy < -size || sx > v.width || sy > v.height) continue;
    ctx.fillStyle = seatColor(paint, i);
    ctx.fillRect(sx, sy, size, size);
  }
}

/** What the interactive layer shows on top. */
export interface Overlay {
  hover: number;
  hoverSection: number;
  selected: ReadonlySet<number>;
  taken: ReadonlySet<number>;
}

/** Paints hover, selection and taken-seat marks (cheap: a few seats per frame). */
export function drawOverlay(
  ctx: CanvasRenderingContext2D, paint: PaintScene, v: Viewport, overlay: Overlay,
): void {
  ctx.clearRect(0, 0, v.width, v.height);
  const size = Math.max(seatSize(v.scale), 4);
  const ring = (i: number, color: string, width: number) => {
    const sx = (paint.scene.xs[i] as number) * v.scale + v.x;
    const sy = (paint.scene.ys[i] as number) * v.scale + v.y;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.strokeRect(sx - size / 2 - width / 2, sy - size / 2 - width / 2, size + width,
      size + width);
  };
  for (const i of overlay.selected) {
    const sx = (paint.scene.xs[i] as number) * v.scale + v.x;
    const sy = (paint.scene.ys[i] as number) * v.scale + v.y;
    ctx.fillStyle = colors.selected;
    ctx.fillRect(sx - size / 2, sy - size / 2, size, size);
    ring(i, '#ffffff', 1);
  }
  for (const i of overlay.taken) ring(i, colors.taken, 2.5);
  if (overlay.hoverSection >= 0) {
    const section = paint.scene.sections[overlay.hoverSection];
    if (section !== undefined && section.outline.length > 0) {
      outlinePath(ctx, section.outline, v);
      ctx.strokeStyle = colors.hover;
      ctx.lineWidth = 2;
      ctx.stroke();
    }
  }
  if (overlay.hover >= 0) ring(overlay.hover, colors.hover, 2);
}

/** The viewport that fits the whole scene into width × height with a margin. */
export function fitViewport(scene: Scene, width: number, height: number): Viewport {
  const b = scene.bounds;
  const margin = 16;
  const scale = Math.min((width - 2 * margin) / Math.max(1, b.maxX - b.minX),
    (height - 2 * margin) / Math.max(1, b.maxY - b.minY));
  const safe = Math.max(0.05, scale);
  return {
    scale: safe, width, height,
    x: width / 2 - ((b.minX + b.maxX) / 2) * safe,
    y: height / 2 - ((b.minY + b.maxY) / 2) * safe,
  };
}

/**
 * The view after the canvas changes size (a phone turned, a window resized): the world
 * point at the centre stays at the centre, at the same zoom, so the fan keeps their place.
 */
export function resizeViewport(v: Viewport, width: number, height: number): Viewport {
  return { ...v, width, height, x: v.x + (width - v.width) / 2, y: v.y + (height - v.height) / 2 };
}

/** Zooms by `factor` keeping the world point under (sx, sy) in place. */
export function zoomAt(v: Viewport, factor: number, sx: number, sy: number, min: number,
  max: number): Viewport {
  const scale = Math.min(max, Math.max(min, v.scale * factor));
  const k = scale / v.scale;
  return { ...v, scale, x: sx - (sx - v.x) * k, y: sy - (sy - v.y) * k };
}

/** Screen → world. */
export function toWorld(v: Viewport, sx: number, sy: number): { x: number; y: number } {
  return { x: (sx - v.x) / v.scale, y: (sy - v.y) / v.scale };
}
