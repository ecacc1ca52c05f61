/** Reading orders: one order for its owner or an organizer, and a customer's order list. */
import { limits } from '../config/limits.js';
import { DomainError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import type { Queryable } from '../storage/index.js';
import type { Order, OrderTicket, PaymentView } from './schemas.js';

/** Who is asking: a customer sees only their own orders; an organizer sees every order. */
export type Viewer = { customerId: string } | { admin: true };

/** An order row as `orderColumns` selects it (alias `o` for orders). */
export interface OrderRow {
  order_id: string; event_id: string; hold_id: string; status: Order['status'];
  total_cents: number; currency: string; failure_reason: string | null; created_at: Date;
  confirmed_at: Date | null; cancelled_at: Date | null;
  payment: (Omit<PaymentView, 'refund'> & { refund: PaymentView['refund'] }) | null;
  tickets: (Omit<OrderTicket, 'checkedInAt'> & { checkedInAt: string | null })[];
}

/** The columns that make an Order, over `orders o`; shared by every order read. */
export const orderColumns = `o.order_id, o.event_id, o.hold_id, o.status, o.total_cents, o.currency,
  o.failure_reason, o.created_at, o.confirmed_at, o.cancelled_at,
  (SELECT json_build_object(
      'paymentId', p.payment_id, 'provider', p.provider, 'method', p.method,
      'status', p.status, 'amountCents', p.amount_cents, 'declineReason', p.decline_reason,
      'nextAction', CASE WHEN p.status = 'pending' THEN p.next_action END,
      'refund', (SELECT json_build_object('refundId', r.refund_id, 'status', r.status,
                                          'reason', r.reason, 'amountCents', r.amount_cents,
                                          'failureReason', r.failure_reason)
                   FROM refunds r WHERE r.payment_id = p.payment_id))
     FROM payments p WHERE p.order_id = o.order_id
    ORDER BY p.created_at DESC LIMIT 1) AS payment,
  coalesce((SELECT json_agg(json_build_object(
      'ticketId', ot.ticket_id, 'seatId', t.seat_id, 'section', t.section_key,
      'row', t.row_label, 'number', t.seat_number, 'zone', ot.zone_key,
      'priceCents', ot.price_cents, 'code', ot.code, 'status', ot.status,
      'checkedInAt', ot.checked_in_at) ORDER BY ot.ticket_no)
     FROM order_tickets ot
     JOIN tickets t ON t.event_id = ot.event_id AND t.ticket_no = ot.ticket_no
    WHERE ot.order_id = o.order_id), '[]'::json) AS tickets`;

const iso = (value: Date | string | null): string | null =>
  value === null ? null : new Date(value).toISOString();

/** Shapes a row selected with `orderColumns`. */
export function toOrder(row: OrderRow): Order {
  return {
    orderId: row.order_id,
    eventId: row.event_id,
    holdId: row.hold_id,
    status: row.status,
    totalCents: Number(row.total_cents),
    currency: row.currency,
    failureReason: row.failure_reason,
    createdAt: row.created_at.toISOString(),
    confirmedAt: iso(row.confirmed_at),
    cancelledAt: iso(row.cancelled_at),
    payment: row.payment === null ? null : {
      ...row.payment, amountCents: Number(row.payment.amountCents),
      refund: row.payment.refund === null ? null
        : { ...row.payment.refund, amountCents: Number(row.payment.refund.amountCents) },
    },
    tickets: row.tickets.map((ticket) => ({ ...ticket, checkedInAt: iso(ticket.checkedInAt) })),
  };
}

/** One order; not_found when it does not exist or is another customer's. */
export async function getOrder(db: Queryable, orderId: string, viewer: Viewer): Promise<Order> {
  if (!isUuid(orderId)) throw new DomainError('not_found', `no order ${orderId}`);
  const owner = 'customerId' in viewer ? viewer.customerId : null;
  const { rows } = await db.query<OrderRow>(
    `SELECT ${orderColumns} FROM orders o
      WHERE o.order_id = $1 AND ($2::uuid IS NULL OR o.customer_id = $2::uuid)`,
    [orderId, owner],
  );
  const row = rows[0];
  if (row === undefined) throw new DomainError('not_found', `no order ${orderId}`);
  return toOrder(row);
}

/** The customer's orders, newest first. */
export async function listOrders(db: Queryable, customerId: string): Promise<Order[]> {
  const { rows } = await db.query<OrderRow>(
    `SELECT ${orderColumns} FROM orders o WHERE o.customer_id = $1
      ORDER BY o.created_at DESC, o.order_id LIMIT $2`,
    [customerId, limits.ordersPageMax],
  );
  return rows.map(toOrder);
}
