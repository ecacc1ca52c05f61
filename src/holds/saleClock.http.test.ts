/**
 * The sale window is decided by the database clock inside the hold transaction, not by the
 * clock of the node that took the request; and a hold whose payment is pending cannot be
 * extended (its buyer timer is over; the payment window keeps the tickets). Each test builds
 * its own app, with a node clock skewed on purpose.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../core/clock.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';

const backends = await testBackends();

/** A node whose clock runs `skewMs` off the real (database) time. */
const skewed = (skewMs: number): Clock => ({ nowMs: () => Date.now() + skewMs });

for (const backend of backends) {
  describe.skipIf(!backend.available)(`sale clock and extensions on ${backend.name}`, () => {
    const open: { db?: Db; app?: App; gateway?: SimulatedGateway }[] = [];
    afterEach(async () => {
      for (const { db, app, gateway } of open.splice(0)) {
        await gateway?.close();
        await app?.close();
        await db?.close();
      }
    });

    async function nodeWithClock(skewMs: number) {
      const db = await backend.open();
      const { app, ctx } = await buildTestApp(db, { clock: skewed(skewMs) });
      const gateway = installTestGateway(app, ctx);
      open.push({ db, app, gateway });
      const fan = await buildCustomer(ctx);
      const hold = (eventId: string, seats = ['A-1-1']) => app.inject({ method: 'POST',
        url: `/api/v1/events/${eventId}/holds`, headers: bearer(fan.token), payload: { seats } });
      return { db, app, ctx, fan, hold };
    }

    it('a node whose clock runs ahead cannot open the sale early', async () => {
      const { ctx, hold } = await nodeWithClock(20_000);
      const event = await buildEvent(ctx, {
        onSaleAt: new Date(Date.now() + 10_000).toISOString() });
      const early = await hold(event.eventId);
      expect(early.statusCode, early.body).toBe(403);
      expect(early.json().code).toBe('not_on_sale');
    });

    it('a node whose clock runs behind does not keep the sale closed', async () => {
      const { ctx, hold } = await nodeWithClock(-20_000);
      const event = await buildEvent(ctx, {
        onSaleAt: new Date(Date.now() - 10_000).toISOString() });
      const open = await hold(event.eventId);
      expect(open.statusCode, open.body).toBe(201);
    });

    it('a node whose clock runs behind cannot sell after the event started', async () => {
      const { db, ctx, hold } = await nodeWithClock(-20_000);
      const event = await buildEvent(ctx);
      await db.query(`UPDATE events SET starts_at = now() - interval '5 seconds'
                       WHERE event_id = $1`, [event.eventId]);
      const late = await hold(event.eventId);
      expect(late.statusCode, late.body).toBe(403);
      expect(late.json().code).toBe('not_on_sale');
    });

    it('refuses to extend a hold whose payment is pending', async () => {
      const { app, ctx, fan, hold } = await nodeWithClock(0);
      const event = await buildEvent(ctx);
      const created = await hold(event.eventId);
      const holdId = created.json().holdId as string;
      const order = await app.inject({ method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': 'async-1' },
        payload: { paymentMethod: 'sim_async_ok' } });
      expect(order.json().status).toBe('pending_payment');
      const extend = await app.inject({ method: 'POST', url: `/api/v1/holds/${holdId}/extend`,
        headers: bearer(fan.token) });
      expect(extend.statusCode).toBe(409);
      expect(extend.json().code).toBe('payment_pending');
      const after = await app.inject({ method: 'GET', url: `/api/v1/holds/${holdId}`,
        headers: bearer(fan.token) });
      expect(after.json()).toMatchObject({ extended: false, expiresAt: created.json().expiresAt });
    });
  });
}
