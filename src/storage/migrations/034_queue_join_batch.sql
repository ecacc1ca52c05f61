-- A join batch in one round trip (src/queue/line.ts).
--
-- A batch of joins was a transaction of six round trips: BEGIN, lock the line's numbering
-- row, look up the batch's entries and token versions, insert the newcomers, move
-- last_number, COMMIT. One batch is in flight per line and node, so its round trips are
-- the pace of the whole line on that node: each of them waits for PostgreSQL and then for
-- a turn of a busy event loop before the next can be sent. This function does the same
-- in one call: it takes the lock in a statement of its own, so the statement after it
-- reads with a snapshot taken once the lock is held (plpgsql takes one per statement in
-- READ COMMITTED) and sees every entry committed by the batches that held it before, on
-- any node. The decisions are those of the transaction it replaces:
-- - the line's rows are created on first use;
-- - a customer whose token version (`p_versions`, NULL when not compared) is older than
--   their current one is 'revoked' and joins nothing;
-- - a customer already in the line is 'known' and gets their entry back as it stands
--   (number, left or not);
-- - the others are 'joined' in the order of `p_customers` (distinct ids, arrival order):
--   before on-sale into the pre-queue (no number), after it numbered last_number + 1, …
-- On-sale is judged by `p_now` (a test's pinned clock) or else the database clock read
-- under the lock. When on-sale has passed and the pre-queue's numbers are not reserved yet,
-- the function changes nothing and answers one row 'draw_due': the caller runs the
-- reservation (src/queue/draw.ts) and the batch in a transaction of its own, once per line.
-- `p_unguarded` is for a race test's control only: 'numbering' reads the row without
-- locking it.
CREATE FUNCTION queue_join_batch(p_event uuid, p_customers uuid[], p_versions int[],
                                 p_on_sale_at timestamptz, p_now timestamptz DEFAULT NULL,
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
      LEFT JOIN customers cu ON r.v IS NOT NULL AND cu.customer_id = r.c
  ), known AS (
    SELECT e.customer_id, e.number, e.left_at IS NOT NULL AS gone
      FROM queue_entries e WHERE e.event_id = p_event AND e.customer_id = ANY(p_customers)
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
