-- The tick admits a fan who is leaving only after the leave commits (review fixes).
--
-- queue_tick_apply (045) writes a fan who left the line since the tick's plan as admitted
-- with the slot already given back. It read the entry with its INSERT's snapshot, without a
-- lock: a leave written but not committed then read as "still in line", while the leave's
-- own release of a live pass found no admission (the tick's was not committed either). The
-- fan who walked away held a live slot, counted among maxActiveShoppers and usable with
-- the pass, until its claim grace or its expiry ran out. Now the apply takes the planned
-- fans' entries' share lock first, in event and customer order (the order the admissions'
-- count trigger of 046 takes it in), in a statement of its own: it waits for a leave in
-- flight, and the INSERT after it, with a fresh snapshot, sees the leave. A leave that comes
-- after waits for the apply's commit and then gives the new pass back itself. The apply
-- already held the line's row lock; the leave takes no lock of the tick's, so the wait
-- cannot close a cycle. Otherwise unchanged from 045. `p_unguarded` may name 'leave_lock'
-- (a race test's control only): the lock is skipped.
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
    IF NOT ('leave_lock' = ANY (p_unguarded)) THEN
      PERFORM 1 FROM queue_entries e
       WHERE e.event_id = p_event AND e.customer_id = ANY (p_customers)
       ORDER BY e.event_id, e.customer_id FOR SHARE OF e;
    END IF;
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
