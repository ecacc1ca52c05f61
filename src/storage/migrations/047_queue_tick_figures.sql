-- The admission tick's figures kept where the rows are written (speed at seed scale).
--
-- queue_tick_figures (045) walked, on every tick, all of the event's unsold tickets (50,000
-- in a seed-scale sale, with an EXISTS on orders and waitlist_offers per live hold), every
-- hold the event ever had (count and mean size), and the live admissions with two probes
-- into holds each (seekers). One backend ticked almost without pause. Now the tick reads:
--
--  - tickets and sold: kept per event by statement triggers on tickets (ticket_counts), in
--    the statement that sells (settle), cancels or creates tickets, whichever path it is.
--    Unsold = tickets - sold; it does not depend on the clock.
--  - held and kept: from the live holds only, through holds_live_idx (event_id,
--    claim_expires_at) WHERE state = 'held' INCLUDE (quantity, ...). This rests on what
--    every path that writes a hold keeps true in its transaction: a hold in state 'held'
--    has exactly `quantity` unsold tickets (hold_items), and they carry its
--    claim_expires_at as hold_expires_at (hold_batch sets both to the hold's expiry;
--    checkout_begin, an extension and a failed payment move both; a sale, release, sweep
--    or cancel ends the hold and clears its tickets together). So the tickets held now
--    (hold_expires_at > now()) are the quantities of the holds whose claim_expires_at >
--    now(): availability stays computed by the clock, a lapsed hold stops counting at
--    now() whether or not the sweeper has been by. The range spans live holds and lapsed
--    ones not swept yet. Reading each hold's tickets instead (hold_items, then tickets by
--    key) was measured at three times the buffers of the old pass; the property test holds
--    these figures to the ticket-by-ticket recount. available = unsold - held.
--  - holds and mean tickets per hold: kept per event and size by triggers on holds
--    (hold_sizes); queue_shape's holds by size read the same rows.
--  - live shoppers and seekers: one pass over the live admissions (queue_admissions_open_idx)
--    against two small sets hashed once, the customers with a live hold and those who
--    ended one within the seeker window (holds_ended_idx), instead of two index probes
--    into holds per admission. left_lately and last_minute are index ranges of a few
--    seconds' and a minute's admissions, as before.
--
-- The writers' rows are spread by backend as in 046 (shard = pg_backend_pid(), 0 for the
-- backfill and for compaction), so no writer waits for another on a counts row and a hold
-- batch stays one statement: its tickets UPDATE runs one statement trigger over its own
-- transition rows, which writes nothing unless a ticket's order_id changed (a hold never
-- changes it), and its holds INSERT adds to this backend's hold_sizes rows (one upsert).
-- Citus has no transition tables on distributed tables: as for 046, see docs/SCALING.md.
--
-- queue_tick_figures stays as it was: the full recount, which the tests hold the kept
-- figures to (src/queue/tickFigures.test.ts).
--
-- Compaction: every tick merges the rows of backends that are gone (a pid no longer in
-- pg_stat_activity) of queue_counts, ticket_counts and hold_sizes into shard 0, and folds
-- queue_join_seconds' per-backend rows of seconds more than a minute old into shard 0,
-- at most 64 rows of each per tick. Rows are taken FOR UPDATE SKIP LOCKED and shard 0
-- likewise, so the tick never waits on a writer (which could hold a slot row the tick has
-- locked) and a busy row is merged on a later tick; only a second tick of the same line
-- (a deposed leader) can make it wait on a shard 0 row, and that tick, past its own slot
-- release, waits for no lock the first one holds. The sums never change.
--
-- Not changed here: the slot release at the top of queue_tick_begin still walks every live
-- admission with its lookups into orders and holds (bench/tickFigures.ts times it).

-- Live holds of an event by the end of their claim (what their tickets carry). Partial: a
-- hold leaves it when it ends; hold_batch writes one more index entry per hold.
CREATE INDEX IF NOT EXISTS holds_live_idx ON holds (event_id, claim_expires_at)
  INCLUDE (customer_id, expires_at, quantity) WHERE state = 'held';
