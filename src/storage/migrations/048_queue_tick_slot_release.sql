-- The admission tick's slot release matched against small sets (speed at seed scale).
--
-- queue_tick_begin (045, re-created by 047) frees slots in one statement whose selection
-- walked every live admission with up to six correlated lookups into orders and holds each
-- (confirmed order since admission, live hold, payment under way, latest hold, holds within
-- the idle window): ~10,000 live shoppers at seed scale made it most of a tick. Now each
-- rule's customers are built once, as 047 did for the seekers, and the live admissions
-- (queue_admissions_open_idx) are matched against them by hash:
--
--  - ordered: per customer, the latest confirmation of a confirmed order no earlier than the
--    earliest live admission's admitted_at (orders_event_confirmed_idx range); a slot is
--    freed for an order when that is >= its own admitted_at, which is the old EXISTS.
--  - busy: customers with a live hold (a range of live holds by claim end) or an order in
--    pending_payment (orders_pending_idx, new here: the event's orders in that state only).
--  - lapsed: customers whose latest hold is held or expired with expires_at within the
--    pass's lifetime: the earliest creation among such holds (holds_lapsed_idx, new here)
--    bounds a suffix of the event's holds by creation (holds_event_created_idx) in which
--    every such customer's latest hold lies; DISTINCT ON picks it. Ties of created_at are
--    broken arbitrarily, as ORDER BY created_at DESC LIMIT 1 did.
--  - recent: customers who created, ended, or held an unexpired hold within the idle window
--    (one pass over the holds of three index ranges).
-- Every range adds only a bound its rows already meet (claim_expires_at >= expires_at and
-- state = 'held' <=> ended_at IS NULL are CHECKs of holds; admitted_at is never updated), so
-- each set names exactly the customers the old lookup answered true for.
--
-- The same decisions under a concurrent hold batch. In READ COMMITTED the statement reads
-- every table as of its snapshot; a row it locks that another transaction changed after
-- that snapshot is evaluated again (EvalPlanQual) with the row's newest version, and with
-- the other relations' rows as the statement's snapshot shows them: the old correlated
-- subqueries were re-run under that same snapshot, and the sets here are the rows the
-- snapshot gave. So the re-check sees what it saw before, rule by rule:
--  - whatever is compared with the admission's own columns stays on the admission row in
--    the outer WHERE (released_at, expires_at, claim_by, claimed_at, admitted_at), and is
--    evaluated again on the newest version. A pass a hold batch has just used (claimed_at
--    moved to its now()) is not idle any more; a slot released or expired meanwhile is not
--    freed again. src/queue/tick.test.ts holds the tick across such a batch.
--  - holds and orders committed after the snapshot (the batch's new hold, a confirmation)
--    are not seen, before or now: a customer whose latest hold (in the snapshot) lapsed
--    within the pass's lifetime is freed even if a hold batch placed a new hold in between
--    (the tick's control in tick.test.ts shows it), and a confirmation committed meanwhile
--    frees its slot on the next tick (the booking engine frees it itself). Neither was
--    changed here.
-- The sets are read without locks; the only rows locked are the admissions freed, in
-- customer order in one statement (ORDER BY ... FOR UPDATE OF a), as hold_batch's pass
-- claim locks them (035): the two can wait for each other but never deadlock, and the tick
-- holds no other lock while it releases. 'slot_order' in p_unguarded still reverses it.
--
-- Two indexes more (partial): holds_lapsed_idx takes an entry per new hold (as 047's
-- holds_live_idx does) and one when it expires; orders_pending_idx one per order placed
-- pending. queue_tick_figures and queue_tick_figures_kept are unchanged.
--
-- Measured (bench/tickFigures.ts, seed scale, which also checks that this selection and
-- 045's free the same slots with the same reasons): the selection from ~32,000 buffers to
-- ~1,220, a whole tick from a mean of 96–125 ms to 61–73 ms on the same machine
-- (docs/benchmarks-journal.md, "The tick's slot release matched against sets").

-- Holds whose timer may make a lapsed cart, by expiry (the lapsed set's bound).
CREATE INDEX IF NOT EXISTS holds_lapsed_idx ON holds (event_id, expires_at)
  INCLUDE (created_at) WHERE state IN ('held', 'expired');
-- Orders whose payment is under way (few at a time), by event.
CREATE INDEX IF NOT EXISTS orders_pending_idx ON orders (event_id, customer_id)
  WHERE status = 'pending_payment';

-- Step 1 of a tick (045, 047), its slot release matched against small sets (see the header).
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
  -- Holds and orders by the database clock, slots by the tick's instant. The customers
  -- each rule names are small sets built once (048, see its header); the live admissions
  -- are matched against them, and every comparison with an admission's own columns stays
  -- on the admission row, which the READ COMMITTED re-check evaluates again. One
  -- statement, rows locked in customer order (as hold_batch locks them).
  WITH ordered AS MATERIALIZED (
    -- Per customer, the latest confirmation no earlier than the earliest live admission.
    SELECT o.customer_id, max(o.confirmed_at) AS confirmed_at FROM orders o
     WHERE o.event_id = p_event AND o.status = 'confirmed'
       AND o.confirmed_at >= (
         -- `+ 0 s`: not min()'s walk along queue_admissions_recent_idx from the sale's first
         -- admission (past every released one), but the live ones' range.
         SELECT min(x.admitted_at + interval '0 s') FROM queue_admissions x
          WHERE x.event_id = p_event AND x.released_at IS NULL AND x.expires_at > v_now
            AND (x.claimed_at IS NOT NULL OR x.claim_by > v_now))
     GROUP BY o.customer_id
  ), busy AS MATERIALIZED (
    -- Holding now (claim_expires_at >= expires_at is a CHECK: the range is the index's),
    -- or paying.
    SELECT h.customer_id FROM holds h
     WHERE h.event_id = p_event AND h.state = 'held' AND h.claim_expires_at > now()
       AND h.expires_at > now()
    UNION
    SELECT o.customer_id FROM orders o
     WHERE o.event_id = p_event AND o.status = 'pending_payment'
  ), lapsed AS MATERIALIZED (
    -- Customers whose latest hold is held or expired with a timer that ran within the
    -- pass's lifetime. Every such hold was created at or after the earliest creation among
    -- those holds, so each customer who has one has their latest hold in that suffix of
    -- holds_event_created_idx, and DISTINCT ON finds it (ties as LIMIT 1 broke them).
    SELECT l.customer_id FROM (
      SELECT DISTINCT ON (h.customer_id) h.customer_id, h.state, h.expires_at
        FROM holds h
       WHERE h.event_id = p_event
         AND h.created_at >= (
           -- `+ 0 s`: not min()'s walk along holds_event_created_idx from the event's first
           -- hold (43 ms past 200,000 of them), but holds_lapsed_idx's range (2 ms).
           SELECT min(c.created_at + interval '0 s') FROM holds c
            WHERE c.event_id = p_event AND c.state IN ('held', 'expired')
              AND c.expires_at > now() - p_pass_seconds * interval '1 second')
       ORDER BY h.customer_id, h.created_at DESC) AS l
     WHERE l.state IN ('held', 'expired')
       AND l.expires_at > now() - p_pass_seconds * interval '1 second'
  ), recent AS MATERIALIZED (
    -- Created, ended or held-and-unexpired within the idle window: one pass over the
    -- holds those three index ranges name (a held hold's claim_expires_at >= expires_at, a
    -- CHECK, so the third is holds_live_idx's range).
    SELECT DISTINCT h.customer_id FROM holds h
     WHERE h.event_id = p_event
       AND (h.created_at > now() - p_idle_seconds * interval '1 second'
         OR h.ended_at > now() - p_idle_seconds * interval '1 second'
         OR (h.state = 'held'
           AND h.claim_expires_at > now() - p_idle_seconds * interval '1 second'
           AND h.expires_at > now() - p_idle_seconds * interval '1 second'))
  ), due AS (
    SELECT a.customer_id,
           coalesce(od.confirmed_at >= a.admitted_at, false) AS ordered
      FROM queue_admissions a
      LEFT JOIN ordered od ON od.customer_id = a.customer_id
      LEFT JOIN busy b ON b.customer_id = a.customer_id
      LEFT JOIN lapsed l ON l.customer_id = a.customer_id
      LEFT JOIN recent r ON r.customer_id = a.customer_id
     WHERE a.event_id = p_event AND a.released_at IS NULL AND a.expires_at > v_now
       AND (a.claimed_at IS NOT NULL OR a.claim_by > v_now)
       AND (
         od.confirmed_at >= a.admitted_at
         OR (a.claimed_at IS NOT NULL AND b.customer_id IS NULL
           AND (l.customer_id IS NOT NULL
             OR (a.claimed_at <= v_now - p_idle_seconds * interval '1 second'
               AND r.customer_id IS NULL))))
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
    FROM queue_tick_figures_kept(p_event, v_now, p_seeker_seconds) f;

  -- Merge the kept counts' rows of backends that are gone (bounded, never waits).
  PERFORM queue_counts_compact(p_event, 64);

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

