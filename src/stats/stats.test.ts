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
  });
}
