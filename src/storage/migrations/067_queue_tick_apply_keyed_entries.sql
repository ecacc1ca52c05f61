-- The admission tick's writes find the admitted fans' entries by key, whatever the
-- statistics (plans made on an empty sale).
--
-- queue_tick_apply (053) and the admissions' count trigger (046) look up the entries of
-- the fans a tick admits: a share lock in customer order, then each entry's left_at. Both
-- are static statements of PL/pgSQL functions, so a connection keeps their plans, and the
-- apply runs with force_generic_plan. Planned while the line was (nearly) empty, as at the
-- start of a sale on a fresh database, they kept reading the whole line of the event on
-- every tick: `customer_id = ANY (p_customers)` with an ORDER BY became a bitmap of the
-- primary key on event_id alone, and the trigger's semi-join and LEFT JOIN with the
-- transition table became sequential scans of queue_entries. Measured by
-- bench/planAudit.ts (6 ticks on the empty sale, then a line of 20,000 entries; shared
-- machine, load 12–14): 20,012 entries read by each of the four statements, every tick,
-- ~80,000 rows a tick, growing with the line. The leave's count trigger (queue_counts_entries)
-- looked up each leaver's admission the same way: a sequential scan of queue_admissions
-- per image of the row.
--
-- Now each fan's entry is a LIMIT-fenced lateral on the full primary key (a nested loop
-- over the fans, which keeps the outer customer order the lock needs: the same order as
-- before), and these functions run with sequential scans off, as hold_batch does (052),
-- so the inner lookup is the primary key's. queue_counts_entries's update branch (a
-- leave) finds the admission the same way instead of a NOT EXISTS the planner hashed over
-- the event's admissions; its other branches only evaluate theirs for a row that has left
-- already (rare: never a join), and now run with sequential scans off too. The rows
-- locked, their order, and the counts are unchanged.

