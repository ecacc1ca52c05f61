-- The batch's replies built as json text, and no sort per hold (replaces hold_batch of
-- migration 070, from its text: same arguments, locks, decisions and writes; the `detail`
-- column is json instead of jsonb, with the same keys and values).
--
-- On embedded PGlite the server runs as WebAssembly on the database's only thread, which
-- is what bounds the embedded node's holds per second, and a batch's one write statement
-- is most of a batch's time there. Three things it did per granted hold cost more than
-- they need to:
--
-- * The reply (the hold with its items) was built as jsonb: every object's keys sorted
--   and the nested items copied into the reply's binary form, only for the reply to be
--   printed as text to the node. It is built as json now (text as written). The key
--   record still stores it as jsonb (converted only for requests with a key), and the
--   outbox payload stays jsonb.
-- * Adjacency counted distinct (section, row) and distinct seat numbers, and the zones
--   were a DISTINCT aggregate: three sorts per hold. Tickets of one hold are distinct
--   ticket numbers, so distinct seats, and seats of one section and row with distinct ids
--   have distinct numbers: min = max of section and row says the same as one distinct
--   pair, and max - min + 1 = count then says the numbers are consecutive. The zones are
--   one zone's key unless the hold spans zones (then the DISTINCT aggregate, for that hold
--   only). The two aggregates by ticket number share one sort of the batch's tickets.
-- * The per-customer count was rewritten (jsonb_set, a copy of the whole map) after each
--   grant; it is only read again for a customer with a second request in the batch, so it
--   is kept up to date only in a batch that has one.
--
-- The return type changes, so the function is dropped and created (in the migration's
-- transaction). Measured: docs/benchmarks-journal.md, "Embedded holds: the batch's write
-- statement" (2026-11-27).
DROP FUNCTION IF EXISTS hold_batch(uuid, jsonb, jsonb, text[]);
CREATE FUNCTION hold_batch(p_event uuid, p_event_info jsonb, p_requests jsonb,
                           p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (n int, outcome text, detail json)
LANGUAGE plpgsql VOLATILE
-- Every statement here is keyed by the event and ticket numbers, so one generic plan fits
-- all calls: planned once per connection instead of afresh for its first five calls.
SET plan_cache_mode = force_generic_plan
-- Migration 052: no sequential scan, whatever the statistics (a keyed lookup everywhere).
SET enable_seqscan = off
AS $$
DECLARE
  v_now timestamptz := now();
  v_expires timestamptz := now() + make_interval(secs => (p_event_info->>'hold_seconds')::int);
  v_max int := (p_event_info->>'max_per_customer')::int;
  v_currency text := p_event_info->>'currency';
  v_guard_claim boolean := NOT ('claim' = ANY(p_unguarded));
  v_guard_limit boolean := NOT ('limit' = ANY(p_unguarded));
  v_guard_idem boolean := NOT ('idempotency' = ANY(p_unguarded));
  v_guard_pass boolean := NOT ('pass' = ANY(p_unguarded));
  v_passed text[] := '{}';
  v_reason text;
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
  v_customers uuid[];
  v_free int;
  v_versions jsonb;
  v_usage jsonb;
  v_repeats boolean;
  v_grant_hold uuid[] := '{}';
  v_grant_customer uuid[] := '{}';
  v_grant_n int[] := '{}';
  v_grant_key text[] := '{}';
  v_grant_owner uuid[] := '{}';
  v_ticket_no int[] := '{}';
  v_ticket_hold uuid[] := '{}';
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
             json_build_object('reason', CASE
               WHEN (p_event_info->>'cancelled')::boolean THEN 'cancelled'
               WHEN v_now < (p_event_info->>'on_sale_at')::timestamptz THEN 'not_started'
               ELSE 'started' END)
        FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(req, ord);
    RETURN;
  END IF;

  -- Customers, in lock-key order (reentrant: a customer twice in the batch is one lock).
  -- One statement: the locks are taken row by row in the sorted subquery's order.
  PERFORM pg_advisory_xact_lock(k.key) FROM (
    SELECT DISTINCT hashtextextended((r->>'c') || p_event::text, 7) AS key
      FROM jsonb_array_elements(p_requests) AS r ORDER BY 1) k;
  v_customers := ARRAY(SELECT DISTINCT (r->>'c')::uuid
                         FROM jsonb_array_elements(p_requests) AS r);
  -- Only a customer with two requests in the batch has a count to keep up to date in it.
  v_repeats := cardinality(v_customers) < jsonb_array_length(p_requests);

  -- Current token versions of the customers whose requests carry their token's version.
  -- (= ANY of an array: one primary-key probe per customer, whatever the table's size.)
  -- (Only when a request carries one: `@?` on a variable needs no statement.)
  v_versions := '{}';
  IF p_requests @? '$[*].v' THEN
    SELECT coalesce(jsonb_object_agg(c.customer_id, c.token_version), '{}') INTO v_versions
      FROM customers c
     WHERE c.customer_id = ANY (ARRAY(
             SELECT (r->>'c')::uuid FROM jsonb_array_elements(p_requests) AS r WHERE r ? 'v'));
  END IF;

  -- Queue passes: claim the live admission each request's pass names, in customer order,
  -- skipping requests whose token is revoked (they claim nothing). See the header.
  -- (`@?` on a variable is evaluated without a statement: a batch without passes pays
  -- nothing.) Claimed admissions are remembered as 'customer/pass'.
  IF v_guard_pass AND p_requests @? '$[*].p' THEN
    -- (= ANY of arrays, as for the token versions: primary-key probes, whatever the
    -- table's size. A join with the requests was planned as a hash join over a sequential
    -- scan of every admission of the table: 50 ms at 50,000 admissions.)
    WITH target AS (
      SELECT a.customer_id, a.pass_id FROM queue_admissions a
       WHERE a.event_id = p_event
         AND a.customer_id = ANY (ARRAY(
               SELECT (r->>'c')::uuid FROM jsonb_array_elements(p_requests) AS r
                WHERE r ? 'p'
                  AND NOT (r ? 'v'
                           AND coalesce((v_versions->>(r->>'c'))::int, 0) > (r->>'v')::int)))
         AND a.customer_id::text || '/' || a.pass_id::text = ANY (ARRAY(
               SELECT (r->>'c')::uuid::text || '/' || (r->>'p')::uuid::text
                 FROM jsonb_array_elements(p_requests) AS r WHERE r ? 'p'))
         AND a.released_at IS NULL AND a.expires_at > v_now
         AND (a.claimed_at IS NOT NULL OR a.claim_by > v_now)
       ORDER BY a.customer_id FOR UPDATE),
    claimed AS (
      UPDATE queue_admissions a SET claimed_at = v_now
        FROM target t
       WHERE a.event_id = p_event AND a.customer_id = t.customer_id
      RETURNING a.customer_id, a.pass_id)
    SELECT coalesce(array_agg(customer_id::text || '/' || pass_id::text), '{}') INTO v_passed
      FROM claimed;
  END IF;

  -- Every customer's tickets on this event, once, under their locks: live holds and
  -- confirmed orders, read per distinct customer of the batch through the customer's own
  -- index entries (a subquery per customer, which is never made a join), planned afresh
  -- for each batch from the tables' sizes as they are (EXECUTE: see the header). Only the
  -- customer is an index condition: event and expiry filter the sums. Kept up to date
  -- below as the batch grants; a customer with none is absent (0).
  IF v_guard_limit THEN
    EXECUTE $count$
      SELECT coalesce(jsonb_object_agg(u.customer_id::text, u.used) FILTER (WHERE u.used > 0),
                      '{}')
        FROM (SELECT c.customer_id,
                     (SELECT coalesce(sum(h.quantity) FILTER (
                               WHERE h.event_id = $2 AND h.claim_expires_at > now()), 0)
                        FROM holds h
                       WHERE h.customer_id = c.customer_id AND h.state = 'held')
                   + (SELECT coalesce(sum(o.quantity) FILTER (WHERE o.event_id = $2), 0)
                        FROM orders o
                       WHERE o.customer_id = c.customer_id AND o.status = 'confirmed')
                     AS used
                FROM unnest($1::uuid[]) AS c(customer_id)
              OFFSET 0) u
    $count$ INTO v_usage USING v_customers, p_event;
  END IF;

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
      detail := json_build_object('version', (v_versions->>(v_req->>'c'))::int);
      RETURN NEXT; CONTINUE;
    END IF;

    -- A pass this batch did not claim: why, from the row as committed (one statement, for
    -- refused requests only), in the order the hold gate has always answered.
    IF v_guard_pass AND v_req ? 'p'
       AND NOT (v_customer::text || '/' || (v_req->>'p')::uuid::text = ANY(v_passed)) THEN
      SELECT CASE
               WHEN a.customer_id IS NULL OR a.pass_id <> (v_req->>'p')::uuid THEN 'not_current'
               WHEN a.released_at IS NOT NULL THEN 'used_up'
               WHEN a.claimed_at IS NULL THEN 'lapsed'
               ELSE 'expired' END INTO v_reason
        FROM (SELECT 1) one
        LEFT JOIN queue_admissions a ON a.event_id = p_event AND a.customer_id = v_customer;
      n := v_i; outcome := 'pass'; detail := json_build_object('reason', v_reason);
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

    -- The per-customer limit, under the customer's lock, counting this batch's grants too.
    IF v_guard_limit THEN
      v_used := coalesce((v_usage->>v_customer::text)::int, 0);
      IF v_used + v_q > v_max THEN
        n := v_i; outcome := 'limit'; detail := json_build_object('used', v_used);
        RETURN NEXT; CONTINUE;
      END IF;
    END IF;

    -- Which tickets: named ones (locked above), or free units of a standing zone.
    IF v_req->>'k' = 'units' THEN
      WITH above AS (
        SELECT ticket_no FROM tickets
         WHERE event_id = p_event AND zone_key = v_req->>'z'
           AND ticket_no >= (v_req->>'s')::int AND ticket_no <> ALL(v_claimed)
           AND order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now())
         ORDER BY ticket_no LIMIT v_q FOR UPDATE SKIP LOCKED),
      below AS (
        SELECT ticket_no FROM tickets
         WHERE event_id = p_event AND zone_key = v_req->>'z'
           AND ticket_no < (v_req->>'s')::int AND ticket_no <> ALL(v_claimed)
           AND order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now())
         ORDER BY ticket_no LIMIT v_q FOR UPDATE SKIP LOCKED),
      pick AS ((SELECT ticket_no FROM above) UNION ALL (SELECT ticket_no FROM below) LIMIT v_q)
      SELECT array_agg(ticket_no ORDER BY ticket_no) INTO v_nos FROM pick;
      IF coalesce(cardinality(v_nos), 0) < v_q THEN
        -- Short: decide "sold out" on committed state (others' uncommitted claims still
        -- count as free); otherwise free units were only locked by claims in flight.
        SELECT count(*)::int INTO v_free FROM tickets
         WHERE event_id = p_event AND zone_key = v_req->>'z' AND ticket_no <> ALL(v_claimed)
           AND order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now());
        n := v_i;
        IF v_free < v_q THEN
          outcome := 'sold_out'; detail := json_build_object('available', v_free);
        ELSE
          outcome := 'contended'; detail := '{}';
        END IF;
        RETURN NEXT; CONTINUE;
      END IF;
    ELSE
      -- A JSON array of numbers read as an int[] by a cast (no statement); several tickets
      -- are sorted and made distinct by one.
      v_nos := translate(v_req->>'t', '[]', '{}')::int[];
      IF cardinality(v_nos) > 1 THEN
        SELECT array_agg(DISTINCT x ORDER BY x) INTO v_nos FROM unnest(v_nos) AS x;
      END IF;
      -- Taken: not free when locked above, or claimed by an earlier request of this batch
      -- (nothing else can change a ticket this batch has locked). Which ones is asked only
      -- of a refused request.
      IF v_guard_claim AND (NOT (v_nos <@ v_locked) OR v_nos && v_claimed) THEN
        SELECT array_agg(x ORDER BY x) INTO v_taken FROM unnest(v_nos) AS x
         WHERE NOT (x = ANY(v_locked)) OR x = ANY(v_claimed);
        IF v_taken IS NOT NULL THEN
          n := v_i;
          IF v_req->>'k' = 'pick' THEN
            -- Which seats were taken: the picker's view drops them (holds/holds.ts).
            outcome := 'contended'; detail := json_build_object('tickets', v_taken);
          ELSE
            outcome := 'unavailable'; detail := json_build_object('tickets', v_taken);
          END IF;
          RETURN NEXT; CONTINUE;
        END IF;
      END IF;
    END IF;

    -- Granted: written after the loop, with the batch's other grants.
    v_grant_hold := v_grant_hold || v_hold;
    v_grant_customer := v_grant_customer || v_customer;
    v_grant_n := v_grant_n || v_i;
    IF v_guard_idem AND v_req ? 'key' THEN
      v_grant_key := v_grant_key || (v_req->>'key');
      v_grant_owner := v_grant_owner || (v_req->>'owner')::uuid;
    ELSE
      v_grant_key := v_grant_key || NULL::text;
      v_grant_owner := v_grant_owner || NULL::uuid;
    END IF;
    v_ticket_no := v_ticket_no || v_nos;
    v_ticket_hold := v_ticket_hold || array_fill(v_hold, ARRAY[cardinality(v_nos)]);
    v_claimed := v_claimed || v_nos;
    IF v_guard_limit AND v_repeats THEN
      v_usage := jsonb_set(v_usage, ARRAY[v_customer::text], to_jsonb(v_used + v_q));
    END IF;
  END LOOP;

  IF cardinality(v_grant_hold) = 0 THEN
    RETURN;
  END IF;

  -- Claim every granted ticket and record every hold, its items, its outbox row and its key
  -- record in one statement; each reply is built from the rows written. The holds' items
  -- come from the grants themselves (the claim's RETURNING would fold two grants of one
  -- ticket into one row, which only the race tests' unguarded control can produce).
  RETURN QUERY
  WITH grants AS (
    SELECT g.hold, g.customer, g.n, g.idem_key, g.owner
      FROM unnest(v_grant_hold, v_grant_customer, v_grant_n, v_grant_key, v_grant_owner)
           AS g(hold, customer, n, idem_key, owner)),
  chosen AS (
    SELECT c.no, c.hold FROM unnest(v_ticket_no, v_ticket_hold) AS c(no, hold)),
  claimed AS (
    UPDATE tickets t SET hold_id = c.hold, hold_expires_at = v_expires
      FROM chosen c
     WHERE t.event_id = p_event AND t.ticket_no = c.no
    RETURNING t.ticket_no),
  priced AS (
    SELECT c.hold, t.ticket_no, t.zone_key, t.seat_id, t.section_key, t.row_label,
           t.seat_number, coalesce((p_event_info->'prices'->>t.zone_key)::int, 0) AS price_cents
      FROM chosen c JOIN tickets t ON t.event_id = p_event AND t.ticket_no = c.no),
  summary AS (
    SELECT p.hold, count(*)::int AS quantity, coalesce(sum(p.price_cents), 0)::bigint AS total,
           (count(*) = 1 OR coalesce(bool_and(p.seat_number IS NOT NULL)
             AND min(p.section_key) = max(p.section_key)
             AND min(p.row_label) = max(p.row_label)
             AND max(p.seat_number) - min(p.seat_number) + 1 = count(*), false)) AS adjacent,
           json_agg(json_build_object('ticketNo', p.ticket_no, 'seatId', p.seat_id,
             'section', p.section_key, 'row', p.row_label, 'number', p.seat_number,
             'zone', p.zone_key, 'priceCents', p.price_cents) ORDER BY p.ticket_no) AS items,
           jsonb_agg(jsonb_build_object('ticketNo', p.ticket_no, 'seatId', p.seat_id,
             'zone', p.zone_key) ORDER BY p.ticket_no) AS outbox_tickets,
           min(p.zone_key) AS zone_min, max(p.zone_key) AS zone_max
      FROM priced p GROUP BY p.hold),
  granted AS (
    SELECT g.*, s.quantity, s.total, s.adjacent, s.items, s.outbox_tickets,
           CASE WHEN s.zone_min = s.zone_max THEN jsonb_build_array(s.zone_min)
                ELSE (SELECT jsonb_agg(DISTINCT p.zone_key ORDER BY p.zone_key)
                        FROM priced p WHERE p.hold = g.hold) END AS zones,
           json_build_object('holdId', g.hold, 'eventId', p_event, 'status', 'held',
             'expiresAt', v_iso_expires, 'extended', false, 'adjacent', s.adjacent,
             'items', s.items, 'totalCents', s.total, 'currency', v_currency,
             'createdAt', v_iso_now, 'offer', false) AS reply
      FROM grants g JOIN summary s ON s.hold = g.hold),
  hold AS (
    INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                       total_cents, expires_at, claim_expires_at, created_at)
    SELECT g.hold, p_event, g.customer, 'held', g.quantity, g.adjacent, v_currency, g.total,
           v_expires, v_expires, v_now
      FROM granted g ORDER BY g.n),
  items AS (
    INSERT INTO hold_items (hold_id, event_id, ticket_no, zone_key, price_cents)
    SELECT p.hold, p_event, p.ticket_no, p.zone_key, p.price_cents FROM priced p),
  outbox AS (
    INSERT INTO outbox_events (event_id, kind, payload)
    SELECT p_event, 'seats.held', jsonb_build_object('holdId', g.hold, 'customerId',
             g.customer, 'zones', g.zones, 'tickets', g.outbox_tickets)
      FROM granted g ORDER BY g.n),
  keys AS (
    UPDATE idempotency_keys k
       SET state = 'done', response_status = 201,
           response_body = jsonb_build_object('kind', 'reply', 'body', g.reply)
      FROM granted g
     WHERE g.idem_key IS NOT NULL AND k.customer_id = g.customer AND k.idem_key = g.idem_key
       AND k.owner = g.owner AND k.state = 'running')
  SELECT g.n, 'held'::text, g.reply FROM granted g ORDER BY g.n;
END;
$$;
