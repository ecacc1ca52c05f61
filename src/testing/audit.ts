/**
 * The invariant audit (SPEC §2), straight from the database: returns every violation found,
 * so a test can assert the list is empty after each step and print what broke.
 */
import type { Queryable } from '../storage/index.js';

/** What the audit may tolerate. */
export interface AuditOptions {
  /**
   * Allow refunds still `requested` (a test that has the provider fail refunds on purpose,
   * or a state captured before the reconciler ran). By default every refund must have
   * reached `succeeded`: the commands under test send it right after commit.
   */
  allowRequestedRefunds?: boolean;
}

/**
 * Checks invariants 1, 2, 4 and 5 for one event; [] when all hold. Zone arithmetic is
 * checked from independent sources (as sim/audit.ts does): held counted from the hold
 * items of live holds and sold from valid issued tickets of confirmed orders must match
 * what the ticket rows say, and the three must add up to the zone's capacity.
 */
/**
 * An issued ticket counts as sold while its order is confirmed, or when it was scanned at
 * the door before an organizer refunded the order (its holder is inside; the seat stays
 * sold).
 */
const admitted =
  `(o.status = 'confirmed' OR (o.status = 'cancelled' AND ot.checked_in_at IS NOT NULL))`;

export async function auditBooking(
  db: Queryable, eventId: string, options: AuditOptions = {},
): Promise<string[]> {
  const problems: string[] = [];
  const { rows: zones } = await db.query<{ zone_key: string; capacity: number; total: number;
    available: number; held: number; sold: number; items_held: number; issued: number }>(
    `SELECT z.zone_key, z.capacity,
            (SELECT count(*) FROM tickets t
              WHERE t.event_id = z.event_id AND t.zone_key = z.zone_key)::int AS total,
            (SELECT count(*) FROM tickets t
              WHERE t.event_id = z.event_id AND t.zone_key = z.zone_key AND t.order_id IS NULL
                AND (t.hold_id IS NULL OR t.hold_expires_at <= now()))::int AS available,
            (SELECT count(*) FROM tickets t
              WHERE t.event_id = z.event_id AND t.zone_key = z.zone_key AND t.order_id IS NULL
                AND t.hold_id IS NOT NULL AND t.hold_expires_at > now())::int AS held,
            (SELECT count(*) FROM tickets t
              WHERE t.event_id = z.event_id AND t.zone_key = z.zone_key
                AND t.order_id IS NOT NULL)::int AS sold,
            (SELECT count(DISTINCT i.ticket_no) FROM hold_items i
               JOIN holds h ON h.hold_id = i.hold_id
              WHERE i.event_id = z.event_id AND i.zone_key = z.zone_key
                AND h.state = 'held' AND h.claim_expires_at > now())::int AS items_held,
            (SELECT count(*) FROM order_tickets ot JOIN orders o ON o.order_id = ot.order_id
              WHERE ot.event_id = z.event_id AND ot.zone_key = z.zone_key
                AND ot.status = 'valid' AND ${admitted})::int AS issued
       FROM zones z WHERE z.event_id = $1`,
    [eventId],
  );
  for (const z of zones) {
    const derivedAvailable = z.capacity - z.items_held - z.issued;
    if (z.total !== z.capacity || z.items_held !== z.held || z.issued !== z.sold
      || derivedAvailable !== z.available) {
      problems.push(`zone ${z.zone_key}: rows ${z.available}+${z.held}+${z.sold} of `
        + `${z.total}; derived ${derivedAvailable}+${z.items_held}+${z.issued} of ${z.capacity}`);
    }
  }
  const checks: [string, string][] = [
    ['live hold missing its tickets', `
      SELECT h.hold_id AS id FROM holds h JOIN hold_items i ON i.hold_id = h.hold_id
        JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
       WHERE h.event_id = $1 AND h.state = 'held' AND h.claim_expires_at > now()
         AND (t.hold_id IS DISTINCT FROM h.hold_id OR t.order_id IS NOT NULL
              OR t.hold_expires_at IS DISTINCT FROM h.claim_expires_at)`],
    ['ticket in two live holds', `
      SELECT i.ticket_no::text AS id FROM holds h JOIN hold_items i ON i.hold_id = h.hold_id
       WHERE h.event_id = $1 AND h.state = 'held' AND h.claim_expires_at > now()
       GROUP BY i.ticket_no HAVING count(*) > 1`],
    ['sold ticket without a confirmed order (or a scanned ticket of a refunded one)', `
      SELECT t.ticket_no::text AS id FROM tickets t
       WHERE t.event_id = $1 AND t.order_id IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM order_tickets ot JOIN orders o ON o.order_id = ot.order_id
          WHERE ot.event_id = t.event_id AND ot.ticket_no = t.ticket_no
            AND ot.order_id = t.order_id AND ot.status = 'valid' AND ${admitted})`],
    ['confirmed order without all its tickets', `
      SELECT o.order_id::text AS id FROM orders o
       WHERE o.event_id = $1 AND o.status = 'confirmed'
         AND o.quantity <> (SELECT count(*) FROM tickets t WHERE t.event_id = o.event_id
                             AND t.order_id = o.order_id)`],
    ['ticket issued twice', `
      SELECT ticket_no::text AS id FROM order_tickets WHERE event_id = $1 AND status = 'valid'
       GROUP BY ticket_no HAVING count(*) > 1`],
    ['customer over the limit', `
      SELECT c.customer_id::text AS id FROM (
        SELECT customer_id, sum(quantity) AS n FROM (
          SELECT customer_id, quantity FROM holds
           WHERE event_id = $1 AND state = 'held' AND claim_expires_at > now()
          UNION ALL
          SELECT customer_id, quantity FROM orders WHERE event_id = $1 AND status = 'confirmed'
        ) AS owned GROUP BY customer_id) AS c
       WHERE c.n > (SELECT max_tickets_per_customer FROM events WHERE event_id = $1)`],
    ['captured payment neither confirmed nor refunded once', `
      SELECT p.payment_id::text AS id FROM payments p JOIN orders o ON o.order_id = p.order_id
       WHERE p.event_id = $1 AND p.status = 'captured'
         AND NOT ((o.status = 'confirmed'
                   AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.payment_id))
               OR (o.status <> 'confirmed'
                   AND (SELECT count(*) FROM refunds r WHERE r.payment_id = p.payment_id) = 1))`],
    ['captured at the provider but recorded as declined, not refunded', `
      SELECT p.payment_id::text AS id FROM payments p
       WHERE p.event_id = $1 AND p.status = 'declined'
         AND (EXISTS (SELECT 1 FROM provider_events e
                       WHERE e.payment_id = p.payment_id AND e.captured)
              OR EXISTS (SELECT 1 FROM simulated_gateway_charges g
                          WHERE g.payment_id = p.payment_id::text AND g.status = 'captured'))
         AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.payment_id)`],
    ['order paid more than once', `
      SELECT order_id::text AS id FROM payments
       WHERE event_id = $1 AND status = 'captured'
       GROUP BY order_id HAVING count(*) > 1`],
    ['refund of a payment that was not captured', `
      SELECT r.refund_id::text AS id FROM refunds r JOIN payments p ON p.payment_id = r.payment_id
       WHERE p.event_id = $1 AND p.status <> 'captured'`],
  ];
  if (options.allowRequestedRefunds !== true) {
    checks.push(['refund never reached succeeded', `
      SELECT r.refund_id::text AS id FROM refunds r JOIN payments p ON p.payment_id = r.payment_id
       WHERE p.event_id = $1 AND r.status <> 'succeeded'`]);
  }
  for (const [label, sql] of checks) {
    const { rows } = await db.query<{ id: string }>(sql, [eventId]);
    for (const row of rows) problems.push(`${label}: ${row.id}`);
  }
  return problems;
}
