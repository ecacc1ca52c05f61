-- The organizer dashboard's order figures kept where orders are written, its series' sales
-- read by an index range, and the tick's shape of what is left read from the unsold tickets
-- only (at the end).
--
-- The dashboard (stats/onsale.ts) counted the event's orders by status, and summed the
-- confirmed ones' revenue, with one pass over every order of the event on each computation
-- (once a second per node while a dashboard is open): O(orders), 20,000-25,000 rows a call
-- in the rehearsal. Now statement triggers on orders keep those figures in order_counts, in
-- the statement (and so the transaction) that wrote the orders, as 046 does for the line and
-- 047 for tickets: the checkout begin batch, the settle batch, a failed payment, a cancel,
-- whichever path it is. A statement changes its counts once, however many orders it wrote.
--
-- Spread over rows by writer (shard = pg_backend_pid(), 0 for the backfill and compaction),
-- so no writer waits for another on a counts row: a settle batch confirms orders while it
-- holds ticket locks, and a shared row taken there could close a cycle with another batch.
-- A reader sums the rows. order_counts_compact merges the rows of backends that are gone
-- into shard 0 (bounded, SKIP LOCKED); the booking maintenance runs it (orders/workers.ts).
--
-- Exact against the orders at every committed state reached by INSERT, UPDATE and DELETE
-- (TRUNCATE: 077); src/stats/figures.test.ts holds the kept figures to a recount from the
-- orders on both backends.

-- fillfactor: updated in place all through a sale, possibly with nothing vacuuming them.
CREATE TABLE order_counts (
  event_id uuid NOT NULL,
  -- The writing backend's pid; 0 for the backfill and for merged rows.
  shard integer NOT NULL,
  confirmed bigint NOT NULL DEFAULT 0,
  pending bigint NOT NULL DEFAULT 0,
  failed bigint NOT NULL DEFAULT 0,
  cancelled bigint NOT NULL DEFAULT 0,
  -- total_cents of the confirmed orders.
  revenue_cents bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (event_id, shard)
) WITH (fillfactor = 50);

-- One statement's changes: each order counted +1 under its new image and -1 under its old
-- one, summed per event, written only where something changed (a payment's other updates of
-- an order, such as its failure reason, write nothing).
CREATE FUNCTION order_counts_keep() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO order_counts AS c (event_id, shard, confirmed, pending, failed, cancelled,
                                   revenue_cents)
    SELECT n.event_id, pg_backend_pid(),
           count(*) FILTER (WHERE n.status = 'confirmed'),
           count(*) FILTER (WHERE n.status = 'pending_payment'),
           count(*) FILTER (WHERE n.status = 'payment_failed'),
           count(*) FILTER (WHERE n.status = 'cancelled'),
           coalesce(sum(n.total_cents) FILTER (WHERE n.status = 'confirmed'), 0)
      FROM new_rows n GROUP BY n.event_id ORDER BY n.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
      SET confirmed = c.confirmed + excluded.confirmed, pending = c.pending + excluded.pending,
          failed = c.failed + excluded.failed, cancelled = c.cancelled + excluded.cancelled,
          revenue_cents = c.revenue_cents + excluded.revenue_cents;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO order_counts AS c (event_id, shard, confirmed, pending, failed, cancelled,
                                   revenue_cents)
    SELECT d.event_id, pg_backend_pid(), d.confirmed, d.pending, d.failed, d.cancelled,
           d.revenue_cents
      FROM (SELECT r.event_id,
                   sum(r.sign * (r.status = 'confirmed')::int) AS confirmed,
                   sum(r.sign * (r.status = 'pending_payment')::int) AS pending,
                   sum(r.sign * (r.status = 'payment_failed')::int) AS failed,
                   sum(r.sign * (r.status = 'cancelled')::int) AS cancelled,
                   sum(r.sign * CASE WHEN r.status = 'confirmed' THEN r.total_cents ELSE 0 END)
                     AS revenue_cents
              FROM (SELECT 1 AS sign, n.event_id, n.status, n.total_cents FROM new_rows n
                    UNION ALL
                    SELECT -1, o.event_id, o.status, o.total_cents FROM old_rows o) AS r
             GROUP BY r.event_id) AS d
     WHERE d.confirmed <> 0 OR d.pending <> 0 OR d.failed <> 0 OR d.cancelled <> 0
        OR d.revenue_cents <> 0
     ORDER BY d.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
      SET confirmed = c.confirmed + excluded.confirmed, pending = c.pending + excluded.pending,
          failed = c.failed + excluded.failed, cancelled = c.cancelled + excluded.cancelled,
          revenue_cents = c.revenue_cents + excluded.revenue_cents;
  ELSE
    INSERT INTO order_counts AS c (event_id, shard, confirmed, pending, failed, cancelled,
                                   revenue_cents)
    SELECT o.event_id, pg_backend_pid(),
           -count(*) FILTER (WHERE o.status = 'confirmed'),
           -count(*) FILTER (WHERE o.status = 'pending_payment'),
           -count(*) FILTER (WHERE o.status = 'payment_failed'),
           -count(*) FILTER (WHERE o.status = 'cancelled'),
           -coalesce(sum(o.total_cents) FILTER (WHERE o.status = 'confirmed'), 0)
      FROM old_rows o GROUP BY o.event_id ORDER BY o.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
      SET confirmed = c.confirmed + excluded.confirmed, pending = c.pending + excluded.pending,
          failed = c.failed + excluded.failed, cancelled = c.cancelled + excluded.cancelled,
          revenue_cents = c.revenue_cents + excluded.revenue_cents;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER order_counts_insert AFTER INSERT ON orders
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_counts_keep();
CREATE TRIGGER order_counts_update AFTER UPDATE ON orders
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION order_counts_keep();
CREATE TRIGGER order_counts_delete AFTER DELETE ON orders
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION order_counts_keep();

