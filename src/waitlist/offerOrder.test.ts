/**
 * Offers go to the earliest waiting fan by the number itself: waiting numbers that straddle
 * a power of ten (9 and 10) still offer 9 first. The control reads the line as the offers
 * once did (`seq` as text, where '10' sorts before '9') to show that the numbers chosen
 * would tell the two orders apart.
 */
import { expect, it } from 'vitest';
import { sweepExpiredHolds } from '../holds/sweeper.js';
import { testBackends } from '../testing/backends.js';
import { buildCustomers, buildEvent, buildHold, buildVenue } from '../testing/factories.js';
import { describeEachBackend } from '../testing/suites.js';

describeEachBackend(await testBackends(), (name) => `waitlist offer order on ${name}`, {},
  (suite) => {
    it('offers a lapsed seat to waiting number 9 before number 10', async () => {
      const { db, ctx } = suite;
      const venue = await buildVenue(ctx, { rows: 1, seatsPerRow: 1, standing: 1 });
      const event = await buildEvent(ctx, { venue });
      const [holder, early, late] = await buildCustomers(ctx, 3);
      if (holder === undefined || early === undefined || late === undefined) {
        throw new Error('customers not built');
      }
      const hold = await buildHold(ctx, event.eventId, holder.customerId, { seats: ['A-1-1'] });
      await db.query(
        `INSERT INTO waitlist_entries (event_id, customer_id, seq, zone_key, quantity, status)
         VALUES ($1, $2, 10, 'seats', 1, 'waiting'), ($1, $3, 9, 'seats', 1, 'waiting')`,
        [event.eventId, late.customerId, early.customerId]);
      // Control: as text, the later number comes first.
      const { rows: asText } = await db.query<{ customer_id: string }>(
        `SELECT customer_id FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting'
          ORDER BY seq::text LIMIT 1`, [event.eventId]);
      expect(asText[0]?.customer_id).toBe(late.customerId);
      await db.query(
        `UPDATE holds SET expires_at = now() - interval '1 second',
                          claim_expires_at = now() - interval '1 second'
          WHERE hold_id = $1`, [hold.holdId]);
      await db.query(
        `UPDATE tickets SET hold_expires_at = now() - interval '1 second' WHERE hold_id = $1`,
        [hold.holdId]);
      const swept = await sweepExpiredHolds(db);
      expect(swept).toEqual({ holds: 1, tickets: 1 });
      const { rows } = await db.query<{ customer_id: string; status: string }>(
        `SELECT customer_id, status FROM waitlist_entries WHERE event_id = $1 ORDER BY seq`,
        [event.eventId]);
      expect(rows).toEqual([
        { customer_id: early.customerId, status: 'offered' },
        { customer_id: late.customerId, status: 'waiting' },
      ]);
    });
  });
