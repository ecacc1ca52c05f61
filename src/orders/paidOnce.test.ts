/**
 * At most one captured payment per order (invariant 4: a payment is never taken twice for
 * one checkout): the schema refuses a second one, and the audit names the order should the
 * constraint ever be missing.
 */
import { describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import { sqlState, type Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`one captured payment per order on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;
    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite));

    const secondCapture = (orderId: string) => db.query(
      `INSERT INTO payments (payment_id, order_id, event_id, provider, method, amount_cents,
                             currency, status)
       SELECT gen_random_uuid(), order_id, event_id, provider, method, amount_cents, currency,
              'captured' FROM payments WHERE order_id = $1`, [orderId]);

    it('the schema refuses a second capture; the audit catches one without it', async () => {
      const event = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const hold = await app.inject({ method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: bearer(fan.token), payload: { seats: ['A-1-1'] } });
      const order = (await app.inject({ method: 'POST',
        url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': 'k' },
        payload: { paymentMethod: 'sim_ok' } })).json();
      expect(await auditBooking(db, event.eventId)).toEqual([]);
      const refused = await secondCapture(order.orderId).catch((error: unknown) => error);
      expect(sqlState(refused)).toBe('23505');
      // Control: without the constraint the double capture commits, and the audit names it.
      await db.query('DROP INDEX payments_one_captured_per_order');
      await secondCapture(order.orderId);
      expect(await auditBooking(db, event.eventId)).toContain(
        `order paid more than once: ${order.orderId}`);
    });
  });
}
