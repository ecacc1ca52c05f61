-- Group-committed holds: one call decides a whole batch of hold requests for one event, in
-- one statement (one round trip, one commit when run outside an explicit transaction).
--
-- Requests are decided first come first served in array order, each all or nothing, and a
-- refusal is a result row, never an exception, so one request never aborts the others.
-- Locks are taken in a fixed order so batches on different nodes cannot deadlock: first
-- the per-customer advisory locks (sorted by lock key; the key hold_lock_and_count uses),
-- then every named ticket of the batch in ticket order. Standing units are picked with
-- SKIP LOCKED and never wait. Each statement of a VOLATILE function gets a fresh snapshot
-- in READ COMMITTED, so what a request sees includes every earlier request of the batch
-- and every claim committed elsewhere before its locks were granted.
--
-- A request (jsonb object):
--   i   hold id chosen by the caller          c   customer id
--   k   'seats' | 'pick' | 'units'            t   ticket numbers (seats, pick)
--   z   zone (units)                          q   quantity
--   s   first ticket to scan from (units)
--   key, fp, owner, own: the Idempotency-Key record, when the request has one. own = false:
--       insert it (a key already present answers 'idem_seen' and nothing else happens);
--       own = true: this owner already holds the 'running' record (a re-planned request).
-- p_event_info: hold_seconds, max_per_customer, on_sale_at, starts_at, cancelled, currency,
--   prices (zone key → price in cents).
-- p_unguarded: checks to skip, for race tests' controls only ('claim': named tickets are
--   claimed without the availability check; 'limit'; 'idempotency': no key record is
--   written or checked); empty in production. The caller then decides on committed state
--   before queueing the request (see holds/claim.ts Guard).
--
-- Result rows (n = index in the request array), outcome and detail:
--   held         the hold as the API answers it (also stored as the key's reply)
--   not_on_sale  {reason: 'cancelled' | 'not_started' | 'started', onSaleAt}
--   limit        {used}
--   unavailable  {tickets: [ticket numbers taken]}   (seats)
--   contended    {}                                  (pick: re-plan; units: free ones locked)
--   sold_out     {available}                         (units)
--   idem_seen    {}   the key has a record already: the caller replays or waits
--   fenced       {}   the key's record is no longer this owner's
CREATE FUNCTION hold_batch(p_event uuid, p_event_info jsonb, p_requests jsonb,
                           p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (n int, outcome text, detail jsonb)
LANGUAGE plpgsql VOLATILE
-- Every statement here is keyed by the event and ticket numbers, so one generic plan fits
-- all calls: planned once per connection instead of afresh for its first five calls.
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  v_now timestamptz := now();
  v_expires timestamptz := now() + make_interval(secs => (p_event_info->>'hold_seconds')::int);
  v_max int := (p_event_info->>'max_per_customer')::int;
  v_currency text := p_event_info->>'currency';
  v_guard_claim boolean := NOT ('claim' = ANY(p_unguarded));
  v_guard_limit boolean := NOT ('limit' = ANY(p_unguarded));
  v_guard_idem boolean := NOT ('idempotency' = ANY(p_unguarded));
  v_req jsonb;
  v_i int;
  v_hold uuid;
  v_customer uuid;
  v_q int;
  v_nos int[];
  v_taken int[];
  v_used int;
  v_key bigint;
  v_free int;
  v_count int;
  v_reply jsonb;
  v_iso_expires text := to_char(date_trunc('milliseconds', v_expires) AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  v_iso_now text := to_char(date_trunc('milliseconds', v_now) AT TIME ZONE 'UTC',
                            'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
BEGIN
  -- The sale window, by the database clock: one answer for the whole batch.
  IF (p_event_info->>'cancelled')::boolean
     OR v_now < (p_event_info->>'on_sale_at')::timestamptz
     OR v_now >= (p_event_info->>'starts_at')::timestamptz THEN
    RETURN QUERY
      SELECT (r.ord - 1)::int, 'not_on_sale'::text,
             jsonb_build_object('reason', CASE
               WHEN (p_event_info->>'cancelled')::boolean THEN 'cancelled'
               WHEN v_now < (p_event_info->>'on_sale_at')::timestamptz THEN 'not_started'
               ELSE 'started' END)
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, ord);
    RETURN;
  END IF;

  -- Customers, in lock-key order (reentrant: a customer twice in the batch is one lock).
  FOR v_key IN
    SELECT DISTINCT hashtextextended((r->>'c') || p_event::text, 7)
      FROM jsonb_array_elements(p_requests) AS r ORDER BY 1
  LOOP
    PERFORM pg_advisory_xact_lock(v_key);
  END LOOP;

  -- Every named ticket of the batch, in ticket order.
  SELECT count(*) INTO v_count FROM (
    SELECT 1 FROM tickets
     WHERE event_id = p_event AND ticket_no IN (
       SELECT (jsonb_array_elements_text(r->'t'))::int
         FROM jsonb_array_elements(p_requests) AS r WHERE r ? 't')
     ORDER BY ticket_no FOR UPDATE) locked;

  v_i := -1;
  FOR v_req IN SELECT r FROM jsonb_array_elements(p_requests) AS r LOOP
    v_i := v_i + 1;
    v_hold := (v_req->>'i')::uuid;
    v_customer := (v_req->>'c')::uuid;
    v_q := (v_req->>'q')::int;

    -- Idempotency: the record is created with the request's decision, in this statement.
    IF v_guard_idem AND v_req ? 'key' THEN
      IF (v_req->>'own')::boolean THEN
        PERFORM 1 FROM idempotency_keys
         WHERE customer_id = v_customer AND idem_key = v_req->>'key'
           AND owner = (v_req->>'owner')::uuid AND state = 'running';
        IF NOT FOUND THEN
          n := v_i; outcome := 'fenced'; detail := '{}'; RETURN NEXT; CONTINUE;
        END IF;
      ELSE
        INSERT INTO idempotency_keys (customer_id, idem_key, fingerprint, state, owner)
        VALUES (v_customer, v_req->>'key', v_req->>'fp', 'running', (v_req->>'owner')::uuid)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
          n := v_i; outcome := 'idem_seen'; detail := '{}'; RETURN NEXT; CONTINUE;
        END IF;
      END IF;
    END IF;

    -- The per-customer limit, under the customer's lock, counting this batch's holds too.
    IF v_guard_limit THEN
      SELECT ((SELECT coalesce(sum(h.quantity), 0) FROM holds h
                WHERE h.customer_id = v_customer AND h.event_id = p_event
                  AND h.state = 'held' AND h.claim_expires_at > now())
            + (SELECT coalesce(sum(o.quantity), 0) FROM orders o
                WHERE o.customer_id = v_customer AND o.event_id = p_event
                  AND o.status = 'confirmed'))::int
        INTO v_used;
      IF v_used + v_q > v_max THEN
        n := v_i; outcome := 'limit'; detail := jsonb_build_object('used', v_used);
        RETURN NEXT; CONTINUE;
      END IF;
    END IF;

    -- Which tickets: named ones (locked above), or free units of a standing zone.
    IF v_req->>'k' = 'units' THEN
      WITH above AS (
        SELECT ticket_no FROM tickets
         WHERE event_id = p_event AND zone_key = v_req->>'z'
           AND ticket_no >= (v_req->>'s')::int
           AND order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now())
         ORDER BY ticket_no LIMIT v_q FOR UPDATE SKIP LOCKED),
      below AS (
        SELECT ticket_no FROM tickets
         WHERE event_id = p_event AND zone_key = v_req->>'z'
           AND ticket_no < (v_req->>'s')::int
           AND order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now())
         ORDER BY ticket_no LIMIT v_q FOR UPDATE SKIP LOCKED),
      pick AS ((SELECT ticket_no FROM above) UNION ALL (SELECT ticket_no FROM below) LIMIT v_q)
      SELECT array_agg(ticket_no ORDER BY ticket_no) INTO v_nos FROM pick;
      IF coalesce(cardinality(v_nos), 0) < v_q THEN
        -- Short: decide "sold out" on committed state (others' uncommitted claims still
        -- count as free); otherwise free units were only locked by claims in flight.
        SELECT count(*)::int INTO v_free FROM tickets
         WHERE event_id = p_event AND zone_key = v_req->>'z'
           AND order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now());
        n := v_i;
        IF v_free < v_q THEN
          outcome := 'sold_out'; detail := jsonb_build_object('available', v_free);
        ELSE
          outcome := 'contended'; detail := '{}';
        END IF;
        RETURN NEXT; CONTINUE;
      END IF;
    ELSE
      SELECT array_agg(DISTINCT x::int ORDER BY x::int) INTO v_nos
        FROM jsonb_array_elements_text(v_req->'t') AS e(x);
      IF v_guard_claim THEN
        SELECT array_agg(ticket_no ORDER BY ticket_no) INTO v_taken FROM tickets
         WHERE event_id = p_event AND ticket_no = ANY(v_nos)
           AND NOT (order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now()));
        IF v_taken IS NOT NULL THEN
          n := v_i;
          IF v_req->>'k' = 'pick' THEN
            outcome := 'contended'; detail := '{}';
          ELSE
            outcome := 'unavailable'; detail := jsonb_build_object('tickets', to_jsonb(v_taken));
          END IF;
          RETURN NEXT; CONTINUE;
        END IF;
      END IF;
    END IF;

    -- Claim, record the hold, its items and the outbox row, and build the reply from the
    -- rows written.
    WITH claimed AS (
      UPDATE tickets t SET hold_id = v_hold, hold_expires_at = v_expires
       WHERE t.event_id = p_event AND t.ticket_no = ANY(v_nos)
      RETURNING t.ticket_no, t.zone_key, t.seat_id, t.section_key, t.row_label, t.seat_number),
    priced AS (
      SELECT c.*, coalesce((p_event_info->'prices'->>c.zone_key)::int, 0) AS price_cents
        FROM claimed c),
    summary AS (
      SELECT count(*)::int AS quantity, coalesce(sum(price_cents), 0)::bigint AS total,
             (count(*) = 1 OR (bool_and(seat_number IS NOT NULL)
               AND count(DISTINCT (section_key, row_label)) = 1
               AND count(DISTINCT seat_number) = count(*)
               AND max(seat_number) - min(seat_number) + 1 = count(*))) AS adjacent,
             jsonb_agg(jsonb_build_object('ticketNo', ticket_no, 'seatId', seat_id,
               'section', section_key, 'row', row_label, 'number', seat_number,
               'zone', zone_key, 'priceCents', price_cents) ORDER BY ticket_no) AS items,
             jsonb_agg(jsonb_build_object('ticketNo', ticket_no, 'seatId', seat_id,
               'zone', zone_key) ORDER BY ticket_no) AS outbox_tickets,
             (SELECT jsonb_agg(DISTINCT z ORDER BY z) FROM (SELECT zone_key AS z FROM priced) zs)
               AS zones
        FROM priced),
    hold AS (
      INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                         total_cents, expires_at, claim_expires_at, created_at)
      SELECT v_hold, p_event, v_customer, 'held', s.quantity, s.adjacent, v_currency, s.total,
             v_expires, v_expires, v_now
        FROM summary s),
    items AS (
      INSERT INTO hold_items (hold_id, event_id, ticket_no, zone_key, price_cents)
      SELECT v_hold, p_event, ticket_no, zone_key, price_cents FROM priced),
    outbox AS (
      INSERT INTO outbox_events (event_id, kind, payload)
      SELECT p_event, 'seats.held', jsonb_build_object('holdId', v_hold, 'customerId',
               v_customer, 'zones', s.zones, 'tickets', s.outbox_tickets)
        FROM summary s)
    SELECT jsonb_build_object('holdId', v_hold, 'eventId', p_event, 'status', 'held',
             'expiresAt', v_iso_expires, 'extended', false, 'adjacent', s.adjacent,
             'items', s.items, 'totalCents', s.total, 'currency', v_currency,
             'createdAt', v_iso_now, 'offer', false)
      INTO v_reply FROM summary s;

    IF v_guard_idem AND v_req ? 'key' THEN
      UPDATE idempotency_keys
         SET state = 'done', response_status = 201,
             response_body = jsonb_build_object('kind', 'reply', 'body', v_reply)
       WHERE customer_id = v_customer AND idem_key = v_req->>'key'
         AND owner = (v_req->>'owner')::uuid AND state = 'running';
    END IF;
    n := v_i; outcome := 'held'; detail := v_reply; RETURN NEXT;
  END LOOP;
END;
$$;
