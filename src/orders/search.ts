/**
 * Finding orders for support: a caller reads out an order id, a ticket code or their
 * e-mail, and the organizer gets the matching orders with the buyer, newest first. Each
 * kind of query hits its own index (order primary key, unique ticket code, lower(email)).
 */
import { isUuid } from '../core/ids.js';
import type { Queryable } from '../storage/index.js';
import { orderColumns, toOrder, type OrderRow } from './orders.js';
import type { AdminOrder, OrderSearchQuery } from './schemas.js';

/** What a support query is taken to be. */
export type OrderQueryKind = 'orderId' | 'email' | 'ticketCode' | 'recent';

/** Classifies a query by its shape: ids are UUIDs, e-mails have '@', the rest are codes. */
export function orderQueryKind(q: string): OrderQueryKind {
  if (q === '') return 'recent';
  if (isUuid(q)) return 'orderId';
  if (q.includes('@')) return 'email';
  return 'ticketCode';
}

const filters: Record<OrderQueryKind, string> = {
  orderId: 'o.order_id = $1::uuid',
  email: 'lower(c.email) = lower($1)',
  ticketCode: 'o.order_id IN (SELECT order_id FROM order_tickets WHERE code = $1)',
  recent: '$1::text IS NOT NULL',
};

/** The orders matching a support query, at most `limit`, optionally within one event. */
export async function searchOrders(db: Queryable, query: OrderSearchQuery):
  Promise<AdminOrder[]> {
  const q = (query.q ?? '').trim();
  const kind = orderQueryKind(q);
  const { rows } = await db.query<OrderRow & { customer_id: string; email: string;
    name: string }>(
    `SELECT ${orderColumns}, c.customer_id, c.email, c.name
       FROM orders o JOIN customers c ON c.customer_id = o.customer_id
      WHERE ${filters[kind]} AND ($2::uuid IS NULL OR o.event_id = $2::uuid)
        AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM refunds r
                                          WHERE r.order_id = o.order_id AND r.status = $4))
      ORDER BY o.created_at DESC, o.order_id
      LIMIT $3`,
    [q, query.eventId ?? null, query.limit ?? 20, query.refundStatus ?? null],
  );
  return rows.map((row) => ({
    ...toOrder(row),
    customer: { customerId: row.customer_id, email: row.email, name: row.name },
  }));
}
