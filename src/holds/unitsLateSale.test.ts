/**
 * A standing zone late in a sale (migration 079). On both backends: the unsold tickets'
 * zone index exists, and with all but k units sold (some of the rest held, one under a hold
 * that lapsed), a claim of k + 1 is insufficient_inventory with k available and changes no
 * ticket, and a claim of k gets exactly the k free units. On PostgreSQL: the batch's pick
 * and recount read the unsold tickets only; the control drops the index (in a transaction
 * rolled back) and the same batch reads the sold ones too.
 */
import { expect, it } from 'vitest';
import { loadEvent } from '../catalog/events.js';
import { DomainError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Db, Queryable } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildCustomers, buildEvent, buildVenue } from '../testing/factories.js';
import { describeEachBackend, describePostgres } from '../testing/suites.js';
import { createHold } from './holds.js';

const backends = await testBackends();

/** The floor's tickets in ticket order. */
async function floorTickets(db: Queryable, eventId: string): Promise<number[]> {
  const { rows } = await db.query<{ ticket_no: number }>(
    `SELECT ticket_no FROM tickets WHERE event_id = $1 AND zone_key = 'floor'
      ORDER BY ticket_no`, [eventId]);
  return rows.map((row) => row.ticket_no);
}

/** Sells every floor unit but `kept` (as orders would: order_id set). */
async function sellAllBut(db: Queryable, eventId: string, kept: number[]): Promise<void> {
  await db.query(
    `UPDATE tickets SET order_id = gen_random_uuid()
      WHERE event_id = $1 AND zone_key = 'floor' AND NOT (ticket_no = ANY($2::int[]))`,
    [eventId, kept]);
}

/** What each floor ticket is claimed by: the state a refused claim must leave alone. */
async function floorState(db: Queryable, eventId: string): Promise<string[]> {
  const { rows } = await db.query<{ s: string }>(
    `SELECT ticket_no || '/' || coalesce(hold_id::text, '-') || '/'
              || coalesce(order_id::text, '-') AS s
       FROM tickets WHERE event_id = $1 AND zone_key = 'floor' ORDER BY ticket_no`, [eventId]);
  return rows.map((row) => row.s);
}

