import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { adminHeaders, buildTestApp } from '../testing/context.js';
import { bearer, buildCustomer, buildEvent } from '../testing/factories.js';
import { installTestGateway, postWebhook } from '../testing/payments.js';
import { reconcilePayments } from './reconcile.js';
import { bookingDeps } from './workers.js';

const backends = await testBackends();

type Fan = { customerId: string; token: string };

for (const backend of backends) {
  describe.skipIf(!backend.available)(`checkout, payments and orders on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let gateway: SimulatedGateway;
    let event: EventDetails;
    let seat = 0;

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db, { env: { PAYMENT_WINDOW_SECONDS: '600' } }));
    });
    // Each test stands alone: its own event (so its own seats) and a gateway with no
    // webhooks left over from another test.
    beforeEach(async () => {
      await gateway?.close();
      gateway = installTestGateway(app, ctx);
      event = await buildEvent(ctx, { maxTicketsPerCustomer: 8 });
      seat = 0;
    });
    afterAll(async () => {
      await gateway?.close();
      await app?.close();
      await db?.close();
    });

    /** A new customer holding the next free seat(s). */
    async function holdFor(
      count = 1, on: EventDetails = event,
    ): Promise<{ fan: Fan; holdId: string }> {
      const fan = await buildCustomer(ctx);
      const seats = Array.from({ length: count }, () => {
        seat += 1;
        return `A-${Math.ceil(seat / 10)}-${((seat - 1) % 10) + 1}`;
      });
      const response = await app.inject({ method: 'POST',
        url: `/api/v1/events/${on.eventId}/holds`, headers: bearer(fan.token),
        payload: { seats } });
      expect(response.statusCode, response.body).toBe(201);
      return { fan, holdId: response.json().holdId };
    }

    const checkout = (fan: Fan, holdId: string, method: string, key: string | undefined) =>
      app.inject({
        method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
        headers: { ...bearer(fan.token), ...(key === undefined ? {} : { 'idempotency-key': key }) },
        payload: { paymentMethod: method },
      });

    const counts = async () => JSON.stringify((await db.query(
      `SELECT (SELECT count(*) FROM orders) AS o, (SELECT count(*) FROM payments) AS p,
              (SELECT count(*) FROM refunds) AS r, (SELECT count(*) FROM order_tickets) AS t`,
    )).rows[0]);

    it('checks out with sim_ok: confirmed, tickets with unguessable codes', async () => {
      const { fan, holdId } = await holdFor(2);
      const response = await checkout(fan, holdId, 'sim_ok', 'pay-1');
      expect(response.statusCode).toBe(201);
      const order = response.json();
      expect(order).toMatchObject({ status: 'confirmed', totalCents: 10_000, holdId,
        payment: { status: 'captured', method: 'sim_ok', provider: 'simulated', refund: null } });
      expect(order.tickets).toHaveLength(2);
      for (const ticket of order.tickets) expect(ticket.code).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(new Set(order.tickets.map((t: { code: string }) => t.code)).size).toBe(2);
      const mine = await app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}`,
        headers: bearer(fan.token) });
      expect(mine.json()).toEqual(order);
      const admin = await app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}`,
        headers: adminHeaders });
      expect(admin.statusCode).toBe(200);
      const stranger = await buildCustomer(ctx);
      for (const [method, url] of [['GET', `/api/v1/orders/${order.orderId}`],
        ['POST', `/api/v1/orders/${order.orderId}/cancel`]] as const) {
        const response = await app.inject({ method, url, headers: bearer(stranger.token) });
        expect(response.statusCode).toBe(404);
      }
      const list = await app.inject({ method: 'GET', url: '/api/v1/me/orders',
        headers: bearer(fan.token) });
      expect(list.json().data.map((o: { orderId: string }) => o.orderId)).toEqual([order.orderId]);
      const hold = await app.inject({ method: 'GET', url: `/api/v1/holds/${holdId}`,
        headers: bearer(fan.token) });
      expect(hold.json().status).toBe('purchased');
      await gateway.flush(); // the sync outcome's webhooks: duplicates of what is known
      expect((await app.inject({ method: 'GET', url: `/api/v1/orders/${order.orderId}`,
        headers: bearer(fan.token) })).json()).toEqual(order);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('requires an Idempotency-Key and validates the body, changing nothing', async () => {
      const { fan, holdId } = await holdFor();
      const before = await counts();
      const missing = await checkout(fan, holdId, 'sim_ok', undefined);
      expect(missing.statusCode).toBe(400);
      expect(missing.json().code).toBe('validation_failed');
      for (const payload of [{}, { paymentMethod: 'sim_ok', x: 1 }, { paymentMethod: 7 },
        { paymentMethod: 'bitcoin' }]) {
        const response = await app.inject({ method: 'POST',
          url: `/api/v1/holds/${holdId}/checkout`,
          headers: { ...bearer(fan.token), 'idempotency-key': `bad-${JSON.stringify(payload)}` },
          payload });
        expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      }
      expect(await counts()).toBe(before);
    });

    it('replays the first reply for a repeated key; another body conflicts', async () => {
      const { fan, holdId } = await holdFor();
      const [a, b, c, d, e] = await Promise.all(Array.from({ length: 5 }, () =>
        checkout(fan, holdId, 'sim_ok', 'same-key')));
      const replies = [a, b, c, d, e].map((r) => r?.json());
      for (const reply of replies) expect(reply).toEqual(replies[0]);
      const { rows } = await db.query('SELECT 1 FROM orders WHERE hold_id = $1', [holdId]);
      expect(rows).toHaveLength(1);
      const other = await checkout(fan, holdId, 'sim_declined', 'same-key');
      expect(other.statusCode).toBe(409);
      expect(other.json().code).toBe('idempotency_conflict');
      const again = await checkout(fan, holdId, 'sim_ok', 'fresh-key');
      expect(again.json().code).toBe('hold_purchased');
    });

    it('declines: order payment_failed, the hold stays for another try', async () => {
      const { fan, holdId } = await holdFor();
      const declined = await checkout(fan, holdId, 'sim_declined', 'd-1');
      expect(declined.statusCode).toBe(201);
      expect(declined.json()).toMatchObject({ status: 'payment_failed',
        failureReason: 'payment declined: card_declined', tickets: [],
        payment: { status: 'declined' } });
      const retry = await checkout(fan, holdId, 'sim_ok', 'd-2');
      expect(retry.json().status).toBe('confirmed');
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('settles asynchronous payments from shuffled, duplicated webhooks', async () => {
      await gateway.flush(); // earlier tests' webhooks
      const ok = await holdFor();
      const no = await holdFor();
      const pendingOk = (await checkout(ok.fan, ok.holdId, 'sim_async_ok', 'a-1')).json();
      const pendingNo = (await checkout(no.fan, no.holdId, 'sim_async_declined', 'a-2')).json();
      expect(pendingOk.status).toBe('pending_payment');
      expect(pendingNo.status).toBe('pending_payment');
      const release = await app.inject({ method: 'DELETE', url: `/api/v1/holds/${ok.holdId}`,
        headers: bearer(ok.fan.token) });
      expect(release.json().code).toBe('payment_pending');
      expect(gateway.pending().length).toBe(8); // 2 events × 2 copies × 2 payments
      await gateway.flush();
      const done = (await app.inject({ method: 'GET', url: `/api/v1/orders/${pendingOk.orderId}`,
        headers: bearer(ok.fan.token) })).json();
      expect(done.status).toBe('confirmed');
      expect(done.tickets).toHaveLength(1);
      const failed = (await app.inject({ method: 'GET',
        url: `/api/v1/orders/${pendingNo.orderId}`, headers: bearer(no.fan.token) })).json();
      expect(failed.status).toBe('payment_failed');
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('a webhook that confirms issues codes the batch made: one per ticket, unguessable',
      async () => {
        await gateway.flush(); // earlier tests' webhooks
        // The webhook's settle item does not know the ticket count and carries no codes
        // (migration 064): the codes come from the database, 128 random bits each.
        const orders = [];
        for (const key of ['codes-1', 'codes-2']) {
          const { fan, holdId } = await holdFor(3);
          const pending = (await checkout(fan, holdId, 'sim_async_ok', key)).json();
          expect(pending.status).toBe('pending_payment');
          orders.push({ fan, orderId: pending.orderId as string });
        }
        await gateway.flush();
        const codes: string[] = [];
        for (const { fan, orderId } of orders) {
          const order = (await app.inject({ method: 'GET', url: `/api/v1/orders/${orderId}`,
            headers: bearer(fan.token) })).json();
          expect(order.status).toBe('confirmed');
          expect(order.tickets).toHaveLength(3);
          for (const ticket of order.tickets as { code: string }[]) {
            expect(ticket.code).toMatch(/^[A-Za-z0-9_-]{22}$/);
            expect(Buffer.from(ticket.code, 'base64url')).toHaveLength(16);
            codes.push(ticket.code);
          }
        }
        expect(new Set(codes).size).toBe(6);
        expect(await auditBooking(db, event.eventId)).toEqual([]);
      });

    it('refunds a payment that lands after its tickets are gone, exactly once', async () => {
      const { fan, holdId } = await holdFor();
      const pending = (await checkout(fan, holdId, 'sim_async_ok', 'late-1')).json();
      // The payment window passes (provider outage) and someone else takes the seat.
      await db.query(`UPDATE holds SET expires_at = now() - interval '2 s',
                             claim_expires_at = now() - interval '1 s' WHERE hold_id = $1`,
      [holdId]);
      await db.query(`UPDATE tickets SET hold_expires_at = now() - interval '1 s'
                       WHERE hold_id = $1`, [holdId]);
      const seatId = (await app.inject({ method: 'GET', url: `/api/v1/holds/${holdId}`,
        headers: bearer(fan.token) })).json().items[0].seatId;
      const rival = await buildCustomer(ctx);
      const taken = await app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(rival.token),
        payload: { seats: [seatId] } });
      expect(taken.statusCode).toBe(201);
      const webhooks = gateway.pending();
      await gateway.flush();
      // Deliver everything again, concurrently: still one refund.
      await Promise.all(webhooks.map((delivery) => postWebhook(app, delivery)));
      await gateway.flush(); // the refund's own webhooks
      const order = (await app.inject({ method: 'GET', url: `/api/v1/orders/${pending.orderId}`,
        headers: bearer(fan.token) })).json();
      expect(order.status).toBe('payment_failed');
      expect(order.failureReason).toMatch(/refunded/);
      expect(order.payment).toMatchObject({ status: 'captured',
        refund: { status: 'succeeded', amountCents: 5_000 } });
      const { rows } = await db.query('SELECT 1 FROM refunds WHERE order_id = $1',
        [pending.orderId]);
      expect(rows).toHaveLength(1);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('keeps the hold through a slow payment past the buyer timer', async () => {
      const quick = await buildEvent(ctx, { holdSeconds: 3 });
      const fan = await buildCustomer(ctx);
      const held = await app.inject({ method: 'POST',
        url: `/api/v1/events/${quick.eventId}/holds`, headers: bearer(fan.token),
        payload: { seats: ['A-1-1'] } });
      const holdId = held.json().holdId as string;
      // The payment answers only after the buyer timer has ended by the database clock,
      // however slow this machine is: its delay is measured from the hold, not guessed.
      const { rows } = await db.query<{ left_ms: number }>(
        `SELECT greatest(0, extract(epoch FROM expires_at - now()) * 1000)::int AS left_ms
           FROM holds WHERE hold_id = $1`, [holdId]);
      await gateway.close();
      gateway = installTestGateway(app, ctx, { slowMs: (rows[0]?.left_ms ?? 0) + 500 });
      const order = await checkout(fan, holdId, 'sim_slow', 'slow-1');
      expect(order.json().status).toBe('confirmed');
      const { rows: [timing] } = await db.query<{ after_timer: boolean }>(
        `SELECT o.confirmed_at > h.expires_at AS after_timer
           FROM orders o JOIN holds h ON h.hold_id = o.hold_id WHERE o.hold_id = $1`, [holdId]);
      expect(timing?.after_timer).toBe(true);
      expect(await auditBooking(db, quick.eventId)).toEqual([]);
    });

    it('applies 5 identical concurrent deliveries once; rejects bad or stale signatures',
      async () => {
        const { fan, holdId } = await holdFor();
        const pending = (await checkout(fan, holdId, 'sim_async_ok', 'w-1')).json();
        const captured = gateway.pending().find((d) => d.body.includes('payment.captured'));
        expect(captured).toBeDefined();
        const body = (captured as { body: string }).body;
        const tampered = body.replace('payment.captured', 'payment.declined');
        const badSig = { ...gateway.sign(body), body: tampered };
        expect(await postWebhook(app, badSig)).toBe(400);
        const stale = gateway.sign(body, Math.floor(Date.now() / 1000) - 3_600);
        expect(await postWebhook(app, stale)).toBe(400);
        const unsigned = { body, headers: { 'content-type': 'application/json' } };
        expect(await postWebhook(app, unsigned)).toBe(400);
        expect((await app.inject({ method: 'GET', url: `/api/v1/orders/${pending.orderId}`,
          headers: bearer(fan.token) })).json().status).toBe('pending_payment');
        const fresh = gateway.sign(body);
        const statuses = await Promise.all(Array.from({ length: 5 }, () =>
          app.inject({ method: 'POST', url: '/api/v1/payments/webhooks/simulated',
            headers: fresh.headers, payload: fresh.body })));
        expect(statuses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
        expect(statuses.filter((r) => r.json().duplicate === false)).toHaveLength(1);
        // Out of order: "processing" after "captured" changes nothing.
        await gateway.flush();
        const order = (await app.inject({ method: 'GET', url: `/api/v1/orders/${pending.orderId}`,
          headers: bearer(fan.token) })).json();
        expect(order.status).toBe('confirmed');
        expect(order.tickets).toHaveLength(1);
        const { rows } = await db.query(
          `SELECT 1 FROM outbox_events WHERE kind = 'seats.sold' AND payload->>'orderId' = $1`,
          [pending.orderId]);
        expect(rows).toHaveLength(1);
        const wrong = await app.inject({ method: 'POST', url: '/api/v1/payments/webhooks/paypal',
          headers: fresh.headers, payload: fresh.body });
        expect(wrong.statusCode).toBe(404);
      });

    it('cancels: refund, tickets back to the pool, codes void', async () => {
      const { fan, holdId } = await holdFor();
      const order = (await checkout(fan, holdId, 'sim_ok', 'c-1')).json();
      const code = order.tickets[0].code;
      const seatId = order.tickets[0].seatId;
      const cancelled = await app.inject({ method: 'POST',
        url: `/api/v1/orders/${order.orderId}/cancel`, headers: bearer(fan.token) });
      expect(cancelled.statusCode).toBe(200);
      expect(cancelled.json()).toMatchObject({ status: 'cancelled',
        payment: { refund: { status: 'succeeded', reason: 'order cancelled' } } });
      expect(cancelled.json().tickets[0].status).toBe('cancelled');
      const twice = await app.inject({ method: 'POST',
        url: `/api/v1/orders/${order.orderId}/cancel`, headers: adminHeaders });
      expect(twice.json().status).toBe('cancelled');
      const rival = await buildCustomer(ctx);
      const again = await app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(rival.token),
        payload: { seats: [seatId] } });
      expect(again.statusCode).toBe(201);
      const scan = await app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/checkins`, headers: adminHeaders,
        payload: { code } });
      expect(scan.statusCode).toBe(404);
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });

    it('checks a ticket in once; other events and customers are refused', async () => {
      const { fan, holdId } = await holdFor();
      const order = (await checkout(fan, holdId, 'sim_ok', 'ci-1')).json();
      const code = order.tickets[0].code;
      const url = `/api/v1/events/${event.eventId}/checkins`;
      const asFan = await app.inject({ method: 'POST', url, headers: bearer(fan.token),
        payload: { code } });
      expect(asFan.statusCode).toBe(403);
      const scans = await Promise.all([1, 2, 3].map(() => app.inject({ method: 'POST', url,
        headers: adminHeaders, payload: { code } })));
      expect(scans.map((s) => s.statusCode).sort()).toEqual([200, 409, 409]);
      const first = scans.find((s) => s.statusCode === 200)?.json();
      expect(first).toMatchObject({ orderId: order.orderId, seatId: order.tickets[0].seatId });
      expect(scans.find((s) => s.statusCode === 409)?.json().code).toBe('already_checked_in');
      const elsewhere = await buildEvent(ctx);
      const wrongEvent = await app.inject({ method: 'POST',
        url: `/api/v1/events/${elsewhere.eventId}/checkins`, headers: adminHeaders,
        payload: { code } });
      expect(wrongEvent.statusCode).toBe(404);
      const unknown = await app.inject({ method: 'POST', url, headers: adminHeaders,
        payload: { code: 'x'.repeat(22) } });
      expect(unknown.statusCode).toBe(404);
      const bad = await app.inject({ method: 'POST', url, headers: adminHeaders,
        payload: { code: 5 } });
      expect(bad.statusCode).toBe(400);
    });

    it('reconciles a payment whose webhooks never came', async () => {
      const { fan, holdId } = await holdFor();
      const pending = (await checkout(fan, holdId, 'sim_async_ok', 'r-1')).json();
      gateway.pending(); // dropped on the floor: never delivered
      const quiet = installTestGateway(app, ctx);
      const result = await reconcilePayments(bookingDeps(ctx), { pendingAfterSeconds: 0 });
      expect(result.payments).toBeGreaterThanOrEqual(1);
      const order = (await app.inject({ method: 'GET', url: `/api/v1/orders/${pending.orderId}`,
        headers: bearer(fan.token) })).json();
      expect(order.status).toBe('confirmed');
      gateway = quiet;
      expect(await auditBooking(db, event.eventId)).toEqual([]);
    });
  });
}
