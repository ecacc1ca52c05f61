/**
 * Races that meet in one checkout begin batch (checkoutBatch.ts, migration 049): batches are
 * held back by a pause gate (the app's `seams.checkoutBatches`) until every conflicting
 * request is queued, then sent as one. Each request must be decided on its own: the same hold
 * twice starts one payment, the same Idempotency-Key with another body is refused, an
 * expired hold is refused beside a good one, and no refusal fails the others. The control
 * removes the batch's payment-in-flight guard: the same hold twice then reaches the order's
 * insert twice, and the schema's one-live-order-per-hold index aborts the whole batch, the
 * good request beside it included (the guard makes it a refusal of that request alone).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import { newId } from '../core/ids.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';
import { PauseGate } from '../testing/pauseGate.js';
import { runBeginBatch, type BeginRequest } from './checkoutBatch.js';

const backends = await testBackends();

type Fan = { customerId: string; token: string };

/** Waits until `check` holds, asking again every few milliseconds. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`checkout begin batch races on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;
    let event: EventDetails;
    let seat = 0;
    const gate = new PauseGate();

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db, { env: { PAYMENT_WINDOW_SECONDS: '600' },
        seams: { checkoutBatches: gate } }));
    });
    beforeEach(async () => {
      gateway = installTestGateway(app, ctx);
      event = await buildEvent(ctx, { maxTicketsPerCustomer: 8 });
      seat = 0;
    });
    afterEach(async () => {
      gate.resume();
      await gateway.close();
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    async function holdFor(on: App): Promise<{ fan: Fan; holdId: string }> {
      const fan = await buildCustomer(ctx);
      seat += 1;
      const seatId = `A-${Math.ceil(seat / 10)}-${((seat - 1) % 10) + 1}`;
      const response = await on.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(fan.token),
        payload: { seats: [seatId] } });
      expect(response.statusCode, response.body).toBe(201);
      return { fan, holdId: response.json().holdId };
    }

    const checkout = (on: App, fan: Fan, holdId: string, method: string, key: string) =>
      on.inject({
        method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': key },
        payload: { paymentMethod: method },
      });

    /** The hold's payments by status (every payment started for it, whatever its order). */
    async function paymentsOf(holdId: string): Promise<Record<string, number>> {
      const { rows } = await db.query<{ status: string; n: number }>(
        `SELECT p.status, count(*)::int AS n FROM payments p
           JOIN orders o ON o.order_id = p.order_id
          WHERE o.hold_id = $1 GROUP BY p.status`, [holdId]);
      return Object.fromEntries(rows.map((row) => [row.status, row.n]));
    }

    /** Lets a hold's time run out (nobody else has taken its seat yet). */
    async function expire(holdId: string): Promise<void> {
      await db.query(`UPDATE holds SET expires_at = now() - interval '2 s',
                             claim_expires_at = now() - interval '1 s' WHERE hold_id = $1`,
      [holdId]);
      await db.query(`UPDATE tickets SET hold_expires_at = now() - interval '1 s'
                       WHERE hold_id = $1`, [holdId]);
    }

    it('decides each request of one batch on its own: one payment per hold and key',
      async () => {
        const twice = await holdFor(app);
        const keyed = await holdFor(app);
        const lapsed = await holdFor(app);
        const good = await holdFor(app);
        await expire(lapsed.holdId);
        gate.pause();
        const sends = [
          checkout(app, twice.fan, twice.holdId, 'sim_ok', 'twice-1'),
          checkout(app, twice.fan, twice.holdId, 'sim_ok', 'twice-2'),
          checkout(app, keyed.fan, keyed.holdId, 'sim_ok', 'keyed'),
          checkout(app, keyed.fan, keyed.holdId, 'sim_declined', 'keyed'),
          checkout(app, lapsed.fan, lapsed.holdId, 'sim_ok', 'lapsed'),
          checkout(app, good.fan, good.holdId, 'sim_ok', 'good'),
        ];
        // All six wait for one batch: resuming sends them together (maxBatch is larger).
        await until(() => gate.queued() === 6, 'six checkouts wait for one begin batch');
        gate.resume();
        const [twice1, twice2, keyed1, keyed2, lapsedReply, goodReply] =
          await Promise.all(sends);

        expect(twice1?.statusCode, twice1?.body).toBe(201);
        expect(twice1?.json().status).toBe('confirmed');
        expect(twice2?.statusCode).toBe(409);
        expect(twice2?.json().code).toBe('payment_pending');
        expect(keyed1?.statusCode, keyed1?.body).toBe(201);
        expect(keyed2?.statusCode).toBe(409);
        expect(keyed2?.json().code).toBe('idempotency_conflict');
        expect(lapsedReply?.statusCode).toBe(409);
        expect(lapsedReply?.json().code).toBe('hold_expired');
        expect(goodReply?.statusCode, goodReply?.body).toBe(201);
        expect(goodReply?.json().status).toBe('confirmed');

        expect(await paymentsOf(twice.holdId)).toEqual({ captured: 1 });
        expect(await paymentsOf(keyed.holdId)).toEqual({ captured: 1 });
        expect(await paymentsOf(lapsed.holdId)).toEqual({});
        expect(await paymentsOf(good.holdId)).toEqual({ captured: 1 });
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('control: without the payment-in-flight guard, the same hold twice aborts its batch',
      async () => {
        const twice = await holdFor(app);
        const good = await holdFor(app);
        const request = (hold: { fan: Fan; holdId: string }): BeginRequest => ({
          holdId: hold.holdId, customerId: hold.fan.customerId, orderId: newId(),
          paymentId: newId(), method: 'sim_ok', providerRef: null,
        });
        const batch = (): BeginRequest[] => [request(twice), request(twice), request(good)];
        // Unguarded, both requests for the hold reach the order's insert: the schema's
        // one-live-order-per-hold index aborts the statement, and the good request with it.
        await expect(runBeginBatch(db, 'simulated', 600, batch(), 'checkout-pending'))
          .rejects.toMatchObject({ code: '23505' });
        expect(await paymentsOf(good.holdId)).toEqual({});
        // Guarded, the second is refused as a result and the others start.
        const rows = await runBeginBatch(db, 'simulated', 600, batch());
        expect(rows.map((row) => row.outcome)).toEqual(['started', 'payment_pending', 'started']);
        expect(await paymentsOf(twice.holdId)).toEqual({ pending: 1 });
        expect(await paymentsOf(good.holdId)).toEqual({ pending: 1 });
      });
  });
}
