/**
 * The end of a sale in Chromium, against a real server with its worker ticks: the waiting
 * room tells a fan the truth (live place, everything in carts, sold out) and hands them to
 * the waitlist in one step keeping their line order, or lets them leave; a ticket another
 * buyer gives back becomes an offer that appears live on the waiting fan's page (no reload)
 * and is bought from the banner, while the other buyer sees the refund notice live.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventDetails } from '../../src/catalog/schemas.js';
import { buildCustomer, buildEvent, buildVenue } from '../../src/testing/factories.js';
import {
  launchBrowser, newContext, screenshot, seriousAxeViolations, signIn, startTestServer,
  viewports, watchErrors, type TestServer,
} from './harness.js';

type Fan = Awaited<ReturnType<typeof buildCustomer>>;
type Json = Record<string, unknown>;

const pollMs = 200;

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000):
Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

describe('the end of a sale in Chromium', () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  /** A call to the public API over HTTP as `fan`; throws on a refusal. */
  async function call(fan: Fan, method: string, path: string, body?: unknown,
    headers: Record<string, string> = {}): Promise<Json> {
    const reply = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${fan.token}`, 'content-type': 'application/json',
        ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await reply.json() as Json;
    if (!reply.ok) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(json)}`);
    return json;
  }

  async function smallEvent(title: string, queued: boolean, small = true):
  Promise<EventDetails> {
    return await buildEvent(server.ctx, {
      venue: await buildVenue(server.ctx,
        small ? { rows: 1, seatsPerRow: 2, standing: 2 } : { name: 'Harbour Arena' }),
      title, maxTicketsPerCustomer: 10,
      ...(queued
        ? { queue: { enabled: true, admitPerMinute: 600, maxActiveShoppers: 1 } }
        : {}),
    });
  }

  /** Joins the line over the API and waits for the admission ticks to let the fan in. */
  async function admitted(eventId: string, fan: Fan): Promise<string> {
    await call(fan, 'POST', `/api/v1/events/${eventId}/queue`, {});
    return await until(async () => {
      const view = await call(fan, 'GET', `/api/v1/events/${eventId}/queue/me`);
      return view.state === 'admitted' ? String(view.pass) : undefined;
    }, 'the first fan to be admitted');
  }

  async function buy(fan: Fan, eventId: string, zone: string, quantity: number,
    pass?: string): Promise<{ holdId: string; checkout: () => Promise<Json> }> {
    const hold = await call(fan, 'POST', `/api/v1/events/${eventId}/holds`, { zone, quantity },
      pass === undefined ? {} : { 'x-queue-pass': pass });
    const holdId = String(hold.holdId);
    return {
      holdId,
      checkout: async () => await call(fan, 'POST', `/api/v1/holds/${holdId}/checkout`,
        { paymentMethod: 'sim_ok' }, { 'idempotency-key': `buy-${holdId}` }),
    };
  }

  async function waitlistPosition(fan: Fan, eventId: string): Promise<unknown> {
    const entries = (await call(fan, 'GET', '/api/v1/me/waitlist')).data as Json[];
    return entries.find((entry) => entry.eventId === eventId)?.position;
  }

  async function expectAccessible(page: Page): Promise<void> {
    expect(await seriousAxeViolations(page)).toEqual([]);
  }

  it('shows the live place, then "in carts", then sold out, and moves the fan to the '
    + 'waitlist in one step keeping their line order', async () => {
    const event = await smallEvent('Last Tickets Standing', true);
    const eventId = event.eventId;
    const shopper = await buildCustomer(server.ctx);
    const pass = await admitted(eventId, shopper);
    const ahead = await buildCustomer(server.ctx);
    await call(ahead, 'POST', `/api/v1/events/${eventId}/queue`, {});

    const fan = await buildCustomer(server.ctx);
    const context = await newContext(browser);
    await signIn(context, fan);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}/events/${eventId}/queue`);
    // Second in line behind `ahead`, with the tickets the last tick saw.
    await expect.poll(async () => page.getByTestId('queue-position').textContent(),
      { timeout: 30_000, interval: pollMs }).toBe('2');
    await page.getByTestId('queue-tickets').filter({ hasText: '4 free' }).waitFor();
    // Two fans who may each buy ten, four tickets: the page says so rather than an ETA.
    await page.getByTestId('queue-outlook').filter({ hasText: 'unlikely' }).waitFor();
    await expectAccessible(page);

    // The admitted shopper puts everything in carts: no time can be promised any more.
    const seats = await buy(shopper, eventId, 'seats', 2, pass);
    const floor = await buy(shopper, eventId, 'floor', 2, pass);
    await page.getByTestId('queue-outlook').filter({ hasText: 'in other fans\' carts' })
      .waitFor();
    await page.getByText('No wait time can be promised').waitFor();
    await screenshot(page, 'queue-in-carts-desktop');

    // They pay for all of it: the line closes and the page says so, live.
    await seats.checkout();
    await floor.checkout();
    await page.getByTestId('queue-sold-out').waitFor();
    await page.getByRole('button', { name: 'Join the waitlist, keeping my place' }).waitFor();
    await expectAccessible(page);
    await screenshot(page, 'queue-sold-out-desktop');

    await page.getByRole('button', { name: 'Join the waitlist, keeping my place' }).click();
    await page.getByTestId('queue-moved').filter({ hasText: 'number 1 on the waitlist' })
      .waitFor();
    expect((await call(fan, 'GET', `/api/v1/events/${eventId}/queue/me`)).state).toBe('left');
    // The fan ahead in line moves later, and still comes first: line order was kept.
    await call(ahead, 'POST', `/api/v1/events/${eventId}/queue/me/waitlist`, { quantity: 1 });
    expect(await waitlistPosition(ahead, eventId)).toBe(1);
    expect(await waitlistPosition(fan, eventId)).toBe(2);
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);

  it('lets a waiting fan leave the line', async () => {
    const event = await smallEvent('Harbour Lights Festival', true, false);
    const eventId = event.eventId;
    await admitted(eventId, await buildCustomer(server.ctx));
    const fan = await buildCustomer(server.ctx);
    const context = await newContext(browser);
    await signIn(context, fan);
    const page = await context.newPage();
    await page.goto(`${server.url}/events/${eventId}/queue`);
    await expect.poll(async () => page.getByTestId('queue-position').textContent(),
      { timeout: 30_000, interval: pollMs }).toBe('1');
    // Plenty left: the live place and a wait estimate, no warning.
    await page.getByTestId('queue-tickets').waitFor();
    expect(await page.getByTestId('queue-outlook').count()).toBe(0);
    // At the front the page says the fan is next and what the wait is for, rather than
    // "0 ahead of you" beside a wait of minutes (the one slot is a shopper's).
    expect(await page.getByTestId('queue-ahead').textContent()).toBe(
      'Nobody ahead of you: you are next');
    await page.getByTestId('queue-eta').filter({ hasText: 'as soon as a place in the store' })
      .waitFor();
    await expectAccessible(page);
    await screenshot(page, 'queue-desktop');
    await page.setViewportSize(viewports.phone);
    await screenshot(page, 'queue-phone');
    await page.getByRole('button', { name: 'Leave the line' }).click();
    await page.getByTestId('queue-left').waitFor();
    expect((await call(fan, 'GET', `/api/v1/events/${eventId}/queue/me`)).state).toBe('left');
    await context.close();
  }, 180_000);

  it('tells a fan who bought with their turn that they have their tickets', async () => {
    const event = await smallEvent('Bought In Time', true);
    const eventId = event.eventId;
    const fan = await buildCustomer(server.ctx);
    const pass = await admitted(eventId, fan);
    await (await buy(fan, eventId, 'seats', 1, pass)).checkout();
    // The order's news reaches the waiting room's caches through the outbox relay.
    await until(async () => {
      const view = await call(fan, 'GET', `/api/v1/events/${eventId}/queue/me`);
      return view.leftReason === 'purchased' ? view : undefined;
    }, 'the view to say the fan bought');
    const context = await newContext(browser);
    await signIn(context, fan);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}/events/${eventId}/queue`);
    const notice = page.getByTestId('queue-purchased');
    await notice.filter({ hasText: 'You have your tickets' }).waitFor();
    // Not the turn-passed copy and its re-join button: this fan's turn ended in a sale.
    expect(await page.getByRole('button', { name: 'Join again' }).count()).toBe(0);
    expect(await page.getByTestId('queue-left').count()).toBe(0);
    await expectAccessible(page);
    await screenshot(page, 'queue-purchased-desktop');
    await page.setViewportSize(viewports.phone);
    await screenshot(page, 'queue-purchased-phone');
    await notice.getByRole('link', { name: 'See my orders' }).click();
    await page.waitForURL(/\/me\/orders$/);
    expect(errors).toEqual([]);
    await context.close();
  }, 180_000);

  it('shows a returned ticket as a live offer the waiting fan buys from the banner, and '
    + 'the refund to the buyer who gave it back', async () => {
    const event = await smallEvent('Returns Welcome', false);
    const eventId = event.eventId;
    const buyer = await buildCustomer(server.ctx);
    await (await buy(buyer, eventId, 'seats', 2)).checkout();
    const returned = await (await buy(buyer, eventId, 'floor', 2)).checkout();

    const buyerContext = await newContext(browser);
    await signIn(buyerContext, buyer);
    const buyerPage = await buyerContext.newPage();
    const meStream = buyerPage.waitForResponse((r) => r.url().endsWith('/api/v1/me/stream'));
    await buyerPage.goto(`${server.url}/me/orders`);
    expect((await meStream).headers()['content-type']).toMatch(/^text\/event-stream/);

    // The fan joins the waitlist on the sold-out event page and keeps the page open.
    const fan = await buildCustomer(server.ctx);
    const context = await newContext(browser);
    await signIn(context, fan);
    const page = await context.newPage();
    const errors = watchErrors(page);
    const fanStream = page.waitForResponse((r) => r.url().endsWith('/api/v1/me/stream'));
    await page.goto(`${server.url}/events/${eventId}`);
    await fanStream;
    await page.getByRole('button', { name: 'Join the waitlist' }).click();
    await page.getByText('You are number 1 on the waitlist.').waitFor();
    const navigations: string[] = [];
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations.push(frame.url());
    });

    // The buyer cancels one order: its tickets go to the waitlist first, as an offer.
    await call(buyer, 'POST', `/api/v1/orders/${String(returned.orderId)}/cancel`, {});
    const banner = page.getByTestId('offer-banner');
    await banner.filter({ hasText: 'Returns Welcome' }).waitFor();
    expect(navigations).toEqual([]);
    const timer = banner.getByRole('timer');
    expect(await timer.textContent()).toMatch(/^\d+:\d\d$/);
    // The waitlist panel on the page follows the offer too.
    await page.getByRole('link', { name: 'Buy your offered tickets' }).waitFor();
    await expectAccessible(page);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'offer-banner-desktop');
    await page.setViewportSize(viewports.phone);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'offer-banner-phone');
    await page.setViewportSize(viewports.desktop);

    await buyerPage.locator('[data-testid="notice"][data-kind="order.refunded"]').waitFor();
    await expectAccessible(buyerPage);

    await banner.getByRole('link', { name: 'Buy them now' }).click();
    await page.waitForURL(/\/holds\//);
    await page.getByLabel('Test card ending 4242 (approved)').check();
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.waitForURL(/\/orders\//);
    await page.locator('[data-testid="notice"][data-kind="order.confirmed"]').waitFor();
    await expect.poll(async () => banner.count(), { interval: pollMs }).toBe(0);
    const orders = (await call(fan, 'GET', '/api/v1/me/orders')).data as Json[];
    expect(orders.map((o) => o.status)).toEqual(['confirmed']);
    expect(errors).toEqual([]);
    await buyerContext.close();
    await context.close();
  }, 180_000);
});
