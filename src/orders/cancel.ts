/**
 * Cancelling a confirmed order: in one transaction the order becomes cancelled, its issued
 * tickets are voided, its inventory tickets return to the pool (outbox `seats.released`,
 * offered to the waitlist first) and one refund is recorded; the provider is asked for the
 * money after commit.
 *
 * A fan may not cancel once a ticket of the order was scanned or the event has started (by
 * the database clock): otherwise the seat goes back on sale while its holder sits in it.
 * An organizer may still refund; scanned tickets stay valid and their seats stay sold.
 */
import { DomainError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { seatsPayload, writeOutbox } from '../outbox/write.js';
import type { Queryable } from '../storage/index.js';
import { offerReturnedTickets } from '../waitlist/offers.js';
import { getOrder, type Viewer } from './orders.js';
import type { Order } from './schemas.js';
import { executeRefund, recordRefund, type BookingDeps } from './settle.js';

/** Cancels an order (owner or organizer). Cancelling a cancelled or failed order is a no-op. */
export async function cancelOrder(deps: BookingDeps, orderId: string, viewer: Viewer):
  Promise<Order> {
  if (!isUuid(orderId)) throw new DomainError('not_found', `no order ${orderId}`);
  const owner = 'customerId' in viewer ? viewer.customerId : null;
  const refund = await deps.db.tx(async (tx) => {
    const { rows } = await tx.query<{ status: string; event_id: string; customer_id: string;
      quantity: number }>(
      `SELECT status, event_id, customer_id, quantity FROM orders
        WHERE order_id = $1 AND ($2::uuid IS NULL OR customer_id = $2::uuid) FOR UPDATE`,
      [orderId, owner],
    );
    const order = rows[0];
    if (order === undefined) throw new DomainError('not_found', `no order ${orderId}`);
    if (order.status === 'pending_payment') {
      throw new DomainError('payment_pending', 'wait for the payment to complete, then cancel');
    }
    if (order.status !== 'confirmed') return undefined;
    const scanned = await cancellationGuard(tx, order.event_id, orderId, owner !== null);
    const cancelled = await tx.query(
      `UPDATE orders SET status = 'cancelled', cancelled_at = now()
        WHERE order_id = $1 AND status = 'confirmed'`,
      [orderId],
    );
    if (cancelled.rowCount !== 1) throw new Error('assertion failed: locked order changed');
    await tx.query(
      `UPDATE order_tickets SET status = 'cancelled'
        WHERE order_id = $1 AND status = 'valid' AND checked_in_at IS NULL`,
      [orderId],
    );
    const { rows: released } = await tx.query<{ ticket_no: number; seat_id: string | null;
      zone_key: string }>(
      `WITH target AS (
         SELECT ticket_no FROM tickets WHERE event_id = $1 AND order_id = $2
            AND NOT (ticket_no = ANY($3::int[]))
          ORDER BY ticket_no FOR UPDATE)
       UPDATE tickets t SET order_id = NULL, hold_id = NULL, hold_expires_at = NULL
         FROM target
        WHERE t.event_id = $1 AND t.ticket_no = target.ticket_no AND t.order_id = $2
       RETURNING t.ticket_no, t.seat_id, t.zone_key`,
      [order.event_id, orderId, scanned],
    );
    // A confirmed order owns exactly its quantity of tickets (confirmOrder checks it); a
    // different count means the books disagree, and nothing should be committed on them.
    if (released.length + scanned.length !== order.quantity) {
      throw new Error(`assertion failed: order ${orderId} released ${released.length} of `
        + `${order.quantity} tickets`);
    }
    if (released.length > 0) {
      await writeOutbox(tx, order.event_id, 'seats.released', seatsPayload(
        released.map((t) => ({ ticketNo: t.ticket_no, seatId: t.seat_id, zone: t.zone_key })),
        { orderId, customerId: order.customer_id, reason: 'cancelled' },
      ));
      await offerReturnedTickets(tx, order.event_id, released, 'cancelled');
    }
    const { rows: payments } = await tx.query<{ payment_id: string }>(
      `SELECT payment_id FROM payments WHERE order_id = $1 AND status = 'captured'`, [orderId],
    );
    const payment = payments[0];
    if (payment === undefined) throw new Error('assertion failed: confirmed order without payment');
    return await recordRefund(tx, payment.payment_id, orderId, 'order cancelled');
  });
  if (refund !== undefined) await executeRefund(deps, refund);
  return await getOrder(deps.db, orderId, viewer);
}

/**
 * Refuses a fan's cancellation once a ticket was scanned or the event started; returns the
 * scanned inventory tickets, which an organizer's refund leaves sold.
 */
async function cancellationGuard(
  tx: Queryable, eventId: string, orderId: string, byCustomer: boolean,
): Promise<number[]> {
  const { rows } = await tx.query<{ started: boolean; scanned: number[] }>(
    `SELECT e.starts_at <= now() AS started,
            ARRAY(SELECT ot.ticket_no FROM order_tickets ot
                   WHERE ot.order_id = $2 AND ot.status = 'valid'
                     AND ot.checked_in_at IS NOT NULL ORDER BY ot.ticket_no) AS scanned
       FROM events e WHERE e.event_id = $1`,
    [eventId, orderId],
  );
  const guard = rows[0];
  if (guard === undefined) throw new Error(`assertion failed: order ${orderId} has no event`);
  if (byCustomer && guard.scanned.length > 0) {
    throw new DomainError('not_cancellable', 'a ticket of this order was already scanned');
  }
  if (byCustomer && guard.started) {
    throw new DomainError('not_cancellable', 'the event has started; ask the organizer');
  }
  return guard.scanned;
}
