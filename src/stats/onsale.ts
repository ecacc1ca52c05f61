/**
 * Live on-sale figures for the organizer's dashboard: the line (from the waiting room),
 * tickets by state (from ticket rows), holds, sales and revenue, and the last minute's
 * rates. One read model over several domains; every figure is computed at read time.
 */
import type { Clock } from '../core/clock.js';
import { loadEvent } from '../catalog/events.js';
import { zoneCounts } from '../inventory/availability.js';
import { queueStats } from '../queue/admission.js';
import type { Queryable } from '../storage/index.js';

export interface OnSaleStats {
  eventId: string;
  asOf: string;
  queue: {
    enabled: boolean;
    joined: number;
    preQueue: number;
    waiting: number;
    servedUpTo: number;
    admitted: number;
    activeShoppers: number;
    admissionsPerMinute: number;
    soldOut: boolean;
  };
  tickets: { capacity: number; available: number; held: number; sold: number };
  activeHolds: number;
  orders: { confirmed: number; pendingPayment: number; paymentFailed: number; cancelled: number };
  revenueCents: number;
  currency: string;
  lastMinute: { holds: number; ticketsSold: number; orders: number };
}

/** The figures for one event (not_found for an unknown event). */
export async function onSaleStats(db: Queryable, clock: Clock, eventId: string):
  Promise<OnSaleStats> {
  const event = await loadEvent(db, eventId);
  const [queue, counts, figures] = await Promise.all([
    queueStats(db, eventId),
    zoneCounts(db, [eventId]),
    db.query<{
      active_holds: number; confirmed: number; pending: number; failed: number;
      cancelled: number; revenue: number; holds_1m: number; sold_1m: number; orders_1m: number;
    }>(
      `SELECT
         (SELECT count(*) FROM holds WHERE event_id = $1 AND state = 'held'
             AND claim_expires_at > now())::int AS active_holds,
         (SELECT count(*) FROM orders WHERE event_id = $1 AND status = 'confirmed')::int
           AS confirmed,
         (SELECT count(*) FROM orders WHERE event_id = $1 AND status = 'pending_payment')::int
           AS pending,
         (SELECT count(*) FROM orders WHERE event_id = $1 AND status = 'payment_failed')::int
           AS failed,
         (SELECT count(*) FROM orders WHERE event_id = $1 AND status = 'cancelled')::int
           AS cancelled,
         (SELECT coalesce(sum(total_cents), 0) FROM orders
           WHERE event_id = $1 AND status = 'confirmed')::float8 AS revenue,
         (SELECT count(*) FROM holds WHERE event_id = $1
             AND created_at > now() - interval '1 minute')::int AS holds_1m,
         (SELECT coalesce(sum(quantity), 0) FROM orders WHERE event_id = $1
             AND status = 'confirmed' AND confirmed_at > now() - interval '1 minute')::int
           AS sold_1m,
         (SELECT count(*) FROM orders WHERE event_id = $1 AND status = 'confirmed'
             AND confirmed_at > now() - interval '1 minute')::int AS orders_1m`,
      [eventId],
    ),
  ]);
  const byZone = counts.get(eventId);
  let held = 0;
  let sold = 0;
  for (const zone of event.zones) {
    held += byZone?.get(zone.key)?.held ?? 0;
    sold += byZone?.get(zone.key)?.sold ?? 0;
  }
  const row = figures.rows[0];
  return {
    eventId,
    asOf: new Date(clock.nowMs()).toISOString(),
    queue: {
      enabled: event.queue.enabled, joined: queue.joined, preQueue: queue.preQueue,
      waiting: queue.waiting, servedUpTo: queue.servedUpTo, admitted: queue.admitted,
      activeShoppers: queue.activeShoppers, admissionsPerMinute: queue.ratePerMinute,
      soldOut: queue.soldOut,
    },
    tickets: { capacity: event.capacity, available: event.capacity - held - sold, held, sold },
    activeHolds: row?.active_holds ?? 0,
    orders: {
      confirmed: row?.confirmed ?? 0, pendingPayment: row?.pending ?? 0,
      paymentFailed: row?.failed ?? 0, cancelled: row?.cancelled ?? 0,
    },
    revenueCents: Number(row?.revenue ?? 0),
    currency: event.zones[0]?.currency ?? 'EUR',
    lastMinute: {
      holds: row?.holds_1m ?? 0, ticketsSold: row?.sold_1m ?? 0, orders: row?.orders_1m ?? 0,
    },
  };
}
