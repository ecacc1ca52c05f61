/** Live on-sale figures, on both backends, over HTTP. */
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent, buildHold } from '../testing/factories.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`on-sale stats on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;

    // Every figure as it is at the request: the per-node cache is off here (tested below).
    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite),
      { env: { STATS_CACHE_MS: '0' } });

    it('counts holds, sales and revenue as they happen, for admins only', async () => {
      const event = await buildEvent(ctx);
      const url = `/api/v1/admin/events/${event.eventId}/stats`;
      const empty = (await app.inject({ url, headers: adminHeaders })).json();
      expect(empty.tickets).toEqual({ capacity: 150, available: 150, held: 0, sold: 0 });
      expect(empty.revenueCents).toBe(0);

      const buyer = await buildCustomer(ctx);
      const hold = await app.inject({
        method: 'POST', url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(buyer.token),
        payload: { seats: ['A-1-1', 'A-1-2'] },
      });
      expect(hold.statusCode).toBe(201);
      const holder = await buildCustomer(ctx);
      await app.inject({
        method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: bearer(holder.token), payload: { zone: 'floor', quantity: 3 },
      });
      const paid = await app.inject({
        method: 'POST', url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(buyer.token), 'idempotency-key': 'stats-1' },
        payload: { paymentMethod: 'sim_ok' },
      });
      expect(paid.json().status).toBe('confirmed');

      const stats = (await app.inject({ url, headers: adminHeaders })).json();
      expect(stats.tickets).toEqual({ capacity: 150, available: 145, held: 3, sold: 2 });
      expect(stats.activeHolds).toBe(1);
      expect(stats.orders.confirmed).toBe(1);
      expect(stats.revenueCents).toBe(2 * 5_000);
      expect(stats.currency).toBe('EUR');
      expect(stats.lastMinute).toEqual({ holds: 2, ticketsSold: 2, orders: 1 });
      expect(stats.queue.enabled).toBe(false);

      expect((await app.inject({ url })).statusCode).toBe(401);
      expect((await app.inject({ url, headers: bearer(buyer.token) })).statusCode).toBe(403);
      const missing = await app.inject({
        url: '/api/v1/admin/events/00000000-0000-4000-8000-000000000000/stats',
        headers: adminHeaders,
      });
      expect(missing.statusCode).toBe(404);
    });

    it('reports hold latency from every hold reply and a short series with the sale', async () => {
      const event = await buildEvent(ctx);
      const url = `/api/v1/admin/events/${event.eventId}/stats`;
      const quiet = (await app.inject({ url, headers: adminHeaders })).json();
      expect(quiet.holdLatency).toEqual({ samples: 0, latencyMsP50: null, latencyMsP99: null });
      expect(quiet.series.stepSeconds).toBe(10);
      expect(quiet.series.points).toHaveLength(12);

      const buyer = await buildCustomer(ctx);
      const hold = await app.inject({
        method: 'POST', url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(buyer.token),
        payload: { seats: ['A-2-3'] },
      });
      expect(hold.statusCode).toBe(201);
      const taken = await app.inject({
        method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: bearer((await buildCustomer(ctx)).token), payload: { seats: ['A-2-3'] },
      });
      expect(taken.statusCode).toBe(409);
      await app.inject({
        method: 'POST', url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(buyer.token), 'idempotency-key': 'stats-series' },
        payload: { paymentMethod: 'sim_ok' },
      });

      // Nodes ship their counts once a second: wait for them, not for a fixed time.
      let stats = quiet;
      const deadline = Date.now() + 30_000;
      while (stats.holdLatency.samples < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        stats = (await app.inject({ url, headers: adminHeaders })).json();
      }
      expect(stats.holdLatency.samples).toBe(2);
      expect(stats.holdLatency.latencyMsP99).toBeGreaterThan(0);
      expect(stats.holdLatency.latencyMsP99).toBeGreaterThanOrEqual(stats.holdLatency.latencyMsP50);
      const points = stats.series.points as { at: string; holds: number; ticketsSold: number;
        orders: number; revenueCents: number; holdLatencyMsP99: number | null }[];
      expect(points).toHaveLength(12);
      const ats = points.map((p) => Date.parse(p.at));
      expect(ats.every((at, i) => i === 0 || at - (ats[i - 1] ?? 0) === 10_000)).toBe(true);
      const sum = (pick: (p: (typeof points)[number]) => number) =>
        points.reduce((total, p) => total + pick(p), 0);
      expect(sum((p) => p.holds)).toBe(1);
      expect(sum((p) => p.ticketsSold)).toBe(1);
      expect(sum((p) => p.orders)).toBe(1);
      expect(sum((p) => p.revenueCents)).toBe(5_000);
      expect(points.some((p) => p.holdLatencyMsP99 !== null)).toBe(true);
    });
    it('walks the line and live holds back through the series, as the rows say they were',
      async () => {
        const event = await buildEvent(ctx, { queue: { enabled: true, admitPerMinute: 60,
          maxActiveShoppers: 10 } });
        const url = `/api/v1/admin/events/${event.eventId}/stats`;
        const fans = await Promise.all([1, 2, 3, 4].map(async () => await buildCustomer(ctx)));
        for (const fan of fans) {
          const join = await app.inject({ method: 'POST', payload: {},
            url: `/api/v1/events/${event.eventId}/queue`, headers: bearer(fan.token) });
          expect(join.statusCode).toBeLessThan(300);
        }
        const leave = await app.inject({ method: 'DELETE',
          url: `/api/v1/events/${event.eventId}/queue/me`, headers: bearer(fans[0]?.token ?? ''),
          payload: {} });
        expect(leave.statusCode).toBe(200);
        await buildHold(ctx, event.eventId, fans[3]?.customerId ?? '', { seats: ['A-1-1'] });
        // Spread the history over earlier windows: three joined 45 s ago, one left 25 s ago,
        // the hold was made 15 s ago; the fourth fan joined now.
        const ids = fans.slice(0, 3).map((f) => f.customerId);
        await db.query(`UPDATE queue_entries SET joined_at = now() - interval '45 seconds'
                          WHERE event_id = $1 AND customer_id = ANY($2::uuid[])`,
        [event.eventId, ids]);
        await db.query(`UPDATE queue_entries SET left_at = now() - interval '25 seconds'
                          WHERE event_id = $1 AND left_at IS NOT NULL`, [event.eventId]);
        await db.query(`UPDATE holds SET created_at = now() - interval '15 seconds'
                          WHERE event_id = $1`, [event.eventId]);

        const stats = (await app.inject({ url, headers: adminHeaders })).json();
        const points = stats.series.points as { at: string; queueLength: number;
          activeHolds: number }[];
        expect(stats.queue.waiting).toBe(3);
        expect(points.at(-1)).toMatchObject({ queueLength: 3, activeHolds: 1 });
        // Counted straight from the rows at each finished window's end.
        const ends = points.slice(0, -1).map((p) => new Date(Date.parse(p.at) + 10_000));
        const { rows } = await db.query<{ line: number; holds: number }>(
          `SELECT (SELECT count(*) FROM queue_entries WHERE event_id = $1 AND joined_at < e
                     AND (left_at IS NULL OR left_at >= e))::int AS line,
                  (SELECT count(*) FROM holds WHERE event_id = $1 AND created_at < e
                     AND (ended_at IS NULL OR ended_at >= e))::int AS holds
             FROM unnest($2::timestamptz[]) WITH ORDINALITY AS t(e, i) ORDER BY i`,
          [event.eventId, ends],
        );
        expect(points.slice(0, -1).map((p) => [p.queueLength, p.activeHolds]))
          .toEqual(rows.map((r) => [r.line, r.holds]));
        // The history is not flat: the line was longer before one fan left, empty before.
        const lengths = points.map((p) => p.queueLength);
        expect(lengths[0]).toBe(0);
        expect(Math.max(...lengths)).toBe(3);
        expect(lengths).toContain(2);
      });
  });

  describe.skipIf(!backend.available)(`on-sale stats cache on ${backend.name}`, () => {
    let app: App;
    let ctx: AppContext;

    appPerSuite(backend, (suite) => ({ app, ctx } = suite), { env: { STATS_CACHE_MS: '1500' } });

    it('shares one computation between requests and serves it until it is older than the TTL',
      async () => {
        const event = await buildEvent(ctx);
        const url = `/api/v1/admin/events/${event.eventId}/stats`;
        const read = async () => (await app.inject({ url, headers: adminHeaders })).json();
        const together = await Promise.all([read(), read(), read(), read()]);
        expect(new Set(together.map((stats) => stats.asOf)).size).toBe(1);
        const first = together[0];
        expect(first.tickets.held).toBe(0);

        const buyer = await buildCustomer(ctx);
        const hold = await app.inject({
          method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
          headers: bearer(buyer.token), payload: { seats: ['A-1-1', 'A-1-2'] },
        });
        expect(hold.statusCode).toBe(201);
        // Within the TTL: the same computation, the hold not yet in it. (Read at once after
        // the first; a machine too slow to do that within 1.5 s would show the new one.)
        const cached = await read();
        if (cached.asOf === first.asOf) expect(cached.tickets.held).toBe(0);
        // Once the entry is older than the TTL, a new computation shows the hold.
        let fresh = cached;
        for (let tries = 0; fresh.tickets.held === 0 && tries < 100; tries += 1) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          fresh = await read();
        }
        expect(fresh.tickets.held).toBe(2);
        expect(Date.parse(fresh.asOf)).toBeGreaterThan(Date.parse(first.asOf));
      });

    it('does not keep an unknown event: 404 every time', async () => {
      const url = '/api/v1/admin/events/00000000-0000-4000-8000-000000000000/stats';
      for (let i = 0; i < 2; i += 1) {
        expect((await app.inject({ url, headers: adminHeaders })).statusCode).toBe(404);
      }
    });
  });
}
