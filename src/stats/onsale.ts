/**
 * Live on-sale figures for the organizer's dashboard: the line (from the waiting room),
 * tickets by state (from ticket rows), holds, sales and revenue, and the last minute's
 * rates. One read model over several domains; every figure is computed at read time.
 */
import type { Clock } from '../core/clock.js';
import type { Coordinator } from '../coord/types.js';
import { loadEvent } from '../catalog/events.js';
import { zoneCounts } from '../inventory/availability.js';
import { queueStats } from '../queue/admission.js';
import type { Queryable } from '../storage/index.js';
import {
  latencyWindowMs, quantileMs, readLatencyWindows, sumCounts, type LatencyWindow,
} from './latency.js';

/** Points in the dashboard's short series (one per latency window: two minutes). */
export const seriesPoints = 12;

/** One window of the short series the dashboard starts its charts from. */
export interface SeriesPoint {
  at: string;
  holds: number;
  ticketsSold: number;
  orders: number;
  revenueCents: number;
  joined: number;
  admitted: number;
  /** Fans in line (pre-queue and waiting) at the window's end. */
  queueLength: number;
  /** Holds live at the window's end. */
  activeHolds: number;
  holdLatencyMsP99: number | null;
}

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
    closedAt: string | null;
    left: number;
    movedToWaitlist: number;
    freed: { order: number; left: number; idle: number; lapsed: number };
    /**
     * Store-paced admission (queue/storePace.ts): the share of admitPerMinute the tick admits
     * at (1: not slowed), the hold queue wait a store node reported (null: none, healthy),
     * whether a store node refused holds as busy (slots are then protected), and the
     * live-shopper cap the tick admitted against (maxActiveShoppers × factor, floored).
     */
    storePace: { factor: number; storeWaitMs: number | null; refusing: boolean;
      liveCap: number };
  };
  tickets: { capacity: number; available: number; held: number; sold: number };
  activeHolds: number;
  orders: { confirmed: number; pendingPayment: number; paymentFailed: number; cancelled: number };
  revenueCents: number;
  currency: string;
  lastMinute: { holds: number; ticketsSold: number; orders: number };
  /** Hold replies over the last minute, from every node. */
  holdLatency: { samples: number; latencyMsP50: number | null; latencyMsP99: number | null };
  series: { stepSeconds: number; points: SeriesPoint[] };
}

interface Counts {
  holds: number; holdsEnded: number; sold: number; orders: number; revenue: number;
  joined: number; admitted: number; leftUnadmitted: number;
}
type WindowCounts = Map<number, Counts>;

const noCounts: Counts = {
  holds: 0, holdsEnded: 0, sold: 0, orders: 0, revenue: 0, joined: 0, admitted: 0,
  leftUnadmitted: 0,
};

/** Where each source row of the series query adds its count. */
const addTo: Record<string, (entry: Counts, n: number) => void> = {
  holds: (entry, n) => { entry.holds += n; },
  holds_ended: (entry, n) => { entry.holdsEnded += n; },
  joined: (entry, n) => { entry.joined += n; },
  admitted: (entry, n) => { entry.admitted += n; },
  left: (entry, n) => { entry.leftUnadmitted += n; },
};