-- Holds that ended lately (the seekers' window). A hold's end already wrote index entries
-- (state is in partial predicates), a new hold has no ended_at and is not indexed here.
CREATE INDEX IF NOT EXISTS holds_ended_idx ON holds (event_id, ended_at)
  INCLUDE (customer_id) WHERE ended_at IS NOT NULL;

CREATE TABLE ticket_counts (
  event_id uuid NOT NULL,
  -- The writing backend's pid; 0 for the backfill and compaction.
  shard integer NOT NULL,
  tickets bigint NOT NULL DEFAULT 0,
  -- Tickets with order_id set.
  sold bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (event_id, shard)
) WITH (fillfactor = 50);

CREATE TABLE hold_sizes (
  event_id uuid NOT NULL,
  quantity integer NOT NULL,
  shard integer NOT NULL,
  holds bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (event_id, quantity, shard)
) WITH (fillfactor = 50);

-- Sold tickets and tickets by event: each statement adds its net change to this backend's
-- row, and writes nothing when nothing changed (every hold, extension and release).
CREATE FUNCTION ticket_counts_keep() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO ticket_counts AS c (event_id, shard, tickets, sold)
    SELECT n.event_id, pg_backend_pid(), count(*), count(n.order_id)
      FROM new_rows n GROUP BY n.event_id ORDER BY n.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
      SET tickets = c.tickets + excluded.tickets, sold = c.sold + excluded.sold;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO ticket_counts AS c (event_id, shard, tickets, sold)
    SELECT r.event_id, pg_backend_pid(), sum(r.sign), sum(r.sign * r.sold)
      FROM (SELECT 1 AS sign, n.event_id, (n.order_id IS NOT NULL)::int AS sold
              FROM new_rows n
            UNION ALL
            SELECT -1, o.event_id, (o.order_id IS NOT NULL)::int FROM old_rows o) AS r
     GROUP BY r.event_id HAVING sum(r.sign) <> 0 OR sum(r.sign * r.sold) <> 0
     ORDER BY r.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
      SET tickets = c.tickets + excluded.tickets, sold = c.sold + excluded.sold;
  ELSE
    INSERT INTO ticket_counts AS c (event_id, shard, tickets, sold)
    SELECT o.event_id, pg_backend_pid(), -count(*), -count(o.order_id)
      FROM old_rows o GROUP BY o.event_id ORDER BY o.event_id
    ON CONFLICT (event_id, shard) DO UPDATE
      SET tickets = c.tickets + excluded.tickets, sold = c.sold + excluded.sold;
  END IF;
  RETURN NULL;
END
$$;

-- Holds by event and size: a hold batch's insert is one upsert (a row per size in it).
-- Quantity and event never change after insert; an update that did would be counted.
CREATE FUNCTION hold_sizes_keep() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO hold_sizes AS s (event_id, quantity, shard, holds)
    SELECT n.event_id, n.quantity, pg_backend_pid(), count(*)
      FROM new_rows n GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, quantity, shard) DO UPDATE SET holds = s.holds + excluded.holds;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO hold_sizes AS s (event_id, quantity, shard, holds)
    SELECT r.event_id, r.quantity, pg_backend_pid(), sum(r.sign)
      FROM (SELECT 1 AS sign, n.event_id, n.quantity FROM new_rows n
            UNION ALL
            SELECT -1, o.event_id, o.quantity FROM old_rows o) AS r
     GROUP BY r.event_id, r.quantity HAVING sum(r.sign) <> 0
     ORDER BY r.event_id, r.quantity
    ON CONFLICT (event_id, quantity, shard) DO UPDATE SET holds = s.holds + excluded.holds;
  ELSE
    INSERT INTO hold_sizes AS s (event_id, quantity, shard, holds)
    SELECT o.event_id, o.quantity, pg_backend_pid(), -count(*)
      FROM old_rows o GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, quantity, shard) DO UPDATE SET holds = s.holds + excluded.holds;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER ticket_counts_insert AFTER INSERT ON tickets
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ticket_counts_keep();
CREATE TRIGGER ticket_counts_update AFTER UPDATE ON tickets
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ticket_counts_keep();
CREATE TRIGGER ticket_counts_delete AFTER DELETE ON tickets
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ticket_counts_keep();
CREATE TRIGGER hold_sizes_insert AFTER INSERT ON holds
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hold_sizes_keep();
CREATE TRIGGER hold_sizes_update AFTER UPDATE ON holds
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION hold_sizes_keep();
CREATE TRIGGER hold_sizes_delete AFTER DELETE ON holds
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hold_sizes_keep();

-- The counts of what exists already (one pass over tickets and one over holds: see
-- docs/OPERATIONS.md), as shard 0. The triggers above are in this migration's transaction,
-- and CREATE TRIGGER locks out writers of the table until it commits, so nothing is missed.
INSERT INTO ticket_counts (event_id, shard, tickets, sold)
SELECT event_id, 0, count(*), count(order_id) FROM tickets GROUP BY event_id;
INSERT INTO hold_sizes (event_id, quantity, shard, holds)
SELECT event_id, quantity, 0, count(*) FROM holds GROUP BY event_id, quantity;

-- The tick's figures from the kept counts and the small sets (see the header); the same
-- columns as queue_tick_figures, which stays the full recount.
CREATE FUNCTION queue_tick_figures_kept(p_event uuid, p_now timestamptz,
                                        p_seeker_seconds double precision)
