/**
 * The per-customer limit (invariant 5) as hold batches decide it (migration 055 counts each
 * batch customer's rows through the customer's own index entries): one customer's
 * conflicting requests inside one batch, on both backends, and across two batches in
 * flight at once on PostgreSQL, where the second batch waits on the customer's lock while
 * the first is still open and must count what it held. The customer starts with rows the
 * count must take (a confirmed order and a live hold on the event) and rows it must leave
 * out (a lapsed hold on the event, a live hold on another event). Each race has a control
 * run with the limit check removed (`customer-limit` guard, see claim.ts Guard) that goes
 * over the limit: the requests really did conflict.
 */
import { expect, it } from 'vitest';
import { loadEvent, type EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { newId } from '../core/ids.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildCustomers, buildEvent } from '../testing/factories.js';
import { holdOpen } from '../testing/openTx.js';
import { describeEachBackend, describePostgres } from '../testing/suites.js';
import { runHoldBatch, type BatchRequest } from './batch.js';
import type { Guard } from './claim.js';

const backends = await testBackends();
/** The event's limit: the customer starts with 2 counted (an order of 1, a hold of 1). */
const limit = 5;

interface Setup {
  event: EventRecord;
  fan: string;
  other: string;
  seat: (n: number) => number;
}

/** An event whose fan has 2 tickets that count and 5 that must not (see the header). */
async function setUp(db: Db, ctx: AppContext): Promise<Setup> {
  const event = await loadEvent(db, (await buildEvent(ctx,
    { maxTicketsPerCustomer: limit })).eventId);
  const elsewhere = await buildEvent(ctx, { maxTicketsPerCustomer: limit });
  const [fan, other] = (await buildCustomers(ctx, 2)).map((c) => c.customerId) as [string, string];
  const { rows } = await db.query<{ ticket_no: number }>(
    `SELECT ticket_no FROM tickets WHERE event_id = $1 AND seat_id IS NOT NULL
      ORDER BY ticket_no`, [event.eventId]);
  const seat = (n: number): number => (rows[n] as { ticket_no: number }).ticket_no;
  const hold = `INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent,
                  currency, total_cents, expires_at, claim_expires_at, ended_at, created_at)
                VALUES ($1, $2, $3, $4, $5, true, 'EUR', 0, $6::timestamptz, $6::timestamptz,
                        $7::timestamptz, now() - interval '1 hour')`;
  const later = new Date(Date.now() + 3_600_000).toISOString();
  const earlier = new Date(Date.now() - 60_000).toISOString();
  const bought = newId();
  // Counted: a confirmed order of 1 (its hold purchased) and a live hold of 1.
  await db.query(hold, [bought, event.eventId, fan, 'purchased', 1, earlier, earlier]);
  await db.query(
    `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                         total_cents, currency, confirmed_at)
     VALUES ($1, $2, $3, $4, 'confirmed', 1, 0, 'EUR', now())`,
    [newId(), event.eventId, fan, bought]);
  await db.query(hold, [newId(), event.eventId, fan, 'held', 1, later, null]);
  // Not counted: a lapsed hold of 2 on this event, a live hold of 3 on another one.
  await db.query(hold, [newId(), event.eventId, fan, 'held', 2, earlier, null]);
  await db.query(hold, [newId(), elsewhere.eventId, fan, 'held', 3, later, null]);
  return { event, fan, other, seat };
}

const seats = (customerId: string, ticketNos: number[]): BatchRequest => ({
  holdId: newId(), customerId, quantity: ticketNos.length,
  claim: { kind: 'seats', ticketNos },
});

/** What the fan holds live and owns on the event, as the invariant counts it. */
async function fanTotal(db: Db, eventId: string, fan: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT ((SELECT coalesce(sum(quantity), 0) FROM holds
               WHERE event_id = $1 AND customer_id = $2 AND state = 'held'
                 AND claim_expires_at > now())
           + (SELECT coalesce(sum(quantity), 0) FROM orders
               WHERE event_id = $1 AND customer_id = $2 AND status = 'confirmed'))::int AS n`,
    [eventId, fan]);
  return rows[0]?.n ?? -1;
}

describeEachBackend(backends, (name) => `one customer's requests in one batch on ${name}`,
  { poolMax: 4 }, (suite) => {
    async function oneBatch(unguarded?: Guard): Promise<{ outcomes: string[]; total: number }> {
      const { db, ctx } = suite;
      const { event, fan, other, seat } = await setUp(db, ctx);
      const outcomes = await runHoldBatch(db, event, [
        seats(fan, [seat(0), seat(1)]), seats(fan, [seat(2), seat(3)]),
        seats(other, [seat(4)]), seats(fan, [seat(5)]),
      ], unguarded);
      return { outcomes: outcomes.map((o) => o.outcome),
        total: await fanTotal(db, event.eventId, fan) };
    }

    it('control: without the limit check, the batch takes the fan over the limit', async () => {
      const { outcomes, total } = await oneBatch('customer-limit');
      expect(outcomes).toEqual(['held', 'held', 'held', 'held']);
      expect(total).toBe(7);
    });

    it('the batch counts the order and the live hold, not the lapsed or the other event\'s',
      async () => {
        const { outcomes, total } = await oneBatch();
        expect(outcomes).toEqual(['held', 'limit', 'held', 'held']);
        expect(total).toBe(limit);
      });
  });

describePostgres(backends, 'one customer\'s requests in two batches in flight on PostgreSQL',
  { poolMax: 6 }, (suite) => {

    /**
     * A first batch (another node's, in a transaction the test keeps open) holds a seat for
     * the fan; the second batch, with the fan's conflicting requests and another
     * customer's, waits on the fan's lock meanwhile, then decides once the first commits.
     */
    async function twoBatches(unguarded?: Guard): Promise<{ first: string[]; second: string[];
      total: number }> {
      const { db, ctx } = suite;
      const { event, fan, other, seat } = await setUp(db, ctx);
      const first = await holdOpen(db, async (tx) => {
        const info = {
          hold_seconds: 600, max_per_customer: limit, cancelled: false, currency: 'EUR',
          on_sale_at: new Date(event.onSaleAtMs).toISOString(),
          starts_at: new Date(event.startsAtMs).toISOString(),
          prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
        };
        const { rows } = await tx.query<{ outcome: string }>(
          `SELECT outcome FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, '{}')`,
          [event.eventId, JSON.stringify(info), JSON.stringify([{
            i: newId(), c: fan, q: 1, k: 'seats', t: [seat(0)] }])]);
        return rows.map((row) => row.outcome);
      });
      const second = runHoldBatch(db, event, [
        seats(fan, [seat(1), seat(2)]), seats(other, [seat(3)]), seats(fan, [seat(4)]),
      ], unguarded);
      const firstOutcomes = await first.releaseWhenWaited('FROM hold_batch(', 'the second batch');
      const secondOutcomes = (await second).map((o) => o.outcome);
      return { first: firstOutcomes, second: secondOutcomes,
        total: await fanTotal(db, event.eventId, fan) };
    }

    it('control: without the limit check, the waiting batch takes the fan over the limit',
      async () => {
        const { first, second, total } = await twoBatches('customer-limit');
        expect(first).toEqual(['held']);
        expect(second).toEqual(['held', 'held', 'held']);
        expect(total).toBe(6);
      });

    it('the waiting batch counts what the first one held once it commits', async () => {
      const { first, second, total } = await twoBatches();
      expect(first).toEqual(['held']);
      expect(second).toEqual(['held', 'held', 'limit']);
      expect(total).toBe(limit);
    });
  });
