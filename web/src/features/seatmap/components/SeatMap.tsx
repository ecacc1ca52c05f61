/**
 * The canvas seat map. Two stacked canvases: the static layer (stage, sections, seats)
 * repainted in full only when the view moves, and patched seat by seat when statuses change;
 * and a light interactive layer (hover, selection, taken seats) repainted per frame. The
 * painting itself is lib/draw.ts; hit-testing uses the scene's spatial grid.
 */
import {
  useEffect, useId, useMemo, useRef, useState, useSyncExternalStore,
  type KeyboardEvent as ReactKeyboardEvent, type PointerEvent as ReactPointerEvent,
} from 'react';
import { copy } from '../../../lib/copy';
import { formatCount, formatMoney } from '../../../lib/format';
import {
  drawOverlay, drawSeatPatch, drawSeats, fitViewport, resizeViewport, toWorld, zoomAt,
  type PaintScene, type Viewport,
} from '../lib/draw';
import { AVAILABLE, insideOutline, seatLabel, statusNames } from '../lib/scene';
import type { SeatStore } from '../lib/seatStore';
import { nearest } from '../lib/spatial';

export interface SeatMapProps {
  store: SeatStore;
  selected: ReadonlySet<string>;
  taken: ReadonlySet<string>;
  onToggleSeat(seatId: string): void;
  onPickSection?(sectionKey: string): void;
}

interface Hover {
  seat: number;
  section: number;
  sx: number;
  sy: number;
}

type Point = { x: number; y: number };

const noHover: Hover = { seat: -1, section: -1, sx: 0, sy: 0 };
const maxScale = 60;

function setupCanvas(
  canvas: HTMLCanvasElement, width: number, height: number,
): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d', { alpha: canvas.dataset.layer === 'overlay' });
  if (ctx === null) throw new Error('no 2d context');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function Tooltip({ store, hover, selected }: {
  store: SeatStore; hover: Hover; selected: ReadonlySet<number>;
}) {
  const { scene } = store;
  if (hover.seat < 0 && hover.section < 0) return null;
  const sectionIndex = hover.seat >= 0 ? (scene.sectionOf[hover.seat] as number) : hover.section;
  const section = scene.sections[sectionIndex];
  if (section === undefined) return null;
  const zone = scene.zones[section.zone];
  const price = zone ? formatMoney(zone.priceCents, zone.currency) : '';
  let title: string;
  let detail: string;
  if (hover.seat >= 0) {
    const where = seatLabel(scene, hover.seat);
    title = copy.seatmap.seatTitle(where.section, where.row, where.seat);
    detail = selected.has(hover.seat) ? `${copy.seatmap.selected} · ${copy.seatmap.clickToRemove}`
      : copy.seatmap.status[statusNames[store.status[hover.seat] as number] ?? 'sold'] ?? '';
  } else {
    title = copy.seatmap.standingTitle(section.name);
    const left = store.sectionCounts[sectionIndex]?.available ?? 0;
    detail = copy.seatmap.standingLeft(formatCount(left));
  }
  return (
    <div className="seatmap-tooltip" style={{ left: hover.sx, top: hover.sy }} aria-hidden="true">
      <strong>{title}</strong>
      <span>{zone?.name} · {price}</span>
      <span>{detail}</span>
    </div>
  );
}

