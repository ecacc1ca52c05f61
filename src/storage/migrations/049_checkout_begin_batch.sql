-- Checkout's first statement for many checkouts at once (orders/checkoutBatch.ts): the
-- checkouts that arrive while earlier ones run are begun together, one round trip and one
-- commit for the batch instead of one each. Each request is decided on its own, exactly as
-- checkout_begin (migrations 017, 032) decides it alone, all or nothing, and a refusal is a
-- result, never an exception, so one request never aborts the others.
--
-- p_requests is a JSON array; element n answers as row n:
--   {h: hold, c: customer, o: order id, p: payment id, m: method, r?: provider reference,
--    key?, fp?, owner?, own?: the Idempotency-Key record, as checkout_begin's p_idem}
-- Outcomes: checkout_begin's ('started' with the same detail, 'idem_seen', 'fenced',
-- 'not_found', 'hold_purchased', 'hold_expired', 'payment_pending', 'not_on_sale').
--
-- Locks are taken in a fixed order so that batches running beside each other cannot
-- deadlock one another: first every Idempotency-Key record (by customer, key), then the
-- holds (by hold id), each hold's tickets right after it (by number; a ticket belongs to one
-- hold, so its lock is only ever asked for under its hold's). A deadlock with another kind of
-- transaction aborts the statement and the caller runs the batch again.
--
-- Within a batch, requests are decided in that order and each sees what the earlier ones
-- wrote: the same hold twice finds the first one's order and is refused 'payment_pending';
-- the same key twice finds the first one's record and answers 'idem_seen' (the caller then
-- replays, waits for or refuses it as idempotency_conflict, idempotency/store.ts).
--
-- p_skip names guards a race test's control removes (never production): 'pending' lets a
-- hold with a payment in flight start another one.
CREATE FUNCTION checkout_begin_batch(p_provider text, p_window_seconds int, p_requests jsonb,
                                     p_skip text[] DEFAULT '{}')
RETURNS TABLE (n int, outcome text, detail jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  v_count int := jsonb_array_length(p_requests);
  v_out text[] := array_fill(NULL::text, ARRAY[v_count]);
  v_detail jsonb[] := array_fill('{}'::jsonb, ARRAY[v_count]);
  v_skip_pending boolean := 'pending' = ANY (p_skip);
  r record;
  v_hold uuid;
  v_customer uuid;
  v_event uuid;
  v_state text;
  v_live boolean;
  v_quantity int;
  v_total bigint;
  v_currency text;
  v_pending boolean;
  v_cancelled boolean;
  v_claim timestamptz;
  v_mine int;
BEGIN
  -- 1. The Idempotency-Key records, by (customer, key).
  FOR r IN
    SELECT e.ord::int AS i, e.req
      FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS e(req, ord)
     WHERE e.req ? 'key'
     ORDER BY (e.req->>'c')::uuid, e.req->>'key', e.ord
  LOOP
    IF (r.req->>'own')::boolean THEN
      PERFORM 1 FROM idempotency_keys
       WHERE customer_id = (r.req->>'c')::uuid AND idem_key = r.req->>'key'
         AND owner = (r.req->>'owner')::uuid AND state = 'running';
      IF NOT FOUND THEN v_out[r.i] := 'fenced'; END IF;
    ELSE
      INSERT INTO idempotency_keys (customer_id, idem_key, fingerprint, state, owner)
      VALUES ((r.req->>'c')::uuid, r.req->>'key', r.req->>'fp', 'running',
              (r.req->>'owner')::uuid)
      ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN v_out[r.i] := 'idem_seen'; END IF;
    END IF;
  END LOOP;

  -- 2. The holds still undecided, by hold id: checkout_begin's checks and writes, each.
  FOR r IN
    SELECT e.ord::int AS i, e.req
      FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS e(req, ord)
     ORDER BY (e.req->>'h')::uuid, e.ord
  LOOP
    CONTINUE WHEN v_out[r.i] IS NOT NULL;
    v_hold := (r.req->>'h')::uuid;
    v_customer := (r.req->>'c')::uuid;
    PERFORM 1 FROM holds WHERE hold_id = v_hold AND customer_id = v_customer FOR UPDATE;
    IF NOT FOUND THEN v_out[r.i] := 'not_found'; CONTINUE; END IF;
    SELECT h.event_id, h.state, h.expires_at > now() AND h.claim_expires_at > now(),
           h.quantity, h.total_cents, h.currency,
           EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = h.hold_id
                                           AND o.status = 'pending_payment'),
           EXISTS (SELECT 1 FROM events e WHERE e.event_id = h.event_id
                                           AND e.cancelled_at IS NOT NULL)
      INTO v_event, v_state, v_live, v_quantity, v_total, v_currency, v_pending, v_cancelled
      FROM holds h WHERE h.hold_id = v_hold;
    IF v_state = 'purchased' THEN v_out[r.i] := 'hold_purchased'; CONTINUE; END IF;
    IF v_state <> 'held' OR NOT v_live THEN v_out[r.i] := 'hold_expired'; CONTINUE; END IF;
    IF v_pending AND NOT v_skip_pending THEN
      v_out[r.i] := 'payment_pending'; CONTINUE;
    END IF;
    -- Decided here, not from the node's event cache (see 017).
    IF v_cancelled THEN v_out[r.i] := 'not_on_sale'; CONTINUE; END IF;

    -- Every ticket must still be the hold's; checked before anything is written (see 017).
    SELECT count(*)::int INTO v_mine FROM (
      SELECT 1 FROM hold_items i
        JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
       WHERE i.hold_id = v_hold AND t.event_id = v_event AND t.hold_id = v_hold
         AND t.order_id IS NULL
       ORDER BY t.ticket_no FOR UPDATE OF t) mine;
    IF v_mine <> v_quantity THEN v_out[r.i] := 'hold_expired'; CONTINUE; END IF;

    INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                        total_cents, currency)
    VALUES ((r.req->>'o')::uuid, v_event, v_customer, v_hold, 'pending_payment', v_quantity,
            v_total, v_currency);
    INSERT INTO payments (payment_id, order_id, event_id, provider, method, amount_cents,
                          currency, status, provider_ref)
    VALUES ((r.req->>'p')::uuid, (r.req->>'o')::uuid, v_event, p_provider, r.req->>'m',
            v_total, v_currency, 'pending', r.req->>'r');
    UPDATE holds SET claim_expires_at = greatest(claim_expires_at,
                                                 now() + make_interval(secs => p_window_seconds))
     WHERE hold_id = v_hold
    RETURNING claim_expires_at INTO v_claim;
    UPDATE tickets t SET hold_expires_at = v_claim
      FROM hold_items i
     WHERE i.hold_id = v_hold AND t.event_id = i.event_id AND t.ticket_no = i.ticket_no
       AND t.event_id = v_event AND t.hold_id = v_hold AND t.order_id IS NULL;

    v_out[r.i] := 'started';
    v_detail[r.i] := jsonb_build_object('eventId', v_event, 'amountCents', v_total,
                                        'currency', v_currency, 'quantity', v_quantity);
  END LOOP;

  RETURN QUERY SELECT s.i - 1, v_out[s.i], v_detail[s.i]
                 FROM generate_subscripts(v_out, 1) AS s(i);
END;
$$;
