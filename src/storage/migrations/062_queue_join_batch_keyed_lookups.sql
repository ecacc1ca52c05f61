-- A join batch reads only its own customers' rows (queue_join_batch of migration 034, its
-- decisions unchanged).
--
-- The function runs with `plan_cache_mode = force_generic_plan`: its plans are made once
-- per connection and kept until the tables are analyzed again. Made while the line is empty
-- (the first batches of a sale; statistics say a handful of rows per event), the lookup of
-- the batch's known customers, `event_id = $1 AND customer_id = ANY($2)`, was planned as a
-- bitmap scan of the primary key on `event_id` alone with the customers as a filter: every
-- batch read every entry of the line and compared it with every customer of the batch.
-- Measured with auto_explain on one connection whose first batch met an empty line, with
-- 38,000 entries (bench/joinStatement.ts, shared machine, load 7-8): the lookup read 38,165
-- rows (692 buffers) to find none, 13.9 ms of a 16-join batch's 16.5 ms and 28.2 ms of a
-- 64-join batch's 30.5 ms; backend CPU 293-879 us per join at batches of 64-8. The cost grew
-- with the line, so a 1,000,000-fan sale paid it 25 times over, once per batch, while the
-- batch held the numbering lock every other join of the line waits for.
--
-- Now each customer of the batch is looked up by the whole primary key from the list: a
-- lateral subquery per customer, fenced with LIMIT 1 so the planner cannot flatten it back
-- into a join over the event's entries (it did, as a hash join over the same bitmap scan,
-- without the fence). A unique index with every key column given is at most one row, the
-- cheapest path whatever the statistics say. The token versions are looked up
-- the same way (`customers` by its primary key; the hash join over a sequential scan of
-- `customers` it could plan read every customer per batch).
CREATE OR REPLACE FUNCTION queue_join_batch(p_event uuid, p_customers uuid[], p_versions int[],
                                            p_on_sale_at timestamptz,
                                            p_now timestamptz DEFAULT NULL,
                                            p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (customer uuid, outcome text, entry_number bigint, has_left boolean,
               current_version int)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  v_last bigint;
  v_drawn timestamptz;
  v_now timestamptz;
  v_locked boolean := NOT ('numbering' = ANY(p_unguarded));
BEGIN
  FOR attempt IN 1..2 LOOP
    IF v_locked THEN
      SELECT q.last_number, q.drawn_at, clock_timestamp() INTO v_last, v_drawn, v_now
        FROM queue_numbering q WHERE q.event_id = p_event FOR UPDATE;
    ELSE
      SELECT q.last_number, q.drawn_at, clock_timestamp() INTO v_last, v_drawn, v_now
        FROM queue_numbering q WHERE q.event_id = p_event;
    END IF;
    EXIT WHEN FOUND;
    -- The line's first join: both rows together, so a numbering row means the line exists.
    INSERT INTO queue_numbering (event_id) VALUES (p_event) ON CONFLICT (event_id) DO NOTHING;
    INSERT INTO queue_state (event_id) VALUES (p_event) ON CONFLICT (event_id) DO NOTHING;
  END LOOP;
  v_now := coalesce(p_now, v_now);
  IF v_drawn IS NULL AND v_now >= p_on_sale_at THEN
    RETURN QUERY SELECT NULL::uuid, 'draw_due'::text, NULL::bigint, NULL::boolean, NULL::int;
    RETURN;
  END IF;
  RETURN QUERY
  WITH req AS (
    SELECT r.c, r.v, r.ord, cu.token_version AS cur
      FROM unnest(p_customers, p_versions) WITH ORDINALITY AS r(c, v, ord)
      LEFT JOIN LATERAL (
        SELECT x.token_version FROM customers x WHERE x.customer_id = r.c AND r.v IS NOT NULL
         LIMIT 1
      ) cu ON true
  ), known AS (
    SELECT e.customer_id, e.number, e.gone
      FROM unnest(p_customers) AS u(c)
      CROSS JOIN LATERAL (
        SELECT x.customer_id, x.number, x.left_at IS NOT NULL AS gone
          FROM queue_entries x WHERE x.event_id = p_event AND x.customer_id = u.c
         LIMIT 1
      ) e
  ), fresh AS (
    SELECT req.c, row_number() OVER (ORDER BY req.ord) AS k
      FROM req
     WHERE NOT coalesce(req.cur > req.v, false)
       AND NOT EXISTS (SELECT 1 FROM known WHERE known.customer_id = req.c)
  ), added AS (
    INSERT INTO queue_entries (event_id, customer_id, number, pre_queue, joined_at)
    SELECT p_event, fresh.c, CASE WHEN v_drawn IS NULL THEN NULL ELSE v_last + fresh.k END,
           v_drawn IS NULL, v_now
      FROM fresh
    RETURNING queue_entries.customer_id, queue_entries.number
  ), moved AS (
    UPDATE queue_numbering SET last_number = v_last + (SELECT count(*) FROM added)
     WHERE queue_numbering.event_id = p_event AND v_drawn IS NOT NULL
       AND EXISTS (SELECT 1 FROM added)
  )
  SELECT req.c,
         CASE WHEN a.customer_id IS NOT NULL THEN 'joined'
              WHEN coalesce(req.cur > req.v, false) THEN 'revoked'
              WHEN k.customer_id IS NOT NULL THEN 'known'
              ELSE 'missing' END,
         coalesce(a.number, k.number), coalesce(k.gone, false), req.cur
    FROM req
    LEFT JOIN added a ON a.customer_id = req.c
    LEFT JOIN known k ON k.customer_id = req.c
   ORDER BY req.ord;
END;
$$;
