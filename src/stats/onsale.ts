/**
 * Live on-sale figures for the organizer's dashboard: the line, tickets by state, holds,
 * sales and revenue, and the last minute's rates. One read model over several domains, read
 * once a second per node while a dashboard is open, so it reads what the writers keep and
 * what changed lately, never the whole sale: the line's counts (queue/counts.ts), tickets
 * sold (ticket_counts, 047) and orders by status (orders/counts.ts) are kept where rows are
 * written; held tickets and live holds are the live holds' range of holds_live_idx (a held
 * hold's quantity is its held tickets, 047); the series reads the windows not settled yet
 * (stats/series.ts).
 */
import type { Clock } from '../core/clock.js';
import type { Coordinator } from '../coord/types.js';
import { loadEvent } from '../catalog/events.js';
import { keptOrderCountsOf } from '../orders/counts.js';
import { queueStats } from '../queue/admission.js';
import type { Queryable } from '../storage/index.js';
import {
  latencyWindowMs, quantileMs, readLatencyWindows, sumCounts, type LatencyWindow,
} from './latency.js';
import {
  noCounts, readSeriesCounts, seriesPoints, type SeriesMemo, type WindowCounts,
} from './series.js';


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
 * The last minute's holds, sales and orders are the last six windows' (as the hold latency's).
 */
async function buildSeries(db: Queryable, coord: Coordinator, clock: Clock, eventId: string,
  now: Now, memo: SeriesMemo | undefined) {
  const counted = await readSeriesCounts(db, eventId, clock, memo);
  const windows = await latencyWindows(coord, eventId, counted.nowMs);
  const countsAt = new Map<number, WindowCounts>(
    counted.windows.map((w) => [w.startMs, w.counts]));
  const lastMinute = sumCounts(windows.slice(-6));
  const recent = counted.windows.slice(-6);
  let queueLength = now.queueLength;
  let activeHolds = now.activeHolds;
  const points: SeriesPoint[] = [];
  for (let i = windows.length - 1; i >= 0; i -= 1) {
    const window = windows[i] as LatencyWindow;
    const counts = countsAt.get(window.startMs) ?? noCounts;
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
    lastMinute: {
      holds: recent.reduce((sum, w) => sum + w.counts.holds, 0),
      ticketsSold: recent.reduce((sum, w) => sum + w.counts.sold, 0),
      orders: recent.reduce((sum, w) => sum + w.counts.orders, 0),
    },
    holdLatency: {
      samples: lastMinute.reduce((sum, count) => sum + count, 0),
      latencyMsP50: quantileMs(lastMinute, 0.5),
      latencyMsP99: quantileMs(lastMinute, 0.99),
    },
    series: { stepSeconds: latencyWindowMs / 1000, points },
  };
}

/**
 * The figures for one event (not_found for an unknown event). With a memo (one per node), the
 * series reads only the windows that have not settled since the last computation.
 */
export async function onSaleStats(
  db: Queryable, coord: Coordinator, clock: Clock, eventId: string, memo?: SeriesMemo,
): Promise<OnSaleStats> {
  const event = await loadEvent(db, eventId);
  const [queue, figures] = await Promise.all([
    queueStats(db, eventId),
    db.query<{
      active_holds: number; held: number; sold: number; confirmed: number; pending: number;
      failed: number; cancelled: number; revenue: number;
    }>(
      // Kept counts (tickets sold, orders by status) and the live holds' index range: a
      // handful of rows plus one per live hold, however much of the sale is sold.
      `SELECT h.active_holds, h.held,
              (SELECT coalesce(sum(c.sold), 0) FROM ticket_counts c
                WHERE c.event_id = $1)::int AS sold,
              o.confirmed, o.pending, o.failed, o.cancelled, o.revenue
         FROM (SELECT count(*)::int AS active_holds, coalesce(sum(quantity), 0)::int AS held
                 FROM holds WHERE event_id = $1 AND state = 'held'
                  AND claim_expires_at > now()) AS h,
              (${keptOrderCountsOf('$1')}) AS o`,
      [eventId],
    ),
  ]);
  const row = figures.rows[0];
  const held = row?.held ?? 0;
  const sold = row?.sold ?? 0;
  const activeHolds = row?.active_holds ?? 0;
  const series = await buildSeries(db, coord, clock, eventId, {
    queueLength: queue.waiting, activeHolds,
  }, memo);
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
    activeHolds,
    orders: {
      confirmed: row?.confirmed ?? 0, pendingPayment: row?.pending ?? 0,
      paymentFailed: row?.failed ?? 0, cancelled: row?.cancelled ?? 0,
    },
    revenueCents: Number(row?.revenue ?? 0),
    currency: event.zones[0]?.currency ?? 'EUR',
    ...series,
  };
}
