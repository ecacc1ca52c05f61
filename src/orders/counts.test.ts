/**
 * The kept order counts (order_counts, migrations 076, 077, 081) and their compaction, held to
 * a recount from the orders: inserts, status updates, an UPDATE that moves orders to another
 * event, a DELETE and an upsert on both backends; a TRUNCATE empties them (on PostgreSQL also
 * when a compaction commits while it runs; control: 077's trigger), and
 * order_counts_rebuild repairs counts a write without its trigger left wrong. On PostgreSQL the
 * writes come from connections that then close, and compaction folds their rows (and their
 * ticket_counts rows, 047) into shard 0 with the sums unchanged; the control drops the rows
 * without the merge, and the recount catches it.
 */
import { randomUUID } from 'node:crypto';

import pg from 'pg';
import { describe, expect, it } from 'vitest';

import type { AppContext } from '../context.js';
import type { Db } from '../storage/index.js';
import { appPerSuite } from '../testing/apps.js';
import { testBackends } from '../testing/backends.js';
import { buildCustomer, buildEvent, buildHold } from '../testing/factories.js';
import { withoutKeptCounts } from '../testing/queueCounts.js';
import { testDatabaseUrl } from '../testing/services.js';
import {
  compactOrderCounts, compactTicketCounts, readOrderCounts, recountOrderCounts,
} from './counts.js';

const backends = await testBackends();

/** One step's statements, run by whoever the backend's writer is. */
type Step = { sql: string; params: unknown[] }[];

/** Thrown to roll a transaction back on purpose. */
class RolledBack extends Error {}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`kept order counts on ${backend.name}`, () => {
    let db: Db;
    let ctx: AppContext;

    appPerSuite(backend, (suite) => ({ db, ctx } = suite));

    /** Holds of one seat each, to hang orders on (an order needs its hold). */
    async function holds(eventId: string, seats: string[]): Promise<
      { holdId: string; customerId: string }[]> {
      const made = [];
      for (const seat of seats) {
        const fan = await buildCustomer(ctx);
        const hold = await buildHold(ctx, eventId, fan.customerId, { seats: [seat] });
        made.push({ holdId: hold.holdId, customerId: fan.customerId });
      }
      return made;
    }

    async function expectKept(eventIds: string[]): Promise<void> {
      for (const eventId of eventIds) {
        expect(await readOrderCounts(db, eventId)).toEqual(await recountOrderCounts(db, eventId));
      }
    }

    /** PostgreSQL: a connection of its own to the suite's database. */
    async function connect(): Promise<pg.Client> {
      const { rows } = await db.query<{ name: string }>('SELECT current_database() AS name');
      const url = new URL(testDatabaseUrl);
      url.pathname = `/${rows[0]?.name ?? ''}`;
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      return client;
    }

    async function pidOf(client: pg.Client): Promise<number> {
      return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
        .rows[0]?.pid ?? 0;
    }

    /** PostgreSQL: each step from a connection of its own, closed after; PGlite: the db. */
    async function runStep(step: Step): Promise<number | null> {
      if (backend.name !== 'postgres') {
        for (const { sql, params } of step) await db.query(sql, params);
        return null;
      }
      const client = await connect();
      try {
        const pid = await pidOf(client);
        for (const { sql, params } of step) await client.query(sql, params);
        return pid;
      } finally {
        await client.end();
      }
    }

    /** The scenario's steps over events a and b; the last order is a new one by upsert. */
    function scenario(a: string, b: string, made: { holdId: string; customerId: string }[]):
      { steps: Step[]; orderIds: string[] } {
      const orderIds = made.map(() => randomUUID());
      const insert = `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status,
                        quantity, total_cents, currency, confirmed_at)
                      VALUES ($1, $2, $3, $4, $5, 1, $6, 'EUR',
                              CASE WHEN $5 = 'confirmed' THEN now() END)`;
      const order = (i: number, status: string, cents: number) => ({
        sql: insert,
        params: [orderIds[i], a, made[i]?.customerId, made[i]?.holdId, status, cents],
      });
      const steps: Step[] = [
        [order(0, 'confirmed', 1_000), order(1, 'pending_payment', 2_000),
          order(2, 'confirmed', 3_000), order(3, 'payment_failed', 4_000)],
        // Status changes, and one that writes nothing the counts see.
        [{ sql: `UPDATE orders SET status = 'confirmed', confirmed_at = now()
                  WHERE order_id = $1`, params: [orderIds[1]] },
          { sql: `UPDATE orders SET status = 'cancelled' WHERE order_id = $1`,
            params: [orderIds[0]] },
          { sql: `UPDATE orders SET failure_reason = 'card expired' WHERE order_id = $1`,
            params: [orderIds[3]] }],
        // Moved to another event: -1 there, +1 here, in one statement.
        [{ sql: 'UPDATE orders SET event_id = $2 WHERE order_id = ANY ($1::uuid[])',
          params: [[orderIds[1], orderIds[3]], b] }],
        [{ sql: 'DELETE FROM orders WHERE order_id = $1', params: [orderIds[2]] }],
        // Upsert: one row updated on conflict, one inserted, in one statement.
        [{ sql: `INSERT INTO orders AS o (order_id, event_id, customer_id, hold_id, status,
                   quantity, total_cents, currency)
                 VALUES ($1, $3, $4, $5, 'pending_payment', 1, 500, 'EUR'),
                        ($2, $3, $6, $7, 'pending_payment', 1, 700, 'EUR')
                 ON CONFLICT (order_id) DO UPDATE SET status = 'cancelled'`,
          params: [orderIds[3], orderIds[4], a, made[3]?.customerId, made[3]?.holdId,
            made[4]?.customerId, made[4]?.holdId] }],
      ];
      return { steps, orderIds };
    }

