/**
 * Offers under concurrent returns, over real HTTP on PostgreSQL (real parallel
 * transactions; embedded PGlite runs one transaction at a time, so it cannot race). The
 * race is first run as a control on a second app over the same database with the offer
 * guard removed (`unguarded: 'waitlist-offer'`: no waitlist lock, no status guard) to show
 * it is real and visible, then with the guard on to show it holds. The control's returns
 * meet after reading the line (a Rendezvous, `seams.offerLineRead`), so they all read it
 * before any offers: the overlap is made, not hoped for.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AppContext } from '../context.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { buildCustomers, buildEvent, buildHold, buildVenue } from '../testing/factories.js';
import { Rendezvous } from '../testing/rendezvous.js';
import { joinWaitlist } from './waitlist.js';

const backends = (await testBackends()).filter((backend) => backend.name === 'postgres');
const seats = 12;

for (const backend of backends) {
  describe.skipIf(!backend.available)(`offer races over HTTP on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let base: string;
    /** The same database behind an app with the offer guard removed. */
    let unguarded: App | undefined;
    let unguardedBase = '';
    const returns = new Rendezvous();
    const agent = new Agent({ connections: 32, pipelining: 1 });

    beforeAll(async () => {
      db = await backend.open({ poolMax: 20 });
      ({ app, ctx } = await buildTestApp(db));
      base = await app.listen({ port: 0, host: '127.0.0.1' });
      ({ app: unguarded } = await buildTestApp(db, {
        unguarded: 'waitlist-offer', seams: { offerLineRead: returns.arrive },
      }));
      unguardedBase = await unguarded.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(async () => {
      await agent.close();
      await unguarded?.close();
      await app?.close();
      await db?.close();
    });

    /**
     * Sells out 12 seats in 12 single-seat holds, puts 12 fans on the waitlist for one seat
     * each, then releases all 12 holds at once. Returns offers per waiting fan.
     */
    async function releaseRace(
      guard: 'on' | 'off',
    ): Promise<{ eventId: string; offersPerFan: number[] }> {
      const venue = await buildVenue(ctx, { rows: 1, seatsPerRow: seats, standing: 1 });
      const event = await buildEvent(ctx, { venue, maxTicketsPerCustomer: 8 });
      const holders = await buildCustomers(ctx, seats);
      const holds = await Promise.all(holders.map((holder, i) =>
        buildHold(ctx, event.eventId, holder.customerId, { seats: [`A-1-${i + 1}`] })));
      const waiting = await buildCustomers(ctx, seats);
      for (const fan of waiting) {
        await joinWaitlist(ctx, { customerId: fan.customerId, eventId: event.eventId,
          zone: 'seats', quantity: 1 }, { requireSoldOut: true });
      }
      if (guard === 'off') returns.expect(holds.length);
      const url = guard === 'on' ? base : unguardedBase;
      const statuses = await Promise.all(holds.map(async (hold, i) => {
        const response = await fetch(`${url}/api/v1/holds/${hold.holdId}`, {
          method: 'DELETE', headers: { authorization: `Bearer ${holders[i]?.token}` },
          // @ts-expect-error undici's fetch takes a dispatcher; Node's types omit it
          dispatcher: agent,
        });
        return response.status;
      }));
      expect(statuses).toEqual(holds.map(() => 204));
      const { rows } = await db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM waitlist_offers o
                  WHERE o.event_id = $1 AND o.customer_id = w.customer_id)::int AS n
           FROM waitlist_entries w WHERE w.event_id = $1 ORDER BY w.seq`,
        [event.eventId],
      );
      return { eventId: event.eventId, offersPerFan: rows.map((row) => row.n) };
    }

    it('without the guard, concurrent releases offer one entry twice', async () => {
      const { offersPerFan } = await releaseRace('off');
      expect(Math.max(...offersPerFan)).toBeGreaterThan(1);
    });

    it('with the guard, 12 concurrent releases make exactly one offer per fan', async () => {
      const { eventId, offersPerFan } = await releaseRace('on');
      expect(offersPerFan).toEqual(Array.from({ length: seats }, () => 1));
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(DISTINCT i.ticket_no)::int AS n FROM waitlist_offers o
           JOIN hold_items i ON i.hold_id = o.hold_id WHERE o.event_id = $1`, [eventId]);
      expect(rows[0]?.n).toBe(seats);
      expect(await auditBooking(db, eventId)).toEqual([]);
    });
  });
}
