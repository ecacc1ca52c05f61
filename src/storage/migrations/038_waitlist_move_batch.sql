-- A batch of moves from the line to the waitlist in one round trip (src/queue/handover.ts).
--
-- At sold out every fan in the line is offered the waitlist at once, and their moves are
-- group committed per event and node, one batch in flight. A batch was a transaction of 14
-- round trips (BEGIN, the block's base, the line entries locked, the database clock, the
-- hold locks, what each fan holds and owns, the waitlist entries locked and read, insert,
-- update, positions, leave the line, give back passes, COMMIT), so on a busy box each batch
-- waited for PostgreSQL and then for a turn of the event loop fourteen times, and the herd
-- moved at that pace (bench/herd.ts). This function makes the same decisions in one call,
-- each step a statement of its own so that every read after a lock sees what the lock's
-- previous holders committed (plpgsql takes a snapshot per statement in READ COMMITTED):
--
-- 1. the line's block of waitlist places (queue/waitblock.ts): when it is not reserved yet
--    the function changes nothing and answers one row 'base_due'; the caller reserves it
--    in a transaction of its own (once per line) and calls again;
-- 2. the fans' line entries, locked in customer order: 'not_found' (never in the line),
--    'already_left' (left, or moved already);
-- 3. the sale window by the database clock, and the caller's own checks (`p_valid`: zone
--    and quantity): 'refused' changes nothing and the caller words the reason;
-- 4. the fans' hold locks in lock-key order (the order hold_batch takes them), then what
--    each holds and owns, then their waitlist entries locked in customer order;
-- 5. per fan: an entry still active (waiting, or a live offer) is kept ('known'; a waiting
--    one moves up to its block place if that is earlier), over the per-customer limit is
--    'over_limit', else the fan takes the block place `base + number` ('joined');
-- 6. the movers leave the line (`left_reason = 'waitlist'`, at `p_left_at` or now) and
--    their live passes are given back;
-- 7. one row per fan, with its entry and, while waiting, its position from the bucket
--    counts (migration 037).
CREATE FUNCTION waitlist_move_batch(p_event uuid, p_customers uuid[], p_zones text[],
                                    p_quantities int[], p_valid boolean[],
                                    p_max_per_customer int, p_left_at timestamptz)
RETURNS TABLE (customer uuid, outcome text, entry_number bigint, left_reason text,
               used int, now_ms float8, zone_key text, quantity int, status text,
               offer_hold_id uuid, created_at timestamptz, hold_state text,
               hold_live boolean, hold_expires_at timestamptz, entry_position int,
               event_over boolean)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
  v_line boolean;
  v_base bigint;
  v_open boolean;
  v_candidates uuid[];
  v_movers uuid[];
  v_c uuid[];
  v_outcome text[];
  v_number bigint[];
  v_left_reason text[];
  v_used int[];
  v_zone text[];
  v_qty int[];
  v_place bigint[];
  v_kept uuid[];
  v_kept_place bigint[];
  v_left_at timestamptz := coalesce(p_left_at, now());
