/**
 * JavaScript each fan page downloads, in the system Chromium: every script the page
 * fetched from a fresh browser context (cold cache), raw and as the server sends it
 * (the precompressed .gz beside each asset). `npx tsx web/test/bench-bundle.ts`
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { buildCustomer, buildEvent, buildVenue } from '../../src/testing/factories.js';
import {
  launchBrowser, newContext, signIn, startTestServer, webBuildDir,
} from './harness.js';

const server = await startTestServer();
const venue = await buildVenue(server.ctx, { rows: 8, seatsPerRow: 14, standing: 200 });
const open = await buildEvent(server.ctx, { venue, title: 'Bundle Night' });
const queued = await buildEvent(server.ctx, {
  venue, title: 'Bundle Queue',
  queue: { enabled: true, admitPerMinute: 1, maxActiveShoppers: 1 },
});
const fan = await buildCustomer(server.ctx);
const auth = { authorization: `Bearer ${fan.token}`, 'content-type': 'application/json' };
const post = async (url: string, body: unknown, headers: Record<string, string> = {}) =>
  await (await fetch(`${server.url}${url}`, {
    method: 'POST', headers: { ...auth, ...headers }, body: JSON.stringify(body),
  })).json() as Record<string, unknown>;
// Someone ahead in the line, so the fan waits on the waiting-room page.
const ahead = await buildCustomer(server.ctx);
await fetch(`${server.url}/api/v1/events/${queued.eventId}/queue`, {
  method: 'POST', body: '{}',
  headers: { authorization: `Bearer ${ahead.token}`, 'content-type': 'application/json' },
});
const hold = await post(`/api/v1/events/${open.eventId}/holds`, { seats: ['A-2-3'] });
const bought = await post(`/api/v1/events/${open.eventId}/holds`, { seats: ['A-2-5'] });
const order = await post(`/api/v1/holds/${String(bought.holdId)}/checkout`,
  { paymentMethod: 'sim_ok' }, { 'idempotency-key': 'bundle-order' });

/** Each fan page, and what shows it is fully drawn. */
const pages: { name: string; url: string; ready: (page: Page) => Promise<unknown> }[] = [
  { name: 'search', url: '/', ready: async (p) => p.getByRole('link', { name: 'Bundle Night' })
    .waitFor() },
  { name: 'event (live seat map)', url: `/events/${open.eventId}`,
    ready: async (p) => p.getByTestId('seatmap').waitFor() },
  { name: 'waiting room', url: `/events/${queued.eventId}/queue`,
    ready: async (p) => p.getByTestId('queue-position').waitFor() },
  { name: 'checkout', url: `/holds/${String(hold.holdId)}`,
    ready: async (p) => p.getByRole('timer').first().waitFor() },
  { name: 'order (QR tickets)', url: `/orders/${String(order.orderId)}`,
    ready: async (p) => p.getByRole('img', { name: /Ticket code/ }).first().waitFor() },
  { name: 'my orders', url: '/me/orders',
    ready: async (p) => p.getByText('View tickets').first().waitFor() },
];

function sizes(script: string): { raw: number; gzip: number } {
  const file = path.join(webBuildDir, script);
  const raw = readFileSync(file).length;
  try {
    return { raw, gzip: statSync(`${file}.gz`).size };
  } catch {
    return { raw, gzip: raw }; // under 1 KiB: sent as is
  }
}

const browser = await launchBrowser();
const results: Record<string, unknown>[] = [];
for (const entry of pages) {
  const context = await newContext(browser);
  await signIn(context, fan);
  const page = await context.newPage();
  const scripts = new Set<string>();
  page.on('response', (response) => {
    if (response.url().endsWith('.js')) scripts.add(new URL(response.url()).pathname);
  });
  await page.goto(`${server.url}${entry.url}`);
  await entry.ready(page);
  const files = [...scripts].sort();
  const total = files.map(sizes).reduce((sum, s) => ({ raw: sum.raw + s.raw,
    gzip: sum.gzip + s.gzip }), { raw: 0, gzip: 0 });
  results.push({
    page: entry.name, files: files.length, rawKiB: Math.round(total.raw / 102.4) / 10,
    gzipKiB: Math.round(total.gzip / 102.4) / 10,
    qrChunk: files.some((f) => readFileSync(path.join(webBuildDir, f), 'utf8')
      .includes('QR Code')),
    scripts: files.map((f) => path.basename(f)).join(' '),
  });
  await context.close();
}
console.log(JSON.stringify(results, null, 2));
await browser.close();
await server.close();