    it('match a recount after inserts, updates, a move between events, a delete and an upsert',
      async () => {
        const a = (await buildEvent(ctx)).eventId;
        const b = (await buildEvent(ctx)).eventId;
        const made = await holds(a, ['A-1-1', 'A-1-2', 'A-1-3', 'A-1-4', 'A-1-5']);
        const { steps } = scenario(a, b, made);
        for (const step of steps) {
          await runStep(step);
          await expectKept([a, b]);
        }
        expect(await readOrderCounts(db, b)).toEqual({ confirmed: 1, pendingPayment: 0,
          paymentFailed: 0, cancelled: 1, revenueCents: 2_000 });
        expect(await readOrderCounts(db, a)).toEqual({ confirmed: 0, pendingPayment: 1,
          paymentFailed: 0, cancelled: 1, revenueCents: 0 });
      });

    it('are emptied by a TRUNCATE of orders', async () => {
      const a = (await buildEvent(ctx)).eventId;
      const made = await holds(a, ['A-2-1']);
      await runStep([scenario(a, a, made).steps[0]?.[0] as Step[number]]);
      expect((await readOrderCounts(db, a)).confirmed).toBe(1);
      // In a transaction rolled back after: the suite's other tests keep their orders.
      await expect(db.tx(async (tx) => {
        await tx.query('TRUNCATE orders CASCADE');
        const { rows } = await tx.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM order_counts');
        expect(rows[0]?.n).toBe(0);
        throw new RolledBack();
      })).rejects.toBeInstanceOf(RolledBack);
      expect((await readOrderCounts(db, a)).confirmed).toBe(1);
    });