RETURNS TABLE (held int, available int, kept int, holds int, tickets double precision,
               waitlist int, seekers int, left_lately int, live int, last_minute int)
LANGUAGE sql STABLE
AS $$
  WITH live_holds AS MATERIALIZED (
    SELECT h.hold_id, h.customer_id, h.expires_at, h.quantity FROM holds h
     WHERE h.event_id = p_event AND h.state = 'held' AND h.claim_expires_at > now()
  ), t AS (
    -- A held hold's tickets are its quantity, and carry its claim_expires_at (see the
    -- header), so the held tickets are the live holds' quantities: an index-only range.
    -- A hold's payment or waitlist offer is looked up once per live hold.
    SELECT coalesce(sum(lh.quantity), 0)::int AS held,
           coalesce(sum(lh.quantity) FILTER (WHERE
             EXISTS (SELECT 1 FROM orders o
                      WHERE o.hold_id = lh.hold_id AND o.status = 'pending_payment')
             OR EXISTS (SELECT 1 FROM waitlist_offers w WHERE w.hold_id = lh.hold_id)), 0)::int
             AS kept
      FROM live_holds lh
  ), c AS (
    SELECT coalesce(sum(c.tickets - c.sold), 0)::int AS unsold FROM ticket_counts c
     WHERE c.event_id = p_event
  ), s AS (
    -- The mean as avg() gives it (numeric division, then float8).
    SELECT coalesce(sum(s.holds), 0)::int AS holds,
           (sum(s.quantity * s.holds)::numeric / nullif(sum(s.holds), 0))::float8 AS tickets
      FROM hold_sizes s WHERE s.event_id = p_event
  ), holding AS (
    SELECT DISTINCT lh.customer_id FROM live_holds lh WHERE lh.expires_at > now()
  ), ended AS (
    SELECT DISTINCT h.customer_id FROM holds h
     WHERE h.event_id = p_event
       AND h.ended_at > now() - p_seeker_seconds * interval '1 second'
  ), a AS (
    SELECT count(*)::int AS live,
           count(*) FILTER (WHERE hg.customer_id IS NULL
             AND (coalesce(a.claimed_at, a.admitted_at)
                    > p_now - p_seeker_seconds * interval '1 second'
                  OR en.customer_id IS NOT NULL))::int AS seekers
      FROM queue_admissions a
      LEFT JOIN holding hg ON hg.customer_id = a.customer_id
      LEFT JOIN ended en ON en.customer_id = a.customer_id
     WHERE a.event_id = p_event AND a.released_at IS NULL AND a.expires_at > p_now
       AND (a.claimed_at IS NOT NULL OR a.claim_by > p_now)
  )
  SELECT t.held, c.unsold - t.held, t.kept, s.holds, s.tickets,
    (SELECT coalesce(sum(w.waiting), 0) FROM waitlist_counts w
      WHERE w.event_id = p_event)::int,
    a.seekers,
    (SELECT count(*) FROM queue_admissions x
      WHERE x.event_id = p_event AND x.release_reason = 'left'
        AND x.released_at > p_now - p_seeker_seconds * interval '1 second')::int,
    a.live,
    (SELECT count(*) FROM queue_admissions x
      WHERE x.event_id = p_event AND x.admitted_at > p_now - interval '1 minute')::int
    FROM t, c, s, a
$$;

-- The shape of what is left (045), with the holds by size from the kept rows and the live
-- holds by size through holds_live_idx.
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
   WHERE event_id = p_event AND state = 'held' AND claim_expires_at > now()
     AND expires_at > now() GROUP BY quantity
  UNION ALL
  SELECT 'hold', quantity, sum(holds)::int FROM hold_sizes WHERE event_id = p_event
   GROUP BY quantity HAVING sum(holds) <> 0
$$;

-- Merges, for one event, the rows of writers that are gone into shard 0 (see the header):
-- at most p_max rows of each table, never waiting for a lock. Returns the rows merged.
CREATE FUNCTION queue_counts_compact(p_event uuid, p_max int) RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
  v_merged int := 0;
  v_n int;
  v_second bigint := floor(extract(epoch FROM now()))::bigint - 60;
