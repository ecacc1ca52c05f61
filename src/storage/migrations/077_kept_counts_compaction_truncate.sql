-- The dashboard's kept figures (076), corrected.
--
-- order_counts_compact returned the number of events whose shard 0 it updated, while its
-- caller (orders/counts.ts) reported it as rows merged: it now returns the rows it merged
-- (deleted into shard 0), the figure that says whether compaction keeps up with the churn.
--
-- ticket_counts (047) was compacted only by the admission tick (queue_counts_compact), so for
-- an event without a waiting room its rows grew by one per database backend that ever sold
-- or returned a ticket of it (each pool connection, each reconnect), and the dashboard's sum
-- of sold tickets with them. ticket_counts_compact merges them for every event from the
-- booking maintenance (orders/workers.ts) with the tick's care: shard 0 and the rows of
-- backends that are gone taken FOR UPDATE SKIP LOCKED, so neither a tick nor a writer ever
-- waits on it, and a busy row is merged on a later run. The sums never change.
--
-- TRUNCATE orders fires no row or statement trigger of 076, so order_counts kept the counts
-- of orders that no longer existed. An AFTER TRUNCATE trigger now empties order_counts in
-- the same transaction (TRUNCATE holds orders exclusively: no writer of order_counts is
-- running). TRUNCATE of tickets leaves ticket_counts as it was, as before: not supported.
--
-- recountOrderCounts (orders/counts.ts) only reads; order_counts_rebuild() replaces the
-- kept rows with a count from the orders (076's backfill), for an operator who finds them in
-- doubt. It blocks checkouts and payments for its one pass over the orders.
--
-- queue_shape (047) read the free tickets with sequential scans off through an ALTER
-- FUNCTION (076), outside its definition: a later CREATE OR REPLACE copying the body from 047
-- would drop it without a word. The setting is now part of the definition.

CREATE OR REPLACE FUNCTION order_counts_compact(p_max int) RETURNS int
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
    RETURNING c.*),
  merged AS (
    INSERT INTO order_counts AS z (event_id, shard, confirmed, pending, failed, cancelled,
                                   revenue_cents)
    SELECT g.event_id, 0, sum(g.confirmed), sum(g.pending), sum(g.failed), sum(g.cancelled),
           sum(g.revenue_cents)
      FROM gone g GROUP BY g.event_id ORDER BY g.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
      SET confirmed = z.confirmed + excluded.confirmed, pending = z.pending + excluded.pending,
          failed = z.failed + excluded.failed, cancelled = z.cancelled + excluded.cancelled,
          revenue_cents = z.revenue_cents + excluded.revenue_cents)
  SELECT count(*)::int INTO v_merged FROM gone;
  RETURN v_merged;
END
$$;

-- Merges the ticket_counts rows of backends that are gone into shard 0, event by event, at
-- most p_max rows in all; never waits for a row lock (see the header). Returns the rows merged.
CREATE FUNCTION ticket_counts_compact(p_max int) RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
  v_event uuid;
  v_merged int := 0;
  v_n int;
BEGIN
  FOR v_event IN
    SELECT DISTINCT x.event_id FROM ticket_counts x
     WHERE x.shard <> 0
       AND x.shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
     ORDER BY x.event_id
  LOOP
    EXIT WHEN v_merged >= p_max;
    INSERT INTO ticket_counts (event_id, shard) VALUES (v_event, 0) ON CONFLICT DO NOTHING;
    PERFORM 1 FROM ticket_counts WHERE event_id = v_event AND shard = 0
      FOR UPDATE SKIP LOCKED;
    CONTINUE WHEN NOT FOUND;
    WITH gone AS (
      DELETE FROM ticket_counts c
       WHERE c.event_id = v_event AND c.shard IN (
         SELECT x.shard FROM ticket_counts x
          WHERE x.event_id = v_event AND x.shard <> 0
            AND x.shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
          ORDER BY x.shard LIMIT p_max - v_merged FOR UPDATE SKIP LOCKED)
      RETURNING c.*),
    merged AS (
      UPDATE ticket_counts z SET tickets = z.tickets + g.tickets, sold = z.sold + g.sold
        FROM (SELECT count(*) AS n, coalesce(sum(tickets), 0) AS tickets,
                     coalesce(sum(sold), 0) AS sold FROM gone) AS g
       WHERE z.event_id = v_event AND z.shard = 0 AND g.n > 0)
    SELECT count(*)::int INTO v_n FROM gone;
    v_merged := v_merged + v_n;
  END LOOP;
  RETURN v_merged;
END
$$;

CREATE FUNCTION order_counts_truncated() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  DELETE FROM order_counts;
  RETURN NULL;
END
$$;

CREATE TRIGGER order_counts_truncate AFTER TRUNCATE ON orders
  FOR EACH STATEMENT EXECUTE FUNCTION order_counts_truncated();

-- Writers of orders wait (SHARE on orders, after the in-flight ones committed their counts),
-- then compaction (EXCLUSIVE on order_counts; readers go on): the counts from the orders,
-- in shard 0. Returns the events counted.
CREATE FUNCTION order_counts_rebuild() RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
  v_events int;
BEGIN
  LOCK TABLE orders IN SHARE MODE;
  LOCK TABLE order_counts IN EXCLUSIVE MODE;
  DELETE FROM order_counts;
  INSERT INTO order_counts (event_id, shard, confirmed, pending, failed, cancelled,
                            revenue_cents)
  SELECT event_id, 0,
         count(*) FILTER (WHERE status = 'confirmed'),
         count(*) FILTER (WHERE status = 'pending_payment'),
         count(*) FILTER (WHERE status = 'payment_failed'),
         count(*) FILTER (WHERE status = 'cancelled'),
         coalesce(sum(total_cents) FILTER (WHERE status = 'confirmed'), 0)
    FROM orders GROUP BY event_id;
  GET DIAGNOSTICS v_events = ROW_COUNT;
  RETURN v_events;
END
$$;

-- The shape of what is left (047's body, unchanged), with sequential scans off in its
-- definition (076 gives the measurements: tickets_unsold_idx instead of every ticket).
CREATE OR REPLACE FUNCTION queue_shape(p_event uuid)
RETURNS TABLE (kind text, size int, n int)
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
  WITH free AS (
    SELECT section_key, row_index, seat_number FROM tickets t
     WHERE t.event_id = p_event AND t.order_id IS NULL
       AND (t.hold_id IS NULL OR t.hold_expires_at <= now())
  ), runs AS (
    SELECT count(*)::int AS len FROM (
      SELECT section_key, row_index,
             seat_number - row_number() OVER (
               PARTITION BY section_key, row_index ORDER BY seat_number) AS grp
        FROM free WHERE seat_number IS NOT NULL) AS s
     GROUP BY section_key, row_index, grp
  )
  SELECT 'run', len, count(*)::int FROM runs GROUP BY len
  UNION ALL
  SELECT 'standing', 0, count(*)::int FROM free WHERE seat_number IS NULL
  UNION ALL
  SELECT 'cart', quantity, count(*)::int FROM holds
   WHERE event_id = p_event AND state = 'held' AND claim_expires_at > now()
     AND expires_at > now() GROUP BY quantity
  UNION ALL
  SELECT 'hold', quantity, sum(holds)::int FROM hold_sizes WHERE event_id = p_event
   GROUP BY quantity HAVING sum(holds) <> 0
$$;
