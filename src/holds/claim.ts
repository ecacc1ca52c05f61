/**
 * The claim statements: one statement claims every ticket of a hold, so N tickets cost one
 * round trip and many requests can later be grouped into one transaction.
 *
 * Safety comes from the guard in the claim's WHERE clause, evaluated by PostgreSQL under
 * the row lock: a ticket is claimed only if no order owns it and no unexpired hold does
 * (the same predicate as `ticketState.available`). Two transactions racing for a ticket
 * serialize on its row lock, and the loser re-evaluates the guard against the winner's
 * committed row (READ COMMITTED re-check), finds it held, and claims nothing. Rows are
 * locked in ticket_no order so concurrent multi-seat claims cannot deadlock.
 */
import { ticketState } from '../inventory/availability.js';
import type { Queryable } from '../storage/index.js';

/**
 * A production guard a race test may remove, one at a time, to show that its race is real
 * and that it sees the violation the guard prevents. Production code never passes one: it
 * reaches the claims only from `AppContext.unguarded`, which the composition root leaves
 * unset.
 *
 * - `tickets`: claims decide availability on the statement's snapshot instead of under the
 *   row lock (no locking read, no re-check in the UPDATE). A claim that starts after a
 *   rival committed still sees the ticket taken; only truly concurrent claims overlap.
 * - `customer-limit`: the per-customer count runs without the customer lock, so it sees
 *   only holds committed before it started; only truly concurrent holds exceed the limit.
 * - `idempotency-key`: a hold batch neither writes nor checks the key's record, so two
 *   requests with one key in flight at once both execute.
 * - `queue-pass`: the queue pass is claimed on its own before the request is queued
 *   (queue/gate.ts assertMayHold, the claim as it was before migration 035) and the batch
 *   neither claims nor checks it, so a pass released or expired while the request waits
 *   for its batch is still used.
 *
 * In a hold batch (batch.ts) the first two are removed by deciding on a read of committed
 * state before the request is queued (`takenOnSnapshot`, `customerUsage`), the batch then
 * skipping its own check: requests queued together overlap, sequential ones do not.
 */
export type Guard = 'tickets' | 'customer-limit' | 'idempotency-key' | 'queue-pass';

/** True for a hold guard (AppContext.unguarded may name a guard of another flow). */
export function isHoldGuard(guard: string | undefined): guard is Guard {
  return guard === 'tickets' || guard === 'customer-limit' || guard === 'idempotency-key'
    || guard === 'queue-pass';
}

/** A ticket row as claims and releases return it. */
export interface TicketRow {
  ticket_no: number;
  zone_key: string;
  seat_id: string | null;
  section_key: string;
  row_label: string | null;
  seat_number: number | null;
}

const returning = 't.ticket_no, t.zone_key, t.seat_id, t.section_key, t.row_label, t.seat_number';

/** `ticketState.available` with every column qualified by `t.`. */
const availableT = ticketState.available
  .replace(/order_id/g, 't.order_id')
  .replace(/hold_id/g, 't.hold_id')
  .replace(/hold_expires_at/g, 't.hold_expires_at');

/**
 * Claims exactly the given tickets for `holdId` until `expiresAt` (a timestamptz literal
 * from the database clock). Returns the rows claimed: fewer than asked means some were
 * taken, and the caller must roll the transaction back (all or nothing).
 */
export async function claimTickets(
  tx: Queryable, eventId: string, holdId: string, ticketNos: readonly number[], expiresAt: string,
  unguarded?: Guard,
): Promise<TicketRow[]> {
  const sorted = [...ticketNos].sort((a, b) => a - b);
  const guarded = unguarded !== 'tickets';
  const { rows } = await tx.query<TicketRow>(
    `WITH target AS (
       SELECT ticket_no FROM tickets
        WHERE event_id = $1 AND ticket_no = ANY($2::int[])
              ${guarded ? '' : `AND ${ticketState.available}`}
        ORDER BY ticket_no
        ${guarded ? 'FOR UPDATE' : ''})
     UPDATE tickets t SET hold_id = $3, hold_expires_at = $4::timestamptz
       FROM target
      WHERE t.event_id = $1 AND t.ticket_no = target.ticket_no ${guarded ? `AND ${availableT}` : ''}
     RETURNING ${returning}`,
    [eventId, sorted, holdId, expiresAt],
  );
  return rows;
}

/**
 * Claims up to `quantity` free units of a zone, skipping rows other transactions have
 * locked, so concurrent buyers of a standing zone take different units instead of queueing
 * on the same rows (there is no counter row to contend on). May return fewer.
 *
 * The scan starts at `startTicketNo` (the caller picks it at random within the zone) and
 * wraps around to the zone's first unit: buyers starting at the same lowest ticket would
 * all walk over the same freshly locked rows before finding free ones. Two index range
 * scans in ticket order (FOR UPDATE cannot be used with UNION, so each is its own CTE); the
 * second runs only when the first comes up short, as the outer LIMIT stops pulling rows.
 */
