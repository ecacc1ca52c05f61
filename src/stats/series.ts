/**
 * The counts behind the dashboard's short series: per window of `latencyWindowMs`, the holds
 * made and ended, the tickets sold, orders and revenue by confirmation time, the line's joins,
 * admissions and departures without an admission.
 *
 * Every figure is a range of an index over the window's time column (sales by
 * orders_event_settled_idx, migration 076), so a read costs what happened in the windows it
 * reads; the one exception is the leavers' check for an admission, which the planner may hash
 * over the event's admissions. Rows are stamped with their transaction's now(), its start, and
 * become visible at its commit: a closed window stops changing once every transaction that
 * started in it has committed. A node keeps the windows that closed more than a margin ago
 * (SeriesMemo: the statement timeout plus `limits.statsSeriesSettleMs`, as the HTTP route
 * builds it) and reads only the others: a few windows of history a computation instead of the
 * whole two minutes (the rehearsal's dashboard re-read them once a second). On a standby the
 * margin counts from the last transaction it replayed, not from its clock, so replication lag
 * does not shorten it. A transaction of several statements may still outlast the margin
 * (each statement is bounded by the timeout, each pause between them by the idle-in-
 * transaction timeout) and land in a kept window late: every `limits.statsSeriesFullReadMs` a
 * computation reads all the windows again, so the series is exact against a recount from then
 * on. Each read starts at the oldest window of the series the memo does not hold, so a clock
 * that steps back (a failover, a standby with another clock) re-reads what it lacks.
 */
import { LRUCache } from 'lru-cache';

import type { Clock } from '../core/clock.js';
import { limits } from '../config/limits.js';
import type { Queryable } from '../storage/index.js';
import { latencyWindowMs } from './latency.js';

/** Points in the dashboard's short series (one per latency window: two minutes). */
export const seriesPoints = 12;

/** What one window's rows add up to. */
export interface WindowCounts {
  holds: number; holdsEnded: number; sold: number; orders: number; revenue: number;
  joined: number; admitted: number; leftUnadmitted: number;
}

/** A window in which nothing happened. */
export const noCounts: Readonly<WindowCounts> = {
  holds: 0, holdsEnded: 0, sold: 0, orders: 0, revenue: 0, joined: 0, admitted: 0,
  leftUnadmitted: 0,
};

/** Where each source row of the series query adds its count. */
const addTo: Record<string, (entry: WindowCounts, n: number) => void> = {
  holds: (entry, n) => { entry.holds += n; },
  holds_ended: (entry, n) => { entry.holdsEnded += n; },
  joined: (entry, n) => { entry.joined += n; },
  admitted: (entry, n) => { entry.admitted += n; },
  left: (entry, n) => { entry.leftUnadmitted += n; },
};

/** The series' counts as read: by window index (epoch ms / latencyWindowMs). */
export interface SeriesCounts {
  /** The database clock at the read (epoch ms). */
  nowMs: number;
  /** Counts of the last `seriesPoints` windows, oldest first, the open one last. */
  windows: { startMs: number; counts: WindowCounts }[];
}

/**
 * SQL: per window from the oldest of the series not in `$4` (the windows the memo keeps; the
 * open window and the one before it always), each source's count; plus one row with the
 * database clock, the first window read and the time windows settle against (the standby's
 * last replayed commit; null before it replayed one).
 */
const seriesSql = `WITH cur AS (SELECT floor(extract(epoch FROM now()) / $2)::bigint AS w),
   first AS (SELECT coalesce((SELECT min(g) FROM generate_series(cur.w - ($3 - 1), cur.w - 2) g
                               WHERE g <> ALL ($4::bigint[])), cur.w - 1) AS w
               FROM cur),
   since AS (SELECT first.w, to_timestamp(first.w * $2) AS t FROM first)
   SELECT w, source, n, k, revenue,
          (extract(epoch FROM now()) * 1000)::float8 AS now_ms, since_w,
          (extract(epoch FROM CASE WHEN pg_is_in_recovery() THEN pg_last_xact_replay_timestamp()
                                   ELSE now() END) * 1000)::float8 AS settled_ms FROM (
     SELECT floor(extract(epoch FROM created_at) / $2)::bigint AS w, 'holds' AS source,
            count(*)::int AS n, 0 AS k, 0::float8 AS revenue, NULL::bigint AS since_w
       FROM holds, since WHERE event_id = $1 AND created_at >= since.t GROUP BY 1
     UNION ALL
     SELECT floor(extract(epoch FROM ended_at) / $2)::bigint, 'holds_ended', count(*)::int,
            0, 0, NULL
       FROM holds, since WHERE event_id = $1 AND ended_at >= since.t GROUP BY 1
     UNION ALL
     SELECT floor(extract(epoch FROM confirmed_at) / $2)::bigint, 'orders',
            sum(quantity)::int, count(*)::int, sum(total_cents)::float8, NULL
       FROM orders, since WHERE event_id = $1 AND status IN ('confirmed', 'cancelled')
        AND confirmed_at IS NOT NULL AND confirmed_at >= since.t GROUP BY 1
     UNION ALL
     SELECT floor(j.second::float8 / $2)::bigint, 'joined', sum(j.joined)::int, 0, 0, NULL
       FROM queue_join_seconds j, since
      WHERE j.event_id = $1 AND j.second >= since.w * $2 GROUP BY 1
     UNION ALL
     SELECT floor(extract(epoch FROM admitted_at) / $2)::bigint, 'admitted', count(*)::int,
            0, 0, NULL
       FROM queue_admissions, since WHERE event_id = $1 AND admitted_at >= since.t GROUP BY 1
     UNION ALL
     SELECT floor(extract(epoch FROM left_at) / $2)::bigint, 'left', count(*)::int, 0, 0,
            NULL
       FROM queue_entries x, since WHERE x.event_id = $1 AND x.left_at >= since.t
        AND NOT EXISTS (SELECT 1 FROM queue_admissions y WHERE y.event_id = $1
                           AND y.customer_id = x.customer_id)
      GROUP BY 1
     UNION ALL
     SELECT NULL, 'now', 0, 0, 0, since.w FROM since) AS figures`;

