/**
 * Seat map benchmark in the system Chromium: time to an interactive 50,000-seat map, frame
 * times while the map applies 1,000 seat updates per second from a paced live stream, and
 * the JavaScript a fan's event page downloads (gzipped). `npx tsx web/test/bench-seatmap.ts`
 */
import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createVenue } from '../../src/catalog/venues.js';
import { buildEvent } from '../../src/testing/factories.js';
import { launchBrowser, newContext, startTestServer, webBuildDir } from './harness.js';
import { seatPoint } from './seatmap.js';

const sections = 50;
const rows = 40;
const seatsPerRow = 25;
const updatesPerSecond = 1_000;
const seconds = 10;

const server = await startTestServer();
const big = await createVenue(server.ctx.db, {
  name: 'Benchmark Stadium', city: 'Bench',
  sections: Array.from({ length: sections }, (_, s) => ({
    key: `S${String(s + 1).padStart(2, '0')}`, name: `Section ${s + 1}`, kind: 'seated' as const,
    rows: Array.from({ length: rows }, (_, r) => ({ label: String(r + 1), seats: seatsPerRow })),
  })),
});
const event = await buildEvent(server.ctx, { venue: big, title: 'Benchmark Night' });
const seatmap = await (await fetch(`${server.url}/api/v1/events/${event.eventId}/seatmap`)).json() as {
  version: number; sections: { rows: { seats: { id: string }[] }[] }[];
};
const ids = seatmap.sections.flatMap((s) => s.rows.flatMap((r) => r.seats.map((x) => x.id)));

// A paced feed: every 50 ms, 50 seat changes, each step continuing the version chain.
let changesSent = 0;
const feed = http.createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store',
    'access-control-allow-origin': '*' });
  let version = seatmap.version;
  const perTick = updatesPerSecond / 20;
  const timer = setInterval(() => {
    const changes = Array.from({ length: perTick }, () => ({
      seatId: ids[Math.floor(Math.random() * ids.length)],
      status: Math.random() < 0.5 ? 'held' : 'available',
    }));
    const data = JSON.stringify({ version: version + 1, prevVersion: version, changes });
    version += 1;
    changesSent += changes.length;
    response.write(`id: ${version}\nevent: seats\ndata: ${data}\n\n`);
  }, 50);
  response.on('close', () => clearInterval(timer));
});
await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve));
const feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}/`;

const browser = await launchBrowser();
const context = await newContext(browser);
const page = await context.newPage();
await page.route('**/api/v1/events/*/live', async (route) => route.continue({ url: feedUrl }));
const scripts = new Set<string>();
page.on('response', (response) => {
  if (response.url().endsWith('.js')) scripts.add(new URL(response.url()).pathname);
});

const started = performance.now();
await page.goto(`${server.url}/events/${event.eventId}`);
await page.getByTestId('seatmap').waitFor();
const point = await seatPoint(page, server.url, event.eventId, 'S25-20-13');
for (;;) {
  await page.mouse.move(point.x + Math.random(), point.y);
  if (await page.locator('.seatmap-tooltip').count() > 0) break;
}
const interactiveMs = performance.now() - started;

changesSent = 0;
// A string, so the bundler's helpers never reach the page.
const result = await page.evaluate(`(async (durationMs) => {
  const frames = [];
  const longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) longTasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: false });
  let last = performance.now();
  const end = last + durationMs;
  await new Promise((resolve) => {
    const tick = (now) => {
      frames.push(now - last);
      last = now;
      if (now < end) requestAnimationFrame(tick);
      else resolve();
    };
    requestAnimationFrame(tick);
  });
  return { frames, longTasks };
})(${seconds * 1000})`) as { frames: number[]; longTasks: number[] };

const sorted = [...result.frames].sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const fps = result.frames.length / seconds;
let gzipBytes = 0;
for (const script of scripts) {
  const file = path.join(webBuildDir, script);
  const gz = `${file}.gz`;
  try {
    gzipBytes += statSync(gz).size;
  } catch {
    gzipBytes += readFileSync(file).length;
  }
}
console.log(JSON.stringify({
  seats: ids.length, interactiveMs: Math.round(interactiveMs), fps: Math.round(fps * 10) / 10,
  frameMsP50: Math.round(pct(0.5) * 10) / 10, frameMsP95: Math.round(pct(0.95) * 10) / 10,
  frameMsMax: Math.round((sorted.at(-1) ?? 0) * 10) / 10,
  changesSentDuringRun: changesSent, longTasks: result.longTasks.length,
  longestTaskMs: Math.round(Math.max(0, ...result.longTasks)),
  scripts: [...scripts].sort(), jsGzipKiB: Math.round(gzipBytes / 102.4) / 10,
}, null, 2));
await browser.close();
feed.close();
await server.close();