-- queue_tick_apply of 053, its entries read by key.
CREATE OR REPLACE FUNCTION queue_tick_apply(
  p_event uuid, p_token bigint, p_seq bigint, p_customers uuid[], p_numbers bigint[],
  p_now timestamptz, p_claim_by timestamptz, p_expires_at timestamptz, p_served bigint,
  p_credit double precision, p_first_admitted_at timestamptz,
  p_rate double precision, p_sold_out boolean, p_supply jsonb, p_pace jsonb,
  p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (outcome text, leader_token bigint, tick_seq bigint)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_seq bigint;
  v_token bigint;
  v_admitted int;
BEGIN
  SELECT s.tick_seq, s.leader_token INTO v_seq, v_token
    FROM queue_state s WHERE s.event_id = p_event FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'queue_tick_apply: no line for event %', p_event;
  END IF;
  IF v_token > p_token AND NOT ('fence' = ANY (p_unguarded)) THEN
    outcome := 'fenced'; leader_token := v_token; tick_seq := v_seq;
    RETURN NEXT; RETURN;
  END IF;
  IF v_seq <> p_seq AND NOT ('sequence' = ANY (p_unguarded)) THEN
    outcome := 'raced'; leader_token := v_token; tick_seq := v_seq;
    RETURN NEXT; RETURN;
  END IF;

  IF cardinality(p_customers) > 0 THEN
    IF NOT ('leave_lock' = ANY (p_unguarded)) THEN
      -- One keyed lookup per fan, in customer order (the outer sort; a LIMIT-fenced
      -- lateral is only ever a nested loop, which keeps it).
      PERFORM 1 FROM (SELECT c FROM unnest(p_customers) AS c ORDER BY c) AS x
        CROSS JOIN LATERAL (SELECT 1 FROM queue_entries e
                             WHERE e.event_id = p_event AND e.customer_id = x.c
                             LIMIT 1 FOR SHARE OF e) AS k;
    END IF;
    INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                  claim_by, expires_at, leader_token, released_at,
                                  release_reason)
    SELECT p_event, x.c, x.n, gen_random_uuid(), p_now, p_claim_by, p_expires_at, p_token,
           CASE WHEN e.left_at IS NOT NULL THEN p_now END,
           CASE WHEN e.left_at IS NOT NULL THEN 'left' END
      FROM unnest(p_customers, p_numbers) AS x(c, n)
      LEFT JOIN LATERAL (SELECT e.left_at FROM queue_entries e
                          WHERE e.event_id = p_event AND e.customer_id = x.c LIMIT 1) AS e
        ON true
     ORDER BY x.n;
    GET DIAGNOSTICS v_admitted = ROW_COUNT;
    IF v_admitted <> cardinality(p_customers) THEN
      RAISE EXCEPTION 'queue_tick_apply: % of % admitted', v_admitted, cardinality(p_customers);
    END IF;
    -- One outbox row per tick (at most the tick's size): the notifier tells each fan.
    INSERT INTO outbox_events (event_id, kind, payload)
    VALUES (p_event, 'queue.admitted', jsonb_build_object('customerIds', to_jsonb(p_customers)));
  END IF;

  UPDATE queue_state s
     SET served_up_to = p_served, admit_credit = p_credit, last_tick_at = p_now,
         first_admitted_at = p_first_admitted_at, rate_per_minute = p_rate,
         sold_out = p_sold_out, tick_seq = v_seq + 1, leader_token = p_token,
         supply = p_supply, pace = p_pace,
         closed_at = CASE WHEN p_sold_out THEN coalesce(s.closed_at, p_now) END
   WHERE s.event_id = p_event;
  outcome := 'ticked'; leader_token := p_token; tick_seq := v_seq + 1;
  RETURN NEXT;
END;
$$;

-- The admissions' count trigger of 046, its entries read by key.
CREATE OR REPLACE FUNCTION queue_counts_admissions() RETURNS trigger
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- The share lock that orders this admission with a leave of the same fan (see above);
    -- the count below is a statement of its own, so it sees a leave committed meanwhile.
    -- (A race test's control turns the lock off with stampede.queue_counts_unguarded.)
    IF coalesce(current_setting('stampede.queue_counts_unguarded', true), '') <> 'lock' THEN
      PERFORM 1 FROM (SELECT n.event_id, n.customer_id FROM new_rows n
                        ORDER BY n.event_id, n.customer_id) AS n
        CROSS JOIN LATERAL (SELECT 1 FROM queue_entries e
                             WHERE e.event_id = n.event_id AND e.customer_id = n.customer_id
                             LIMIT 1 FOR SHARE OF e) AS k;
    END IF;
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(n.event_id, pg_backend_pid(), 0, 0, 0, 0,
                 -count(*) FILTER (WHERE e.left_at IS NOT NULL),
                 count(*), count(*) FILTER (WHERE n.released_at IS NOT NULL),
                 count(*) FILTER (WHERE n.release_reason = 'order'),
                 count(*) FILTER (WHERE n.release_reason = 'left'),
                 count(*) FILTER (WHERE n.release_reason = 'idle'))::queue_counts
        FROM new_rows n
        LEFT JOIN LATERAL (SELECT e.left_at FROM queue_entries e
                            WHERE e.event_id = n.event_id AND e.customer_id = n.customer_id
                            LIMIT 1) AS e ON true
       GROUP BY n.event_id ORDER BY n.event_id));
  ELSIF TG_OP = 'UPDATE' THEN
    -- Most updates are a pass's claim (claimed_at), which changes no count: nothing written.
    PERFORM queue_counts_add(ARRAY(
    SELECT ROW(r.event_id, pg_backend_pid(), 0, 0, 0, 0, 0, 0,
               sum(r.sign * (r.released_at IS NOT NULL)::int),
               sum(r.sign * (r.release_reason = 'order')::int),
               sum(r.sign * (r.release_reason = 'left')::int),
               sum(r.sign * (r.release_reason = 'idle')::int))::queue_counts
      FROM (SELECT 1 AS sign, n.event_id, n.released_at, coalesce(n.release_reason, '')
                     AS release_reason
              FROM new_rows n
            UNION ALL
            SELECT -1, o.event_id, o.released_at, coalesce(o.release_reason, '')
              FROM old_rows o) AS r
     GROUP BY r.event_id
    HAVING sum(r.sign * (r.released_at IS NOT NULL)::int) <> 0
        OR sum(r.sign * (r.release_reason = 'order')::int) <> 0
        OR sum(r.sign * (r.release_reason = 'left')::int) <> 0
        OR sum(r.sign * (r.release_reason = 'idle')::int) <> 0
     ORDER BY r.event_id));
  ELSE
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(o.event_id, pg_backend_pid(), 0, 0, 0, 0,
                 count(*) FILTER (WHERE e.left_at IS NOT NULL),
                 -count(*), -count(*) FILTER (WHERE o.released_at IS NOT NULL),
                 -count(*) FILTER (WHERE o.release_reason = 'order'),
                 -count(*) FILTER (WHERE o.release_reason = 'left'),
                 -count(*) FILTER (WHERE o.release_reason = 'idle'))::queue_counts
        FROM old_rows o
        LEFT JOIN LATERAL (SELECT e.left_at FROM queue_entries e
                            WHERE e.event_id = o.event_id AND e.customer_id = o.customer_id
                            LIMIT 1) AS e ON true
       GROUP BY o.event_id ORDER BY o.event_id));
  END IF;
  RETURN NULL;
