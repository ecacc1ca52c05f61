-- The admission tick in two round trips (src/queue/admission.ts tickLine).
--
-- A tick used to be about twelve sequential statements in one transaction holding the
-- line's queue_state row lock: lock, clock, reconcile orders, release idle slots, figures,
-- the run of fans after servedUpTo, admissions, outbox, state, plus BEGIN and COMMIT, and
-- the draw's checks before it. Half of its time was between statements. Now:
--
--  1. queue_tick_begin: checks the fencing token, reads the database clock, frees the slots
--     of completed orders and of idle shoppers (one statement), and returns the line's
--     state, its figures (tickets, holds, slots; the shape of what is left when few
--     tickets are), and the run of fans after servedUpTo that this tick could admit at
--     most. One commit, no queue_state lock.
--  2. JS decides, with the pure rules it always had (accrue, inventoryRoom, nextPace): how
--     many to admit, who (the walk over the run), the new credit, rate and pace.
--  3. queue_tick_apply: takes the queue_state row lock, refuses a deposed leader (fencing
--     token) and a plan made on state another tick has changed since (tick_seq), then
--     admits the chosen fans, writes the outbox row and the new state. One commit.
--
-- Serial ticks, as under the old lock: a plan applies only if no tick committed between
-- its read and its apply (tick_seq is bumped by every tick, under the lock), so two ticks
-- can never both admit from the same servedUpTo, and ticks commit in the order of their
-- clock readings. The lock is held for one statement instead of twelve round trips.
--
-- Slot releases lock queue_admissions rows in customer order in one statement, as
-- hold_batch's pass claim does (migration 035): the two can wait for each other but never
-- deadlock, and the tick holds no other lock while it releases.
--
-- `p_unguarded` (race tests' controls only) may name 'fence' (no fencing check),
-- 'sequence' (no tick_seq check: a stale plan is applied) and 'slot_order' (slots freed in
-- reverse customer order, against hold_batch's).

-- The tick's figures in one read (supply.ts): one pass over the event's unsold tickets,
-- the event's holds once, the waitlist's bucket counts, and the shoppers' slots by the
-- tick's instant. Ticket states by the database clock, as every ticket query.
-- A SQL function of one SELECT: inlined where it is called, so EXPLAIN shows its plan.
CREATE OR REPLACE FUNCTION queue_tick_figures(p_event uuid, p_now timestamptz,
                                              p_seeker_seconds double precision)
RETURNS TABLE (held int, available int, kept int, holds int, tickets double precision,
               waitlist int, seekers int, left_lately int, live int, last_minute int)
LANGUAGE sql STABLE
AS $$
  WITH t AS (
    SELECT count(*) FILTER (WHERE t.hold_id IS NOT NULL AND t.hold_expires_at > now())::int
             AS held,
           count(*) FILTER (WHERE t.hold_id IS NULL OR t.hold_expires_at <= now())::int
             AS available,
           -- In a cart whose payment is under way, or offered to the waitlist. CASE, so the
           -- lookups run for live holds only (AND goes on past a NULL expiry).
           count(*) FILTER (WHERE CASE WHEN t.hold_expires_at > now() THEN
             EXISTS (SELECT 1 FROM orders o
                      WHERE o.hold_id = t.hold_id AND o.status = 'pending_payment')
             OR EXISTS (SELECT 1 FROM waitlist_offers w WHERE w.hold_id = t.hold_id)
             ELSE false END)::int AS kept
      FROM tickets t WHERE t.event_id = p_event AND t.order_id IS NULL
  ), h AS (
    SELECT count(*)::int AS holds, avg(quantity)::float8 AS tickets
      FROM holds WHERE event_id = p_event
  )
  SELECT t.held, t.available, t.kept, h.holds, h.tickets,
    -- The bucket counts (migration 037), not a walk over a waitlist the herd grows.
    (SELECT coalesce(sum(c.waiting), 0) FROM waitlist_counts c
      WHERE c.event_id = p_event)::int,
    (SELECT count(*) FROM queue_admissions a
      WHERE a.event_id = p_event AND a.released_at IS NULL AND a.expires_at > p_now
        AND (a.claimed_at IS NOT NULL OR a.claim_by > p_now)
        AND NOT EXISTS (SELECT 1 FROM holds h
                         WHERE h.event_id = a.event_id AND h.customer_id = a.customer_id
                           AND h.state = 'held' AND h.expires_at > now())
        AND (coalesce(a.claimed_at, a.admitted_at)
               > p_now - p_seeker_seconds * interval '1 second'
             OR EXISTS (SELECT 1 FROM holds h
                         WHERE h.event_id = a.event_id AND h.customer_id = a.customer_id
                           AND h.ended_at > now() - p_seeker_seconds * interval '1 second'))
    )::int,
    (SELECT count(*) FROM queue_admissions a
      WHERE a.event_id = p_event AND a.release_reason = 'left'
        AND a.released_at > p_now - p_seeker_seconds * interval '1 second')::int,
    (SELECT count(*) FROM queue_admissions a
      WHERE a.event_id = p_event AND a.released_at IS NULL AND a.expires_at > p_now
        AND (a.claimed_at IS NOT NULL OR a.claim_by > p_now))::int,
    (SELECT count(*) FROM queue_admissions
      WHERE event_id = p_event AND admitted_at > p_now - interval '1 minute')::int
    FROM t, h
$$;

-- The shape of what is left (supply.ts readShape): runs of adjacent free seats per row
-- (gaps and islands over seat numbers), free standing units, live holds by size, and the
-- event's holds by size; one walk of the unsold tickets (partial index of 016).
CREATE OR REPLACE FUNCTION queue_shape(p_event uuid)
RETURNS TABLE (kind text, size int, n int)
LANGUAGE sql STABLE
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
   WHERE event_id = p_event AND state = 'held' AND expires_at > now() GROUP BY quantity
  UNION ALL
  SELECT 'hold', quantity, count(*)::int FROM holds WHERE event_id = p_event GROUP BY quantity
$$;

-- Step 1 of a tick (see the header). No row when the line has no state (nobody joined).
-- `outcome` is 'fenced' (a newer leader has ticked; nothing was done), 'draw' (the
-- pre-queue's draw has work to do before admission: the caller runs it, then calls again
-- with p_check_draw false; nothing was done) or 'ready'.
-- `p_now` pins the tick's instant (tests with a manual clock); NULL reads the database
-- clock. The run returned holds at most as many fans who have not left as the tick could
-- admit (`p_admit_cap`, the per-minute and live-shopper caps, the credit), and
-- the leavers among and right behind them, up to `p_leavers` more numbers. The run stops
-- at the first number not assigned yet (a pre-queue number the draw has not reached).
CREATE OR REPLACE FUNCTION queue_tick_begin(
  p_event uuid, p_token bigint, p_now timestamptz, p_check_draw boolean,
  p_on_sale_at timestamptz, p_idle_seconds double precision, p_pass_seconds double precision,
  p_seeker_seconds double precision, p_admit_cap int, p_admit_per_minute int,
  p_max_active int, p_leavers int, p_shape_max int, p_tick_ms double precision,
  p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (
  outcome text, now timestamptz, served_up_to bigint, admit_credit double precision,
  last_tick_at timestamptz, first_admitted_at timestamptz, tick_seq bigint,
  leader_token bigint, closed_at timestamptz, pace jsonb, released int,
  held int, available int, kept int, holds int, tickets double precision, waitlist int,
  seekers int, left_lately int, live int, last_minute int,
  run_customers uuid[], run_numbers bigint[], run_left boolean[], shape jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
  v_state queue_state%ROWTYPE;
  v_now timestamptz;
  v_cap int;
  v_left int;
BEGIN
  SELECT * INTO v_state FROM queue_state s WHERE s.event_id = p_event;
  IF NOT FOUND THEN RETURN; END IF;
  IF v_state.leader_token > p_token AND NOT ('fence' = ANY (p_unguarded)) THEN
    outcome := 'fenced'; leader_token := v_state.leader_token;
    RETURN NEXT; RETURN;
  END IF;
  -- Read after the state: a tick that committed before this read has an earlier instant.
  v_now := coalesce(p_now, clock_timestamp());
  IF p_check_draw AND v_now >= p_on_sale_at AND (
       EXISTS (SELECT 1 FROM queue_numbering n
                WHERE n.event_id = p_event AND n.drawn_at IS NULL)
       OR EXISTS (SELECT 1 FROM queue_draws d
                   WHERE d.event_id = p_event AND d.phase <> 'done')) THEN
    outcome := 'draw'; now := v_now; RETURN NEXT; RETURN;
  END IF;

  -- Free the slots of shoppers whose order completed since their admission (the booking
  -- engine frees them itself; this is the belt and braces; an order from before the
  -- admission says nothing about this shopping trip), and of ghosts: a shopper who has
  -- shown up (claimed the pass) but holds nothing and has no payment under way gives the
  -- slot back when either
  --  - their cart lapsed: their latest hold ran out its timer unpaid, within the pass's
  --    lifetime (a fan whose time is up is sent out of the store; counting them as a
  --    seeker for the idle time more would keep a fan in line out of the last tickets), or
  --  - they have neither tried a hold (the pass's last use, `claimed_at`), placed one nor
  --    ended one for `p_idle_seconds`.
  -- Holds and orders by the database clock, slots by the tick's instant. One statement,
  -- rows locked in customer order (as hold_batch locks them); a row another transaction
  -- changed meanwhile is checked again (READ COMMITTED re-check), so a pass a hold batch
  -- has just used is not taken for idle.
  WITH due AS (
    SELECT a.customer_id,
           EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = a.customer_id
                      AND o.event_id = a.event_id AND o.status = 'confirmed'
                      AND o.confirmed_at >= a.admitted_at) AS ordered
      FROM queue_admissions a
     WHERE a.event_id = p_event AND a.released_at IS NULL AND a.expires_at > v_now
       AND (a.claimed_at IS NOT NULL OR a.claim_by > v_now)
       AND (
         EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = a.customer_id
                    AND o.event_id = a.event_id AND o.status = 'confirmed'
                    AND o.confirmed_at >= a.admitted_at)
         OR (a.claimed_at IS NOT NULL
           AND NOT EXISTS (
             SELECT 1 FROM holds h WHERE h.event_id = a.event_id
                AND h.customer_id = a.customer_id
                AND h.state = 'held' AND h.expires_at > now())
           AND NOT EXISTS (
             SELECT 1 FROM orders o WHERE o.event_id = a.event_id
                AND o.customer_id = a.customer_id AND o.status = 'pending_payment')
           AND (
             (SELECT h.state IN ('held', 'expired')
                     AND h.expires_at > now() - p_pass_seconds * interval '1 second'
                FROM holds h WHERE h.event_id = a.event_id AND h.customer_id = a.customer_id
               ORDER BY h.created_at DESC LIMIT 1)
             OR (a.claimed_at <= v_now - p_idle_seconds * interval '1 second'
               AND NOT EXISTS (
                 SELECT 1 FROM holds h WHERE h.event_id = a.event_id
                    AND h.customer_id = a.customer_id
                    AND (h.created_at > now() - p_idle_seconds * interval '1 second'
                         OR h.ended_at > now() - p_idle_seconds * interval '1 second'
                         OR (h.state = 'held'
                             AND h.expires_at > now() - p_idle_seconds * interval '1 second'))))
           ))
       )
     -- ('slot_order' unguarded: the reverse order, a race test's control only.)
     ORDER BY CASE WHEN 'slot_order' = ANY (p_unguarded) THEN NULL ELSE a.customer_id END,
              a.customer_id DESC
       FOR UPDATE OF a),
  freed AS (
    UPDATE queue_admissions a
       SET released_at = v_now,
           release_reason = CASE WHEN due.ordered THEN 'order' ELSE 'idle' END
      FROM due
     WHERE a.event_id = p_event AND a.customer_id = due.customer_id
     RETURNING 1)
  SELECT count(*)::int INTO released FROM freed;

  SELECT f.held, f.available, f.kept, f.holds, f.tickets, f.waitlist, f.seekers,
         f.left_lately, f.live, f.last_minute
    INTO held, available, kept, holds, tickets, waitlist, seekers, left_lately, live,
         last_minute
    FROM queue_tick_figures(p_event, v_now, p_seeker_seconds) f;

  IF available <= p_shape_max THEN
    SELECT coalesce(jsonb_agg(jsonb_build_array(s.kind, s.size, s.n)), '[]')
      INTO shape FROM queue_shape(p_event) s;
  END IF;

  -- The run after servedUpTo, for the caller's walk (admission.ts pickRun): at most v_cap
  -- fans who have not left, with the leavers before and among them.
  -- The credit is at most what it was plus what it earned since the last tick (the
  -- caller's accrue() caps it further; 2 to spare for rounding): back-to-back ticks read a
  -- handful of fans, not the caps' worth.
  v_cap := greatest(0, least(p_admit_cap, p_admit_per_minute - last_minute,
    p_max_active - live,
    ceil(v_state.admit_credit + p_admit_per_minute / 60000.0 * CASE
      WHEN v_state.last_tick_at IS NULL THEN p_tick_ms
      ELSE greatest(0, extract(epoch FROM v_now - v_state.last_tick_at) * 1000) END)::int
      + 2));
  IF v_now >= p_on_sale_at THEN
    -- Only as far as the run can reach: v_cap numbers plus the leavers among the next
    -- v_cap + p_leavers (few, usually none), not p_leavers numbers more on every tick.
    SELECT count(*) INTO v_left FROM queue_entries e
     WHERE e.event_id = p_event AND e.left_at IS NOT NULL
       AND e.number > v_state.served_up_to
       AND e.number <= v_state.served_up_to + v_cap + p_leavers;
    SELECT coalesce(array_agg(r.customer_id ORDER BY r.number), '{}'),
           coalesce(array_agg(r.number ORDER BY r.number), '{}'),
           coalesce(array_agg(r.has_left ORDER BY r.number), '{}')
      INTO run_customers, run_numbers, run_left
      FROM (SELECT run.customer_id, run.number, run.has_left,
                   count(*) FILTER (WHERE NOT run.has_left)
                     OVER (ORDER BY run.number) AS staying
              FROM (SELECT e.customer_id, e.number, e.left_at IS NOT NULL AS has_left,
                           e.number - row_number() OVER (ORDER BY e.number) AS gap
                      FROM queue_entries e
                     WHERE e.event_id = p_event AND e.number > v_state.served_up_to
                       AND e.number <= v_state.served_up_to + v_cap + v_left) AS run
             WHERE run.gap = v_state.served_up_to) AS r
     WHERE r.staying <= v_cap;
  ELSE
    run_customers := '{}'; run_numbers := '{}'; run_left := '{}';
  END IF;

  outcome := 'ready'; now := v_now;
  served_up_to := v_state.served_up_to; admit_credit := v_state.admit_credit;
  last_tick_at := v_state.last_tick_at; first_admitted_at := v_state.first_admitted_at;
  tick_seq := v_state.tick_seq; leader_token := v_state.leader_token;
  closed_at := v_state.closed_at; pace := v_state.pace;
  RETURN NEXT;
END;
$$;

-- Step 3 of a tick (see the header): under the line's row lock, refuses a deposed leader
-- ('fenced', with the newer token) and a plan whose state another tick has changed
-- ('raced'), else admits the chosen fans (in number order, each once: both keys of
-- queue_admissions are unique), writes the outbox row naming them and the new state, and
-- answers 'ticked' with the new tick_seq. A chosen fan who left the line since the plan
-- was read is admitted with the slot already given back (as leaving does to a live pass),
-- so the plan's counts hold and nobody shops who walked away.
CREATE OR REPLACE FUNCTION queue_tick_apply(
  p_event uuid, p_token bigint, p_seq bigint, p_customers uuid[], p_numbers bigint[],
  p_now timestamptz, p_claim_by timestamptz, p_expires_at timestamptz, p_served bigint,
  p_credit double precision, p_first_admitted_at timestamptz,
  p_rate double precision, p_sold_out boolean, p_supply jsonb, p_pace jsonb,
  p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (outcome text, leader_token bigint, tick_seq bigint)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
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
    INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                  claim_by, expires_at, leader_token, released_at,
                                  release_reason)
    SELECT p_event, x.c, x.n, gen_random_uuid(), p_now, p_claim_by, p_expires_at, p_token,
           CASE WHEN e.left_at IS NOT NULL THEN p_now END,
           CASE WHEN e.left_at IS NOT NULL THEN 'left' END
      FROM unnest(p_customers, p_numbers) AS x(c, n)
      LEFT JOIN queue_entries e ON e.event_id = p_event AND e.customer_id = x.c
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
