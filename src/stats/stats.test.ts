/** Live on-sale figures, on both backends, over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`on-sale stats on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db));
      gateway = installTestGateway(app, ctx);
    });
    afterAll(async () => {
      await gateway?.close();
      await app?.close();
      await db?.close();
    });

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
  });
}
