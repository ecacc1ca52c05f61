/**
 * The invariant audit, straight from the database after a run. Each check is an
 * independent query that counts violations; any violation fails the simulation. The
 * checks deliberately recompute state from different tables than the code that wrote it
 * (issued tickets vs ticket rows, hold items vs ticket claims), so a bookkeeping bug in one
 * place shows up as a disagreement.
 */
import { readQueueCounts, recountQueueCounts, type QueueCounts } from '../src/queue/counts.js';
import type { Db, Queryable } from '../src/storage/index.js';

export interface AuditCheck {
  name: string;
  ok: boolean;
  violations: number;
  detail: string;
}

export interface AuditReport {
  ok: boolean;
  checks: AuditCheck[];
  zones: { zone: string; capacity: number; available: number; held: number; sold: number }[];
}

async function count(db: Queryable, sql: string, params: unknown[]): Promise<number> {
  const { rows } = await db.query<{ n: number }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

/**
 * An issued ticket counts as sold while its order is confirmed, or when it was scanned before
 * an organizer refunded the order (the holder is inside; the seat is not resold).
 */
const admitted =
  `(o.status = 'confirmed' OR (o.status = 'cancelled' AND ot.checked_in_at IS NOT NULL))`;

const checks: { name: string; detail: string; sql: string }[] = [
  {
    name: 'no ticket sold twice',
    detail: 'inventory units with more than one valid issued ticket',
    sql: `SELECT count(*)::int AS n FROM (
            SELECT ticket_no FROM order_tickets ot JOIN orders o ON o.order_id = ot.order_id
             WHERE ot.event_id = $1 AND ot.status = 'valid'
             GROUP BY ticket_no HAVING count(*) > 1) x`,
  },
  {
    name: 'sold tickets match confirmed orders',
    detail: 'ticket rows owned by an order without a matching valid issued ticket, or the reverse',
    sql: `SELECT (
            SELECT count(*) FROM tickets t
             WHERE t.event_id = $1 AND t.order_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM order_tickets ot JOIN orders o ON o.order_id = ot.order_id
                WHERE ot.event_id = t.event_id AND ot.ticket_no = t.ticket_no
                  AND ot.order_id = t.order_id AND ot.status = 'valid' AND ${admitted}))
          + (
            SELECT count(*) FROM order_tickets ot JOIN orders o ON o.order_id = ot.order_id
              JOIN tickets t ON t.event_id = ot.event_id AND t.ticket_no = ot.ticket_no
             WHERE ot.event_id = $1 AND ot.status = 'valid' AND ${admitted}
               AND t.order_id IS DISTINCT FROM ot.order_id)
          + (
            SELECT count(*) FROM order_tickets ot JOIN orders o ON o.order_id = ot.order_id
             WHERE ot.event_id = $1 AND ot.status = 'valid' AND NOT ${admitted})
          AS n`,
  },
  {
    name: 'no ticket in two live holds',
    detail: 'inventory units claimed by more than one unexpired hold',
    sql: `SELECT count(*)::int AS n FROM (
            SELECT i.ticket_no FROM hold_items i JOIN holds h ON h.hold_id = i.hold_id
             WHERE i.event_id = $1 AND h.state = 'held' AND h.claim_expires_at > now()
             GROUP BY i.ticket_no HAVING count(*) > 1) x`,
  },
  {
    name: 'no ticket both held and sold',
    detail: 'inventory units in a live hold and a valid issued ticket of another order',
    sql: `SELECT count(*)::int AS n FROM hold_items i JOIN holds h ON h.hold_id = i.hold_id
            JOIN order_tickets ot ON ot.event_id = i.event_id AND ot.ticket_no = i.ticket_no
             AND ot.status = 'valid'
           WHERE i.event_id = $1 AND h.state = 'held' AND h.claim_expires_at > now()`,
  },
  {
    name: 'no order paid twice',
    detail: 'orders with more than one captured payment',
    sql: `SELECT count(*)::int AS n FROM (
            SELECT order_id FROM payments WHERE event_id = $1 AND status = 'captured'
             GROUP BY order_id HAVING count(*) > 1) x`,
  },
  {
    name: 'every captured payment ends as one confirmed order or one refund',
    detail: 'captured payments with neither, or with both, a confirmed order and a refund',
    sql: `SELECT count(*)::int AS n FROM payments p JOIN orders o ON o.order_id = p.order_id
           WHERE p.event_id = $1 AND p.status = 'captured'
             AND (o.status = 'confirmed') = EXISTS (
                   SELECT 1 FROM refunds r WHERE r.payment_id = p.payment_id)`,
  },
  {
    name: 'no payment taken twice for one order',
    detail: 'orders with more than one captured payment',
    sql: `SELECT count(*)::int AS n FROM (
            SELECT order_id FROM payments WHERE event_id = $1 AND status = 'captured'
             GROUP BY order_id HAVING count(*) > 1) x`,
  },
  {
    name: 'no customer over the per-customer limit',
    detail: 'customers whose owned + held tickets exceed the event limit',
    sql: `SELECT count(*)::int AS n FROM (
            SELECT c.customer_id FROM (
              SELECT o.customer_id, count(*) AS k FROM order_tickets ot
                JOIN orders o ON o.order_id = ot.order_id
               WHERE ot.event_id = $1 AND ot.status = 'valid' AND o.status = 'confirmed'
               GROUP BY o.customer_id
              UNION ALL
              SELECT h.customer_id, count(*) FROM hold_items i JOIN holds h ON h.hold_id = i.hold_id
               WHERE i.event_id = $1 AND h.state = 'held' AND h.claim_expires_at > now()
               GROUP BY h.customer_id) c
            GROUP BY c.customer_id
            HAVING sum(c.k) > (SELECT max_tickets_per_customer FROM events WHERE event_id = $1)) x`,
  },
  {
    name: 'nobody admitted twice',
    detail: 'customers or line numbers with more than one admission',
    sql: `SELECT (SELECT count(*) - count(DISTINCT customer_id) FROM queue_admissions
                   WHERE event_id = $1)
               + (SELECT count(*) - count(DISTINCT number) FROM queue_admissions
                   WHERE event_id = $1) AS n`,
  },
  {
    name: 'admission follows line order',
    detail: 'numbers served but never admitted (unless the fan left before anyone behind ' +
      'them was admitted), admitted beyond servedUpTo, or admitted earlier than a smaller number',
    sql: `SELECT (
            SELECT count(*) FROM queue_entries e, queue_state s
             WHERE e.event_id = $1 AND s.event_id = e.event_id
               AND e.number <= s.served_up_to AND NOT EXISTS (
                 SELECT 1 FROM queue_admissions a
                  WHERE a.event_id = e.event_id AND a.number = e.number)
               AND NOT (e.left_at IS NOT NULL AND e.left_at <= coalesce(
                 (SELECT min(a.admitted_at) FROM queue_admissions a
                   WHERE a.event_id = e.event_id AND a.number > e.number), 'infinity')))
          + (
            SELECT count(*) FROM queue_admissions a, queue_state s
             WHERE a.event_id = $1 AND s.event_id = a.event_id AND a.number > s.served_up_to)
          + (
            SELECT count(*) FROM (
              SELECT admitted_at, lag(admitted_at) OVER (ORDER BY number) AS before
                FROM queue_admissions WHERE event_id = $1) x
             WHERE x.before > x.admitted_at)
          AS n`,
  },
];

/** Every count of a line, flat, for comparing two of them field by field. */
function flatCounts(counts: QueueCounts): number[] {
  const { freed, ...rest } = counts;
  return [...Object.values(rest), freed.order, freed.left, freed.idle];
}

/**
 * The dashboard's line counts, kept by triggers as rows are written (migration 046), against
 * a recount of the rows: each count that differs is a violation.
 */
async function queueCountsCheck(db: Queryable, eventId: string): Promise<AuditCheck> {
  const kept = flatCounts(await readQueueCounts(db, eventId));
  const counted = flatCounts(await recountQueueCounts(db, eventId));
  const violations = kept.filter((n, i) => n !== counted[i]).length;
  return {
    name: 'queue counts kept exactly', ok: violations === 0, violations,
    detail: 'line counts (joined, pre-queue, left, admitted, freed…) that differ from a recount',
  };
}

/**
 * Runs every check for one event, all of them in one read-only REPEATABLE READ transaction:
 * one snapshot and one `now()`. A sale audited while its server still runs (a run stopped by
 * its time limit, holds live, the sweeper and late webhooks still writing) would otherwise
 * compare counts read at different moments: a hold expiring or a checkout settling between
 * two statements made the zone arithmetic disagree with itself although every committed
 * state was consistent.
 */
export async function auditEvent(db: Db, eventId: string): Promise<AuditReport> {
  return db.tx(async (tx) => {
    await tx.query('SET TRANSACTION READ ONLY');
    return auditSnapshot(tx, eventId);
  }, { isolation: 'repeatable read' });
}

/** The checks on whatever `db` is: no snapshot of their own (auditEvent gives them one). */
export async function auditSnapshot(db: Queryable, eventId: string): Promise<AuditReport> {
  const results: AuditCheck[] = [];
  for (const check of checks) {
    const violations = await count(db, check.sql, [eventId]);
    results.push({ name: check.name, ok: violations === 0, violations, detail: check.detail });
  }
  results.push(await queueCountsCheck(db, eventId));
  const { rows } = await db.query<{
    zone: string; capacity: number; tickets: number; sold: number; held: number; overlap: number;
  }>(
    `SELECT z.zone_key AS zone, z.capacity,
            (SELECT count(*) FROM tickets t
              WHERE t.event_id = z.event_id AND t.zone_key = z.zone_key)::int AS tickets,
            (SELECT count(*) FROM order_tickets ot JOIN orders o ON o.order_id = ot.order_id
              WHERE ot.event_id = z.event_id AND ot.zone_key = z.zone_key
                AND ot.status = 'valid' AND ${admitted})::int AS sold,
            (SELECT count(DISTINCT i.ticket_no) FROM hold_items i
               JOIN holds h ON h.hold_id = i.hold_id
              WHERE i.event_id = z.event_id AND i.zone_key = z.zone_key
                AND h.state = 'held' AND h.claim_expires_at > now())::int AS held,
            0 AS overlap
       FROM zones z WHERE z.event_id = $1 ORDER BY z.position`,
    [eventId],
  );
  const zones = rows.map((row) => ({
    zone: row.zone, capacity: row.capacity, held: row.held, sold: row.sold,
    available: row.tickets - row.held - row.sold,
  }));
  // Zone arithmetic from independent sources: tickets that exist = capacity, and the
  // available count derived from issued tickets and hold items matches the ticket rows'.
  const { rows: derived } = await db.query<{ zone: string; available: number }>(
    `SELECT zone_key AS zone, count(*) FILTER (
              WHERE order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now()))::int
              AS available
       FROM tickets WHERE event_id = $1 GROUP BY zone_key`,
    [eventId],
  );
  const fromRows = new Map(derived.map((row) => [row.zone, row.available]));
  let arithmetic = 0;
  for (const [i, zone] of zones.entries()) {
    const tickets = rows[i]?.tickets ?? 0;
    if (tickets !== zone.capacity || zone.available < 0) arithmetic++;
    if (fromRows.get(zone.zone) !== zone.available) arithmetic++;
  }
  results.push({
    name: 'available + held + sold = capacity per zone',
    ok: arithmetic === 0, violations: arithmetic,
    detail: 'zones whose counts from issued tickets and hold items disagree with ticket rows',
  });
  return { ok: results.every((check) => check.ok), checks: results, zones };
}