describeEachBackend(backends, (name) => `a standing zone late in a sale on ${name}`, {},
  (suite) => {
    it('has the unsold tickets\' zone index', async () => {
      const { rows } = await suite.db.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes
          WHERE tablename = 'tickets' AND indexname = 'tickets_unsold_zone_idx'`);
      expect(rows).toHaveLength(1);
      expect(rows[0]?.indexdef).toMatch(/\(event_id, zone_key, ticket_no\)/);
      expect(rows[0]?.indexdef).toMatch(/WHERE \(order_id IS NULL\)/);
    });

    it('refuses k + 1 units as sold out with k available, then claims exactly the k',
      async () => {
        const { db, ctx } = suite;
        const created = await buildEvent(ctx);
        const event = await loadEvent(db, created.eventId);
        const floor = await floorTickets(db, event.eventId);
        // Seven units left, spread over the zone; the rest sold.
        const left = [3, 20, 41, 60, 77, 90, 99].map((i) => floor[i] as number);
        await sellAllBut(db, event.eventId, left);
        const [fan, rival] = await buildCustomers(ctx, 2);
        // Two of them held by another fan (live), one under a hold that lapsed (free again).
        const held = await createHold(db, event, rival?.customerId as string,
          { zone: 'floor', quantity: 2 });
        const { rows: heldRows } = await db.query<{ ticket_no: number }>(
          'SELECT ticket_no FROM tickets WHERE event_id = $1 AND hold_id = $2',
          [event.eventId, held.holdId]);
        const heldNos = heldRows.map((row) => row.ticket_no);
        const lapsed = left.find((no) => !heldNos.includes(no)) as number;
        await db.query(
          `UPDATE tickets SET hold_id = gen_random_uuid(),
                  hold_expires_at = now() - interval '1 minute'
            WHERE event_id = $1 AND ticket_no = $2`, [event.eventId, lapsed]);
        const free = left.filter((no) => !heldNos.includes(no));
        expect(free).toHaveLength(5);

        const before = await floorState(db, event.eventId);
        const refused = await createHold(db, event, fan?.customerId as string,
          { zone: 'floor', quantity: 6 }).then(() => undefined, (error: unknown) => error);
        expect(refused).toBeInstanceOf(DomainError);
        expect(refused).toMatchObject({ code: 'insufficient_inventory', extra: { available: 5 } });
        expect(await floorState(db, event.eventId)).toEqual(before);

        const hold = await createHold(db, event, fan?.customerId as string,
          { zone: 'floor', quantity: 5 });
        const { rows: got } = await db.query<{ ticket_no: number }>(
          `SELECT ticket_no FROM tickets WHERE event_id = $1 AND hold_id = $2
            ORDER BY ticket_no`, [event.eventId, hold.holdId]);
        expect(got.map((row) => row.ticket_no)).toEqual(free);
      });
  });

/** Tuples of `tickets` this transaction has fetched so far (index and sequential scans). */
async function ticketsRead(tx: Queryable): Promise<number> {
  const { rows: [row] } = await tx.query<{ n: number }>(
    `SELECT (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int AS n
       FROM pg_stat_xact_user_tables WHERE relname = 'tickets'`);
  return row?.n ?? 0;
}

/** Runs `work` in a transaction that is then rolled back, and returns its value. */
async function rolledBack<T>(db: Db, work: (tx: Queryable) => Promise<T>): Promise<T> {
  class Rollback extends Error {
    constructor(readonly value: T) { super('rollback'); }
  }
  try {
    await db.tx(async (tx) => { throw new Rollback(await work(tx)); });
  } catch (error) {
    if (error instanceof Rollback) return error.value;
    throw error;
  }
  throw new Error('assertion failed: the transaction was not rolled back');
}

describePostgres(backends, 'a standing zone\'s claim late in a sale (PostgreSQL)',
  { poolMax: 2 }, (suite) => {
    it('reads the unsold units only; control: without the index it reads the sold ones too',
      async () => {
        const { db, ctx } = suite;
        const venue = await buildVenue(ctx, { rows: 1, seatsPerRow: 2, standing: 2_000 });
        const event = await loadEvent(db, (await buildEvent(ctx, { venue })).eventId);
        const floor = await floorTickets(db, event.eventId);
        // The last 100 units unsold; the pick starts at the first, so it passes every sold one
        // unless the index leaves them out. Asking for 101 makes the batch recount the zone
        // (which reads the unsold tickets, through this index or 016's).
        await sellAllBut(db, event.eventId, floor.slice(-100));
        // Analyzed as the sale goes (autovacuum, or the maintenance duty where it is off),
        // which also replans the function. On the statistics of the sale's start the
        // recount's plan may still pick tickets_zone_idx (docs/benchmarks-journal.md).
        await db.query('ANALYZE tickets');
        const [fan] = await buildCustomers(ctx, 1);
        const info = JSON.stringify({
          hold_seconds: 600, max_per_customer: 1_000, cancelled: false, currency: 'EUR',
          on_sale_at: new Date(event.onSaleAtMs).toISOString(),
          starts_at: new Date(event.startsAtMs).toISOString(),
          prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
        });
        const requests = JSON.stringify([{ i: newId(), c: fan?.customerId, q: 101, k: 'units',
          z: 'floor', s: floor[0] }]);
        const claim = async (withIndex: boolean) => await rolledBack(db, async (tx) => {
          if (!withIndex) await tx.query('DROP INDEX tickets_unsold_zone_idx');
          const before = await ticketsRead(tx);
          const { rows } = await tx.query<{ outcome: string; detail: { available?: number } }>(
            `SELECT outcome, detail FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, '{}')`,
            [event.eventId, info, requests]);
          return { rows, tuples: (await ticketsRead(tx)) - before };
        });

        const kept = await claim(true);
        expect(kept.rows).toEqual([{ outcome: 'sold_out', detail: { available: 100 } }]);
        expect(kept.tuples).toBeLessThanOrEqual(250);

        const control = await claim(false);
        expect(control.rows).toEqual(kept.rows);
        expect(control.tuples).toBeGreaterThanOrEqual(1_900);
      });
  });
