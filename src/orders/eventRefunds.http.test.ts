/**
 * Cancelling an event refunds every confirmed order: at once through the cancel route, and
 * by the maintenance pass when the node died right after committing the cancellation
 * (resumable, idempotent, safe to run twice at once).
 */
import { describe, expect, it } from 'vitest';
import { cancelEvent } from '../catalog/cancel.js';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { refundCancelledEvents } from './eventRefunds.js';
import { bookingDeps } from './workers.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`refunding a cancelled event on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;

    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite));

    /** `count` fans each buy one seat; returns the event. */
    async function soldEvent(count: number): Promise<EventDetails> {
      const event = await buildEvent(ctx);
      for (let i = 1; i <= count; i++) {
        const fan = await buildCustomer(ctx);
        const hold = await app.inject({ method: 'POST',
          url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(fan.token),
          payload: { seats: [`A-1-${i}`] } });
        expect(hold.statusCode, hold.body).toBe(201);
        const order = await app.inject({ method: 'POST',
          url: `/api/v1/holds/${hold.json().holdId}/checkout`,
          headers: { ...bearer(fan.token), 'idempotency-key': `buy-${i}` },
          payload: { paymentMethod: 'sim_ok' } });
        expect(order.json().status).toBe('confirmed');
      }
      return event;
    }

    const statuses = async (eventId: string) => (await db.query<{ status: string;
      refund: string | null }>(
      `SELECT o.status, r.status AS refund FROM orders o
         LEFT JOIN refunds r ON r.order_id = o.order_id
        WHERE o.event_id = $1 ORDER BY o.created_at`, [eventId])).rows;

    it('refunds every confirmed order when the organizer cancels the event', async () => {
      const event = await soldEvent(4);
      const response = await app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/cancel`, headers: adminHeaders });
      expect(response.statusCode).toBe(200);
      expect(await statuses(event.eventId)).toEqual(
        Array.from({ length: 4 }, () => ({ status: 'cancelled', refund: 'succeeded' })));
      expect(await auditBooking(db, event.eventId)).toEqual([]);
      // Cancelling again changes nothing and refunds nothing twice.
      await app.inject({ method: 'POST', url: `/api/v1/events/${event.eventId}/cancel`,
        headers: adminHeaders });
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM refunds r JOIN orders o ON o.order_id = r.order_id
          WHERE o.event_id = $1`, [event.eventId]);
      expect(rows[0]?.n).toBe(4);
    });

    it('finishes after a crash right after the cancellation, two passes at once', async () => {
      const event = await soldEvent(5);
      // The node committed the cancellation and died before refunding anything.
      await cancelEvent(db, event.eventId);
      expect((await statuses(event.eventId)).map((s) => s.status))
        .toEqual(Array.from({ length: 5 }, () => 'confirmed'));
      // Two maintenance passes race in small batches until nothing is left.
      const deps = bookingDeps(ctx);
      let passes = 0;
      for (;;) {
        const [a, b] = await Promise.all([
          refundCancelledEvents(deps, { eventId: event.eventId, batch: 2 }),
          refundCancelledEvents(deps, { eventId: event.eventId, batch: 2 }),
        ]);
        passes += 1;
        if (a + b === 0) break;
        expect(passes).toBeLessThan(10);
      }
      expect(await statuses(event.eventId)).toEqual(
        Array.from({ length: 5 }, () => ({ status: 'cancelled', refund: 'succeeded' })));
      expect(await refundCancelledEvents(deps, { eventId: event.eventId })).toBe(0);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });
  });
}
