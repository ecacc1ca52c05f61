/**
 * The reconciler backs off per row: payments the provider never decides no longer take
 * every batch, so a newer payment behind more than a batch of them still settles; rows
 * tried many times show up in the `stampede_reconcile_stuck` gauge.
 */
import { describe, expect, it } from 'vitest';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { reconcilePayments } from './reconcile.js';
import { bookingDeps } from './workers.js';

const backends = await testBackends();

for (const backend of backends) {
  describe.skipIf(!backend.available)(`reconciler backoff on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;

    appPerSuite(backend, (suite) => ({ db, app, ctx, gateway } = suite));

    /** A real checkout left pending (its webhook never delivered). */
    async function pendingOrder(seat: string) {
      const event = await buildEvent(ctx);
      const fan = await buildCustomer(ctx);
      const hold = await app.inject({ method: 'POST', url: `/api/v1/events/${event.eventId}/holds`,
        headers: bearer(fan.token), payload: { seats: [seat] } });
      const order = await app.inject({ method: 'POST',
        url: `/api/v1/holds/${hold.json().holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': 'k' },
        payload: { paymentMethod: 'sim_async_ok' } });
      expect(order.json().status).toBe('pending_payment');
      return order.json().orderId as string;
    }

    it('settles a newer payment behind more than a batch of undecidable ones', async () => {
      const stuckOrder = await pendingOrder('A-1-1');
      // More than a batch of older payments the provider has never heard of: every lookup
      // answers "unknown", which never settles anything.
      await db.query(
        `INSERT INTO payments (payment_id, order_id, event_id, provider, method, amount_cents,
                               currency, status, created_at)
         SELECT gen_random_uuid(), o.order_id, o.event_id, 'simulated', 'sim_async_ok', 100,
                'EUR', 'pending', now() - interval '2 minutes' - g * interval '1 second'
           FROM orders o, generate_series(1, $2::int) AS g WHERE o.order_id = $1`,
        [stuckOrder, limits.reconcileBatch + 20]);
      const fresh = await pendingOrder('A-1-2');
      const status = async () => (await db.query<{ status: string }>(
        'SELECT status FROM orders WHERE order_id = $1', [fresh])).rows[0]?.status;
      for (let pass = 0; pass < 3 && (await status()) !== 'confirmed'; pass++) {
        await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
      }
      expect(await status()).toBe('confirmed');
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM payments
          WHERE status = 'pending' AND next_attempt_at > now()`);
      expect(rows[0]?.n).toBe(limits.reconcileBatch + 20); // each tried once, backing off
    });

    it('counts rows tried many times in the stuck gauge', async () => {
      const order = await pendingOrder('A-2-1');
      const gauge = async () => {
        const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
        return Number(/stampede_reconcile_stuck\{kind="payment"\} (\d+)/.exec(text)?.[1]);
      };
      const before = await gauge();
      expect(Number.isInteger(before)).toBe(true);
      await db.query(`UPDATE payments SET provider_ref = 'unknown-' || payment_id
                       WHERE order_id = $1`, [order]);
      await db.query(`DELETE FROM simulated_gateway_charges WHERE payment_id IN (
                        SELECT payment_id::text FROM payments WHERE order_id = $1)`, [order]);
      for (let attempt = 0; attempt < limits.reconcileAlertAttempts; attempt++) {
        // Time passes: the row is due again.
        await db.query(`UPDATE payments SET next_attempt_at = now() WHERE order_id = $1`,
          [order]);
        await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
      }
      expect(await gauge()).toBe(before + 1);
    });
  });
}
