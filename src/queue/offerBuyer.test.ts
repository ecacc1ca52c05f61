/**
 * A fan who buys through a waitlist offer while still waiting in the line (migration 054).
 *
 * A fan may wait in the line and on the waitlist at once (the zone was all in carts when
 * they joined the waitlist). When a cart is released the waitlist offers them the tickets,
 * and they buy. Their line entry used to stay as it was, so the tick later admitted them to
 * a live-shopper slot they never use: counted among `maxActiveShoppers` until its claim
 * grace lapsed, while the fan behind them waited. Buying ends a fan's turn in the line the
 * way it frees an admitted shopper's slot (SPEC §5, "the moment their order completes"):
 * the confirmation takes the still waiting entry out of the line (`left_reason =
 * 'purchased'`) and the tick passes over it. On both databases.
 *
 * The race: the confirmation commits while a tick admits the fan. The entry is written
 * before the confirmation releases admissions (a leave's order, leave.ts), and the tick's
 * apply takes the entries' share lock before it admits (053), so it waits for the
 * confirmation and sees the fan gone. The control skips that lock: the confirmation's
 * release finds no admission yet, the apply reads the entry as still waiting, and the
 * buyer keeps a live slot. PostgreSQL only: two transactions.
 */
import { expect, it } from 'vitest';

import { loadEvent } from '../catalog/events.js';
import { releaseHold } from '../holds/holds.js';
import { checkout } from '../orders/checkout.js';
import { bookingDeps } from '../orders/workers.js';
import { testBackends } from '../testing/backends.js';
import {
  buildEvent, buildHold, buildQueuedEvent, buildVenue, insertCustomerRows,
} from '../testing/factories.js';
import { describeEachBackend, describePostgres } from '../testing/suites.js';
import { joinWaitlist } from '../waitlist/waitlist.js';
import { waitForLockWait } from '../testing/lockWait.js';
import { releaseShopperSlot, tickLine } from './admission.js';
import { joinLine } from './line.js';

const backends = await testBackends();

describeEachBackend(backends, (name) => `a waitlist buyer still in line on ${name}`, {},
  (suite) => {
    it('is passed over by the tick: the one live-shopper slot goes to the fan behind',
      async () => {
        const { db, ctx } = suite;
        const venue = await buildVenue(ctx, {
          sections: [{ key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: 2 }],
        });
        const details = await buildEvent(ctx, {
          venue, queue: { enabled: true, admitPerMinute: 6_000, maxActiveShoppers: 1 },
        });
        const event = await loadEvent(db, details.eventId);
        const [carted, buyer, behind] = await insertCustomerRows(db, 3) as [string, string,
          string];
        // Everything is in one cart; the buyer and the fan behind wait in the line, and the
        // buyer also joins the waitlist (nothing is free to hold).
        const cart = await buildHold(ctx, event.eventId, carted, { zone: 'floor', quantity: 2 });
        await joinLine(db, event, [buyer], undefined);
        await joinLine(db, event, [behind], undefined);
        await joinWaitlist({ db }, { customerId: buyer, eventId: event.eventId, quantity: 1 });
        // The cart is let go: the buyer gets an offer, and buys it.
        await releaseHold(db, carted, cart.holdId);
        const { rows: offers } = await db.query<{ hold_id: string }>(
          `SELECT h.hold_id FROM holds h JOIN waitlist_offers w ON w.hold_id = h.hold_id
            WHERE h.event_id = $1 AND h.customer_id = $2 AND h.state = 'held'`,
          [event.eventId, buyer]);
        expect(offers).toHaveLength(1);
        const { order } = await checkout(bookingDeps(ctx), {
          customerId: buyer, holdId: (offers[0] as { hold_id: string }).hold_id,
          paymentMethod: 'sim_ok',
        });
        expect(order.status).toBe('confirmed');

        // One ticket is still free: the tick admits, one live shopper at most.
        const ticked = await tickLine(db, event, { token: 1, claimGraceSeconds: 60 });
        expect(ticked.kind).toBe('ticked');
        const { rows } = await db.query<{ customer_id: string; live: boolean }>(
          `SELECT customer_id, released_at IS NULL AS live FROM queue_admissions
            WHERE event_id = $1 ORDER BY number`, [event.eventId]);
        expect(rows.filter((row) => row.live).map((row) => row.customer_id)).toEqual([behind]);
        const { rows: entries } = await db.query<{ left_reason: string | null }>(
          'SELECT left_reason FROM queue_entries WHERE event_id = $1 AND customer_id = $2',
          [event.eventId, buyer]);
        expect(entries[0]?.left_reason).toBe('purchased');
      });
  });

describePostgres(backends,
  'a purchase confirmed while the tick admits the buyer on PostgreSQL',
  { poolMax: 6 }, (suite) => {
    /**
     * The buyer waits in line with a pending order; its confirmation (the statements of
     * settle.ts that touch the line: the order confirmed, the shopper's slot released) is
     * written and held uncommitted while a tick admits the buyer; then it commits.
     * Answers the buyer's admission as it ended up.
     */
    async function confirmDuringAdmission(unlockedLeavers: boolean) {
      const { db, ctx } = suite;
      const event = await buildQueuedEvent(ctx);
      const [buyer] = await insertCustomerRows(db, 1) as [string];
      await joinLine(db, event, [buyer], undefined);
      // The offer the buyer is paying for (a hold made for them, outside the line).
      const hold = await buildHold(ctx, event.eventId, buyer, { zone: 'floor', quantity: 1 });
      const { rows: [order] } = await db.query<{ order_id: string }>(
        `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                             total_cents, currency)
         VALUES (gen_random_uuid(), $1, $2, $3, 'pending_payment', 1, 3000, 'EUR')
         RETURNING order_id`, [event.eventId, buyer, hold.holdId]);

      let mayCommit = (): void => undefined;
      const commitGate = new Promise<void>((resolve) => { mayCommit = resolve; });
      let written = (): void => undefined;
      const confirmWritten = new Promise<void>((resolve) => { written = resolve; });
      const confirming = db.tx(async (tx) => {
        await tx.query("UPDATE orders SET status = 'confirmed', confirmed_at = now() "
          + 'WHERE order_id = $1', [order?.order_id]);
        const freed = await releaseShopperSlot(tx, event.eventId, buyer);
        written();
        await commitGate;
        return freed;
      });
      await confirmWritten;
      const ticking = tickLine(db, event, {
        token: 1, claimGraceSeconds: 60, ...(unlockedLeavers ? { unlockedLeavers } : {}),
      });
      await waitForLockWait(db, 'queue_tick_apply', 'the tick');
      mayCommit();
      const [freed, ticked] = await Promise.all([confirming, ticking]);
      expect(freed).toBe(false);
      expect(ticked.kind === 'ticked' && ticked.admitted.map((a) => a.customerId))
        .toEqual([buyer]);
      const { rows } = await db.query<{ released: boolean; reason: string | null }>(
        `SELECT released_at IS NOT NULL AS released, release_reason AS reason
           FROM queue_admissions WHERE event_id = $1 AND customer_id = $2`,
        [event.eventId, buyer]);
      return rows[0];
    }

    it('control: without the apply\'s lock, the buyer is admitted to a live slot', async () => {
      expect(await confirmDuringAdmission(true)).toEqual({ released: false, reason: null });
    });

    it('the apply waits for the confirmation and admits the buyer with the slot given back',
      async () => {
        expect(await confirmDuringAdmission(false)).toEqual({ released: true, reason: 'left' });
      });
  });
