-- A settle item that does not know its ticket count brings no ticket codes: the batch makes
-- them.
--
-- Every item of a settle batch carried ticket codes for the tickets it might issue. A
-- checkout knows its count; a webhook, a reconciler answer or a failed start does not, so
-- such items carried codes for the most a hold can have (limits.seatsPerHold, 50): 50 codes
-- of 128 random bits each, about 1.3 kB of JSON per item, made in the node, sent to the
-- database and parsed there, and almost always thrown away (a sim_ok checkout settles its
-- own payment; its two webhooks then find it settled). An item without a 'codes' key now
-- has its codes made here, only when it confirms, from gen_random_uuid (a strong random
-- source): 128 random bits each, base64url without padding, as the node makes them. An item
-- with a 'codes' array still uses exactly that array (too short is still an error).
-- Otherwise settle_batch is 027's unchanged.

-- 128 random bits as 22 characters of base64url (the ticket code format of core/ids.ts
-- randomToken(16)): 120 random bits of one version-4 UUID (its version nibble and variant
-- nibble left out) and 8 of another.
CREATE OR REPLACE FUNCTION ticket_code() RETURNS text
LANGUAGE sql VOLATILE
AS $$
  SELECT rtrim(translate(encode(decode(
           substr(a, 1, 12) || substr(a, 14, 3) || substr(a, 18, 15) || substr(b, 1, 2),
           'hex'), 'base64'), '+/', '-_'), '=')
    FROM (SELECT replace(gen_random_uuid()::text, '-', '') AS a,
                 replace(gen_random_uuid()::text, '-', '') AS b) AS u
$$;

