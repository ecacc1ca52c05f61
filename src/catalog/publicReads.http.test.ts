/**
 * Public catalog reads: a per-node cache of the event page and search (bounded age, dropped
 * on the node that cancels the event) and a per-address read limit shared by both.
 */
import { describe, expect, it } from 'vitest';
import { appsPerTest } from '../testing/apps.js';
import { adminHeaders } from '../testing/context.js';
import { buildEvent } from '../testing/factories.js';

describe('public reads', () => {
  const appWith = appsPerTest();

  it('serves the event page and search from the node cache until the TTL', async () => {
    const { app, ctx, db } = await appWith({ PUBLIC_READ_CACHE_MS: '60000' });
    const event = await buildEvent(ctx, { title: 'Cached Night' });
    const page = () => app.inject({ method: 'GET', url: `/api/v1/events/${event.eventId}` });
    const search = () => app.inject({ method: 'GET', url: '/api/v1/events?q=Night' });
    expect((await page()).json().title).toBe('Cached Night');
    expect((await search()).json().data.map((e: { title: string }) => e.title))
      .toEqual(['Cached Night']);
    // Changed behind the node's back (another node, a migration): not seen within the TTL.
    await db.query("UPDATE events SET title = 'Renamed Night' WHERE event_id = $1",
      [event.eventId]);
    expect((await page()).json().title).toBe('Cached Night');
    expect((await search()).json().data[0].title).toBe('Cached Night');
  });

  it('control: with the cache off, every read sees the database', async () => {
    const { app, ctx, db } = await appWith({ PUBLIC_READ_CACHE_MS: '0' });
    const event = await buildEvent(ctx, { title: 'Fresh Night' });
    const page = () => app.inject({ method: 'GET', url: `/api/v1/events/${event.eventId}` });
    expect((await page()).json().title).toBe('Fresh Night');
    await db.query("UPDATE events SET title = 'Renamed Night' WHERE event_id = $1",
      [event.eventId]);
    expect((await page()).json().title).toBe('Renamed Night');
  });

  it('drops the event and search pages at once on the node that cancels it', async () => {
    const { app, ctx } = await appWith({ PUBLIC_READ_CACHE_MS: '60000' });
    const event = await buildEvent(ctx, { title: 'Doomed Night' });
    const page = () => app.inject({ method: 'GET', url: `/api/v1/events/${event.eventId}` });
    const search = () => app.inject({ method: 'GET', url: '/api/v1/events?q=Doomed' });
    const before = (await page()).json().status;
    expect(before).not.toBe('cancelled');
    const listed = (await search()).json().data;
    expect(listed).toHaveLength(1);
    const cancelled = await app.inject({ method: 'POST',
      url: `/api/v1/events/${event.eventId}/cancel`, headers: adminHeaders });
    expect(cancelled.statusCode).toBe(200);
    expect((await page()).json().status).toBe('cancelled');
    const after = (await search()).json().data;
    expect(after.map((e: { status: string }) => e.status)).not.toEqual(
      listed.map((e: { status: string }) => e.status));
  });

  it('limits reads per address, shared by the event page and search, with Retry-After',
    async () => {
      const { app, ctx } = await appWith({ RATE_LIMIT_READS_PER_IP: '4' });
      const event = await buildEvent(ctx);
      const from = (remoteAddress: string, url: string) =>
        app.inject({ method: 'GET', url, remoteAddress });
      const pageUrl = `/api/v1/events/${event.eventId}`;
      for (const url of [pageUrl, '/api/v1/events', pageUrl, '/api/v1/events']) {
        expect((await from('198.51.100.7', url)).statusCode).toBe(200);
      }
      const refused = await from('198.51.100.7', pageUrl);
      expect(refused.statusCode).toBe(429);
      expect(refused.headers['content-type']).toContain('application/problem+json');
      expect(refused.json().code).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await from('198.51.100.7', '/api/v1/events')).statusCode).toBe(429);
      // Another address is unaffected; other reads (the seat map) are not counted.
      expect((await from('198.51.100.8', pageUrl)).statusCode).toBe(200);
      expect((await from('198.51.100.7', `${pageUrl}/seatmap`)).statusCode).toBe(200);
    });
});
