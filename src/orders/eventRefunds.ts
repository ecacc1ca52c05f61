/**
 * Refunding a cancelled event: every confirmed order of an event with `cancelled_at` set is
 * cancelled through the organizer's order cancellation (tickets voided, one refund row per
 * payment recorded in the same transaction, the provider called after commit, keyed by the
 * refund id; the reconciler re-sends refunds that never got their answer). It runs in
 * bounded batches on the maintenance leader and on the node that cancels the event, and it
 * only ever picks orders still `confirmed`: a crash mid-way leaves the rest for the next
 * pass, a second runner finds them cancelled (a no-op), and a payment captured after the
 * cancellation (a checkout already in flight) is confirmed and then refunded the same way.
 */
import { limits } from '../config/limits.js';
import { cancelOrder } from './cancel.js';
import type { BookingDeps } from './settle.js';

/** One bounded pass over confirmed orders of cancelled events; returns how many it refunded. */
export async function refundCancelledEvents(
  deps: BookingDeps, options: { eventId?: string; batch?: number } = {},
): Promise<number> {
  const { rows } = await deps.db.query<{ order_id: string }>(
    `SELECT o.order_id FROM orders o
      WHERE o.status = 'confirmed'
        AND o.event_id IN (SELECT event_id FROM events
                            WHERE cancelled_at IS NOT NULL
                              AND ($1::uuid IS NULL OR event_id = $1::uuid))
      ORDER BY o.event_id, o.confirmed_at
      LIMIT $2`,
    [options.eventId ?? null, options.batch ?? limits.reconcileBatch],
  );
  let refunded = 0;
  for (const { order_id: orderId } of rows) {
    try {
      const order = await cancelOrder(deps, orderId, { admin: true });
      if (order.status === 'cancelled') refunded += 1;
    } catch (error) {
      deps.logger.warn({ err: error, orderId }, 'refund of a cancelled event order failed');
    }
  }
  return refunded;
}
