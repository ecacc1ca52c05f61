/**
 * The dashboard's figures from kept counts (ticket_counts, order_counts, the live holds'
 * range) and its series from settled windows, held to a recount from the rows once quiet, on
 * both backends. The controls show the recount is a real check: an order or a ticket written
 * with its counts skipped is caught, and a kept window stays as it was read until the memo's
 * full read comes round.
 */
import { describe, expect, it } from 'vitest';

import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import type { App } from '../http/types.js';
import { zoneCounts } from '../inventory/availability.js';
import { recountOrderCounts } from '../orders/counts.js';
import type { Db, Queryable } from '../storage/index.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { bearer, buildCustomer, buildEvent, buildHold, lapseHold } from '../testing/factories.js';
import { withoutKeptCounts } from '../testing/queueCounts.js';
import { onSaleStats, type OnSaleStats } from './onsale.js';
import { readSeriesCounts, SeriesMemo } from './series.js';

const backends = await testBackends();

/** The figures the kept counts stand for, counted from the rows. */
async function recount(db: Db, eventId: string) {
  const byZone = (await zoneCounts(db, [eventId])).get(eventId) ?? new Map();
  let held = 0;
  let sold = 0;
  for (const zone of byZone.values()) {
    held += zone.held;
    sold += zone.sold;
  }
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM holds WHERE event_id = $1 AND state = 'held'
        AND claim_expires_at > now()`, [eventId]);
  const orders = await recountOrderCounts(db, eventId);
  return {
    held, sold, activeHolds: rows[0]?.n ?? 0,
    orders: {
      confirmed: orders.confirmed, pendingPayment: orders.pendingPayment,
      paymentFailed: orders.paymentFailed, cancelled: orders.cancelled,
    },
    revenueCents: orders.revenueCents,
  };
}

/** The dashboard's figures in the recount's shape. */
function kept(stats: OnSaleStats) {
  return {
    held: stats.tickets.held, sold: stats.tickets.sold, activeHolds: stats.activeHolds,
    orders: stats.orders, revenueCents: stats.revenueCents,
  };
}

const holdsIn = (stats: OnSaleStats): number =>
  stats.series.points.reduce((sum, point) => sum + point.holds, 0);

for (const backend of backends) {
  describe.skipIf(!backend.available)(`dashboard figures kept on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;

    appPerSuite(backend, (suite) => ({ db, app, ctx } = suite));

    async function checkout(eventId: string, seats: string[], method: string, key: string) {
      const buyer = await buildCustomer(ctx);
      const hold = await buildHold(ctx, eventId, buyer.customerId, { seats });
      const order = await app.inject({
        method: 'POST', url: `/api/v1/holds/${hold.holdId}/checkout`,
        headers: { ...bearer(buyer.token), 'idempotency-key': key },
        payload: { paymentMethod: method },
      });
      expect(order.statusCode).toBe(201);
      return { buyer, orderId: order.json().orderId as string };
    }

    it('match a recount from the rows after sales, a cancel, a decline and a lapsed hold',
      async () => {
        const event = await buildEvent(ctx);
        const eventId = event.eventId;
        await checkout(eventId, ['A-1-1', 'A-1-2'], 'sim_ok', 'fig-1');
        const cancelled = await checkout(eventId, ['A-1-3'], 'sim_ok', 'fig-2');
        const cancel = await app.inject({
          method: 'POST', url: `/api/v1/orders/${cancelled.orderId}/cancel`,
          headers: bearer(cancelled.buyer.token), payload: {},
        });
        expect(cancel.statusCode).toBe(200);
        await checkout(eventId, ['A-2-1'], 'sim_declined', 'fig-3');
        const live = await buildCustomer(ctx);
        await buildHold(ctx, eventId, live.customerId, { zone: 'floor', quantity: 3 });
        // A hold whose timer ran out, not swept: its tickets are available again at once.
        const lapsing = await buildCustomer(ctx);
        const lapsed = await buildHold(ctx, eventId, lapsing.customerId, { seats: ['A-3-1'] });
        await lapseHold(db, lapsed.holdId);

        const stats = await onSaleStats(db, ctx.coord, ctx.clock, eventId);
        const counted = await recount(db, eventId);
        expect(kept(stats)).toEqual(counted);
        // The declined buyer keeps their hold to pay again: 1 + 3 held in two live holds.
        expect(counted).toMatchObject({ held: 4, sold: 2, activeHolds: 2,
          orders: { confirmed: 1, pendingPayment: 0, paymentFailed: 1, cancelled: 1 } });
        expect(stats.tickets.available).toBe(stats.tickets.capacity - 6);
      });

    it('control: an order or a ticket written with its counts skipped is caught', async () => {
      const event = await buildEvent(ctx);
      const eventId = event.eventId;
      const { orderId } = await checkout(eventId, ['A-1-1'], 'sim_ok', 'fig-control');
      const before = await onSaleStats(db, ctx.coord, ctx.clock, eventId);
      expect(kept(before)).toEqual(await recount(db, eventId));

      const quiet = withoutKeptCounts(db);
      await quiet.query(`UPDATE orders SET status = 'cancelled' WHERE order_id = $1`, [orderId]);
      const order = await onSaleStats(db, ctx.coord, ctx.clock, eventId);
      expect(kept(order)).not.toEqual(await recount(db, eventId));
      expect(order.orders.confirmed).toBe(1);

      await quiet.query(`UPDATE tickets SET order_id = $2
                          WHERE event_id = $1 AND seat_id = 'A-5-5'`, [eventId, orderId]);
      const ticket = await onSaleStats(db, ctx.coord, ctx.clock, eventId);
      expect(ticket.tickets.sold).toBe(1);
      expect((await recount(db, eventId)).sold).toBe(2);
    });

    it('keeps settled windows of the series, and reads them all again on its full read',
      async () => {
        const event = await buildEvent(ctx);
        const eventId = event.eventId;
        const clock = new ManualClock(Date.now());
        const memo = new SeriesMemo();
        const stampEarlier = async (holdId: string): Promise<void> => {
          // 40 s ago: a window that closed over 30 s ago, settled (statsSeriesSettleMs 10 s).
          await db.query(`UPDATE holds SET created_at = now() - interval '40 seconds'
                           WHERE hold_id = $1`, [holdId]);
        };
        for (const seat of ['A-1-1', 'A-1-2']) {
          const fan = await buildCustomer(ctx);
          await stampEarlier((await buildHold(ctx, eventId, fan.customerId, { seats: [seat] }))
            .holdId);
        }
        const first = await onSaleStats(db, ctx.coord, clock, eventId, memo);
        expect(holdsIn(first)).toBe(2);
        expect(first.series).toEqual(
          (await onSaleStats(db, ctx.coord, clock, eventId)).series);

        // A row that lands in a settled window late (as a transaction longer than the margin
        // would): the kept window does not see it, a read of every window does.
        const late = await buildCustomer(ctx);
        await stampEarlier((await buildHold(ctx, eventId, late.customerId, { seats: ['A-1-3'] }))
          .holdId);
        expect(holdsIn(await onSaleStats(db, ctx.coord, clock, eventId, memo))).toBe(2);
        expect(holdsIn(await onSaleStats(db, ctx.coord, clock, eventId))).toBe(3);

        clock.advance(limits.statsSeriesFullReadMs);
        const full = await onSaleStats(db, ctx.coord, clock, eventId, memo);
        expect(holdsIn(full)).toBe(3);
        expect(full.series).toEqual((await onSaleStats(db, ctx.coord, clock, eventId)).series);
      });

    it('reads again the windows it lacks after the database clock steps back', async () => {
      const event = await buildEvent(ctx);
      const eventId = event.eventId;
      const fan = await buildCustomer(ctx);
      const hold = await buildHold(ctx, eventId, fan.customerId, { seats: ['A-1-1'] });
      // 10 s ago: the window before the open one, still open to late rows at +0 s.
      await db.query(`UPDATE holds SET created_at = now() - interval '10 seconds'
                       WHERE hold_id = $1`, [hold.holdId]);
      // The same database read through a clock `skewSeconds` ahead (as a standby's or a
      // failed-over primary's would be): every now() of the series' query moved.
      const skewed = (skewSeconds: number): Queryable => ({
        query: (sql, params) => db.query(
          sql.replaceAll('now()', `(now() + interval '${skewSeconds} seconds')`), params),
        exec: (sql) => db.exec(sql),
      });
      const clock = new ManualClock(Date.now());
      const memo = new SeriesMemo();
      const holds = async (skewSeconds: number): Promise<number> => {
        const read = await readSeriesCounts(skewed(skewSeconds), eventId, clock, memo);
        return read.windows.reduce((sum, w) => sum + w.counts.holds, 0);
      };
      // +20 s keeps the windows up to two before its open one; +0 s reads the one before
      // its open one and keeps older ones; +10 s then lacks that window from the memo.
      expect(await holds(20)).toBe(1);
      expect(await holds(0)).toBe(1);
      expect(await holds(10)).toBe(1);
      expect(await holds(10)).toBe(1);
    });
  });
}