/** Per-window counts of the last `seriesPoints` windows, keyed by window start (epoch ms). */
async function seriesCounts(db: Queryable, eventId: string):
  Promise<{ nowMs: number; byWindow: WindowCounts }> {
  const stepSeconds = latencyWindowMs / 1000;
  const { rows } = await db.query<{ w: string | null; source: string; n: number; k: number;
    revenue: number; now_ms: number }>(
    `WITH since AS (SELECT to_timestamp(floor(extract(epoch FROM now()) / $2) * $2
                                        - $2 * ($3 - 1)) AS t)
     SELECT w, source, n, k, revenue, (extract(epoch FROM now()) * 1000)::float8 AS now_ms FROM (
       SELECT floor(extract(epoch FROM created_at) / $2)::bigint AS w, 'holds' AS source,
              count(*)::int AS n, 0 AS k, 0::float8 AS revenue
         FROM holds, since WHERE event_id = $1 AND created_at >= since.t GROUP BY 1
       UNION ALL
       SELECT floor(extract(epoch FROM ended_at) / $2)::bigint, 'holds_ended', count(*)::int,
              0, 0
         FROM holds, since WHERE event_id = $1 AND ended_at >= since.t GROUP BY 1
       UNION ALL
       SELECT floor(extract(epoch FROM confirmed_at) / $2)::bigint, 'orders',
              sum(quantity)::int, count(*)::int, sum(total_cents)::float8
         FROM orders, since WHERE event_id = $1 AND status IN ('confirmed', 'cancelled')
          AND confirmed_at >= since.t GROUP BY 1
       UNION ALL
       SELECT floor(j.second::float8 / $2)::bigint, 'joined', sum(j.joined)::int, 0, 0
         FROM queue_join_seconds j, since
        WHERE j.event_id = $1 AND j.second >= extract(epoch FROM since.t) GROUP BY 1
       UNION ALL
       SELECT floor(extract(epoch FROM admitted_at) / $2)::bigint, 'admitted', count(*)::int, 0, 0
         FROM queue_admissions, since WHERE event_id = $1 AND admitted_at >= since.t GROUP BY 1
       UNION ALL
       SELECT floor(extract(epoch FROM left_at) / $2)::bigint, 'left', count(*)::int, 0, 0
         FROM queue_entries x, since WHERE x.event_id = $1 AND x.left_at >= since.t
          AND NOT EXISTS (SELECT 1 FROM queue_admissions y WHERE y.event_id = $1
                             AND y.customer_id = x.customer_id)
        GROUP BY 1
       UNION ALL
       SELECT NULL, 'now', 0, 0, 0) AS figures`,
    [eventId, stepSeconds, seriesPoints],
  );
  const byWindow: WindowCounts = new Map();
  let nowMs = 0;
  for (const row of rows) {
    nowMs = Number(row.now_ms);
    if (row.w === null) continue;
    const startMs = Number(row.w) * latencyWindowMs;
    const entry = byWindow.get(startMs) ?? { ...noCounts };
    addTo[row.source]?.(entry, row.n);
    if (row.source === 'orders') {
      entry.sold += row.n;
      entry.orders += row.k;
      entry.revenue += Number(row.revenue);
    }
    byWindow.set(startMs, entry);
  }
  return { nowMs, byWindow };
}

/** Latency windows, or none when the coordination store cannot answer (display only). */
async function latencyWindows(coord: Coordinator, eventId: string, nowMs: number):
  Promise<LatencyWindow[]> {
  try {
    return await readLatencyWindows(coord, eventId, nowMs, seriesPoints);
  } catch {
    return [];
  }
}

/** The states a series walks back from: the line's length and the live holds, now. */
interface Now {
  queueLength: number;
  activeHolds: number;
}

/**
 * The short series: sales counted by confirmation time (a later cancel does not erase it).
 * States (the line's length, live holds) have no rows per window, so they are walked back
 * from their values now by each later window's changes (joined − admitted − left without
 * an admission; holds made − holds ended): no extra storage, and bounded by the window.
 */
