-- The admission tick's slot release runs on a cadence, not on every tick.
--
-- Measured by bench/planAudit.ts (plans cached on an empty sale, then 300,000 entries, 9,000
-- or 30,000 admitted fans with a live hold, 200 idle, 20,000 confirmed orders; the shared
-- 2-core box at load 8-12), backend CPU of a tick (/proc, 10 ms resolution, mean of 3 ticks,
-- the first freeing the 200 idle slots), a tick with the release (as every tick was) and one
-- between releases interleaved in each run:
--
--   live     with release: rows / CPU ms        between releases: rows / CPU ms
--   9,000    89,485-89,512 / 117, 157, 133      23,472-23,494 / 17, 20, 20
--   30,000   285,882-302,526 / 343, 293         145,520-145,550 / 103, 73
--
-- With one release pass in five ticks (1 s ticks, the 5 s period) a tick costs on average
-- (136 + 4 x 19) / 5 = 42 ms at 9,000 live (-69 %) and (318 + 4 x 88) / 5 = 134 ms at 30,000
-- (-58 %). Left in every tick: the figures' pass over the live admissions and live holds
-- (seekers, live count, held, holding) and, while at most limits.queueShapeScanMax tickets
-- are available, queue_shape's read of the free tickets (80,000 rows at 30,000 live).
--
-- The release pass (completed orders, lapsed carts, idle shoppers: 048, 066, 068) is most
-- of a tick's reads at scale, and all of it is O(live): the live admissions twice (the
-- earliest admission, then every one matched against the sets), the live holds twice
-- (busy, and recent's held range), the lapsing holds' suffix of holds_event_created_idx
-- (lapsed). It now runs only when the caller asks (`p_release`, true by default, so every
-- existing caller keeps its behaviour); the admission duty asks every
-- limits.queueSlotReleaseEveryMs at most (5 s, less when QUEUE_IDLE_SECONDS is short, see
-- src/queue/release.ts): on its first tick of a line as leader, then once a period. Between
-- release passes the tick reads the figures and admits as before.
--
-- Why a late release is safe: it only ever keeps a slot live longer. The figures count the
-- slots not yet freed as live, so the live-shopper cap (p_max_active - live) admits fewer,
-- never more: maxActiveShoppers holds whatever the cadence. Slots that end by time (claim
-- grace, pass expiry) are not the release's: they stop counting the instant they lapse, on
-- every tick. What waits is a slot the rules free by what its shopper did: an order
-- completed (the booking engine frees it itself in the confirming transaction; the tick's
-- rule is the belt and braces), a cart that lapsed, or QUEUE_IDLE_SECONDS of idleness.
-- Each is freed at most one cadence (plus a tick) later than before, so a ghost holds a
-- slot for a bounded few seconds more and the line never stalls on it. Rows are locked as
-- before (customer order) on the ticks that release; the others lock no admission.
--
-- queue_tick_begin gains a trailing argument, so the old signature is dropped (otherwise
-- a call naming 15 arguments would be ambiguous between the two functions).

DROP FUNCTION queue_tick_begin(uuid, bigint, timestamptz, boolean, timestamptz,
  double precision, double precision, double precision, int, int, int, int, int,
  double precision, text[]);

-- queue_tick_begin of 068, its slot release behind p_release (see the header).
CREATE FUNCTION queue_tick_begin(
  p_event uuid, p_token bigint, p_now timestamptz, p_check_draw boolean,
  p_on_sale_at timestamptz, p_idle_seconds double precision, p_pass_seconds double precision,
  p_seeker_seconds double precision, p_admit_cap int, p_admit_per_minute int,
  p_max_active int, p_leavers int, p_shape_max int, p_tick_ms double precision,
  p_unguarded text[] DEFAULT '{}', p_release boolean DEFAULT true)
RETURNS TABLE (
  outcome text, now timestamptz, served_up_to bigint, admit_credit double precision,
  last_tick_at timestamptz, first_admitted_at timestamptz, tick_seq bigint,
  leader_token bigint, closed_at timestamptz, pace jsonb, released int,
  held int, available int, kept int, holds int, tickets double precision, waitlist int,
  seekers int, left_lately int, live int, last_minute int,
  run_customers uuid[], run_numbers bigint[], run_left boolean[], shape jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  v_state queue_state%ROWTYPE;
  v_now timestamptz;
  v_cap int;
  v_left int;
  v_due tid[];
  v_seqscan text;
  v_ordered uuid[];
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

  released := 0;
  -- Between release passes (071: the caller runs one every few seconds, see the header)
  -- the slots stay as they are: the figures below count them live, as they still are.
  IF p_release THEN
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
    WITH confirmed AS MATERIALIZED (
      -- The confirmations no earlier than the earliest live admission: a range of
      -- orders_event_confirmed_idx (068: fenced, so no plan walks the sale's every confirmed
      -- order in customer order for the GROUP BY below).
      SELECT o.customer_id, o.confirmed_at FROM orders o
       WHERE o.event_id = p_event AND o.status = 'confirmed'
         AND o.confirmed_at >= (
           -- `+ 0 s`: not min()'s walk along queue_admissions_recent_idx from the sale's first
           -- admission (past every released one), but the live ones' range.
           SELECT min(x.admitted_at + interval '0 s') FROM queue_admissions x
            WHERE x.event_id = p_event AND x.released_at IS NULL AND x.expires_at > v_now
              AND (x.claimed_at IS NOT NULL OR x.claim_by > v_now))
    ), ordered AS MATERIALIZED (
      -- Per customer, the latest of those confirmations.
      SELECT c.customer_id, max(c.confirmed_at) AS confirmed_at FROM confirmed c
       GROUP BY c.customer_id
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
      -- Created, ended or held-and-unexpired within the idle window: the three index ranges,
      -- each read on its own (068: one OR over them was planned as every hold of the event),
      -- a held hold's claim_expires_at >= expires_at (a CHECK), so the third is
      -- holds_live_idx's range. UNION keeps each customer once, as DISTINCT did.
      SELECT h.customer_id FROM holds h
       WHERE h.event_id = p_event AND h.created_at > now() - p_idle_seconds * interval '1 second'
      UNION
      SELECT h.customer_id FROM holds h
       WHERE h.event_id = p_event AND h.ended_at > now() - p_idle_seconds * interval '1 second'
      UNION
      SELECT h.customer_id FROM holds h
       WHERE h.event_id = p_event AND h.state = 'held'
         AND h.claim_expires_at > now() - p_idle_seconds * interval '1 second'
         AND h.expires_at > now() - p_idle_seconds * interval '1 second'
    ), due AS (
      -- Each set is matched by a hashed subplan (`IN (SELECT …)`, built once), never by a
      -- join the planner may turn into a rescan of the set per admission (066's header).
      SELECT a.ctid AS row_id, a.customer_id,
             coalesce(a.customer_id IN (SELECT od.customer_id FROM ordered od)
               AND (SELECT od.confirmed_at FROM ordered od
                     WHERE od.customer_id = a.customer_id) >= a.admitted_at, false) AS ordered
        FROM queue_admissions a
       WHERE a.event_id = p_event AND a.released_at IS NULL AND a.expires_at > v_now
         AND (a.claimed_at IS NOT NULL OR a.claim_by > v_now)
         AND (
           (a.customer_id IN (SELECT od.customer_id FROM ordered od)
             AND (SELECT od.confirmed_at FROM ordered od
                   WHERE od.customer_id = a.customer_id) >= a.admitted_at)
           OR (a.claimed_at IS NOT NULL
             AND NOT (a.customer_id IN (SELECT b.customer_id FROM busy b))
             AND (a.customer_id IN (SELECT l.customer_id FROM lapsed l)
               OR (a.claimed_at <= v_now - p_idle_seconds * interval '1 second'
                 AND NOT (a.customer_id IN (SELECT r.customer_id FROM recent r))))))
       -- ('slot_order' unguarded: the reverse order, a race test's control only.)
       ORDER BY CASE WHEN 'slot_order' = ANY (p_unguarded) THEN NULL ELSE a.customer_id END,
                a.customer_id DESC
         FOR UPDATE OF a)
    SELECT coalesce(array_agg(d.row_id), '{}'),
           coalesce(array_agg(d.customer_id) FILTER (WHERE d.ordered), '{}')
      INTO v_due, v_ordered FROM due d;
    -- The slots just locked, freed by their row ids: the newest version of each, which the
    -- lock returned and this transaction holds, so a TID scan of exactly those rows (the join
    -- back by key was a walk of every admission of the event per freed slot, see 066's header).
    -- Sequential scans off for that statement only (it has no other path than the TID
    -- scan then; its plan is made, and kept, on the first tick that frees a slot).
    IF cardinality(v_due) > 0 THEN
      v_seqscan := current_setting('enable_seqscan');
      PERFORM set_config('enable_seqscan', 'off', true);
      UPDATE queue_admissions a
         SET released_at = v_now,
             release_reason = CASE WHEN a.customer_id = ANY (v_ordered) THEN 'order'
                                   ELSE 'idle' END
       WHERE a.ctid = ANY (v_due);
      GET DIAGNOSTICS released = ROW_COUNT;
      PERFORM set_config('enable_seqscan', v_seqscan, true);
      IF released <> cardinality(v_due) THEN
        RAISE EXCEPTION 'queue_tick_begin: % of % locked slots freed', released,
          cardinality(v_due);
      END IF;
    END IF;
  END IF;

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