BEGIN
  -- queue_counts: shard 0 first (made if missing), taken only if free.
  INSERT INTO queue_counts (event_id, shard) VALUES (p_event, 0) ON CONFLICT DO NOTHING;
  PERFORM 1 FROM queue_counts WHERE event_id = p_event AND shard = 0 FOR UPDATE SKIP LOCKED;
  IF FOUND THEN
    WITH gone AS (
      DELETE FROM queue_counts c
       WHERE c.event_id = p_event AND c.shard IN (
         SELECT x.shard FROM queue_counts x
          WHERE x.event_id = p_event AND x.shard <> 0
            AND x.shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
          ORDER BY x.shard LIMIT p_max FOR UPDATE SKIP LOCKED)
      RETURNING c.*)
    UPDATE queue_counts z
       SET joined = z.joined + g.joined, pre_queue = z.pre_queue + g.pre_queue,
           left_line = z.left_line + g.left_line, waitlist = z.waitlist + g.waitlist,
           left_unadmitted = z.left_unadmitted + g.left_unadmitted,
           admitted = z.admitted + g.admitted, released = z.released + g.released,
           freed_order = z.freed_order + g.freed_order,
           freed_left = z.freed_left + g.freed_left, freed_idle = z.freed_idle + g.freed_idle
      FROM (SELECT count(*) AS n, coalesce(sum(joined), 0) AS joined,
                   coalesce(sum(pre_queue), 0) AS pre_queue,
                   coalesce(sum(left_line), 0) AS left_line,
                   coalesce(sum(waitlist), 0) AS waitlist,
                   coalesce(sum(left_unadmitted), 0) AS left_unadmitted,
                   coalesce(sum(admitted), 0) AS admitted,
                   coalesce(sum(released), 0) AS released,
                   coalesce(sum(freed_order), 0) AS freed_order,
                   coalesce(sum(freed_left), 0) AS freed_left,
                   coalesce(sum(freed_idle), 0) AS freed_idle FROM gone) AS g
     WHERE z.event_id = p_event AND z.shard = 0 AND g.n > 0;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_merged := v_merged + v_n;
  END IF;

  INSERT INTO ticket_counts (event_id, shard) VALUES (p_event, 0) ON CONFLICT DO NOTHING;
  PERFORM 1 FROM ticket_counts WHERE event_id = p_event AND shard = 0 FOR UPDATE SKIP LOCKED;
  IF FOUND THEN
    WITH gone AS (
      DELETE FROM ticket_counts c
       WHERE c.event_id = p_event AND c.shard IN (
         SELECT x.shard FROM ticket_counts x
          WHERE x.event_id = p_event AND x.shard <> 0
            AND x.shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
          ORDER BY x.shard LIMIT p_max FOR UPDATE SKIP LOCKED)
      RETURNING c.*)
    UPDATE ticket_counts z SET tickets = z.tickets + g.tickets, sold = z.sold + g.sold
      FROM (SELECT count(*) AS n, coalesce(sum(tickets), 0) AS tickets,
                   coalesce(sum(sold), 0) AS sold FROM gone) AS g
     WHERE z.event_id = p_event AND z.shard = 0 AND g.n > 0;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_merged := v_merged + v_n;
  END IF;

  -- Rows keyed by size or second: merged into shard 0's row of the same key, which only
  -- compaction writes; two ticks of a line at once meet there in key order.
  WITH gone AS (
    DELETE FROM hold_sizes c
     WHERE (c.event_id, c.quantity, c.shard) IN (
       SELECT x.event_id, x.quantity, x.shard FROM hold_sizes x
        WHERE x.event_id = p_event AND x.shard <> 0
          AND x.shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
        ORDER BY x.quantity, x.shard LIMIT p_max FOR UPDATE SKIP LOCKED)
    RETURNING c.quantity, c.holds)
  INSERT INTO hold_sizes AS s (event_id, quantity, shard, holds)
  SELECT p_event, g.quantity, 0, sum(g.holds) FROM gone g GROUP BY g.quantity
   ORDER BY g.quantity
  ON CONFLICT (event_id, quantity, shard) DO UPDATE SET holds = s.holds + excluded.holds;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_merged := v_merged + v_n;

  -- Seconds over a minute old are written no more (bar a join transaction that old):
  -- every backend's row of them is folded, gone or not.
  WITH gone AS (
    DELETE FROM queue_join_seconds j
     WHERE (j.event_id, j.second, j.shard) IN (
       SELECT x.event_id, x.second, x.shard FROM queue_join_seconds x
        WHERE x.event_id = p_event AND x.shard <> 0 AND x.second < v_second
        ORDER BY x.second, x.shard LIMIT p_max FOR UPDATE SKIP LOCKED)
    RETURNING j.second, j.joined)
  INSERT INTO queue_join_seconds AS j (event_id, second, shard, joined)
  SELECT p_event, g.second, 0, sum(g.joined) FROM gone g GROUP BY g.second ORDER BY g.second
  ON CONFLICT (event_id, second, shard) DO UPDATE SET joined = j.joined + excluded.joined;
  GET DIAGNOSTICS v_n = ROW_COUNT;
  v_merged := v_merged + v_n;
  RETURN v_merged;
END
$$;

-- Step 1 of a tick (045), reading queue_tick_figures_kept and compacting the kept rows.
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

