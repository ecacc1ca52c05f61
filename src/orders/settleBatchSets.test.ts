/**
 * Checkout's batches write set-based (migration 072): the begin batch stretches the payment
 * window of every hold it begins in one statement, and the settle batch writes its
 * confirmations together, after deciding every item. A later item about a payment an earlier
 * item of the same batch confirmed must see it as captured although nothing is written yet;
 * each confirmed order's reply, built from what the batch wrote, must be the order as stored
 * (order_json); the waiting-room line and admissions must move as one confirmation at a time
 * moved them. The control removes the in-batch view and shows the row-count guards refusing
 * the batch rather than confirming one payment twice.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { HoldInput } from '../holds/schemas.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { buildCustomer, buildEvent, buildHold } from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';
import { checkout } from './checkout.js';
import type { Order } from './schemas.js';
import { runSettleBatch, type SettleItem } from './settleBatch.js';
import { bookingDeps } from './workers.js';

const backends = await testBackends();

/** A pending order: held, checked out with an asynchronous method, its webhook not sent. */
interface Pending { customerId: string; order: Order; paymentId: string }

const captured = (p: Pending, extra: Partial<SettleItem> = {}): SettleItem => ({
  paymentId: p.paymentId, outcome: { status: 'captured', providerRef: `simpay_${p.paymentId}` },
  ...extra,
});

