/**
 * Orders of an event by status, and the confirmed ones' revenue, kept where orders are
 * written (statement triggers, migration 076) so the organizer's dashboard reads a handful of
 * rows, not every order of the sale, once a second. `recountOrderCounts` counts the same from
 * the orders themselves: for audits and the tests that hold the kept figures to it.
 */
import type { Queryable } from '../storage/index.js';

/** Orders of one event by status; revenue is the confirmed orders' total. */
export interface OrderCounts {
  confirmed: number;
  pendingPayment: number;
  paymentFailed: number;
  cancelled: number;
  revenueCents: number;
}

interface CountsRow {
  confirmed: number; pending: number; failed: number; cancelled: number; revenue: number;
}

function toCounts(row: CountsRow | undefined): OrderCounts {
  return {
    confirmed: Number(row?.confirmed ?? 0), pendingPayment: Number(row?.pending ?? 0),
    paymentFailed: Number(row?.failed ?? 0), cancelled: Number(row?.cancelled ?? 0),
    revenueCents: Number(row?.revenue ?? 0),
  };
}

/** SQL: the kept counts of event `eventSql` (a parameter or an outer column), one row. */
export function keptOrderCountsOf(eventSql: string): string {
  return `SELECT coalesce(sum(confirmed), 0)::int AS confirmed,
    coalesce(sum(pending), 0)::int AS pending, coalesce(sum(failed), 0)::int AS failed,
    coalesce(sum(cancelled), 0)::int AS cancelled,
    coalesce(sum(revenue_cents), 0)::float8 AS revenue
  FROM order_counts WHERE event_id = ${eventSql}`;
}

/** The counts as the triggers kept them (a sum over one row per writing backend). */
export async function readOrderCounts(db: Queryable, eventId: string): Promise<OrderCounts> {
  const { rows } = await db.query<CountsRow>(keptOrderCountsOf('$1'), [eventId]);
  return toCounts(rows[0]);
}

/** The same counts from the orders: one pass over the event's orders. Never on a hot path. */
export async function recountOrderCounts(db: Queryable, eventId: string):
  Promise<OrderCounts> {
  const { rows } = await db.query<CountsRow>(
    `SELECT count(*) FILTER (WHERE status = 'confirmed')::int AS confirmed,
            count(*) FILTER (WHERE status = 'pending_payment')::int AS pending,
            count(*) FILTER (WHERE status = 'payment_failed')::int AS failed,
            count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
            coalesce(sum(total_cents) FILTER (WHERE status = 'confirmed'), 0)::float8
              AS revenue
       FROM orders WHERE event_id = $1`,
    [eventId],
  );
  return toCounts(rows[0]);
}

/**
 * Folds the kept rows of backends that are gone into shard 0 (at most `max` rows; never
 * waits on a writer), so an event's rows stay as many as the live connections. Returns the
 * rows merged (migration 077).
 */
export async function compactOrderCounts(db: Queryable, max = 64): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT order_counts_compact($1) AS n', [max]);
  return Number(rows[0]?.n ?? 0);
}

/**
 * The same for tickets sold (ticket_counts, 047), which the dashboard sums: the admission
 * tick compacts them only for events with a waiting room, so without this an event without
 * one kept a row per backend that ever sold it a ticket. Never waits on a tick or a writer
 * (SKIP LOCKED); returns the rows merged.
 */
export async function compactTicketCounts(db: Queryable, max = 64): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT ticket_counts_compact($1) AS n',
    [max]);
  return Number(rows[0]?.n ?? 0);
}
