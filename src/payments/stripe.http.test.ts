/**
 * The Stripe adapter end to end: the real `stripe` SDK, configured by the node's own
 * settings (STRIPE_API_URL, timeout, retries), talking HTTP to a fake Stripe on 127.0.0.1;
 * the app listening on a real port; webhooks signed with the SDK's test-header helper and
 * POSTed over HTTP. No part of the SDK is mocked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import { reconcilePayments } from '../orders/reconcile.js';
import type { Order } from '../orders/schemas.js';
import { bookingDeps } from '../orders/workers.js';
import type { Db } from '../storage/index.js';
import { adminHeaders, buildTestApp } from '../testing/context.js';
import { testBackends } from '../testing/backends.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { FakeStripe } from '../testing/fakeStripe.js';

const backends = await testBackends();
const webhookSecret = 'whsec_fake_0123456789abcdef';

for (const backend of backends) {
  describe.skipIf(!backend.available)(`Stripe through the SDK on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let base: string;
    let event: EventDetails;
    const stripe = new FakeStripe();

    beforeAll(async () => {
      await stripe.start();
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db, { env: {
        PAYMENT_PROVIDER: 'stripe', STRIPE_SECRET_KEY: 'sk_test_fake',
        STRIPE_WEBHOOK_SECRET: webhookSecret, STRIPE_API_URL: stripe.url,
        STRIPE_TIMEOUT_MS: '1000', STRIPE_MAX_NETWORK_RETRIES: '1',
      } }));
      base = await app.listen({ port: 0, host: '127.0.0.1' });
      event = await buildEvent(ctx, { maxTicketsPerCustomer: 8 });
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
      await stripe.close();
    });

    async function call(method: string, path: string, headers: Record<string, string>,
      body?: unknown): Promise<{ status: number; json: any }> {
      const response = await fetch(`${base}${path}`, {
        method, headers: { ...headers, ...(body === undefined ? {}
          : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
    }

    /** A new fan checks out one seat with a payment method; answers the order. */
    async function buy(method: string): Promise<{ order: Order; token: string;
      status: number }> {
      const fan = await buildCustomer(ctx);
      const hold = await call('POST', `/api/v1/events/${event.eventId}/holds`,
        bearer(fan.token), { zone: 'seats', quantity: 1 });
      expect(hold.status, JSON.stringify(hold.json)).toBe(201);
      const checkout = await call('POST', `/api/v1/holds/${hold.json.holdId}/checkout`,
        { ...bearer(fan.token), 'idempotency-key': `k-${hold.json.holdId}` },
        { paymentMethod: method });
      return { order: checkout.json, token: fan.token, status: checkout.status };
    }

    async function webhook(type: string, object: object): Promise<number> {
      const { body, headers } = stripe.webhook(type, object as Record<string, unknown>,
        webhookSecret);
      const response = await fetch(`${base}/api/v1/payments/webhooks/stripe`,
        { method: 'POST', headers, body });
      return response.status;
    }

    const orderOf = async (orderId: string, token: string): Promise<Order> =>
      (await call('GET', `/api/v1/orders/${orderId}`, bearer(token))).json;

    async function metric(name: string): Promise<number> {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return Number(line?.split(' ')[1]);
    }

    it('confirms a card that needs no action, and declines a declined card at once',
      async () => {
        const paid = await buy('pm_card_visa');
        expect(paid.status).toBe(201);
        expect(paid.order.status).toBe('confirmed');
        expect(paid.order.payment?.nextAction).toBeNull();
        const declined = await buy('pm_card_chargeDeclined');
        expect(declined.order.status).toBe('payment_failed');
        expect(declined.order.failureReason).toBe('payment declined: card_declined');
      });

    it('hands a 3-D Secure checkout what the browser needs, and confirms it by webhook',
      async () => {
        const { order, token, status } = await buy('pm_card_threeDSecure2Required');
        expect(status).toBe(201);
        expect(order.status).toBe('pending_payment');
        const intent = stripe.intentOf(order.payment?.paymentId ?? '');
        expect(order.payment?.nextAction).toEqual({
          type: 'use_stripe_sdk', clientSecret: intent.client_secret, redirectUrl: null });
        // A reload of the order page still has it.
        expect((await orderOf(order.orderId, token)).payment?.nextAction?.clientSecret)
          .toBe(intent.client_secret);
        // The buyer passes the challenge; Stripe tells us.
        const succeeded = stripe.finishAction(intent.id, true);
        expect(await webhook('payment_intent.succeeded', succeeded)).toBe(200);
        const after = await orderOf(order.orderId, token);
        expect(after.status).toBe('confirmed');
        expect(after.tickets).toHaveLength(1);
        expect(after.payment?.nextAction).toBeNull();
      });

    it('frees the seat of a 3-D Secure checkout the buyer fails or never finishes',
      async () => {
        const failed = await buy('pm_card_threeDSecure2Required');
        const intent = stripe.intentOf(failed.order.payment?.paymentId ?? '');
        expect(await webhook('payment_intent.payment_failed', stripe.finishAction(intent.id,
          false))).toBe(200);
        expect((await orderOf(failed.order.orderId, failed.token)).failureReason)
          .toBe('payment declined: payment_intent_authentication_failure');

        const walkedAway = await buy('pm_card_threeDSecure2Required');
        const paymentId = walkedAway.order.payment?.paymentId ?? '';
        // The payment window has passed (it is 900 s; the row is made older, not waited for).
        await db.query(`UPDATE payments SET created_at = created_at - interval '1 hour'
                         WHERE payment_id = $1`, [paymentId]);
        await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
        expect(stripe.intentOf(paymentId).status).toBe('canceled');
        const after = await orderOf(walkedAway.order.orderId, walkedAway.token);
        expect(after.status).toBe('payment_failed');
        expect(after.payment?.nextAction).toBeNull();
      });

    it('settles nothing from a signed event about another intent or another amount',
      async () => {
        const { order, token } = await buy('pm_card_threeDSecure2Required');
        const paymentId = order.payment?.paymentId ?? '';
        const intent = stripe.intentOf(paymentId);
        const before = await metric('stampede_payment_event_mismatches');
        const succeeded = { ...intent, status: 'succeeded', next_action: null };
        // Same metadata, another intent; our intent, another amount; another currency.
        expect(await webhook('payment_intent.succeeded', { ...succeeded, id: 'pi_someone_else' }))
          .toBe(200);
        expect(await webhook('payment_intent.succeeded', { ...succeeded, amount: 1 }))
          .toBe(200);
        expect(await webhook('payment_intent.succeeded', { ...succeeded, currency: 'usd' }))
          .toBe(200);
        expect(await webhook('payment_intent.payment_failed', { ...intent, id: 'pi_other',
          status: 'requires_payment_method' })).toBe(200);
        expect((await orderOf(order.orderId, token)).status).toBe('pending_payment');
        expect(await metric('stampede_payment_event_mismatches')).toBe(before + 4);
        // Control: the matching event does settle it.
        stripe.finishAction(intent.id, true);
        expect(await webhook('payment_intent.succeeded', stripe.intentOf(paymentId))).toBe(200);
        expect((await orderOf(order.orderId, token)).status).toBe('confirmed');
      });

    it('reads a pending refund back and records a terminal failure where operators see it',
      async () => {
        const { order, token } = await buy('pm_card_visa');
        expect(order.status).toBe('confirmed');
        stripe.refundsPending = true;
        try {
          const cancelled = await call('POST', `/api/v1/orders/${order.orderId}/cancel`,
            bearer(token));
          expect(cancelled.status, JSON.stringify(cancelled.json)).toBe(200);
        } finally {
          stripe.refundsPending = false;
        }
        const refundRef = [...stripe.refunds.values()].find((r) =>
          r.payment_intent === stripe.intentOf(order.payment?.paymentId ?? '').id)?.id ?? '';
        expect((await orderOf(order.orderId, token)).payment?.refund?.status).toBe('requested');
        const failedBefore = await metric('stampede_refunds_failed');
        const creates = stripe.count('POST', '/v1/refunds').length;

        // Days later the card network returns it: the reconciler reads it back by id
        // (creating it again would replay the first answer, "pending", for ever).
        stripe.setRefund(refundRef, 'failed', 'expired_or_canceled_card');
        await db.query(`UPDATE refunds SET created_at = created_at - interval '1 hour'
                         WHERE order_id = $1`, [order.orderId]);
        await reconcilePayments(bookingDeps(ctx), { refundAfterSeconds: 0 });
        expect(stripe.count('GET', `/v1/refunds/${refundRef}`)).toHaveLength(1);
        expect(stripe.count('POST', '/v1/refunds')).toHaveLength(creates);
        const refund = (await orderOf(order.orderId, token)).payment?.refund;
        expect(refund).toMatchObject({ status: 'failed',
          failureReason: 'expired_or_canceled_card' });
        expect(await metric('stampede_refunds_failed')).toBe(failedBefore + 1);
        const listed = await call('GET', '/api/v1/admin/orders?refundStatus=failed&limit=50',
          adminHeaders);
        expect(listed.json.data.map((o: Order) => o.orderId)).toContain(order.orderId);
        // A late duplicate "succeeded" does not hide the failure.
        expect(await webhook('refund.updated', { ...stripe.refunds.get(refundRef),
          status: 'succeeded' })).toBe(200);
        expect((await orderOf(order.orderId, token)).payment?.refund?.status).toBe('failed');
      });

    it('records a refund failure reported by webhook, even after it succeeded', async () => {
      const { order, token } = await buy('pm_card_visa');
      const cancelled = await call('POST', `/api/v1/orders/${order.orderId}/cancel`,
        bearer(token));
      expect(cancelled.status).toBe(200);
      const view = await orderOf(order.orderId, token);
      expect(view.payment?.refund?.status).toBe('succeeded');
      const refund = [...stripe.refunds.values()].find((r) =>
        r.metadata.refundId === view.payment?.refund?.refundId);
      expect(refund).toBeDefined();
      expect(await webhook('refund.failed', { ...stripe.setRefund(refund?.id ?? '', 'failed',
        'lost_or_stolen_card') })).toBe(200);
      expect((await orderOf(order.orderId, token)).payment?.refund).toMatchObject({
        status: 'failed', failureReason: 'lost_or_stolen_card' });
    });

    it('gives up on a Stripe that does not answer within its timeout and retry budget',
      async () => {
        stripe.stall = (method, path) => method === 'POST' && path.endsWith('/confirm');
        let result;
        try {
          result = await buy('pm_card_visa');
        } finally {
          stripe.stall = undefined;
        }
        // No answer is "unknown", never "declined": the order waits for the reconciler.
        expect(result.status).toBe(201);
        expect(result.order.status).toBe('pending_payment');
        const intent = stripe.intentOf(result.order.payment?.paymentId ?? '');
        const attempts = stripe.count('POST', `/v1/payment_intents/${intent.id}/confirm`);
        // One try and one retry, both with the same idempotency key.
        expect(attempts).toHaveLength(2);
        expect(new Set(attempts.map((a) => a.idempotencyKey)))
          .toEqual(new Set([`charge-${result.order.payment?.paymentId}`]));
        // The intent was never confirmed here; past the window the reconciler cancels it.
        await db.query(`UPDATE payments SET created_at = created_at - interval '1 hour'
                         WHERE payment_id = $1`, [result.order.payment?.paymentId]);
        await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
        expect((await orderOf(result.order.orderId, result.token)).status)
          .toBe('payment_failed');
      });
  });
}