export async function claimAnyUnits(
  tx: Queryable, eventId: string, zone: string, holdId: string, quantity: number,
  expiresAt: string, startTicketNo = 0, unguarded?: Guard,
): Promise<TicketRow[]> {
  const lock = unguarded === 'tickets' ? '' : 'FOR UPDATE SKIP LOCKED';
  const { rows } = await tx.query<TicketRow>(
    `WITH above AS (
       SELECT ticket_no FROM tickets
        WHERE event_id = $1 AND zone_key = $2 AND ticket_no >= $6 AND ${ticketState.available}
        ORDER BY ticket_no
        LIMIT $3
        ${lock}),
     below AS (
       SELECT ticket_no FROM tickets
        WHERE event_id = $1 AND zone_key = $2 AND ticket_no < $6 AND ${ticketState.available}
        ORDER BY ticket_no
        LIMIT $3
        ${lock}),
     pick AS (
       (SELECT ticket_no FROM above) UNION ALL (SELECT ticket_no FROM below) LIMIT $3)
     UPDATE tickets t SET hold_id = $4, hold_expires_at = $5::timestamptz
       FROM pick
      WHERE t.event_id = $1 AND t.ticket_no = pick.ticket_no
            ${unguarded === 'tickets' ? '' : `AND ${availableT}`}
     RETURNING ${returning}`,
    [eventId, zone, quantity, holdId, expiresAt, startTicketNo],
  );
  return rows;
}

/** Free units of a zone by committed state (locked-but-uncommitted claims still count). */
export async function countAvailable(
  tx: Queryable, eventId: string, zone: string,
): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM tickets
      WHERE event_id = $1 AND zone_key = $2 AND ${ticketState.available}`,
    [eventId, zone],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Of `ticketNos`, those not available by committed state, read without locks: the
 * decision a claim makes with the `tickets` guard removed (see Guard).
 */
export async function takenOnSnapshot(
  db: Queryable, eventId: string, ticketNos: readonly number[],
): Promise<number[]> {
  const { rows } = await db.query<{ ticket_no: number }>(
    `SELECT ticket_no FROM tickets
      WHERE event_id = $1 AND ticket_no = ANY($2::int[]) AND NOT (${ticketState.available})`,
    [eventId, [...ticketNos]],
  );
  return rows.map((row) => row.ticket_no);
}

/** Up to `quantity` free units of a zone by committed state, from `start`, wrapping. */
export async function freeUnitsOnSnapshot(
  db: Queryable, eventId: string, zone: string, quantity: number, start: number,
): Promise<number[]> {
  const { rows } = await db.query<{ ticket_no: number }>(
    `SELECT ticket_no FROM tickets
      WHERE event_id = $1 AND zone_key = $2 AND ${ticketState.available}
      ORDER BY ticket_no < $4, ticket_no LIMIT $3`,
    [eventId, zone, quantity, start],
  );
  return rows.map((row) => row.ticket_no);
}

/**
 * Tickets the customer holds and owns at the event, read without the customer lock: a cheap
 * early refusal before the expensive zone read. The locked count in the claim transaction
 * stays the authority (this one may be stale by the customer's own in-flight holds).
 */
export async function customerUsage(
  db: Queryable, customerId: string, eventId: string,
): Promise<number> {
  const { rows } = await db.query<{ used: number }>(
    `SELECT ((SELECT coalesce(sum(quantity), 0) FROM holds
               WHERE customer_id = $1 AND event_id = $2 AND state = 'held'
                 AND claim_expires_at > now())
           + (SELECT coalesce(sum(quantity), 0) FROM orders
               WHERE customer_id = $1 AND event_id = $2 AND status = 'confirmed'))::int AS used`,
    [customerId, eventId],
  );
  return rows[0]?.used ?? 0;
}

/** What a hold's transaction learns right after taking the customer lock. */
export interface CustomerUsage {
  /** Tickets the customer holds (live holds) and owns (confirmed orders) at this event. */
  used: number;
  /** now() + holdSeconds, and now(), as timestamptz text: one clock for the whole hold. */
  expiresAt: string;
  createdAt: string;
  /** The same two instants in epoch milliseconds, for the reply. */
  expiresAtMs: number;
  createdAtMs: number;
}

/**
 * Serializes one customer's holds on one event (a transaction-scoped advisory lock), then
 * counts what the customer holds and owns, in one round trip: the database function
 * `hold_lock_and_count` (migration 006) takes the lock and then counts in a later
 * statement, which in READ COMMITTED gets a fresh snapshot. Parallel requests of one
 * customer queue on the lock, and the count sees every claim committed before it was granted.
 */
export async function lockCustomerAndCount(
  tx: Queryable, customerId: string, eventId: string, holdSeconds: number, unguarded?: Guard,
): Promise<CustomerUsage> {
  const { rows } = await tx.query<{
    used: number; expires_at: string; created_at: string; expires_ms: number; created_ms: number;
  }>(
    unguarded === 'customer-limit' ? countWithoutLock
      : `SELECT used, expires_at, created_at, expires_ms, created_ms
           FROM hold_lock_and_count($1::text, $2::text, $3::int)`,
    [customerId, eventId, holdSeconds],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('assertion failed: usage query returned no row');
  return {
    used: row.used, expiresAt: row.expires_at, createdAt: row.created_at,
    expiresAtMs: Math.floor(row.expires_ms), createdAtMs: Math.floor(row.created_ms),
  };
}

/** `hold_lock_and_count` without its lock, for the `customer-limit` guard removed. */
const countWithoutLock = `
  SELECT ((SELECT coalesce(sum(h.quantity), 0) FROM holds h
            WHERE h.customer_id = $1::uuid AND h.event_id = $2::uuid
              AND h.state = 'held' AND h.claim_expires_at > now())
        + (SELECT coalesce(sum(o.quantity), 0) FROM orders o
            WHERE o.customer_id = $1::uuid AND o.event_id = $2::uuid
              AND o.status = 'confirmed'))::int AS used,
         (now() + make_interval(secs => $3::int))::text AS expires_at,
         now()::text AS created_at,
         extract(epoch FROM now() + make_interval(secs => $3::int))::float8 * 1000 AS expires_ms,
         extract(epoch FROM now())::float8 * 1000 AS created_ms`;