for (const backend of backends) {
  describe.skipIf(!backend.available)(`settle batch confirms together on ${backend.name}`,
    () => {
      let db: Db;
      let app: App;
      let ctx: AppContext;
      let gateway: SimulatedGateway;
      let event: EventDetails;

      beforeAll(async () => {
        db = await backend.open();
        ({ app, ctx } = await buildTestApp(db, { env: { PAYMENT_WINDOW_SECONDS: '600' } }));
      });
      beforeEach(async () => {
        gateway = installTestGateway(app, ctx);
        event = await buildEvent(ctx, { maxTicketsPerCustomer: 8 });
      });
      afterEach(async () => {
        await gateway.close();
      });
      afterAll(async () => {
        await app?.close();
        await db?.close();
      });

      async function pending(input: HoldInput, method = 'sim_async_ok'): Promise<Pending> {
        const { customerId } = await buildCustomer(ctx);
        const hold = await buildHold(ctx, event.eventId, customerId, input);
        const { order } = await checkout(bookingDeps(ctx), {
          customerId, holdId: hold.holdId, paymentMethod: method });
        expect(order.status).toBe('pending_payment');
        return { customerId, order, paymentId: order.payment?.paymentId ?? '' };
      }

      const stored = async (orderId: string): Promise<unknown> => (await db.query<{
        order: unknown }>('SELECT order_json($1) AS order', [orderId])).rows[0]?.order;

      const news = async (orderId: string): Promise<string[]> => (await db.query<{
        kind: string }>(
        `SELECT kind FROM outbox_events WHERE payload->>'orderId' = $1 ORDER BY outbox_id`,
        [orderId])).rows.map((r) => r.kind);

      it('answers each confirmed order as stored; a later item sees the earlier confirmation',
        async () => {
          const pair = await pending({ seats: ['A-1-1', 'A-1-2'] });
          const floor = await pending({ zone: 'floor', quantity: 2 });
          const single = await pending({ seats: ['A-2-5'] });
          const declined = await pending({ seats: ['A-3-1'] }, 'sim_async_declined');
          const results = await runSettleBatch(db, 'simulated', [
            captured(pair, { quantity: 2, reply: true }),
            captured(floor, { reply: true }),
            // The same capture again, as a webhook, in the same batch: recorded, a no-op.
            captured(pair, { reply: true,
              providerEvent: { id: `evt_${pair.paymentId}`, kind: 'payment.captured' } }),
            { paymentId: declined.paymentId, reply: true, outcome: { status: 'declined',
              providerRef: `simpay_${declined.paymentId}`, reason: 'card_declined' } },
            captured(single),
            // Another charge's capture naming the pair's payment: a mismatch, nothing else.
            { paymentId: pair.paymentId, outcome: { status: 'captured', providerRef: 'other' },
              providerEvent: { id: `evt_other_${pair.paymentId}`, kind: 'payment.captured' } },
          ]);
          expect(results.map((r) => r.kind)).toEqual(
            ['settled', 'settled', 'settled', 'settled', 'settled', 'mismatch']);
          const [first, second, again, failed, last] = results;
          for (const [result, p, confirmed] of [[first, pair, true], [second, floor, true],
            [again, pair, false], [failed, declined, false]] as const) {
            expect(result?.kind === 'settled' && result.confirmed).toBe(confirmed);
            const answered = result?.kind === 'settled' ? result.order : undefined;
            expect(answered).toEqual(await stored(p.order.orderId));
          }
          expect(last).toEqual({ kind: 'settled', confirmed: true });
          const pairOrder = first?.kind === 'settled' ? first.order : undefined;
          expect(pairOrder?.status).toBe('confirmed');
          expect(pairOrder?.tickets.map((t) => t.seatId)).toEqual(['A-1-1', 'A-1-2']);
          const floorOrder = second?.kind === 'settled' ? second.order : undefined;
          expect(floorOrder?.tickets.map((t) => [t.seatId, t.zone])).toEqual(
            [[null, 'floor'], [null, 'floor']]);
          expect(floorOrder?.tickets.every((t) => /^[\w-]{22}$/.test(t.code))).toBe(true);
          for (const p of [pair, floor, single]) {
            expect(await news(p.order.orderId)).toEqual(['seats.sold', 'order.confirmed']);
          }
          expect(await news(declined.order.orderId)).toEqual(['order.payment_failed']);
          const { rows: events } = await db.query<{ kind: string }>(
            `SELECT kind FROM provider_events WHERE payment_id = $1 ORDER BY kind`,
            [pair.paymentId]);
          expect(events.map((e) => e.kind)).toEqual(['payment.captured', 'payment.mismatch']);
          expect(await auditBooking(db, event.eventId)).toEqual([]);
        });

      it('stretches every begun hold and its tickets to the payment window', async () => {
        event = await buildEvent(ctx, { maxTicketsPerCustomer: 8, holdSeconds: 60 });
        const begun = await Promise.all([{ seats: ['A-1-1', 'A-1-2'] },
          { zone: 'floor', quantity: 3 }, { seats: ['A-2-1'] }].map((input) => pending(input)));
        const { rows } = await db.query<{ tickets: number; stretched: number }>(
          `SELECT count(*)::int AS tickets,
                  count(*) FILTER (WHERE t.hold_expires_at = h.claim_expires_at
                                     AND h.claim_expires_at > now() + interval '500 s')::int
                    AS stretched
             FROM orders o JOIN holds h ON h.hold_id = o.hold_id
             JOIN tickets t ON t.event_id = h.event_id AND t.hold_id = h.hold_id
            WHERE o.order_id = ANY($1::uuid[])`, [begun.map((p) => p.order.orderId)]);
        expect(rows[0]).toEqual({ tickets: 6, stretched: 6 });
      });

      it('control: without the in-batch view the second confirmation aborts the batch',
        async () => {
          const pair = await pending({ seats: ['A-4-1', 'A-4-2'] });
          const items = [captured(pair, { quantity: 2, reply: true }),
            captured(pair, { providerEvent: { id: `evt_${pair.paymentId}`,
              kind: 'payment.captured' } })];
          await expect(runSettleBatch(db, 'simulated', items, 'settle-seen-in-batch'))
            .rejects.toThrow(/assertion failed/);
          expect(((await stored(pair.order.orderId)) as Order).status).toBe('pending_payment');
          const results = await runSettleBatch(db, 'simulated', items);
          expect(results.map((r) => r.kind === 'settled' && r.confirmed)).toEqual([true, false]);
          expect(await auditBooking(db, event.eventId)).toEqual([]);
        });

      it('moves the line as each confirmation did: entries left, admissions released',
        async () => {
          const waiting = await pending({ seats: ['A-5-1'] });
          const admitted = await pending({ seats: ['A-5-2'] });
          const elsewhere = await pending({ seats: ['A-5-3'] });
          await db.query(
            `INSERT INTO queue_entries (event_id, customer_id, number, pre_queue, joined_at)
             SELECT $1, c, n, false, now()
               FROM unnest($2::uuid[]) WITH ORDINALITY AS u(c, n)`,
            [event.eventId, [waiting.customerId, admitted.customerId, elsewhere.customerId]]);
          await db.query(
            `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                           claim_by, expires_at, claimed_at, leader_token)
             VALUES ($1, $2, 2, gen_random_uuid(), now(), now() + interval '1 min',
                     now() + interval '10 min', now(), 1)`,
            [event.eventId, admitted.customerId]);
          const results = await runSettleBatch(db, 'simulated',
            [captured(waiting), captured(admitted)]);
          expect(results.map((r) => r.kind === 'settled' && r.confirmed)).toEqual([true, true]);
          const { rows } = await db.query<{ customer_id: string; left_reason: string | null;
            release_reason: string | null }>(
            `SELECT e.customer_id, e.left_reason, a.release_reason
               FROM queue_entries e LEFT JOIN queue_admissions a
                 ON a.event_id = e.event_id AND a.customer_id = e.customer_id
              WHERE e.event_id = $1`, [event.eventId]);
          const byFan = new Map(rows.map((r) => [r.customer_id, r]));
          expect(byFan.get(waiting.customerId)?.left_reason).toBe('purchased');
          expect(byFan.get(admitted.customerId)).toMatchObject(
            { left_reason: null, release_reason: 'order' });
          expect(byFan.get(elsewhere.customerId)?.left_reason).toBeNull();
          // Any other confirmation still marks the line (migration 054's trigger).
          await db.query(`UPDATE orders SET status = 'confirmed', confirmed_at = now()
                           WHERE order_id = $1`, [elsewhere.order.orderId]);
          const { rows: [after] } = await db.query<{ left_reason: string | null }>(
            `SELECT left_reason FROM queue_entries WHERE event_id = $1 AND customer_id = $2`,
            [event.eventId, elsewhere.customerId]);
          expect(after?.left_reason).toBe('purchased');
        });
    });
}
