-- Hold batches check the requester's token version (replaces hold_batch of migration 023;
-- same signature and results, plus one outcome; see 011 for the rest).
--
-- A customer token carries the version it was issued at; "log out everywhere" bumps the
-- customer's version and every older token is refused. The auth hook read each new
-- customer's version in a statement of its own before the request could go on: on an
-- on-sale, where nearly every request is a customer this node has not seen in the last
-- few seconds, a hold cost that extra round trip (one read in flight at a time, shared by
-- the customers missed meanwhile) before its batch. Now a request may carry the version
-- of its token (`v`); the batch reads the versions of all such customers in one index scan
-- and refuses a request whose token is older than its customer's current version as
-- 'revoked' (detail: the current version), before its idempotency record, its limit
-- count or its claim: a revoked token changes nothing. Requests without `v` (the version
-- was checked from the node's cache, or by the caller) are decided as before.
CREATE OR REPLACE FUNCTION hold_batch(p_event uuid, p_event_info jsonb, p_requests jsonb,
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
  v_locked int[];
  v_claimed int[] := '{}';
  v_used int;
  v_key bigint;
  v_free int;
  v_reply jsonb;
  v_iso_expires text := to_char(date_trunc('milliseconds', v_expires) AT TIME ZONE 'UTC',
                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  v_versions jsonb;
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

  -- Every named ticket of the batch that is free, in ticket order. A ticket already taken
  -- by committed state is not locked: requests naming it are refused without waiting for
  -- anyone, and a batch of refusals locks no row (no transaction id, no WAL flush at
  -- commit). A free ticket another transaction is claiming is waited for; after the wait
  -- its newest version is checked again (READ COMMITTED re-check), so a ticket that batch
  -- took is left out. What is locked here stays free for this batch alone until commit.
  SELECT coalesce(array_agg(ticket_no), '{}') INTO v_locked FROM (
    SELECT ticket_no FROM tickets
     WHERE event_id = p_event AND ticket_no IN (
       SELECT (jsonb_array_elements_text(r->'t'))::int
         FROM jsonb_array_elements(p_requests) AS r WHERE r ? 't')
       AND (NOT v_guard_claim
            OR (order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now())))
     ORDER BY ticket_no FOR UPDATE) locked;

  -- Current token versions of the customers whose requests carry their token's version.
  -- (= ANY of an array: one primary-key probe per customer, whatever the table's size.)
  SELECT coalesce(jsonb_object_agg(c.customer_id, c.token_version), '{}') INTO v_versions
    FROM customers c
   WHERE c.customer_id = ANY (ARRAY(
           SELECT (r->>'c')::uuid FROM jsonb_array_elements(p_requests) AS r WHERE r ? 'v'));

  v_i := -1;
  FOR v_req IN SELECT r FROM jsonb_array_elements(p_requests) AS r LOOP
    v_i := v_i + 1;
    v_hold := (v_req->>'i')::uuid;
    v_customer := (v_req->>'c')::uuid;
    v_q := (v_req->>'q')::int;

    -- A revoked token: refused before anything is written for it.
    IF v_req ? 'v'
       AND coalesce((v_versions->>(v_req->>'c'))::int, 0) > (v_req->>'v')::int THEN
      n := v_i; outcome := 'revoked';
      detail := jsonb_build_object('version', (v_versions->>(v_req->>'c'))::int);
      RETURN NEXT; CONTINUE;
    END IF;

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
        -- Taken: not free when locked above, or claimed by an earlier request of this batch
        -- (nothing else can change a ticket this batch has locked). No statement needed.
        SELECT array_agg(x ORDER BY x) INTO v_taken FROM unnest(v_nos) AS x
         WHERE NOT (x = ANY(v_locked)) OR x = ANY(v_claimed);
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
    v_claimed := v_claimed || v_nos;
    n := v_i; outcome := 'held'; detail := v_reply; RETURN NEXT;
  END LOOP;
END;
$$;