async function buildSeries(db: Queryable, coord: Coordinator, eventId: string, now: Now) {
  const { nowMs, byWindow } = await seriesCounts(db, eventId);
  const windows = await latencyWindows(coord, eventId, nowMs);
  const lastMinute = sumCounts(windows.slice(-6));
  let queueLength = now.queueLength;
  let activeHolds = now.activeHolds;
  const points: SeriesPoint[] = [];
  for (let i = windows.length - 1; i >= 0; i -= 1) {
    const window = windows[i] as LatencyWindow;
    const counts = byWindow.get(window.startMs) ?? noCounts;
    points.unshift({
      at: new Date(window.startMs).toISOString(),
      holds: counts.holds,
      ticketsSold: counts.sold,
      orders: counts.orders,
      revenueCents: counts.revenue,
      joined: counts.joined,
      admitted: counts.admitted,
      queueLength,
      activeHolds,
      holdLatencyMsP99: quantileMs(window.counts, 0.99),
    });
    queueLength = Math.max(0, queueLength - counts.joined + counts.admitted
      + counts.leftUnadmitted);
    activeHolds = Math.max(0, activeHolds - counts.holds + counts.holdsEnded);
  }
  return {
    holdLatency: {
      samples: lastMinute.reduce((sum, count) => sum + count, 0),
      latencyMsP50: quantileMs(lastMinute, 0.5),
      latencyMsP99: quantileMs(lastMinute, 0.99),
    },
    series: { stepSeconds: latencyWindowMs / 1000, points },
  };
}

/** The figures for one event (not_found for an unknown event). */
export async function onSaleStats(
  db: Queryable, coord: Coordinator, clock: Clock, eventId: string,
): Promise<OnSaleStats> {
  const event = await loadEvent(db, eventId);
  const [queue, counts, figures] = await Promise.all([
    queueStats(db, eventId),
    zoneCounts(db, [eventId]),
    db.query<{
      active_holds: number; confirmed: number; pending: number; failed: number;
      cancelled: number; revenue: number; holds_1m: number; sold_1m: number; orders_1m: number;
    }>(
      // One pass over the event's orders for every order figure (it was one per figure).
      `SELECT
         (SELECT count(*) FROM holds WHERE event_id = $1 AND state = 'held'
             AND claim_expires_at > now())::int AS active_holds,
         o.confirmed, o.pending, o.failed, o.cancelled, o.revenue, o.sold_1m, o.orders_1m,
         (SELECT count(*) FROM holds WHERE event_id = $1
             AND created_at > now() - interval '1 minute')::int AS holds_1m
         FROM (SELECT
                 count(*) FILTER (WHERE status = 'confirmed')::int AS confirmed,
                 count(*) FILTER (WHERE status = 'pending_payment')::int AS pending,
                 count(*) FILTER (WHERE status = 'payment_failed')::int AS failed,
                 count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled,
                 coalesce(sum(total_cents) FILTER (WHERE status = 'confirmed'), 0)::float8
                   AS revenue,
                 coalesce(sum(quantity) FILTER (WHERE status = 'confirmed'
                   AND confirmed_at > now() - interval '1 minute'), 0)::int AS sold_1m,
                 count(*) FILTER (WHERE status = 'confirmed'
                   AND confirmed_at > now() - interval '1 minute')::int AS orders_1m
                 FROM orders WHERE event_id = $1) AS o`,
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
  const series = await buildSeries(db, coord, eventId, {
    queueLength: queue.waiting, activeHolds: row?.active_holds ?? 0,
  });
  return {
    eventId,
    asOf: new Date(clock.nowMs()).toISOString(),
    queue: {
      enabled: event.queue.enabled, joined: queue.joined, preQueue: queue.preQueue,
      waiting: queue.waiting, servedUpTo: queue.servedUpTo, admitted: queue.admitted,
      activeShoppers: queue.activeShoppers, admissionsPerMinute: queue.ratePerMinute,
      soldOut: queue.soldOut, closedAt: queue.closedAt, left: queue.left,
      movedToWaitlist: queue.movedToWaitlist, freed: queue.freed,
      storePace: {
        ...(queue.storePace ?? { factor: 1, storeWaitMs: null, refusing: false }),
        // A pace written before the cap followed the factor: the configured cap applied.
        liveCap: queue.storePace?.liveCap ?? event.queue.maxActiveShoppers,
      },
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
    ...series,
  };
}