BEGIN
  SELECT true, s.waitlist_seq_base INTO v_line, v_base
    FROM queue_state s WHERE s.event_id = p_event;
  IF v_base IS NULL THEN
    RETURN QUERY SELECT NULL::uuid, CASE WHEN v_line THEN 'base_due' ELSE 'no_line' END,
      NULL::bigint, NULL::text, NULL::int, NULL::float8, NULL::text, NULL::int, NULL::text,
      NULL::uuid, NULL::timestamptz, NULL::text, NULL::boolean, NULL::timestamptz,
      NULL::int, NULL::boolean;
    RETURN;
  END IF;

  PERFORM 1 FROM queue_entries q
    WHERE q.event_id = p_event AND q.customer_id = ANY(p_customers)
    ORDER BY q.customer_id FOR UPDATE;
  SELECT e.cancelled_at IS NULL AND e.on_sale_at <= now() AND e.starts_at > now()
    INTO v_open FROM events e WHERE e.event_id = p_event;

  SELECT coalesce(array_agg(r.c), '{}') INTO v_candidates
    FROM unnest(p_customers, p_valid) AS r(c, ok)
    JOIN queue_entries q ON q.event_id = p_event AND q.customer_id = r.c
   WHERE q.left_reason IS NULL AND r.ok AND coalesce(v_open, false);

  PERFORM pg_advisory_xact_lock(k)
     FROM (SELECT DISTINCT hashtextextended(c::text || p_event::text, 7) AS k
             FROM unnest(v_candidates) AS c ORDER BY 1) AS keys;
  PERFORM 1 FROM waitlist_entries w
    WHERE w.event_id = p_event AND w.customer_id = ANY(v_candidates)
    ORDER BY w.customer_id FOR UPDATE;

  -- Decided after every lock is held, in one statement (one snapshot), kept in arrays in
  -- the order of p_customers (`moves` below reads them back as rows).
  SELECT array_agg(d.c ORDER BY d.i), array_agg(d.outcome ORDER BY d.i),
         array_agg(d.number ORDER BY d.i), array_agg(d.left_reason ORDER BY d.i),
         array_agg(d.used ORDER BY d.i), array_agg(d.zone ORDER BY d.i),
         array_agg(d.qty ORDER BY d.i), array_agg(d.place ORDER BY d.i)
    INTO v_c, v_outcome, v_number, v_left_reason, v_used, v_zone, v_qty, v_place
    FROM (
      SELECT r.i, r.c, r.zone, r.qty, q.number, q.left_reason, u.used,
             -- The block place to take: a fan joining takes it; a fan waiting already
             -- takes it only if it is earlier; a live offer keeps its entry as it is.
             CASE WHEN w.status = 'waiting'
                    THEN CASE WHEN v_base + q.number < w.seq THEN v_base + q.number END
                  WHEN w.status = 'offered' AND h.state = 'held' AND h.claim_expires_at > now()
                    THEN NULL
                  ELSE v_base + q.number END AS place,
             CASE WHEN q.customer_id IS NULL THEN 'not_found'
                  WHEN q.left_reason IS NOT NULL THEN 'already_left'
                  WHEN NOT (r.c = ANY(v_candidates)) THEN 'refused'
                  WHEN w.status = 'waiting' THEN 'known'
                  WHEN w.status = 'offered' AND h.state = 'held' AND h.claim_expires_at > now()
                    THEN 'known'
                  WHEN u.used + r.qty > p_max_per_customer THEN 'over_limit'
                  ELSE 'joined' END AS outcome
        FROM unnest(p_customers, p_zones, p_quantities) WITH ORDINALITY AS r(c, zone, qty, i)
        LEFT JOIN queue_entries q ON q.event_id = p_event AND q.customer_id = r.c
        LEFT JOIN (SELECT w.customer_id, w.status, w.seq, w.offer_hold_id
                     FROM waitlist_entries w
                    WHERE w.event_id = p_event AND w.customer_id = ANY(v_candidates)
                   OFFSET 0) AS w ON w.customer_id = r.c
        LEFT JOIN holds h ON h.hold_id = w.offer_hold_id
        LEFT JOIN LATERAL (
          SELECT ((SELECT coalesce(sum(hh.quantity), 0) FROM holds hh
                    WHERE hh.customer_id = r.c AND hh.event_id = p_event
                      AND hh.state = 'held' AND hh.claim_expires_at > now())
                + (SELECT coalesce(sum(o.quantity), 0) FROM orders o
                    WHERE o.customer_id = r.c AND o.event_id = p_event
                      AND o.status = 'confirmed'))::int AS used
           WHERE r.c = ANY(v_candidates)
        ) AS u ON true
    ) AS d;

  INSERT INTO waitlist_entries AS w (event_id, customer_id, zone_key, quantity, status, seq)
  SELECT p_event, m.customer, m.zone_key, m.quantity, 'waiting',
         coalesce(m.place, nextval('waitlist_seq'))
    FROM unnest(v_c, v_outcome, v_number, v_left_reason, v_used, v_zone, v_qty, v_place)
      AS m(customer, outcome, number, left_reason, used, zone_key, quantity, place)
   WHERE m.outcome = 'joined' ORDER BY m.customer
  ON CONFLICT (event_id, customer_id) DO UPDATE
    SET seq = excluded.seq, zone_key = excluded.zone_key, quantity = excluded.quantity,
        status = 'waiting', offer_hold_id = NULL, created_at = now(), updated_at = now();
  -- A fan waiting already moves up to their block place if it is earlier (`place` is set
  -- for them only then; never for a live offer).
  SELECT coalesce(array_agg(m.customer), '{}'), coalesce(array_agg(m.place), '{}')
    INTO v_kept, v_kept_place
    FROM unnest(v_c, v_outcome, v_number, v_left_reason, v_used, v_zone, v_qty, v_place)
      AS m(customer, outcome, number, left_reason, used, zone_key, quantity, place)
   WHERE m.outcome = 'known' AND m.place IS NOT NULL;
  IF cardinality(v_kept) > 0 THEN
    UPDATE waitlist_entries w SET seq = k.place
      FROM unnest(v_kept, v_kept_place) AS k(c, place)
     WHERE w.event_id = p_event AND w.customer_id = ANY(v_kept) AND w.customer_id = k.c;
  END IF;

  SELECT coalesce(array_agg(m.customer), '{}') INTO v_movers
    FROM unnest(v_c, v_outcome, v_number, v_left_reason, v_used, v_zone, v_qty, v_place)
      AS m(customer, outcome, number, left_reason, used, zone_key, quantity, place)
   WHERE m.outcome IN ('joined', 'known');
  UPDATE queue_entries q SET left_at = v_left_at, left_reason = 'waitlist'
   WHERE q.event_id = p_event AND q.customer_id = ANY(v_movers) AND q.left_at IS NULL;
  UPDATE queue_admissions a SET released_at = v_left_at, release_reason = 'left'
   WHERE a.event_id = p_event AND a.customer_id = ANY(v_movers)
     AND a.released_at IS NULL AND a.expires_at > v_left_at
     AND (a.claimed_at IS NOT NULL OR a.claim_by > v_left_at);

  -- Read by key (`= ANY`), each part once: on tables not analyzed since the sale began,
  -- a join to waitlist_entries is planned as a walk over every entry of the event.
  RETURN QUERY
  WITH moves AS MATERIALIZED (
    SELECT * FROM unnest(v_c, v_outcome, v_number, v_left_reason, v_used, v_zone, v_qty, v_place)
      AS m(customer, outcome, number, left_reason, used, zone_key, quantity, place)
  ), ent AS MATERIALIZED (
    SELECT w.customer_id, w.seq, w.zone_key, w.quantity, w.status, w.offer_hold_id,
           w.created_at, h.state AS hold_state, h.claim_expires_at, h.expires_at
      FROM waitlist_entries w LEFT JOIN holds h ON h.hold_id = w.offer_hold_id
     WHERE w.event_id = p_event AND w.customer_id = ANY(v_movers)
  ), pos AS MATERIALIZED (
    SELECT x.customer_id, x.seq,
           sum(x.n) OVER (ORDER BY x.bucket, x.kind, x.customer_id ROWS UNBOUNDED PRECEDING)
             AS ahead
      FROM (SELECT w.customer_id, w.seq, waitlist_bucket(w.seq) AS bucket, 0 AS kind, 0 AS n
              FROM ent w WHERE w.status = 'waiting'
            UNION ALL
            SELECT NULL, NULL, c.bucket, 1, c.waiting FROM waitlist_counts c
             WHERE c.event_id = p_event
               AND c.bucket < (SELECT waitlist_bucket(max(w.seq)) FROM ent w
                                WHERE w.status = 'waiting')) AS x
  )
  SELECT m.customer, m.outcome, m.number, m.left_reason, m.used,
         extract(epoch FROM now())::float8 * 1000, w.zone_key, w.quantity, w.status,
         w.offer_hold_id, w.created_at, w.hold_state, (w.claim_expires_at > now()),
         w.expires_at,
         (p.ahead + (SELECT count(*) FROM waitlist_entries o
                      WHERE o.event_id = p_event AND o.status = 'waiting'
                        AND o.seq >= waitlist_bucket(p.seq) << 6 AND o.seq <= p.seq))::int,
         (e.cancelled_at IS NOT NULL OR e.starts_at <= now())
    FROM moves m
    LEFT JOIN ent w ON m.outcome IN ('joined', 'known') AND w.customer_id = m.customer
    LEFT JOIN pos p ON p.customer_id = m.customer
    CROSS JOIN (SELECT ev.cancelled_at, ev.starts_at FROM events ev
                 WHERE ev.event_id = p_event) AS e;
END
$$;
