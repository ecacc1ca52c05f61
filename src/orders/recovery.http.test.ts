/**
 * Invariant 4 under failure: lost charge answers, webhooks that never come, a provider
 * that cannot find a charge or wrongly says it was not charged, failed refunds, and two
 * checkouts of one hold racing. Each ends with exactly one confirmed order or exactly one
 * refund per captured payment, and a clean audit.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import { installPayments } from '../payments/index.js';
import type { SimulatedGateway, WebhookDelivery } from '../payments/simulated.js';
import type {
  ChargeOutcome, PaymentProvider, PaymentQuery, PreparedCharge, RefundOutcome, RefundRequest,
} from '../payments/types.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway, postWebhook } from '../testing/payments.js';
import type { CheckoutSeams } from './settle.js';
import { reconcilePayments } from './reconcile.js';
import { bookingDeps } from './workers.js';

const backends = await testBackends();

type Fan = { customerId: string; token: string };

/**
 * The gateway with some answers replaced: a provider having a bad day. It names no
 * reference up front (no `referenceFor`), so checkouts through it register the charge with
 * `prepare` and store its reference before charging, as with Stripe.
 */
function faulty(gateway: SimulatedGateway, overrides: {
  lookup?: (q: PaymentQuery) => Promise<ChargeOutcome | undefined>;
  abandon?: (q: PaymentQuery) => Promise<ChargeOutcome | undefined>;
  refund?: (r: RefundRequest) => Promise<RefundOutcome>;
}): PaymentProvider {
  return {
    name: gateway.name,
    acceptsMethod: (method) => gateway.acceptsMethod(method),
    prepare: (request) => gateway.prepare(request),
    charge: (request: PreparedCharge) => gateway.charge(request),
    refund: overrides.refund ?? ((request) => gateway.refund(request)),
    refundStatus: (query) => gateway.refundStatus(query),
    lookup: overrides.lookup ?? ((query) => gateway.lookup(query)),
    abandon: overrides.abandon ?? ((query) => gateway.abandon(query)),
    verifyWebhook: (raw, headers, nowMs) => gateway.verifyWebhook(raw, headers, nowMs),
    close: () => gateway.close(),
  };
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`payment recovery on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    // The checkout seam of this file's context: a crash right after the charge.
    const seams: CheckoutSeams = {};
    let gateway: SimulatedGateway;
    let event: EventDetails;
    let seat = 0;

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db, { env: { PAYMENT_WINDOW_SECONDS: '600' }, seams }));
    });
    // Each test stands alone: its own event, so its own seats.
    beforeEach(async () => {
      event = await buildEvent(ctx, { maxTicketsPerCustomer: 8 });
      seat = 0;
    });
    afterEach(async () => {
      seams.afterCharge = undefined;
      await gateway?.close();
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    async function holdFor(): Promise<{ fan: Fan; holdId: string; seatId: string }> {
      const fan = await buildCustomer(ctx);
      seat += 1;
      const seatId = `A-${Math.ceil(seat / 10)}-${((seat - 1) % 10) + 1}`;
      const response = await app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(fan.token),
        payload: { seats: [seatId] } });
      expect(response.statusCode, response.body).toBe(201);
      return { fan, holdId: response.json().holdId, seatId };
    }

    const checkout = (fan: Fan, holdId: string, method: string, key: string) =>
      app.inject({ method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': key },
        payload: { paymentMethod: method } });

    const orderOf = async (fan: Fan, orderId: string) => (await app.inject({ method: 'GET',
      url: `/api/v1/orders/${orderId}`, headers: bearer(fan.token) })).json();

    /** Moves a payment and its hold past the payment window; a rival takes the seat. */
    async function pastTheWindow(holdId: string, seatId: string): Promise<void> {
      await db.query(`UPDATE payments SET created_at = now() - interval '1 hour'
                       WHERE order_id IN (SELECT order_id FROM orders WHERE hold_id = $1)`,
      [holdId]);
      await db.query(`UPDATE holds SET expires_at = now() - interval '2 s',
                             claim_expires_at = now() - interval '1 s' WHERE hold_id = $1`,
      [holdId]);
      await db.query(`UPDATE tickets SET hold_expires_at = now() - interval '1 s'
                       WHERE hold_id = $1`, [holdId]);
      const rival = await buildCustomer(ctx);
      const taken = await app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(rival.token),
        payload: { seats: [seatId] } });
      expect(taken.statusCode).toBe(201);
    }

    /** Takes the queued webhooks off the gateway without delivering them (endpoint down). */
    function dropWebhooks(): WebhookDelivery[] {
      const dropped = [...gateway.pending()];
      gateway = installTestGateway(app, ctx);
      return dropped;
    }

    const refundsOf = async (orderId: string) => (await db.query<{ status: string }>(
      'SELECT status FROM refunds WHERE order_id = $1', [orderId])).rows;

    it('a lost charge answer is settled from the provider within the window', async () => {
      gateway = installTestGateway(app, ctx);
      const { fan, holdId } = await holdFor();
      seams.afterCharge = () => {
        throw new Error('crash between charge and settle');
      };
      const pending = (await checkout(fan, holdId, 'sim_ok', 'lost-1')).json();
      expect(pending.status).toBe('pending_payment');
      const { rows } = await db.query<{ provider_ref: string | null }>(
        'SELECT provider_ref FROM payments WHERE order_id = $1', [pending.orderId]);
      expect(rows[0]?.provider_ref).toMatch(/^simpay_/); // known before the charge ran
      dropWebhooks();
      await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
      expect((await orderOf(fan, pending.orderId)).status).toBe('confirmed');
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('charge throws, webhooks down, reconcile past the window, late capture: one refund',
      async () => {
        gateway = installTestGateway(app, ctx);
        // The provider's search cannot find the charge (its index lags): lookup is unknown.
        installPayments(ctx, faulty(gateway, { lookup: async () => undefined }));
        const { fan, holdId, seatId } = await holdFor();
        seams.afterCharge = () => {
          throw new Error('connection reset after the charge went through');
        };
        const pending = (await checkout(fan, holdId, 'sim_ok', 'lost-2')).json();
        seams.afterCharge = undefined;
        const late = gateway.pending().filter((d) => d.body.includes('payment.captured'));
        expect(late.length).toBeGreaterThan(0);
        dropWebhooks();
        installPayments(ctx, faulty(gateway, { lookup: async () => undefined }));
        await pastTheWindow(holdId, seatId);
        await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
        // Abandoning at the provider found the capture: refunded, not declined.
        for (const delivery of late) expect(await postWebhook(app, delivery)).toBe(200);
        await gateway.flush();
        const order = await orderOf(fan, pending.orderId);
        expect(order.status).toBe('payment_failed');
        expect(order.failureReason).toMatch(/refunded/);
        expect(order.payment.status).toBe('captured');
        expect(await refundsOf(pending.orderId)).toEqual([{ status: 'succeeded' }]);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('a capture reported for a payment recorded as declined is refunded exactly once',
      async () => {
        gateway = installTestGateway(app, ctx);
        // A provider that wrongly reports "not charged" for a charge it took.
        const liar = faulty(gateway, {
          lookup: async () => undefined,
          abandon: async (q) => ({ status: 'declined', providerRef: q.providerRef,
            reason: 'not_charged' }),
        });
        installPayments(ctx, liar);
        const { fan, holdId, seatId } = await holdFor();
        seams.afterCharge = () => {
          throw new Error('answer lost');
        };
        const pending = (await checkout(fan, holdId, 'sim_ok', 'lie-1')).json();
        seams.afterCharge = undefined;
        const late = dropWebhooks().filter((d) => d.body.includes('payment.captured'));
        installPayments(ctx, faulty(gateway, { lookup: liar.lookup, abandon: liar.abandon }));
        await pastTheWindow(holdId, seatId);
        await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
        expect((await orderOf(fan, pending.orderId)).payment.status).toBe('declined');
        // The capture arrives: twice, concurrently, and once more re-signed later.
        const statuses = await Promise.all([...late, ...late].map((d) => postWebhook(app, d)));
        expect(statuses.every((status) => status === 200)).toBe(true);
        await gateway.flush();
        const order = await orderOf(fan, pending.orderId);
        expect(order).toMatchObject({ status: 'payment_failed',
          failureReason: 'payment captured after it was recorded as declined; refunded',
          payment: { status: 'captured', refund: { status: 'succeeded' } } });
        expect(await refundsOf(pending.orderId)).toHaveLength(1);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('the reconciler re-sends a recorded refund the provider did not answer', async () => {
      gateway = installTestGateway(app, ctx);
      const sent: string[] = [];
      installPayments(ctx, faulty(gateway, {
        refund: async (request) => {
          sent.push(request.refundId);
          throw new Error('provider timeout');
        },
      }));
      const { fan, holdId } = await holdFor();
      const order = (await checkout(fan, holdId, 'sim_ok', 'rf-1')).json();
      expect(order.status).toBe('confirmed');
      const cancelled = await app.inject({ method: 'POST',
        url: `/api/v1/orders/${order.orderId}/cancel`, headers: bearer(fan.token) });
      expect(cancelled.json().payment.refund.status).toBe('requested');
      expect(await auditBooking(db, event.eventId)).toContainEqual(
        expect.stringMatching(/^refund never reached succeeded/));
      installPayments(ctx, faulty(gateway, {
        refund: async (request) => {
          sent.push(request.refundId);
          return await gateway.refund(request);
        },
      }));
      const result = await reconcilePayments(bookingDeps(ctx), { refundAfterSeconds: 0 });
      expect(result.refunds).toBeGreaterThanOrEqual(1);
      expect(sent).toHaveLength(2);
      expect(sent[1]).toBe(sent[0]); // the same refund id: the provider refunds once
      await gateway.flush();
      expect(await refundsOf(order.orderId)).toEqual([{ status: 'succeeded' }]);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('two keys checking out one hold at once: exactly one order proceeds', async () => {
      gateway = installTestGateway(app, ctx, { slowMs: 200 });
      const { fan, holdId } = await holdFor();
      const replies = await Promise.all([
        checkout(fan, holdId, 'sim_slow', 'twin-a'), checkout(fan, holdId, 'sim_slow', 'twin-b'),
      ]);
      const created = replies.filter((r) => r.statusCode === 201);
      expect(created).toHaveLength(1);
      expect(created[0]?.json().status).toBe('confirmed');
      const refused = replies.find((r) => r.statusCode !== 201);
      expect(refused?.statusCode).toBe(409);
      expect(['payment_pending', 'hold_purchased']).toContain(refused?.json().code);
      const { rows } = await db.query('SELECT 1 FROM orders WHERE hold_id = $1', [holdId]);
      expect(rows).toHaveLength(1);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });
  });
}
