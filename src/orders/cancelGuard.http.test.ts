/**
 * Cancellation after the door: a fan cannot cancel (and resell the seat they sit in) once a
 * ticket was scanned or the event started; an organizer may still refund, and scanned seats
 * stay sold. Each test builds its own event and customers.
 */
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`cancellation guard on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;

    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite));

    /** A fresh event and a fan with a confirmed order for `seats`. */
    async function bought(seats: string[]) {
      const event = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const hold = await app.inject({ method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: bearer(fan.token), payload: { seats } });
      expect(hold.statusCode, hold.body).toBe(201);
      const order = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': 'k1' },
        payload: { paymentMethod: 'sim_ok' } });
      expect(order.json().status).toBe('confirmed');
      return { event, fan, order: order.json() as { orderId: string;
        tickets: { code: string; seatId: string }[] } };
    }

    const cancel = (orderId: string, headers: Record<string, string>) =>
      app.inject({ method: 'POST', url: `/api/v1/orders/${orderId}/cancel`, headers });
    const holdSeat = async (eventId: string, seatId: string) => {
      const rival = await buildCustomer(ctx);
      return await app.inject({ method: 'POST', url: `/api/v1/events/${eventId}/holds`,
        headers: bearer(rival.token), payload: { seats: [seatId] } });
    };
    const state = async (orderId: string) => JSON.stringify((await db.query(
      `SELECT o.status, (SELECT count(*) FROM refunds r JOIN payments p USING (payment_id)
                          WHERE p.order_id = o.order_id) AS refunds,
              (SELECT count(*) FROM tickets t WHERE t.order_id = o.order_id) AS sold
         FROM orders o WHERE o.order_id = $1`, [orderId])).rows[0]);

    it('refuses a fan once a ticket was scanned; the organizer refunds, scanned seat stays sold',
      async () => {
        const { event, fan, order } = await bought(['A-1-1', 'A-1-2']);
        const [scannedTicket, other] = order.tickets;
        if (scannedTicket === undefined || other === undefined) throw new Error('two tickets');
        const scan = await app.inject({ method: 'POST',
          url: `/api/v1/events/${event.eventId}/checkins`, headers: adminHeaders,
          payload: { code: scannedTicket.code } });
        expect(scan.statusCode).toBe(200);
        const before = await state(order.orderId);
        const refused = await cancel(order.orderId, bearer(fan.token));
        expect(refused.statusCode).toBe(409);
        expect(refused.json().code).toBe('not_cancellable');
        expect(await state(order.orderId)).toBe(before);

        const refunded = await cancel(order.orderId, adminHeaders);
        expect(refunded.statusCode, refunded.body).toBe(200);
        expect(refunded.json()).toMatchObject({ status: 'cancelled',
          payment: { refund: { status: 'succeeded' } } });
        expect((await holdSeat(event.eventId, scannedTicket.seatId)).statusCode).toBe(409);
        expect((await holdSeat(event.eventId, other.seatId)).statusCode).toBe(201);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('refuses a fan once the event has started; the organizer may refund', async () => {
      const { event, fan, order } = await bought(['A-2-1']);
      // Time passes: the show begins (the database clock decides).
      await db.query(`UPDATE events SET starts_at = now() - interval '1 minute'
                       WHERE event_id = $1`, [event.eventId]);
      const before = await state(order.orderId);
      const refused = await cancel(order.orderId, bearer(fan.token));
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('not_cancellable');
      expect(await state(order.orderId)).toBe(before);
      const refunded = await cancel(order.orderId, adminHeaders);
      expect(refunded.json().status).toBe('cancelled');
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('still lets a fan cancel before the door (control)', async () => {
      const { event, fan, order } = await bought(['A-3-1']);
      const cancelled = await cancel(order.orderId, bearer(fan.token));
      expect(cancelled.json().status).toBe('cancelled');
      expect((await holdSeat(event.eventId, 'A-3-1')).statusCode).toBe(201);
    });
  });
}
