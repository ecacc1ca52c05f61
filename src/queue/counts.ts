/**
 * The line's counts for the organizer's dashboard, kept where the rows are written.
 *
 * Statement triggers on queue_entries and queue_admissions (migration 046) add each
 * statement's changes to `queue_counts` in the transaction that wrote them, one row per
 * writing backend, so reading the counts is a sum over a handful of rows however long the
 * line is. `recountQueueCounts` is the same figures counted from the rows themselves (what
 * the dashboard used to run on every refresh): an audit, and what the tests hold the kept
 * counts to.
 */
import type { Queryable } from '../storage/index.js';

/** Counts of one line that change only when its rows are written. */
export interface QueueCounts {
  joined: number;
  /** Entries without a number yet (the pre-queue before the draw reaches them). */
  preQueue: number;
  /** Entries that left the line on their own, and that moved to the waitlist. */
  left: number;
  movedToWaitlist: number;
  /** Entries that left without ever being admitted. */
  leftUnadmitted: number;
  admitted: number;
  /** Admissions whose slot was freed (released_at set), and by release_reason. */
  released: number;
  freed: { order: number; left: number; idle: number };
}

interface CountsRow {
  joined: number; pre_queue: number; left_line: number; waitlist: number;
  left_unadmitted: number; admitted: number; released: number; freed_order: number;
  freed_left: number; freed_idle: number;
}

function toCounts(row: CountsRow | undefined): QueueCounts {
  return {
    joined: Number(row?.joined ?? 0), preQueue: Number(row?.pre_queue ?? 0),
    left: Number(row?.left_line ?? 0), movedToWaitlist: Number(row?.waitlist ?? 0),
    leftUnadmitted: Number(row?.left_unadmitted ?? 0), admitted: Number(row?.admitted ?? 0),
    released: Number(row?.released ?? 0),
    freed: {
      order: Number(row?.freed_order ?? 0), left: Number(row?.freed_left ?? 0),
      idle: Number(row?.freed_idle ?? 0),
    },
  };
}

/**
 * SQL: the kept counts of the event `eventSql` names (a parameter, or a column of an outer
 * query), one row (sums over the writers' rows).
 */
export function keptCountsOf(eventSql: string): string {
  return `SELECT
    coalesce(sum(joined), 0)::int AS joined, coalesce(sum(pre_queue), 0)::int AS pre_queue,
    coalesce(sum(left_line), 0)::int AS left_line, coalesce(sum(waitlist), 0)::int AS waitlist,
    coalesce(sum(left_unadmitted), 0)::int AS left_unadmitted,
    coalesce(sum(admitted), 0)::int AS admitted, coalesce(sum(released), 0)::int AS released,
    coalesce(sum(freed_order), 0)::int AS freed_order,
    coalesce(sum(freed_left), 0)::int AS freed_left,
    coalesce(sum(freed_idle), 0)::int AS freed_idle
  FROM queue_counts WHERE event_id = ${eventSql}`;
}

/** SQL: the kept counts of event `$1`, one row (sums over the writers' rows). */
export const keptCountsSql = keptCountsOf('$1');

/** The counts as the triggers kept them (a sum over one row per writing backend). */
export async function readQueueCounts(db: Queryable, eventId: string): Promise<QueueCounts> {
  const { rows } = await db.query<CountsRow>(keptCountsSql, [eventId]);
  return toCounts(rows[0]);
}

/**
 * The same counts from the rows: two walks of the line and one of the admissions. For
 * audits and tests only; never on a request path (a crowd's line is a million rows).
 */
export async function recountQueueCounts(db: Queryable, eventId: string): Promise<QueueCounts> {
  const { rows } = await db.query<CountsRow>(
    `SELECT e.*, a.*,
       (SELECT count(*) FROM queue_entries x WHERE x.event_id = $1 AND x.left_at IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM queue_admissions y WHERE y.event_id = $1
                              AND y.customer_id = x.customer_id))::int AS left_unadmitted
       FROM (SELECT count(*)::int AS joined,
                    count(*) FILTER (WHERE number IS NULL)::int AS pre_queue,
                    count(*) FILTER (WHERE left_reason = 'left')::int AS left_line,
                    count(*) FILTER (WHERE left_reason = 'waitlist')::int AS waitlist
               FROM queue_entries WHERE event_id = $1) AS e,
            (SELECT count(*)::int AS admitted,
                    count(*) FILTER (WHERE released_at IS NOT NULL)::int AS released,
                    count(*) FILTER (WHERE release_reason = 'order')::int AS freed_order,
                    count(*) FILTER (WHERE release_reason = 'left')::int AS freed_left,
                    count(*) FILTER (WHERE release_reason = 'idle')::int AS freed_idle
               FROM queue_admissions WHERE event_id = $1) AS a`,
    [eventId],
  );
  return toCounts(rows[0]);
}