    it.skipIf(backend.name !== 'postgres')(
      'are emptied by a TRUNCATE that meets a compaction in flight (control: 077\'s trigger)',
      async () => {
        /** What a TRUNCATE leaves in order_counts when a compaction commits during it. */
        async function leftAfterRace(trigger077: boolean): Promise<number> {
          // A row of a backend that is gone, for an event with no shard 0 yet: the
          // compaction inserts that event's shard 0.
          await db.query(`INSERT INTO order_counts (event_id, shard, confirmed, pending, failed,
                            cancelled, revenue_cents)
                          VALUES ($1, 2147483000, 1, 0, 0, 0, 100)`, [randomUUID()]);
          const compactor = await connect();
          const truncator = await connect();
          try {
            await compactor.query('BEGIN');
            await compactor.query('SELECT order_counts_compact(100000)');
            const truncatorPid = await pidOf(truncator);
            await truncator.query('BEGIN');
            if (trigger077) {
              // The control: 077's trigger, rolled back with the TRUNCATE below.
              await truncator.query(`CREATE OR REPLACE FUNCTION order_counts_truncated()
                RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN DELETE FROM order_counts; RETURN NULL; END $$`);
            }
            const truncated = truncator.query('TRUNCATE orders CASCADE');
            // The TRUNCATE reaches its trigger (waiting for the compaction) before the commit.
            await expect.poll(async () => (await db.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE pid = $1 AND wait_event_type = 'Lock'`,
              [truncatorPid])).rows[0]?.n, { timeout: 10_000 }).toBe(1);
            await compactor.query('COMMIT');
            await truncated;
            const { rows } = await truncator.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM order_counts');
            return rows[0]?.n ?? -1;
          } finally {
            // Rolled back: the suite's other tests keep their orders.
            await truncator.query('ROLLBACK').catch(() => undefined);
            await Promise.all([compactor.end(), truncator.end()]);
          }
        }
        expect(await leftAfterRace(true)).toBeGreaterThan(0);
        expect(await leftAfterRace(false)).toBe(0);
      });

    it('are rebuilt from the orders by order_counts_rebuild', async () => {
      const a = (await buildEvent(ctx)).eventId;
      const made = await holds(a, ['A-4-1']);
      const { steps, orderIds } = scenario(a, a, made);
      await runStep([steps[0]?.[0] as Step[number]]);
      // An update whose counts were not kept (triggers off): the kept figures are wrong.
      await withoutKeptCounts(db).query(
        `UPDATE orders SET status = 'cancelled' WHERE order_id = $1`, [orderIds[0]]);
      expect(await readOrderCounts(db, a)).not.toEqual(await recountOrderCounts(db, a));
      const { rows } = await db.query<{ n: number }>('SELECT order_counts_rebuild() AS n');
      expect(rows[0]?.n).toBeGreaterThan(0);
      await expectKept([a]);
      expect((await readOrderCounts(db, a)).cancelled).toBe(1);
    });

    it.skipIf(backend.name !== 'postgres')(
      'are folded into shard 0 when their writers are gone, sums unchanged', async () => {
        const a = (await buildEvent(ctx)).eventId;
        const b = (await buildEvent(ctx)).eventId;
        const made = await holds(a, ['A-3-1', 'A-3-2', 'A-3-3', 'A-3-4', 'A-3-5']);
        const { steps, orderIds } = scenario(a, b, made);
        const pids: number[] = [];
        for (const step of steps) pids.push(await runStep(step) ?? 0);
        // Tickets sold and returned by writers that are gone (ticket_counts' rows).
        for (const seat of ['A-5-1', 'A-5-2', 'A-5-3']) {
          pids.push(await runStep([{
            sql: 'UPDATE tickets SET order_id = $3 WHERE event_id = $1 AND seat_id = $2',
            params: [a, seat, orderIds[0]],
          }]) ?? 0);
        }
        pids.push(await runStep([{
          sql: `UPDATE tickets SET order_id = NULL WHERE event_id = $1 AND seat_id = 'A-5-3'`,
          params: [a],
        }]) ?? 0);
        await expect.poll(async () => (await db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY ($1::int[])', [pids],
        )).rows[0]?.n, { timeout: 10_000 }).toBe(0);

        const rowsOf = async (table: string): Promise<number> => (await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table}
            WHERE event_id = ANY ($1::uuid[]) AND shard = ANY ($2::int[])`, [[a, b], pids],
        )).rows[0]?.n ?? 0;
        const soldKept = async (): Promise<number> => (await db.query<{ n: number }>(
          'SELECT sum(sold)::int AS n FROM ticket_counts WHERE event_id = $1', [a])).rows[0]?.n
          ?? 0;
        const soldCounted = async (): Promise<number> => (await db.query<{ n: number }>(
          'SELECT count(order_id)::int AS n FROM tickets WHERE event_id = $1', [a])).rows[0]?.n
          ?? 0;
        const orderRows = await rowsOf('order_counts');
        const ticketRows = await rowsOf('ticket_counts');
        // A row per writer and event: 1 + 1 + 2 (the move) + 1 + 2 (the upsert); four ticket
        // writers.
        expect(orderRows).toBe(7);
        expect(ticketRows).toBe(4);
        expect(await soldKept()).toBe(await soldCounted());

        // Control: the gone rows dropped without their merge into shard 0 break the sums.
        await expect(db.tx(async (tx) => {
          await tx.query(`DELETE FROM order_counts
                           WHERE event_id = ANY ($1::uuid[]) AND shard = ANY ($2::int[])`,
          [[a, b], pids]);
          expect(await readOrderCounts(tx, a)).not.toEqual(await recountOrderCounts(tx, a));
          throw new RolledBack();
        })).rejects.toBeInstanceOf(RolledBack);

        // Every backend's rows that are gone, this test's and earlier ones': all merged, and
        // the figure returned is those rows (not the events they belong to).
        const goneRows = async (table: string): Promise<number> => (await db.query<
          { n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE shard <> 0
            AND shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)`))
          .rows[0]?.n ?? 0;
        const goneOrders = await goneRows('order_counts');
        expect(goneOrders).toBeGreaterThanOrEqual(orderRows);
        let merged = 0;
        for (let round = 0; round < 10 && await goneRows('order_counts') > 0; round += 1) {
          merged += await compactOrderCounts(db);
        }
        expect(merged).toBe(goneOrders);
        expect(await rowsOf('order_counts')).toBe(0);
        await expectKept([a, b]);

        const goneTickets = await goneRows('ticket_counts');
        expect(goneTickets).toBeGreaterThanOrEqual(ticketRows);
        merged = 0;
        for (let round = 0; round < 10 && await goneRows('ticket_counts') > 0; round += 1) {
          merged += await compactTicketCounts(db);
        }
        expect(merged).toBe(goneTickets);
        expect(await rowsOf('ticket_counts')).toBe(0);
        expect(await soldKept()).toBe(await soldCounted());
      });
  });
}