-- Merges the rows of backends that are gone (a pid no longer in pg_stat_activity) into each
-- event's shard 0, at most p_max rows; rows taken FOR UPDATE SKIP LOCKED, so it
-- never waits on a writer and a busy row is merged on a later call (shard 0 rows are
-- written only here and by the backfill). The sums never change.
CREATE FUNCTION order_counts_compact(p_max int) RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
  v_merged int;
BEGIN
  WITH gone AS (
    DELETE FROM order_counts c
     WHERE (c.event_id, c.shard) IN (
       SELECT x.event_id, x.shard FROM order_counts x
        WHERE x.shard <> 0
          AND x.shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
        ORDER BY x.event_id, x.shard LIMIT p_max FOR UPDATE SKIP LOCKED)
    RETURNING c.*)
  INSERT INTO order_counts AS z (event_id, shard, confirmed, pending, failed, cancelled,
                                 revenue_cents)
  SELECT g.event_id, 0, sum(g.confirmed), sum(g.pending), sum(g.failed), sum(g.cancelled),
         sum(g.revenue_cents)
    FROM gone g GROUP BY g.event_id ORDER BY g.event_id
  ON CONFLICT (event_id, shard) DO UPDATE
    SET confirmed = z.confirmed + excluded.confirmed, pending = z.pending + excluded.pending,
        failed = z.failed + excluded.failed, cancelled = z.cancelled + excluded.cancelled,
        revenue_cents = z.revenue_cents + excluded.revenue_cents;
  GET DIAGNOSTICS v_merged = ROW_COUNT;
  RETURN v_merged;
END
$$;

-- The orders that exist already, as the dashboard counted them (shard 0).
INSERT INTO order_counts (event_id, shard, confirmed, pending, failed, cancelled, revenue_cents)
SELECT event_id, 0,
       count(*) FILTER (WHERE status = 'confirmed'),
       count(*) FILTER (WHERE status = 'pending_payment'),
       count(*) FILTER (WHERE status = 'payment_failed'),
       count(*) FILTER (WHERE status = 'cancelled'),
       coalesce(sum(total_cents) FILTER (WHERE status = 'confirmed'), 0)
  FROM orders GROUP BY event_id;

-- The admission tick's shape of what is left (queue_shape, 047) read the free tickets with a
-- sequential scan of every ticket of the event: planned on a sale's first ticks, when every
-- ticket is unsold and the statistics say so (and stay so while nothing analyzes tickets), a
-- scan is the cheaper plan, and it stays the plan as the sale sells out. It runs on every
-- tick once at most limits.queueShapeScanMax tickets are available: measured by
-- bench/planAudit.ts at 50,000 tickets with 40,000 sold and 8,000 held, 54,002 rows and
-- 1,329 buffers per call, most of a tick between slot releases (67,479 rows, 1,718 buffers).
-- Off sequential scans, as 052 did for hold_batch, it reads tickets_unsold_idx (WHERE
-- order_id IS NULL): the unsold tickets only, which are few exactly when it runs.
ALTER FUNCTION queue_shape(uuid) SET enable_seqscan = off;

-- The dashboard's series (stats/series.ts) counts sales by confirmation time, cancelled ones
-- included (a later cancel does not erase a sale from the chart). orders_event_confirmed_idx
-- (022) is partial on status = 'confirmed', so `status IN ('confirmed', 'cancelled') AND
-- confirmed_at >= …` could not use it and read every order of the event (bench/planAudit.ts:
-- 20,000 rows and 990 buffers a computation, whatever the window). Orders that were ever
-- confirmed by confirmation time: the series' range, however many windows it reads. A
-- confirmation already writes new index entries (its status is in partial predicates), so
-- this adds one more per confirmed order; a cancel leaves confirmed_at as it was.
CREATE INDEX orders_event_settled_idx ON orders (event_id, confirmed_at)
  WHERE confirmed_at IS NOT NULL;