CREATE OR REPLACE FUNCTION settle_batch(
  p_provider text, p_items jsonb, p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (n int, outcome text, detail jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  v_guard_live boolean := NOT ('hold_live' = ANY(p_unguarded));
  v_ids uuid[];
  v_item jsonb;
  v_i int := -1;
  v_p uuid;
  v_ev jsonb;
  v_rec record;
  v_path text;
  v_live int;
  v_claim timestamptz;
  v_sold jsonb;
  v_count int;
  v_confirmed boolean;
  v_reason text;
BEGIN
  -- News about a payment already settled is a no-op whatever happens next (a payment only
  -- moves forward; the one move out of 'declined' is the slow path's), so its item needs no
  -- lock: only payments still pending, and captures of declined ones, are locked.
  SELECT array_agg(DISTINCT (i->>'p')::uuid ORDER BY (i->>'p')::uuid) INTO v_ids
    FROM jsonb_array_elements(p_items) AS i
   WHERE NOT EXISTS (SELECT 1 FROM payments p
                      WHERE p.payment_id = (i->>'p')::uuid AND p.status <> 'pending'
                        AND NOT (p.status = 'declined' AND i->>'s' = 'captured'));

  -- Locks, in the fixed order: payments and their orders, holds, tickets.
  PERFORM 1 FROM payments p JOIN orders o ON o.order_id = p.order_id
   WHERE p.payment_id = ANY(v_ids) ORDER BY p.payment_id FOR UPDATE OF p, o;
  PERFORM 1 FROM holds h
   WHERE h.hold_id IN (SELECT o.hold_id FROM payments p JOIN orders o ON o.order_id = p.order_id
                        WHERE p.payment_id = ANY(v_ids))
   ORDER BY h.hold_id FOR UPDATE;
  -- A hold's tickets are found through hold_items (tickets.hold_id is not indexed, so that
  -- claims are HOT updates, migration 024); tickets.hold_id is still checked everywhere.
  PERFORM 1 FROM hold_items i
    JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
   WHERE i.hold_id IN (SELECT o.hold_id FROM payments p JOIN orders o ON o.order_id = p.order_id
                        WHERE p.payment_id = ANY(v_ids))
     AND t.hold_id = i.hold_id
   ORDER BY t.event_id, t.ticket_no FOR UPDATE OF t;

  FOR v_item IN SELECT i FROM jsonb_array_elements(p_items) AS i LOOP
    v_i := v_i + 1;
    v_p := (v_item->>'p')::uuid;
    v_ev := v_item->'ev';

    -- A fresh statement, so it sees what earlier items of this batch wrote.
    SELECT p.status AS payment_status, p.amount_cents, p.currency, p.provider_ref,
           o.order_id, o.status AS order_status, o.hold_id, o.event_id, o.customer_id,
           o.quantity, h.state AS hold_state, h.claim_expires_at > now() AS hold_live
      INTO v_rec
      FROM payments p JOIN orders o ON o.order_id = p.order_id
      JOIN holds h ON h.hold_id = o.hold_id
     WHERE p.payment_id = v_p;
    IF NOT FOUND THEN
      IF v_ev IS NOT NULL THEN
        INSERT INTO provider_events (provider, provider_event_id, kind, payment_id, captured)
        VALUES (p_provider, v_ev->>'id', v_ev->>'kind', v_p, v_item->>'s' = 'captured')
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
          n := v_i; outcome := 'duplicate'; detail := '{}'; RETURN NEXT; CONTINUE;
        END IF;
      END IF;
      n := v_i; outcome := 'unknown'; detail := '{}'; RETURN NEXT; CONTINUE;
    END IF;

    -- A signed event can still be about another charge that carries our payment id.
    IF v_ev IS NOT NULL THEN
      v_reason := CASE
        WHEN v_rec.provider_ref IS NOT NULL AND v_rec.provider_ref <> v_item->>'r' THEN
          format('event is about %s, the payment is %s', v_item->>'r', v_rec.provider_ref)
        WHEN v_item ? 'am' AND (v_item->>'am')::bigint <> v_rec.amount_cents THEN
          format('event amount %s, the payment is %s', v_item->>'am', v_rec.amount_cents)
        WHEN v_item ? 'cu' AND v_item->>'cu' <> v_rec.currency THEN
          format('event currency %s, the payment is %s', v_item->>'cu', v_rec.currency)
      END;
      IF v_reason IS NOT NULL THEN
        INSERT INTO provider_events (provider, provider_event_id, kind, payment_id, captured)
        VALUES (p_provider, v_ev->>'id', 'payment.mismatch', v_p, v_item->>'s' = 'captured')
        ON CONFLICT DO NOTHING;
        n := v_i;
        IF FOUND THEN
          outcome := 'mismatch'; detail := jsonb_build_object('mismatch', v_reason);
        ELSE
          outcome := 'duplicate'; detail := '{}';
        END IF;
        RETURN NEXT; CONTINUE;
      END IF;
    END IF;

    -- Decide the path before writing anything for the item.
    IF v_rec.payment_status <> 'pending' THEN
      -- Settled before: the same news again changes nothing; a capture of a payment
      -- recorded as declined must be refunded (slow path).
      v_path := CASE WHEN v_item->>'s' = 'captured' AND v_rec.payment_status = 'declined'
                     THEN 'slow' ELSE 'noop' END;
    ELSIF v_item->>'s' = 'declined' THEN
      v_path := 'decline';
    ELSIF v_rec.order_status <> 'pending_payment' THEN
      v_path := 'slow';
    ELSE
      SELECT count(*)::int INTO v_live FROM hold_items i
        JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
       WHERE i.hold_id = v_rec.hold_id AND t.event_id = v_rec.event_id
         AND t.hold_id = v_rec.hold_id AND t.order_id IS NULL AND t.hold_expires_at > now();
      v_path := CASE
        WHEN NOT v_guard_live THEN 'confirm'
        WHEN v_rec.hold_state = 'held' AND v_rec.hold_live AND v_live = v_rec.quantity
          THEN 'confirm'
        ELSE 'slow' END;
    END IF;
    IF v_path = 'slow' THEN
      n := v_i; outcome := 'slow'; detail := '{}'; RETURN NEXT; CONTINUE;
    END IF;

    IF v_item ? 'key' THEN
      PERFORM 1 FROM idempotency_keys
       WHERE customer_id = (v_item->>'c')::uuid AND idem_key = v_item->>'key'
         AND owner = (v_item->>'owner')::uuid AND state = 'running'
       FOR UPDATE;
      IF NOT FOUND THEN
        n := v_i; outcome := 'fenced'; detail := '{}'; RETURN NEXT; CONTINUE;
      END IF;
    END IF;
    IF v_ev IS NOT NULL THEN
      INSERT INTO provider_events (provider, provider_event_id, kind, payment_id, captured)
      VALUES (p_provider, v_ev->>'id', v_ev->>'kind', v_p, v_item->>'s' = 'captured')
      ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        n := v_i; outcome := 'duplicate'; detail := '{}'; RETURN NEXT; CONTINUE;
      END IF;
    END IF;

    v_confirmed := false;
    IF v_path = 'decline' THEN
      UPDATE payments SET status = 'declined', decline_reason = v_item->>'why',
             settled_at = now(), provider_ref = coalesce(provider_ref, v_item->>'r')
       WHERE payment_id = v_p;
      v_reason := 'payment declined: ' || (v_item->>'why');
      UPDATE orders SET status = 'payment_failed', failure_reason = v_reason
       WHERE order_id = v_rec.order_id AND status = 'pending_payment';
      IF FOUND THEN
        INSERT INTO outbox_events (event_id, kind, payload)
        VALUES (v_rec.event_id, 'order.payment_failed', jsonb_build_object(
          'customerId', v_rec.customer_id, 'orderId', v_rec.order_id, 'reason', v_reason));
      END IF;
      -- After a decline the buyer may retry until their own timer ends, no longer.
      UPDATE holds SET claim_expires_at = expires_at
       WHERE hold_id = v_rec.hold_id AND state = 'held'
      RETURNING claim_expires_at INTO v_claim;
      IF FOUND THEN
        UPDATE tickets t SET hold_expires_at = v_claim
          FROM hold_items i
         WHERE i.hold_id = v_rec.hold_id AND t.event_id = i.event_id
           AND t.ticket_no = i.ticket_no AND t.event_id = v_rec.event_id
           AND t.hold_id = v_rec.hold_id AND t.order_id IS NULL;
      END IF;
    ELSIF v_path = 'confirm' THEN
      UPDATE payments SET status = 'captured', settled_at = now(),
             provider_ref = coalesce(provider_ref, v_item->>'r')
       WHERE payment_id = v_p;
      UPDATE holds SET state = 'purchased', ended_at = now()
       WHERE hold_id = v_rec.hold_id AND state = 'held';
      WITH sold AS (
        UPDATE tickets t SET order_id = v_rec.order_id, hold_id = NULL, hold_expires_at = NULL
          FROM hold_items hi
         WHERE hi.hold_id = v_rec.hold_id AND t.event_id = hi.event_id
           AND t.ticket_no = hi.ticket_no AND t.event_id = v_rec.event_id
           AND t.hold_id = v_rec.hold_id AND t.order_id IS NULL
           AND (t.hold_expires_at > now() OR NOT v_guard_live)
        RETURNING t.ticket_no, t.seat_id, t.zone_key),
      numbered AS (
        SELECT s.*, row_number() OVER (ORDER BY s.ticket_no) AS k FROM sold s),
      issued AS (
        INSERT INTO order_tickets (ticket_id, order_id, event_id, ticket_no, zone_key,
                                   price_cents, code, status)
        SELECT gen_random_uuid(), v_rec.order_id, v_rec.event_id, s.ticket_no, i.zone_key,
               i.price_cents,
               CASE WHEN v_item ? 'codes' THEN v_item->'codes'->>(s.k - 1)::int
                    ELSE ticket_code() END,
               'valid'
          FROM numbered s JOIN hold_items i ON i.hold_id = v_rec.hold_id
                                           AND i.ticket_no = s.ticket_no)
      SELECT count(*)::int,
             jsonb_build_object('holdId', v_rec.hold_id, 'orderId', v_rec.order_id,
               'customerId', v_rec.customer_id,
               'zones', coalesce((SELECT jsonb_agg(DISTINCT z.zone_key ORDER BY z.zone_key)
                                    FROM numbered z), '[]'::jsonb),
               'tickets', coalesce(jsonb_agg(jsonb_build_object('ticketNo', s.ticket_no,
                 'seatId', s.seat_id, 'zone', s.zone_key) ORDER BY s.ticket_no), '[]'::jsonb))
        INTO v_count, v_sold FROM numbered s;
      INSERT INTO outbox_events (event_id, kind, payload)
      VALUES (v_rec.event_id, 'seats.sold', v_sold);
      UPDATE orders SET status = 'confirmed', confirmed_at = now()
       WHERE order_id = v_rec.order_id;
      -- The shopper is done: free their waiting-room slot now (queue/slot.ts liveSlot).
      UPDATE queue_admissions a SET released_at = now(), release_reason = 'order'
       WHERE a.event_id = v_rec.event_id AND a.customer_id = v_rec.customer_id
         AND a.released_at IS NULL AND a.expires_at > now()
         AND (a.claimed_at IS NOT NULL OR a.claim_by > now());
      INSERT INTO outbox_events (event_id, kind, payload)
      VALUES (v_rec.event_id, 'order.confirmed', jsonb_build_object(
        'customerId', v_rec.customer_id, 'orderId', v_rec.order_id,
        'amountCents', v_rec.amount_cents, 'currency', v_rec.currency));
      v_confirmed := true;
    END IF;

    n := v_i; outcome := 'settled';
    IF v_item ? 'key' OR (v_item->>'reply')::boolean THEN
      detail := jsonb_build_object('order', order_json(v_rec.order_id),
                                   'confirmed', v_confirmed);
      IF v_item ? 'key' THEN
        UPDATE idempotency_keys
           SET state = 'done', response_status = 201,
               response_body = jsonb_build_object('kind', 'reply', 'body', detail->'order')
         WHERE customer_id = (v_item->>'c')::uuid AND idem_key = v_item->>'key'
           AND owner = (v_item->>'owner')::uuid AND state = 'running';
      END IF;
    ELSE
      detail := jsonb_build_object('confirmed', v_confirmed);
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;
