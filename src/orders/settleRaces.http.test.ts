/**
 * Races that meet in one settle batch (settleBatch.ts): batches are held back by a pause
 * gate (the app's `seams.settleBatches`) until every conflicting item is queued, then sent as
 * one. Invariant 4 (one confirmed order or one refund per captured payment, never charged
 * twice) and the rest of the audit must hold; the control removes the settle batch's
 * live-hold guard and shows the audit catching what it prevents.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import { simulatedWebhookSecret } from '../payments/index.js';
import { signatureHeader, signPayload } from '../payments/signature.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway, postWebhook } from '../testing/payments.js';
import { PauseGate } from '../testing/pauseGate.js';
import { settleBatchersFor } from './settleBatch.js';

const backends = await testBackends();

type Fan = { customerId: string; token: string };

/** Waits until `check` holds, asking again on the next turn of the event loop. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}

/** Hands one captured payment of `order` to the settle batchers, as the gateway's news. */
function submitCaptured(batchers: ReturnType<typeof settleBatchersFor>,
  order: { payment: { paymentId: string } }, quantity: number) {
  return batchers.submit('simulated', { paymentId: order.payment.paymentId, quantity, outcome:
    { status: 'captured', providerRef: `simpay_${order.payment.paymentId}` } });
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`settle batch races on ${backend.name}`, () => {
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
        seams: { settleBatches: gate } }));
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

    async function holdFor(on: App = app): Promise<{ fan: Fan; holdId: string;
      seatId: string }> {
      const fan = await buildCustomer(ctx);
      seat += 1;
      const seatId = `A-${Math.ceil(seat / 10)}-${((seat - 1) % 10) + 1}`;
      const response = await on.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(fan.token),
        payload: { seats: [seatId] } });
      expect(response.statusCode, response.body).toBe(201);
      return { fan, holdId: response.json().holdId, seatId };
    }

    const checkout = (fan: Fan, holdId: string, method: string, key: string, on: App = app) =>
      on.inject({
        method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
        headers: { ...bearer(fan.token), 'idempotency-key': key },
        payload: { paymentMethod: method },
      });

    const orderOf = async (fan: Fan, orderId: string) => (await app.inject({ method: 'GET',
      url: `/api/v1/orders/${orderId}`, headers: bearer(fan.token) })).json();

    /** Lets the hold's time run out and gives its seat to someone else. */
    async function loseTheSeat(holdId: string, seatId: string, on: App = app): Promise<void> {
      await db.query(`UPDATE holds SET expires_at = now() - interval '2 s',
                             claim_expires_at = now() - interval '1 s' WHERE hold_id = $1`,
      [holdId]);
      await db.query(`UPDATE tickets SET hold_expires_at = now() - interval '1 s'
                       WHERE hold_id = $1`, [holdId]);
      const rival = await buildCustomer(ctx);
      const taken = await on.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(rival.token),
        payload: { seats: [seatId] } });
      expect(taken.statusCode, taken.body).toBe(201);
    }

    it('the same hold twice, with the same key and another: one order, one charge',
      async () => {
        const { fan, holdId } = await holdFor();
        gate.pause();
        const first = checkout(fan, holdId, 'sim_ok', 'twin-1');
        await until(() => gate.queued() === 1, 'the first checkout waits to settle');
        // While its settle waits: the same key again (waits for the first reply), and
        // another key (the hold has a payment in flight).
        const sameKey = checkout(fan, holdId, 'sim_ok', 'twin-1');
        const otherKey = await checkout(fan, holdId, 'sim_ok', 'twin-2');
        expect(otherKey.statusCode).toBe(409);
        expect(otherKey.json().code).toBe('payment_pending');
        gate.resume();
        const [a, b] = await Promise.all([first, sameKey]);
        expect(a.statusCode).toBe(201);
        expect(a.json().status).toBe('confirmed');
        expect(b.statusCode).toBe(201);
        expect(b.headers['idempotent-replayed']).toBe('true');
        expect(b.json()).toEqual(a.json());
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM payments p JOIN orders o ON o.order_id = p.order_id
            WHERE o.hold_id = $1`, [holdId]);
        expect(rows[0]?.n).toBe(1);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('webhooks racing their own checkout in one batch: confirmed once, the rest no-ops',
      async () => {
        const { fan, holdId } = await holdFor();
        gate.pause();
        const paid = checkout(fan, holdId, 'sim_ok', 'race-1');
        await until(() => gate.queued() === 1, 'the checkout waits to settle');
        // The gateway's two copies of "captured" arrive while the checkout's item waits.
        const deliveries = gateway.pending();
        expect(deliveries).toHaveLength(2);
        const hooks = deliveries.map((delivery) => app.inject({ method: 'POST',
          url: '/api/v1/payments/webhooks/simulated', headers: delivery.headers,
          payload: delivery.body }));
        await until(() => gate.queued() === 3, 'both webhooks wait in the same batch');
        gate.resume();
        const [order, ...replies] = await Promise.all([paid, ...hooks]);
        expect(order?.json().status).toBe('confirmed');
        expect(replies.map((r) => r.statusCode)).toEqual([200, 200]);
        expect(replies.map((r) => r.json().duplicate).sort()).toEqual([false, true]);
        expect(order?.json()).toEqual(await orderOf(fan, order?.json().orderId));
        const { rows } = await db.query('SELECT 1 FROM provider_events');
        expect(rows).toHaveLength(1);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('webhooks after their checkout settled are answered without a settle item; other '
      + 'news about the payment still goes to a batch', async () => {
      const { fan, holdId } = await holdFor();
      const order = (await checkout(fan, holdId, 'sim_ok', 'after-1')).json();
      expect(order.status).toBe('confirmed');
      const paymentId = order.payment.paymentId as string;
      gate.pause();
      // The gateway's two copies of "captured", after this node's batch confirmed it: no
      // batch can start, so only an answer from memory lets them finish.
      const deliveries = gateway.pending();
      expect(deliveries).toHaveLength(2);
      let answered = 0;
      const hooks = deliveries.map(async (delivery) => {
        const reply = await app.inject({ method: 'POST',
          url: '/api/v1/payments/webhooks/simulated', headers: delivery.headers,
          payload: delivery.body });
        answered += 1;
        return reply;
      });
      await until(() => answered === 2 || gate.queued() > 0, 'the webhooks are answered');
      expect(gate.queued()).toBe(0);
      expect((await Promise.all(hooks)).map((r) => [r.statusCode, r.json().duplicate]))
        .toEqual([[200, true], [200, true]]);
      // Control: the same payment captured under another reference is not that news; it
      // waits for a batch, which records it as a mismatch and changes nothing.
      const body = JSON.stringify({ id: 'evt_other_ref', type: 'payment.captured',
        created: Math.floor(Date.now() / 1000),
        data: { paymentId, providerRef: `simpay_not_${paymentId}` } });
      const forged = app.inject({ method: 'POST', url: '/api/v1/payments/webhooks/simulated',
        headers: { 'content-type': 'application/json', [signatureHeader]: signPayload(
          simulatedWebhookSecret(ctx.secrets.secret), body, Math.floor(Date.now() / 1000)) },
        payload: body });
      await until(() => gate.queued() === 1, 'the other news waits for a batch');
      gate.resume();
      expect((await forged).json()).toEqual({ received: true, duplicate: false });
      const { rows } = await db.query<{ kind: string }>(
        'SELECT kind FROM provider_events WHERE payment_id = $1', [paymentId]);
      expect(rows).toEqual([{ kind: 'payment.mismatch' }]);
      expect((await orderOf(fan, order.orderId)).status).toBe('confirmed');
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('a hold that lapsed during payment is refunded without failing its batch', async () => {
      const late = await holdFor();
      const onTime = await holdFor();
      const lateOrder = (await checkout(late.fan, late.holdId, 'sim_async_ok', 'lapse-1')).json();
      const onTimeOrder = (await checkout(onTime.fan, onTime.holdId, 'sim_async_ok', 'lapse-2'))
        .json();
      await loseTheSeat(late.holdId, late.seatId);
      gate.pause();
      const captures = gateway.pending().filter((d) => d.body.includes('payment.captured'));
      expect(captures).toHaveLength(4);
      const delivered = Promise.all(captures.map((d) => postWebhook(app, d)));
      await until(() => gate.queued() === 4, 'both captures wait in one batch');
      gate.resume();
      expect(await delivered).toEqual([200, 200, 200, 200]);
      await gateway.flush(); // the rest, and the refund's webhook
      expect((await orderOf(onTime.fan, onTimeOrder.orderId)).status).toBe('confirmed');
      const refunded = await orderOf(late.fan, lateOrder.orderId);
      expect(refunded.status).toBe('payment_failed');
      expect(refunded.payment.refund).toMatchObject({ status: 'succeeded' });
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('an item that fails unexpectedly does not fail the others of its batch', async () => {
      const bad = await holdFor();
      const good = await holdFor();
      const badOrder = (await checkout(bad.fan, bad.holdId, 'sim_async_ok', 'poison-1')).json();
      const goodOrder = (await checkout(good.fan, good.holdId, 'sim_async_ok', 'poison-2'))
        .json();
      const batchers = settleBatchersFor(db, gate);
      gate.pause();
      const settle = (order: { payment: { paymentId: string } }, quantity: number) =>
        submitCaptured(batchers, order, quantity);
      // No ticket codes for the first item: its ticket insert breaks a NOT NULL constraint,
      // an exception no guard expects.
      const results = [settle(badOrder, 0), settle(goodOrder, 1)].map((p) => p.then(
        (result) => result.kind, (error: unknown) => `error: ${String(error)}`));
      await until(() => gate.queued() === 2, 'both items wait in one batch');
      gate.resume();
      const [badResult, goodResult] = await Promise.all(results);
      expect(badResult).toMatch(/^error: .*null value/);
      expect(goodResult).toBe('settled');
      expect((await orderOf(good.fan, goodOrder.orderId)).status).toBe('confirmed');
      expect((await orderOf(bad.fan, badOrder.orderId)).status).toBe('pending_payment');
      await gateway.flush(); // the first payment's own webhook settles it
      expect((await orderOf(bad.fan, badOrder.orderId)).status).toBe('confirmed');
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('one batch spanning two events settles each order on its own event', async () => {
      // The batchers are per provider, not per event: one batch may carry both events.
      const other = await buildEvent(ctx, { maxTicketsPerCustomer: 8 });
      const here = await holdFor();
      const fan = await buildCustomer(ctx);
      const there = await app.inject({ method: 'POST',
        url: `/api/v1/events/${other.eventId}/holds`, headers: bearer(fan.token),
        payload: { seats: ['A-2-3', 'A-2-4'] } });
      expect(there.statusCode, there.body).toBe(201);
      const hereOrder = (await checkout(here.fan, here.holdId, 'sim_async_ok', 'span-1')).json();
      const thereOrder = (await checkout(fan, there.json().holdId, 'sim_async_ok', 'span-2'))
        .json();
      const batchers = settleBatchersFor(db, gate);
      gate.pause();
      const settle = (order: { payment: { paymentId: string } }, quantity: number) =>
        submitCaptured(batchers, order, quantity);
      const results = [settle(hereOrder, 1), settle(thereOrder, 2)];
      await until(() => gate.queued() === 2, 'both items wait in one batch');
      gate.resume();
      expect((await Promise.all(results)).map((r) => r.kind)).toEqual(['settled', 'settled']);
      expect((await orderOf(here.fan, hereOrder.orderId)).status).toBe('confirmed');
      expect((await orderOf(fan, thereOrder.orderId)).status).toBe('confirmed');
      // Each order's tickets, seats and news are on its own event, none on the other.
      const { rows } = await db.query<{ order_id: string; event_id: string; seats: string[];
        sold: number; news: number }>(
        `SELECT o.order_id::text, o.event_id::text,
                array_agg(t.seat_id ORDER BY t.seat_id) AS seats,
                count(*) FILTER (WHERE t.order_id = o.order_id)::int AS sold,
                (SELECT count(*) FROM outbox_events x WHERE x.event_id = o.event_id
                    AND x.kind = 'order.confirmed'
                    AND x.payload->>'orderId' = o.order_id::text)::int AS news
           FROM orders o JOIN order_tickets ot ON ot.order_id = o.order_id
           JOIN tickets t ON t.event_id = ot.event_id AND t.ticket_no = ot.ticket_no
          WHERE o.order_id = ANY($1::uuid[]) AND ot.event_id = o.event_id
          GROUP BY o.order_id, o.event_id ORDER BY o.event_id = $2 DESC`,
        [[hereOrder.orderId, thereOrder.orderId], event.eventId]);
      expect(rows).toEqual([
        { order_id: hereOrder.orderId, event_id: event.eventId, seats: [here.seatId], sold: 1,
          news: 1 },
        { order_id: thereOrder.orderId, event_id: other.eventId, seats: ['A-2-3', 'A-2-4'],
          sold: 2, news: 1 },
      ]);
      const { rows: [stray] } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM order_tickets
          WHERE order_id = ANY($1::uuid[]) AND event_id <> ALL($2::uuid[])`,
        [[hereOrder.orderId, thereOrder.orderId], [event.eventId, other.eventId]]);
      expect(stray?.n).toBe(0);
      await gateway.flush(); // the captures' own webhooks: news about settled payments
      expect(await auditBooking(db, event.eventId)).toEqual([]);
      expect(await auditBooking(db, other.eventId)).toEqual([]);
    });

    it('control: without the live-hold guard the lapsed hold is confirmed without its seat',
      async () => {
        const unguarded = await buildTestApp(db, { env: { PAYMENT_WINDOW_SECONDS: '600' },
          unguarded: 'settle-hold-live' });
        const rogue = installTestGateway(unguarded.app, unguarded.ctx);
        try {
          const late = await holdFor(unguarded.app);
          const order = (await checkout(late.fan, late.holdId, 'sim_async_ok', 'ctl-1',
            unguarded.app)).json();
          await loseTheSeat(late.holdId, late.seatId, unguarded.app);
          await rogue.flush();
          expect((await orderOf(late.fan, order.orderId)).status).toBe('confirmed');
          expect((await auditBooking(db, event.eventId)).join('\n'))
            .toMatch(/confirmed order/);
        } finally {
          await rogue.close();
          await unguarded.app.close();
        }
      });
  });
}