END
$$;

-- The entries' count trigger of 046, a leave's admission looked up by key.
CREATE OR REPLACE FUNCTION queue_counts_entries() RETURNS trigger
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(n.event_id, pg_backend_pid(), count(*),
                 count(*) FILTER (WHERE n.number IS NULL),
                 count(*) FILTER (WHERE n.left_reason = 'left'),
                 count(*) FILTER (WHERE n.left_reason = 'waitlist'),
                 count(*) FILTER (WHERE n.left_reason IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM queue_admissions a WHERE a.event_id = n.event_id
                      AND a.customer_id = n.customer_id)),
                 0, 0, 0, 0, 0)::queue_counts
        FROM new_rows n GROUP BY n.event_id ORDER BY n.event_id));
    INSERT INTO queue_join_seconds AS j (event_id, second, shard, joined)
    SELECT n.event_id, floor(extract(epoch FROM n.joined_at))::bigint, pg_backend_pid(),
           count(*)
      FROM new_rows n GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, second, shard) DO UPDATE SET joined = j.joined + excluded.joined;
  ELSIF TG_OP = 'UPDATE' THEN
    -- Both images of a row are judged in one statement (one snapshot), so a row whose
    -- leaving did not change nets to zero whatever the admissions say.
    PERFORM queue_counts_add(ARRAY(
    SELECT ROW(d.event_id, pg_backend_pid(), 0, d.pre_queue, d.left_line, d.waitlist,
               d.left_unadmitted, 0, 0, 0, 0, 0)::queue_counts
      FROM (SELECT r.event_id, sum(r.sign * (r.number IS NULL)::int) AS pre_queue,
                   sum(r.sign * (r.left_reason IS NOT DISTINCT FROM 'left')::int) AS left_line,
                   sum(r.sign * (r.left_reason IS NOT DISTINCT FROM 'waitlist')::int)
                     AS waitlist,
                   coalesce(sum(r.sign) FILTER (WHERE r.left_reason IS NOT NULL
                     AND adm.found IS NULL), 0) AS left_unadmitted
              FROM (SELECT 1 AS sign, n.event_id, n.customer_id, n.number, n.left_reason
                      FROM new_rows n
                    UNION ALL
                    SELECT -1, o.event_id, o.customer_id, o.number, o.left_reason
                      FROM old_rows o) AS r
              LEFT JOIN LATERAL (SELECT true AS found FROM queue_admissions a
                                  WHERE a.event_id = r.event_id
                                    AND a.customer_id = r.customer_id LIMIT 1) AS adm ON true
             GROUP BY r.event_id) AS d
     WHERE d.pre_queue <> 0 OR d.left_line <> 0 OR d.waitlist <> 0 OR d.left_unadmitted <> 0
     ORDER BY d.event_id));
    -- joined_at does not change in the product; a row whose does moves its second.
    INSERT INTO queue_join_seconds AS j (event_id, second, shard, joined)
    SELECT x.event_id, x.second, pg_backend_pid(), sum(x.d)
      FROM (SELECT n.event_id, floor(extract(epoch FROM n.joined_at))::bigint AS second, 1 AS d
              FROM new_rows n
            UNION ALL
            SELECT o.event_id, floor(extract(epoch FROM o.joined_at))::bigint, -1
              FROM old_rows o) AS x
     GROUP BY 1, 2 HAVING sum(x.d) <> 0 ORDER BY 1, 2
    ON CONFLICT (event_id, second, shard) DO UPDATE SET joined = j.joined + excluded.joined;
  ELSE
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(o.event_id, pg_backend_pid(), -count(*),
                 -count(*) FILTER (WHERE o.number IS NULL),
                 -count(*) FILTER (WHERE o.left_reason = 'left'),
                 -count(*) FILTER (WHERE o.left_reason = 'waitlist'),
                 -count(*) FILTER (WHERE o.left_reason IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM queue_admissions a WHERE a.event_id = o.event_id
                      AND a.customer_id = o.customer_id)),
                 0, 0, 0, 0, 0)::queue_counts
        FROM old_rows o GROUP BY o.event_id ORDER BY o.event_id));
    INSERT INTO queue_join_seconds AS j (event_id, second, shard, joined)
    SELECT o.event_id, floor(extract(epoch FROM o.joined_at))::bigint, pg_backend_pid(),
           -count(*)
      FROM old_rows o GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, second, shard) DO UPDATE SET joined = j.joined + excluded.joined;
  END IF;
  RETURN NULL;
END
$$;
