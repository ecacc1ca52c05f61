/**
 * The organizer's pages in a real Chromium: sign in with the admin token, generate a venue
 * with its live preview, create an event on it, watch the dashboard count a sale made
 * through the API, check its tickets in at the door (first scan, already checked in,
 * unknown), find the order and refund it. Every page passes axe; screenshots at desktop
 * and phone sizes.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testAdminToken } from '../../src/testing/context.js';
import {
  launchBrowser, newContext, screenshot, seriousAxeViolations, startTestServer, viewports,
  watchErrors, type TestServer,
} from './harness.js';

interface Sale {
  orderId: string;
  email: string;
  codes: string[];
}

/** A fan buys `seats` through the public API, as any other client would. */
async function buyThroughApi(url: string, eventId: string, seats: string[]): Promise<Sale> {
  const email = `door-${Date.now()}-${Math.random().toString(16).slice(2)}@example.com`;
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const reply = await fetch(`${url}${path}`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const json = await reply.json() as Record<string, unknown>;
    if (!reply.ok) throw new Error(`${path}: ${reply.status} ${JSON.stringify(json)}`);
    return json;
  };
  const account = await post('/api/v1/customers', { email, name: 'Door Fan',
    password: 'a long passphrase' });
  const auth = { authorization: `Bearer ${String(account.token)}` };
  const hold = await post(`/api/v1/events/${eventId}/holds`, { seats }, auth);
  const order = await post(`/api/v1/holds/${String(hold.holdId)}/checkout`,
    { paymentMethod: 'sim_ok' }, { ...auth, 'idempotency-key': `door-${email}` });
  expect(order.status).toBe('confirmed');
  const tickets = order.tickets as { code: string }[];
  return { orderId: String(order.orderId), email, codes: tickets.map((t) => t.code) };
}

/** A venue and an event on sale on it, through the admin API. */
async function createEventThroughApi(url: string, title: string): Promise<string> {
  const admin = { 'content-type': 'application/json', authorization: `Bearer ${testAdminToken}` };
  const rows = ['1', '2', '3', '4'].map((label) => ({ label, seats: 8 }));
  const venueBody = {
    name: 'Quayside Hall', city: 'Porto',
    sections: [
      { key: 'GA1', name: 'Standing', kind: 'standing', capacity: 50,
        layout: { x: 0, y: 2 } },
      ...['101', '102', '103'].map((key, i) => ({
        key, name: `Section ${key}`, kind: 'seated', rows,
        layout: { x: (i - 1) * 10, y: 12 },
      })),
    ],
  };
  const venue = await (await fetch(`${url}/api/v1/venues`, {
    method: 'POST', headers: admin, body: JSON.stringify(venueBody) })).json() as
    { venueId: string; sections: { key: string; kind: string }[] };
  const seated = venue.sections.filter((s) => s.kind === 'seated').map((s) => s.key);
  const standing = venue.sections.filter((s) => s.kind === 'standing').map((s) => s.key);
  const reply = await fetch(`${url}/api/v1/events`, {
    method: 'POST', headers: admin, body: JSON.stringify({
      venueId: venue.venueId, title,
      startsAt: new Date(Date.now() + 30 * 86_400_000).toISOString(),
      onSaleAt: new Date(Date.now() - 60_000).toISOString(),
      zones: [
        { key: 'seats', name: 'Seats', priceCents: 4_550, currency: 'EUR', sections: seated },
        { key: 'floor', name: 'Floor', priceCents: 2_000, currency: 'EUR', sections: standing },
      ],
    }),
  });
  expect(reply.status).toBe(201);
  return ((await reply.json()) as { eventId: string }).eventId;
}

async function signedIn(browser: Browser, size: keyof typeof viewports):
  Promise<{ context: BrowserContext; page: Page; errors: string[]; failed: string[] }> {
  const context = await newContext(browser, size);
  // Runs in the page, where sessionStorage exists.
  await context.addInitScript((token) => {
    const scope = globalThis as unknown as { sessionStorage: { setItem(k: string, v: string):
      void } };
    scope.sessionStorage.setItem('stampede.admin', token);
  }, testAdminToken);
  const page = await context.newPage();
  return { context, page, errors: watchErrors(page), failed: watchFailedResponses(page) };
}

