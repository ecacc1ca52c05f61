/**
 * Test helpers for the canvas seat map: where a seat is drawn (the same pure layout and
 * viewport code the page runs, fed the same seat map) and what colour the page painted there.
 */
import type { Page } from 'playwright-core';
import { buildScene, type SeatMapInput, type ZoneInput } from '../src/features/seatmap/lib/scene.js';
import { colors, fitViewport } from '../src/features/seatmap/lib/draw.js';
import type { LayoutHint } from '../src/lib/venueGeometry.js';

/** The page-relative point where the map draws `seatId` at its initial (fitted) view. */
export async function seatPoint(
  page: Page, baseUrl: string, eventId: string, seatId: string,
): Promise<{ x: number; y: number }> {
  const get = async (path: string): Promise<unknown> => (await fetch(`${baseUrl}${path}`)).json();
  const seatmap = await get(`/api/v1/events/${eventId}/seatmap`) as SeatMapInput;
  const event = await get(`/api/v1/events/${eventId}`) as { venueId: string; zones: ZoneInput[] };
  const venue = await get(`/api/v1/venues/${event.venueId}`) as {
    sections: { key: string; layout?: LayoutHint }[];
  };
  const hints = new Map<string, LayoutHint>();
  for (const s of venue.sections) if (s.layout) hints.set(s.key, s.layout);
  const scene = buildScene(eventId, seatmap, event.zones, hints);
  const map = page.getByTestId('seatmap');
  // Mouse coordinates are the viewport's: bring the whole map into it first.
  await map.evaluate((element) => element.scrollIntoView({ block: 'end' }));
  const box = await map.boundingBox();
  if (box === null) throw new Error('seat map not visible');
  const index = scene.indexById.get(seatId);
  if (index === undefined) throw new Error(`no seat ${seatId}`);
  // The canvas fills the wrapper inside its 1px border.
  const width = Math.round(box.width) - 2;
  const height = Math.round(box.height) - 2;
  const v = fitViewport(scene, Math.max(200, width), Math.max(240, height));
  return {
    x: box.x + 1 + (scene.xs[index] as number) * v.scale + v.x,
    y: box.y + 1 + (scene.ys[index] as number) * v.scale + v.y,
  };
}

function hex(color: string): [number, number, number] {
  const n = Number.parseInt(color.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** The colour of the static layer at a page point, as a status name or 'other'. */
export async function paintedStatus(
  page: Page, point: { x: number; y: number },
): Promise<'held' | 'sold' | 'other'> {
  const rgb = await page.evaluate(({ x, y }) => {
    const canvas = document.querySelector<HTMLCanvasElement>('canvas[data-layer="static"]');
    if (canvas === null) return [0, 0, 0];
    const rect = canvas.getBoundingClientRect();
    const dpr = canvas.width / rect.width;
    const context = canvas.getContext('2d');
    const data = context?.getImageData(Math.round((x - rect.left) * dpr),
      Math.round((y - rect.top) * dpr), 1, 1).data;
    return data ? [data[0], data[1], data[2]] : [0, 0, 0];
  }, point);
  const near = (c: string) => hex(c).every((v, i) => Math.abs(v - (rgb[i] ?? 0)) <= 6);
  if (near(colors.held)) return 'held';
  if (near(colors.sold)) return 'sold';
  return 'other';
}