export function SeatMap({ store, selected, taken, onToggleSeat, onPickSection }: SeatMapProps) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const staticRef = useRef<HTMLCanvasElement>(null);
  const overlayRef = useRef<HTMLCanvasElement>(null);
  const view = useRef<Viewport | undefined>(undefined);
  /** True while the view is the fitted one (nobody zoomed or panned since). */
  const fitted = useRef(true);
  const needs = useRef({ full: true, overlay: true });
  const frame = useRef(0);
  const hoverRef = useRef<Hover>(noHover);
  const [hover, setHover] = useState<Hover>(noHover);
  const instructionsId = useId();
  useSyncExternalStore(store.subscribe, store.getRevision);

  const paint: PaintScene = useMemo(() => ({
    scene: store.scene, status: store.status,
    available: (s: number) => store.sectionCounts[s]?.available ?? 0,
  }), [store]);
  const selectedIdx = useMemo(() => new Set([...selected]
    .map((id) => store.scene.indexById.get(id)).filter((i): i is number => i !== undefined)),
  [selected, store]);
  const takenIdx = useMemo(() => new Set([...taken]
    .map((id) => store.scene.indexById.get(id)).filter((i): i is number => i !== undefined)),
  [taken, store]);
  const overlayState = useRef({ selectedIdx, takenIdx });
  overlayState.current = { selectedIdx, takenIdx };

  const contexts = useRef<{ base?: CanvasRenderingContext2D; top?: CanvasRenderingContext2D }>({});

  const standingShown = useRef('');
  const schedule = useRef(() => {});
  schedule.current = () => {
    if (frame.current !== 0) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = 0;
      const v = view.current;
      const { base, top } = contexts.current;
      if (v === undefined || base === undefined || top === undefined) return;
      const dirty = store.drainDirty();
      // Standing areas print their counts: a change there repaints the static layer.
      const standing = store.scene.sections
        .map((s, i) => (s.kind === 'standing' ? store.sectionCounts[i]?.available ?? 0 : 0))
        .join();
      if (standing !== standingShown.current) {
        standingShown.current = standing;
        needs.current.full = true;
      }
      if (needs.current.full || dirty === 'all') {
        drawSeats(base, paint, v);
      } else if (dirty.length > 0) {
        drawSeatPatch(base, paint, v, dirty);
      }
      needs.current.full = false;
      const h = hoverRef.current;
      drawOverlay(top, paint, v, {
        hover: h.seat, hoverSection: h.section,
        selected: overlayState.current.selectedIdx, taken: overlayState.current.takenIdx,
      });
      needs.current.overlay = false;
    });
  };

  // Size the canvases to the container, fitting the venue the first time.
  useEffect(() => {
    const wrap = wrapRef.current;
    if (wrap === null) return undefined;
    const resize = () => {
      const width = Math.max(200, wrap.clientWidth);
      const height = Math.max(240, wrap.clientHeight);
      if (staticRef.current === null || overlayRef.current === null) return;
      contexts.current.base = setupCanvas(staticRef.current, width, height);
      contexts.current.top = setupCanvas(overlayRef.current, width, height);
      // Until the fan zooms or pans, the whole venue stays fitted to the new size; after,
      // their place stays centred.
      const previous = view.current;
      view.current = previous === undefined || fitted.current
        ? fitViewport(store.scene, width, height)
        : resizeViewport(previous, width, height);
      needs.current.full = true;
      schedule.current();
    };
    resize();
    const observer = new ResizeObserver(resize);
    observer.observe(wrap);
    return () => observer.disconnect();
  }, [store]);

  // Live changes: the next frame patches the changed seats.
  useEffect(() => store.subscribe(() => schedule.current()), [store]);
  useEffect(() => schedule.current(), [selectedIdx, takenIdx]);
  useEffect(() => () => {
    cancelAnimationFrame(frame.current);
    frame.current = 0;
  }, []);

  const minScale = () => {
    const wrap = wrapRef.current;
    const fit = fitViewport(store.scene, wrap?.clientWidth ?? 400, wrap?.clientHeight ?? 400);
    return fit.scale * 0.8;
  };
  const setView = (next: Viewport, fits = false) => {
    fitted.current = fits;
    view.current = next;
    needs.current.full = true;
    schedule.current();
  };
  const zoomBy = (factor: number, sx?: number, sy?: number) => {
    const v = view.current;
    if (v === undefined) return;
    setView(zoomAt(v, factor, sx ?? v.width / 2, sy ?? v.height / 2, minScale(), maxScale));
  };
  const panBy = (dx: number, dy: number) => {
    const v = view.current;
    if (v !== undefined) setView({ ...v, x: v.x + dx, y: v.y + dy });
  };
  const fit = () => {
    const v = view.current;
    if (v !== undefined) setView(fitViewport(store.scene, v.width, v.height), true);
  };

  const hitTest = (sx: number, sy: number): Hover => {
    const v = view.current;
    if (v === undefined) return noHover;
    const { scene } = store;
    const world = toWorld(v, sx, sy);
    // Within a seat and a half of a pointer at low zoom, at least 12 px on screen.
    const reach = Math.max(0.7, 12 / v.scale);
    const seat = nearest(scene.grid, scene.xs, scene.ys, world.x, world.y, reach);
    if (seat >= 0) return { seat, section: -1, sx, sy };
    const section = scene.sections.findIndex((s) =>
      s.kind === 'standing' && insideOutline(s.outline, world.x, world.y));
    return section >= 0 ? { seat: -1, section, sx, sy } : noHover;
  };
  const updateHover = (next: Hover) => {
    const previous = hoverRef.current;
    if (previous.seat === next.seat && previous.section === next.section
      && previous.sx === next.sx && previous.sy === next.sy) return;
    hoverRef.current = next;
    setHover(next);
    schedule.current();
  };
  const activate = (hit: Hover) => {
    if (hit.seat >= 0) {
      if (store.status[hit.seat] === AVAILABLE || selectedIdx.has(hit.seat)) {
        onToggleSeat(store.scene.ids[hit.seat] as string);
      }
    } else if (hit.section >= 0) {
      const section = store.scene.sections[hit.section];
      if (section !== undefined) onPickSection?.(section.key);
    }
  };

  // Pointer gestures: one pointer pans (a short press without movement is a click), two
  // pointers pinch-zoom around their midpoint.
  const pointers = useRef(new Map<number, { x: number; y: number }>());
  const gesture = useRef({ moved: 0, pinch: 0 });
  const local = (e: { clientX: number; clientY: number }) => {
    const rect = wrapRef.current?.getBoundingClientRect();
    return { x: e.clientX - (rect?.left ?? 0), y: e.clientY - (rect?.top ?? 0) };
  };
  const onPointerDown = (e: ReactPointerEvent) => {
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    pointers.current.set(e.pointerId, local(e));
    if (pointers.current.size === 1) gesture.current = { moved: 0, pinch: 0 };
    if (pointers.current.size === 2) {
      const [a, b] = [...pointers.current.values()] as [Point, Point];
      gesture.current.pinch = Math.hypot(a.x - b.x, a.y - b.y);
      gesture.current.moved = 99;
    }
  };
  const onPointerMove = (e: ReactPointerEvent) => {
    const p = local(e);
    const last = pointers.current.get(e.pointerId);
    if (last === undefined) {
      if (e.pointerType === 'mouse') updateHover(hitTest(p.x, p.y));
      return;
    }
    pointers.current.set(e.pointerId, p);
    if (pointers.current.size === 2) {
      const [a, b] = [...pointers.current.values()] as [Point, Point];
      const distance = Math.hypot(a.x - b.x, a.y - b.y);
      if (gesture.current.pinch > 0) {
        zoomBy(distance / gesture.current.pinch, (a.x + b.x) / 2, (a.y + b.y) / 2);
      }
      gesture.current.pinch = distance;
      return;
    }
    gesture.current.moved += Math.abs(p.x - last.x) + Math.abs(p.y - last.y);
    if (gesture.current.moved > 4) {
      panBy(p.x - last.x, p.y - last.y);
      if (hoverRef.current !== noHover) updateHover(noHover);
    }
  };
  const onPointerUp = (e: ReactPointerEvent) => {
    const had = pointers.current.delete(e.pointerId);
    if (!had || pointers.current.size > 0) return;
    if (gesture.current.moved <= 4) {
      const p = local(e);
      const hit = hitTest(p.x, p.y);
      activate(hit);
      // On touch there is no hover: a tap shows the details of what it touched.
      updateHover(hit);
    }
  };
  useEffect(() => {
    const wrap = wrapRef.current;
    if (wrap === null) return undefined;
    // Non-passive so the page does not scroll while zooming the map.
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const p = local(e);
      zoomBy(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), p.x, p.y);
    };
    wrap.addEventListener('wheel', onWheel, { passive: false });
    return () => wrap.removeEventListener('wheel', onWheel);
  });
  const onKeyDown = (e: ReactKeyboardEvent) => {
    const step = 60;
    const actions: Record<string, () => void> = {
      ArrowLeft: () => panBy(step, 0), ArrowRight: () => panBy(-step, 0),
      ArrowUp: () => panBy(0, step), ArrowDown: () => panBy(0, -step),
      '+': () => zoomBy(1.25), '=': () => zoomBy(1.25), '-': () => zoomBy(0.8),
      '0': fit,
    };
    const action = actions[e.key];
    if (action === undefined) return;
    e.preventDefault();
    action();
  };

  return (
    <div className="seatmap">
      <div ref={wrapRef} className="seatmap-canvas" tabIndex={0} role="region"
        aria-label={copy.seatmap.label} aria-describedby={instructionsId}
        onKeyDown={onKeyDown} onPointerDown={onPointerDown} onPointerMove={onPointerMove}
        onPointerUp={onPointerUp} onPointerCancel={onPointerUp}
        onPointerLeave={(e) => e.pointerType === 'mouse' && pointers.current.size === 0
          && updateHover(noHover)}
        data-testid="seatmap">
        <canvas ref={staticRef} data-layer="static" aria-hidden="true" />
        <canvas ref={overlayRef} data-layer="overlay" aria-hidden="true" />
        <Tooltip store={store} hover={hover} selected={selectedIdx} />
      </div>
      <p id={instructionsId} className="visually-hidden">{copy.seatmap.instructions}</p>
      <div className="seatmap-zoom" role="group" aria-label={copy.seatmap.label}>
        <button type="button" className="secondary" onClick={() => zoomBy(1.4)}
          aria-label={copy.seatmap.zoomIn}>+</button>
        <button type="button" className="secondary" onClick={() => zoomBy(1 / 1.4)}
          aria-label={copy.seatmap.zoomOut}>−</button>
        <button type="button" className="secondary" onClick={fit}
          aria-label={copy.seatmap.fit}>⤢</button>
      </div>
    </div>
  );
}