interface Read {
  nowMs: number;
  /**
   * What a window's close plus the margin is held against: now(), or on a standby its last
   * replayed commit (the primary's clock; null before it replayed one: nothing settles).
   */
  settledMs: number | null;
  sinceWindow: number;
  byWindow: Map<number, WindowCounts>;
}

/** The windows from the oldest not in `keptWindows` (empty: every one) to the open one. */
async function readWindows(db: Queryable, eventId: string, keptWindows: number[]):
  Promise<Read> {
  const { rows } = await db.query<{ w: string | null; source: string; n: number; k: number;
    revenue: number; now_ms: number; since_w: string | null; settled_ms: number | null }>(
    seriesSql, [eventId, latencyWindowMs / 1000, seriesPoints, keptWindows],
  );
  const byWindow = new Map<number, WindowCounts>();
  let nowMs = 0;
  let settledMs: number | null = null;
  let sinceWindow = 0;
  for (const row of rows) {
    nowMs = Number(row.now_ms);
    settledMs = row.settled_ms === null ? null : Number(row.settled_ms);
    if (row.w === null) {
      sinceWindow = Number(row.since_w);
      continue;
    }
    const w = Number(row.w);
    const entry = byWindow.get(w) ?? { ...noCounts };
    addTo[row.source]?.(entry, row.n);
    if (row.source === 'orders') {
      entry.sold += row.n;
      entry.orders += row.k;
      entry.revenue += Number(row.revenue);
    }
    byWindow.set(w, entry);
  }
  return { nowMs, settledMs, sinceWindow, byWindow };
}

interface Kept {
  /** Closed windows' counts by window index, each read after it settled. */
  closed: Map<number, WindowCounts>;
  /** When every window was last read (this node's clock: a cadence, not a decision). */
  fullReadAtMs: number;
}

/**
 * How long after a window closes a node keeps it: the longest one statement (and so a
 * one-statement transaction stamping a row in the window) runs, plus
 * `limits.statsSeriesSettleMs` of slack for a transaction of a few short statements.
 */
export function seriesSettleMs(statementTimeoutMs: number): number {
  return statementTimeoutMs + limits.statsSeriesSettleMs;
}

/**
 * A node's settled windows of each event's series (bounded, by event id). The dashboard's
 * computations of one event share it; the figures decide nothing, so losing it costs one read
 * of the whole two minutes.
 */
export class SeriesMemo {
  private readonly events = new LRUCache<string, Kept>({ max: limits.statsCacheEntries });

  /**
   * `settleMs`: how long after a window closes it is kept; longer than a transaction that
   * stamps a row in it runs (the HTTP route: `seriesSettleMs` of the statement timeout).
   */
  constructor(readonly settleMs: number = limits.statsSeriesSettleMs) {}

  /** Kept windows of an event, if any. */
  get(eventId: string): Kept | undefined {
    return this.events.get(eventId);
  }

  /** Replaces an event's kept windows. */
  set(eventId: string, kept: Kept): void {
    this.events.set(eventId, kept);
  }
}

/**
 * The series' counts of one event: read from the tables for the windows the memo does not
 * hold (all of them without a memo, or when the memo's full read is due), from the memo for
 * the rest.
 */
export async function readSeriesCounts(db: Queryable, eventId: string, clock: Clock,
  memo?: SeriesMemo): Promise<SeriesCounts> {
  const kept = memo?.get(eventId);
  const full = kept === undefined
    || clock.nowMs() - kept.fullReadAtMs >= limits.statsSeriesFullReadMs;
  const read = await readWindows(db, eventId, full ? [] : [...kept.closed.keys()]);
  const current = Math.floor(read.nowMs / latencyWindowMs);
  const first = current - (seriesPoints - 1);
  const settleMs = memo?.settleMs ?? 0;
  const closed = new Map<number, WindowCounts>();
  const windows: SeriesCounts['windows'] = [];
  for (let w = first; w <= current; w += 1) {
    // Below the read's first window every window is one the memo holds (the query starts
    // at the oldest it does not).
    const held = w < read.sinceWindow ? kept?.closed.get(w) : undefined;
    const counts = held ?? read.byWindow.get(w) ?? { ...noCounts };
    windows.push({ startMs: w * latencyWindowMs, counts });
    const settled = held !== undefined || (read.settledMs !== null
      && (w + 1) * latencyWindowMs + settleMs <= read.settledMs);
    if (settled) closed.set(w, counts);
  }
  memo?.set(eventId, {
    closed,
    fullReadAtMs: full ? clock.nowMs() : (kept as Kept).fullReadAtMs,
  });
  return { nowMs: read.nowMs, windows };
}