/** Every failed response, so a test can insist on exactly the refusals it provoked. */
function watchFailedResponses(page: Page): string[] {
  const failed: string[] = [];
  page.on('response', (response) => {
    if (response.status() >= 400) {
      failed.push(`${response.status()} ${new URL(response.url()).pathname}`);
    }
  });
  return failed;
}

/** Console errors other than failed loads (those are checked by watchFailedResponses). */
function pageErrors(errors: readonly string[]): string[] {
  return errors.filter((e) => !e.includes('Failed to load resource'));
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await seriousAxeViolations(page)).toEqual([]);
}

describe('organizer pages in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  /** An event made through the API for the tests that do not create one in the page. */
  let eventId = '';

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
    eventId = await createEventThroughApi(server.url, 'Quayside Nights');
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('creates a venue and an event, and the dashboard counts a sale', async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const errors = watchErrors(page);
    const failed = watchFailedResponses(page);
    await page.goto(`${server.url}/organizer`);
    await page.getByRole('heading', { name: 'Organizer sign-in' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'organizer-signin-desktop');
    await page.getByLabel('Admin token').fill('not the token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Admin token').fill(testAdminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Organizer', exact: true }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'organizer-home-desktop');

    await page.getByRole('link', { name: 'New venue' }).click();
    await page.getByRole('heading', { name: 'New venue' }).waitFor();
    await page.getByRole('textbox', { name: 'Venue name' }).fill('Harbour Arena');
    await page.getByRole('textbox', { name: 'City' }).fill('Porto');
    await page.getByRole('spinbutton', { name: 'Seated sections' }).fill('3');
    await page.getByRole('spinbutton', { name: 'Rows per section' }).fill('4');
    await page.getByRole('spinbutton', { name: 'Seats in the front row' }).fill('8');
    await page.getByRole('spinbutton', { name: 'Places per standing area' }).fill('100');
    await page.getByText(/Capacity: .* places/).filter({ hasText: /\d/ }).waitFor();
    // The preview draws the seats: the canvas is not blank.
    await expect.poll(async () => await page.getByTestId('venue-preview').evaluate((el) => {
      const canvas = el as unknown as { width: number; height: number; getContext(kind: '2d'):
        { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }
        | null };
      const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height)
        .data ?? new Uint8ClampedArray();
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) painted += 1;
      return painted;
    }), { timeout: 10_000 }).toBeGreaterThan(500);
    await expectAccessible(page);
    await screenshot(page, 'organizer-venue-desktop');
    await page.getByRole('button', { name: 'Create venue' }).click();
    await page.getByText('Harbour Arena is ready.').waitFor();
    await page.getByRole('link', { name: 'Create an event at this venue' }).click();

    await page.getByRole('heading', { name: 'New event' }).waitFor();
    await page.getByRole('textbox', { name: 'Title' }).fill('Harbour Lights');
    await page.getByRole('textbox', { name: 'Zone 1 price' }).fill('45.50');
    await expectAccessible(page);
    await screenshot(page, 'organizer-event-desktop');
    await page.getByRole('button', { name: 'Create event' }).click();
    await page.waitForURL(/\/organizer\/events\/[0-9a-f-]{36}\/dashboard$/);
    const eventId = /events\/([0-9a-f-]{36})/.exec(page.url())?.[1] ?? '';
    await page.getByTestId('tile-sold').filter({ hasText: /^0 \/ / }).waitFor();
    // Zone counts come from the live feed once its snapshot arrived.
    await page.getByText('Live: zone counts move').waitFor();

    const venue = await (await fetch(`${server.url}/api/v1/events/${eventId}`)).json() as {
      zones: { key: string; priceCents: number; sections: string[] }[] };
    expect(venue.zones.map((z) => z.priceCents)).toEqual([4_550, 4_000]);
    const seated = venue.zones[0]?.sections[0] ?? '';
    await buyThroughApi(server.url, eventId, [`${seated}-1-1`, `${seated}-1-2`]);
    await page.getByTestId('tile-sold').filter({ hasText: /^2 \/ / }).waitFor();
    await page.getByTestId('tile-orders').filter({ hasText: /^1$/ }).waitFor();
    await page.getByTestId('value-sold').filter({ hasText: /^2$/ }).waitFor();
    await page.getByTestId(`zone-sold-${venue.zones[0]?.key ?? ''}`)
      .filter({ hasText: /^2$/ }).waitFor();
    expect(await page.getByTestId('tile-revenue').textContent()).toMatch(/91[.,]00/);
    await expectAccessible(page);
    await screenshot(page, 'organizer-dashboard-desktop');
    // Opened again mid-sale, the dashboard starts from the server's last two minutes (a
    // fresh page alone would have one point per poll), on a time axis with clock labels.
    await page.reload();
    await page.getByTestId('value-sold').filter({ hasText: /^2$/ }).waitFor();
    const line = await page.locator('[data-metric="queueLength"] path.chart-line')
      .getAttribute('d');
    expect(line?.split('L').length ?? 0).toBeGreaterThan(5);
    expect(await page.getByTestId('chart-time').first().locator('span').count())
      .toBeGreaterThanOrEqual(2);
    expect(pageErrors(errors)).toEqual([]);
    // The one refusal is the wrong token this test typed.
    expect(failed).toEqual(['401 /api/v1/admin/venues']);
    await context.close();
  });

  it('gives the door a link of its own: first scan, already checked in, unknown, revoked',
    async () => {
      const event = await (await fetch(`${server.url}/api/v1/events/${eventId}`)).json() as {
        zones: { sections: string[] }[] };
      const seated = event.zones[0]?.sections[1] ?? '';
      const sale = await buyThroughApi(server.url, eventId, [`${seated}-2-3`, `${seated}-2-4`]);
      const organizer = await signedIn(browser, 'desktop');
      await organizer.page.goto(`${server.url}/organizer/events/${eventId}/checkin`);
      await organizer.page.getByRole('heading', { name: 'Door staff' }).waitFor();
      await organizer.page.getByLabel('Door or device').fill('North gate');
      await organizer.page.getByRole('button', { name: 'Create door link' }).click();
      const link = await organizer.page.getByTestId('door-link').getAttribute('href') ?? '';
      expect(link).toMatch(/\/checkin#token=/);

      // Door staff: no admin token in this browser, only the link.
      const door = await newContext(browser, 'desktop');
      const page = await door.newPage();
      const errors = watchErrors(page);
      const failed = watchFailedResponses(page);
      await page.goto(link);
      await page.getByRole('heading', { name: 'Door check-in' }).waitFor();
      expect(page.url()).not.toContain('token=');
      await page.getByTestId('door-tally').filter({ hasText: /0 of \d+ tickets/ }).waitFor();
      const code = page.getByLabel('Ticket code');
      const result = page.getByTestId('scan-result');
      await code.fill(sale.codes[0] ?? '');
      await code.press('Enter');
      await result.getByText('Welcome in: first scan').waitFor();
      await result.getByText(`Section ${seated}, row 2, seat 3`, { exact: false }).waitFor();
      await page.getByTestId('door-tally').filter({ hasText: /^.* 1 of \d+ tickets/ }).waitFor();
      await expectAccessible(page);
      await screenshot(page, 'organizer-checkin-desktop');
      await code.fill(sale.codes[0] ?? '');
      await page.getByRole('button', { name: 'Check in' }).click();
      await result.getByText('Already checked in').waitFor();
      await result.getByText(/First scanned at/).waitFor();
      await code.fill('no-such-ticket-code');
      await code.press('Enter');
      await result.getByText('Unknown ticket').waitFor();
      await page.getByRole('heading', { name: 'Earlier scans' }).waitFor();
      await expectAccessible(page);

      // Revoked: the next scan is refused and the page stops trusting the link.
      await organizer.page.getByRole('button', { name: 'Revoke North gate' }).click();
      await organizer.page.getByRole('button', { name: 'Revoke North gate' })
        .waitFor({ state: 'detached' });
      await code.fill(sale.codes[1] ?? '');
      await code.press('Enter');
      await page.getByRole('heading', { name: 'Organizer sign-in' }).waitFor();
      expect(pageErrors(errors)).toEqual([]);
      const checkins = `/api/v1/events/${eventId}/checkins`;
      expect(failed.slice(0, 2)).toEqual([`409 ${checkins}`, `404 ${checkins}`]);
      expect(failed[2]).toMatch(new RegExp(`^40[13] ${checkins}$`));
      await door.close();
      await organizer.context.close();
    });

  it('finds an order by e-mail and ticket code and refunds it', async () => {
    const event = await (await fetch(`${server.url}/api/v1/events/${eventId}`)).json() as {
      zones: { sections: string[] }[] };
    const seated = event.zones[0]?.sections[2] ?? '';
    const sale = await buyThroughApi(server.url, eventId, [`${seated}-3-1`, `${seated}-3-2`]);
    const { context, page } = await signedIn(browser, 'desktop');
    await page.goto(`${server.url}/organizer/orders`);
    await page.getByRole('heading', { name: 'Find orders' }).waitFor();
    await page.getByLabel('Order id, ticket code or e-mail').fill(sale.codes[1] ?? '');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    const card = page.locator(`[data-order="${sale.orderId}"]`);
    await card.waitFor();
    await page.getByLabel('Order id, ticket code or e-mail').fill(sale.email.toUpperCase());
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await card.getByText(sale.email).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'organizer-orders-desktop');
    await card.getByRole('button', { name: 'Cancel and refund' }).click();
    await card.getByRole('button', { name: 'Yes, refund' }).click();
    await card.getByTestId('order-status').filter({ hasText: 'Cancelled' }).waitFor();
    await card.getByText(/Refund of/).waitFor();
    await expectAccessible(page);
    const seat = await fetch(`${server.url}/api/v1/events/${eventId}/seatmap`);
    const map = await seat.json() as { sections: { rows: { seats: { id: string;
      status: string }[] }[] }[] };
    const statuses = map.sections.flatMap((s) => s.rows.flatMap((r) => r.seats))
      .filter((s) => s.id === `${seated}-3-1` || s.id === `${seated}-3-2`)
      .map((s) => s.status);
    expect(statuses).toEqual(['available', 'available']);
    await context.close();
  });

  it('lays every organizer page out on a phone without serious axe violations', async () => {
    const { context, page, errors, failed } = await signedIn(browser, 'phone');
    const pages: [string, string, string][] = [
      ['organizer-home', '/organizer', 'Organizer'],
      ['organizer-venue', '/organizer/venues/new', 'New venue'],
      ['organizer-event', '/organizer/events/new', 'New event'],
      ['organizer-dashboard', `/organizer/events/${eventId}/dashboard`, 'Live: Quayside Nights'],
      ['organizer-orders', '/organizer/orders', 'Find orders'],
      ['organizer-checkin', `/organizer/events/${eventId}/checkin`, 'Door check-in'],
    ];
    for (const [name, path, heading] of pages) {
      await page.goto(`${server.url}${path}`);
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      if (name === 'organizer-dashboard') await page.getByTestId('tile-sold').waitFor();
      // Nothing wider than the screen: the page never scrolls sideways.
      const overflow = await page.evaluate(() => {
        const root = (globalThis as unknown as { document: { documentElement: {
          scrollWidth: number; clientWidth: number } } }).document.documentElement;
        return root.scrollWidth - root.clientWidth;
      });
      await screenshot(page, `${name}-phone`);
      expect(overflow, name).toBeLessThanOrEqual(0);
      await expectAccessible(page);
    }
    expect(pageErrors(errors)).toEqual([]);
    expect(failed).toEqual([]);
    await context.close();
  });
});
