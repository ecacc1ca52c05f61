-- Checkout's two batches write set-based. The settle batch confirms its orders together:
-- the items of a batch are decided one by one, as before, and the confirmations then
-- applied together, a few statements for the whole batch instead of about a dozen per item;
-- the reply is built from what was written. The begin batch stretches the payment window of
-- all the holds it begins in one statement (at the end of this file).
--
-- A rehearsal of 1,000,000 fans (bench/simulation.ts, pg_stat_statements with track = all)
-- spent 26 % of the store's top-level PostgreSQL time in settle_batch, about 4 items per
-- call and 1,930 buffer hits per call. Per confirmed item it ran the payments, holds,
-- tickets (+ order_tickets), orders and queue_admissions updates and two outbox inserts,
-- each its own statement, and every one of holds, tickets and queue_admissions fires a
-- statement-level trigger with transition tables (hold_sizes_keep, ticket_counts_keep,
-- queue_counts_admissions: each a further statement, also when nothing changed); the row
-- trigger of migration 054 on orders ran one more UPDATE of queue_entries per order, whose
-- own statement trigger (queue_counts_entries) ran one more. Then order_json read back the
-- order, its payment, its refund and its tickets, all just written. Now:
--
-- 1. The loop decides each item exactly as 064 did, under the same locks taken up front in
--    the same order (payments with their orders, holds, tickets). A confirm is not written
--    in the loop: its item is remembered, and a later item of the same batch about the same
--    payment sees it as captured (a duplicate is a no-op, a capture's reference is the one
--    recorded), as it saw the written row before.
-- 2. The confirmations are applied together: payments, holds, tickets with their
--    order_tickets, the outbox rows, the orders, the waiting-room entries and admissions,
--    each one statement for the batch (so each statement trigger fires once per batch).
--    The guards stay guarded UPDATEs whose row counts are checked: every confirm-path hold
--    is still 'held' and every order still 'pending_payment' (locked since the decision,
--    so anything else is a bug and aborts the batch), and, guarded, each order sells exactly
--    its quantity of tickets.
-- 3. The trigger of 054 is kept for every other path that confirms an order (orders/settle.ts
--    settleInTx); the batch marks the line left itself, in one statement, so the trigger is
--    told to stand aside for the batch's own UPDATE (a transaction-local setting, switched on
--    for that one statement and off right after). The order of writes 054 relies on is kept:
--    the entry is marked left before the admission is released, both in the same
--    transaction as the confirmation.
-- 4. The reply of a confirmed item (the order with its payment and tickets) is built from
--    the rows the batch wrote and read under lock, the same fields order_json answers; other
--    replies (a decline, news about a settled payment) still come from order_json, after the
--    batch's writes. Idempotency-Key records are finished together, in one statement.
--
-- Items and outcomes are 064's (see 021). p_unguarded may also name 'seen_in_batch' (a race
-- test's control only): a later item no longer sees an earlier item's confirmation of the
-- same payment, and the batch's row-count guards must catch the second confirmation.

CREATE OR REPLACE FUNCTION queue_entry_order_confirmed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- settle_batch (072) marks the line left for all its orders in one statement of its own.
  IF current_setting('stampede.confirm_leaves_line', true) = 'off' THEN
    RETURN NULL;
  END IF;
  UPDATE queue_entries e SET left_at = now(), left_reason = 'purchased'
   WHERE e.event_id = NEW.event_id AND e.customer_id = NEW.customer_id
     AND e.left_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM queue_admissions a
                      WHERE a.event_id = e.event_id AND a.customer_id = e.customer_id);
  RETURN NULL;
END;
$$;

-- Applies the confirmations settle_batch decided (arrays aligned, one element per item; the
-- payments, orders, holds and tickets are locked by the caller since the decision): the
-- payments captured, the holds purchased, the tickets sold with their order_tickets and
-- codes, the outbox rows, the orders confirmed, the line left and the admissions released.
-- Answers each item's issued tickets as the order's reply lists them (order_json's fields).
CREATE OR REPLACE FUNCTION settle_batch_confirm(
  p_i int[], p_pay uuid[], p_ref text[], p_order uuid[], p_hold uuid[], p_event uuid[],
  p_customer uuid[], p_quantity int[], p_codes jsonb[], p_news jsonb[], p_guard_live boolean)
RETURNS TABLE (i int, tickets jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
  v_count int;
  v_items int := cardinality(p_i);
  v_i int[];
  v_sold int[];
  v_tickets jsonb[];
BEGIN
  UPDATE payments p SET status = 'captured', settled_at = now(),
         provider_ref = coalesce(p.provider_ref, c.ref)
    FROM unnest(p_pay, p_ref) AS c(pay, ref)
   WHERE p.payment_id = c.pay AND p.status = 'pending';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF v_count <> v_items THEN
    RAISE EXCEPTION 'assertion failed: % of % locked pending payments captured',
      v_count, v_items;
  END IF;

  UPDATE holds h SET state = 'purchased', ended_at = now()
   WHERE h.hold_id = ANY(p_hold) AND h.state = 'held';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  IF p_guard_live AND v_count <> v_items THEN
    RAISE EXCEPTION 'assertion failed: % of % locked live holds purchased', v_count, v_items;
  END IF;

  -- The tickets, their order_tickets and both outbox rows of each order, in item order.
  WITH c AS (
    SELECT * FROM unnest(p_i, p_order, p_hold, p_event, p_customer, p_codes, p_news)
      AS c(i, order_id, hold_id, event_id, customer_id, codes, news)),
  sold AS (
    UPDATE tickets t SET order_id = c.order_id, hold_id = NULL, hold_expires_at = NULL
      FROM c JOIN hold_items hi ON hi.hold_id = c.hold_id
     WHERE t.event_id = hi.event_id AND t.ticket_no = hi.ticket_no AND t.event_id = c.event_id
       AND t.hold_id = c.hold_id AND t.order_id IS NULL
       AND (t.hold_expires_at > now() OR NOT p_guard_live)
    RETURNING c.i, c.order_id, c.codes, t.event_id, t.ticket_no, t.seat_id, t.zone_key,
              t.section_key, t.row_label, t.seat_number, hi.zone_key AS item_zone,
              hi.price_cents),
  numbered AS (
    SELECT s.*, row_number() OVER (PARTITION BY s.i ORDER BY s.ticket_no) AS k FROM sold s),
  issued AS (
    INSERT INTO order_tickets (ticket_id, order_id, event_id, ticket_no, zone_key,
                               price_cents, code, status)
    SELECT gen_random_uuid(), s.order_id, s.event_id, s.ticket_no, s.item_zone, s.price_cents,
           CASE WHEN s.codes IS NOT NULL THEN s.codes->>(s.k - 1)::int
                ELSE ticket_code() END,
           'valid'
      FROM numbered s
    RETURNING ticket_id, event_id, ticket_no, code),
  per_item AS (
    SELECT s.i, count(*)::int AS sold,
           jsonb_agg(DISTINCT s.zone_key ORDER BY s.zone_key) AS zones,
           jsonb_agg(jsonb_build_object('ticketNo', s.ticket_no, 'seatId', s.seat_id,
                                        'zone', s.zone_key) ORDER BY s.ticket_no) AS news,
           jsonb_agg(jsonb_build_object(
             'ticketId', x.ticket_id, 'seatId', s.seat_id, 'section', s.section_key,
             'row', s.row_label, 'number', s.seat_number, 'zone', s.item_zone,
             'priceCents', s.price_cents, 'code', x.code, 'status', 'valid',
             'checkedInAt', NULL) ORDER BY s.ticket_no) AS reply
      FROM numbered s JOIN issued x ON x.event_id = s.event_id AND x.ticket_no = s.ticket_no
     GROUP BY s.i),
  outbox AS (
    INSERT INTO outbox_events (event_id, kind, payload)
    SELECT o.event_id, o.kind, o.payload FROM (
      SELECT c.i, 1 AS k, c.event_id, 'seats.sold' AS kind,
             jsonb_build_object('holdId', c.hold_id, 'orderId', c.order_id,
               'customerId', c.customer_id, 'zones', coalesce(p.zones, '[]'::jsonb),
               'tickets', coalesce(p.news, '[]'::jsonb)) AS payload
        FROM c LEFT JOIN per_item p ON p.i = c.i
      UNION ALL
      SELECT c.i, 2, c.event_id, 'order.confirmed', c.news FROM c) o
     ORDER BY o.i, o.k)
  SELECT array_agg(c.i ORDER BY c.i), array_agg(coalesce(p.sold, 0) ORDER BY c.i),
         array_agg(coalesce(p.reply, '[]'::jsonb) ORDER BY c.i)
    INTO v_i, v_sold, v_tickets
    FROM c LEFT JOIN per_item p ON p.i = c.i;
  IF p_guard_live AND EXISTS (
      SELECT 1 FROM unnest(p_i, p_quantity) AS q(i, quantity)
       WHERE q.quantity <> v_sold[array_position(v_i, q.i)]) THEN
    RAISE EXCEPTION 'assertion failed: a locked live hold sold other than its quantity';
  END IF;

  -- The line is marked left here, for all the batch's orders at once (migration 054's
  -- trigger stands aside for this one statement).
  PERFORM set_config('stampede.confirm_leaves_line', 'off', true);
  UPDATE orders o SET status = 'confirmed', confirmed_at = now()
   WHERE o.order_id = ANY(p_order) AND o.status = 'pending_payment';
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM set_config('stampede.confirm_leaves_line', '', true);
  IF v_count <> v_items THEN
    RAISE EXCEPTION 'assertion failed: % of % locked pending orders confirmed',
      v_count, v_items;
  END IF;
  -- A fan not admitted yet is done with the line (054); an admitted one frees their slot
  -- (queue/slot.ts liveSlot). Entries first, then admissions, as 054 orders them.
  UPDATE queue_entries e SET left_at = now(), left_reason = 'purchased'
    FROM (SELECT DISTINCT u.event_id, u.customer_id
            FROM unnest(p_event, p_customer) AS u(event_id, customer_id)
           ORDER BY u.event_id, u.customer_id) AS c
   WHERE e.event_id = c.event_id AND e.customer_id = c.customer_id AND e.left_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM queue_admissions a
                      WHERE a.event_id = e.event_id AND a.customer_id = e.customer_id);
  UPDATE queue_admissions a SET released_at = now(), release_reason = 'order'
    FROM (SELECT DISTINCT u.event_id, u.customer_id
            FROM unnest(p_event, p_customer) AS u(event_id, customer_id)
           ORDER BY u.event_id, u.customer_id) AS c
   WHERE a.event_id = c.event_id AND a.customer_id = c.customer_id
     AND a.released_at IS NULL AND a.expires_at > now()
     AND (a.claimed_at IS NOT NULL OR a.claim_by > now());

  RETURN QUERY SELECT u.i, u.tickets FROM unnest(v_i, v_tickets) AS u(i, tickets);
END;
$$;

CREATE OR REPLACE FUNCTION settle_batch(
  p_provider text, p_items jsonb, p_unguarded text[] DEFAULT '{}')
RETURNS TABLE (n int, outcome text, detail jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
AS $$
DECLARE
  v_guard_live boolean := NOT ('hold_live' = ANY(p_unguarded));
  v_guard_seen boolean := NOT ('seen_in_batch' = ANY(p_unguarded));
  v_size int := jsonb_array_length(p_items);
  v_out text[] := array_fill(NULL::text, ARRAY[v_size]);
  v_detail jsonb[] := array_fill(NULL::jsonb, ARRAY[v_size]);
  -- Items answered with the order from order_json after the batch's writes (1-based).
  v_json_i int[] := '{}';
  v_json_order uuid[] := '{}';
  -- Idempotency-Key records the batch finishes: item (1-based), customer, key, owner.
  v_key_i int[] := '{}';
  v_key_c uuid[] := '{}';
  v_key_k text[] := '{}';
  v_key_o uuid[] := '{}';
  -- The confirm-path items, applied together after the loop.
  v_c_i int[] := '{}';
  v_c_pay uuid[] := '{}';
  v_c_ref text[] := '{}';
  v_c_order uuid[] := '{}';
  v_c_hold uuid[] := '{}';
  v_c_event uuid[] := '{}';
  v_c_customer uuid[] := '{}';
  v_c_quantity int[] := '{}';
  v_c_codes jsonb[] := '{}';
  v_c_head jsonb[] := '{}';
  v_c_news jsonb[] := '{}';
  v_c_reply boolean[] := '{}';
  v_ids uuid[];
  v_item jsonb;
  v_i int := 0;
  v_at int;
  v_p uuid;
  v_ev jsonb;
  v_rec record;
  v_payment_status text;
  v_order_status text;
  v_provider_ref text;
  v_path text;
  v_live int;
  v_claim timestamptz;
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
           p.provider, p.method, p.decline_reason,
           o.order_id, o.status AS order_status, o.hold_id, o.event_id, o.customer_id,
           o.quantity, o.total_cents, o.currency AS order_currency, o.failure_reason,
           o.created_at, o.cancelled_at,
           h.state AS hold_state, h.claim_expires_at > now() AS hold_live
      INTO v_rec
      FROM payments p JOIN orders o ON o.order_id = p.order_id
      JOIN holds h ON h.hold_id = o.hold_id
     WHERE p.payment_id = v_p;
    IF NOT FOUND THEN
      v_out[v_i] := 'unknown';
      IF v_ev IS NOT NULL THEN
        INSERT INTO provider_events (provider, provider_event_id, kind, payment_id, captured)
        VALUES (p_provider, v_ev->>'id', v_ev->>'kind', v_p, v_item->>'s' = 'captured')
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN v_out[v_i] := 'duplicate'; END IF;
      END IF;
      v_detail[v_i] := '{}';
      CONTINUE;
    END IF;
    v_payment_status := v_rec.payment_status;
    v_order_status := v_rec.order_status;
    v_provider_ref := v_rec.provider_ref;
    -- Confirmed by an earlier item of this batch, not written yet: as if it were.
    v_at := CASE WHEN v_guard_seen THEN array_position(v_c_pay, v_p) END;
    IF v_at IS NOT NULL THEN
      v_payment_status := 'captured';
      v_order_status := 'confirmed';
      v_provider_ref := coalesce(v_provider_ref, v_c_ref[v_at]);
    END IF;

    -- A signed event can still be about another charge that carries our payment id.
    IF v_ev IS NOT NULL THEN
      v_reason := CASE
        WHEN v_provider_ref IS NOT NULL AND v_provider_ref <> v_item->>'r' THEN
          format('event is about %s, the payment is %s', v_item->>'r', v_provider_ref)
        WHEN v_item ? 'am' AND (v_item->>'am')::bigint <> v_rec.amount_cents THEN
          format('event amount %s, the payment is %s', v_item->>'am', v_rec.amount_cents)
        WHEN v_item ? 'cu' AND v_item->>'cu' <> v_rec.currency THEN
          format('event currency %s, the payment is %s', v_item->>'cu', v_rec.currency)
      END;
      IF v_reason IS NOT NULL THEN
        INSERT INTO provider_events (provider, provider_event_id, kind, payment_id, captured)
        VALUES (p_provider, v_ev->>'id', 'payment.mismatch', v_p, v_item->>'s' = 'captured')
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
          v_out[v_i] := 'mismatch'; v_detail[v_i] := jsonb_build_object('mismatch', v_reason);
        ELSE
          v_out[v_i] := 'duplicate'; v_detail[v_i] := '{}';
        END IF;
        CONTINUE;
      END IF;
    END IF;

    -- Decide the path before writing anything for the item.
    IF v_payment_status <> 'pending' THEN
      -- Settled before: the same news again changes nothing; a capture of a payment
      -- recorded as declined must be refunded (slow path).
      v_path := CASE WHEN v_item->>'s' = 'captured' AND v_payment_status = 'declined'
                     THEN 'slow' ELSE 'noop' END;
    ELSIF v_item->>'s' = 'declined' THEN
      v_path := 'decline';
    ELSIF v_order_status <> 'pending_payment' THEN
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
      v_out[v_i] := 'slow'; v_detail[v_i] := '{}'; CONTINUE;
    END IF;

    IF v_item ? 'key' THEN
      PERFORM 1 FROM idempotency_keys
       WHERE customer_id = (v_item->>'c')::uuid AND idem_key = v_item->>'key'
         AND owner = (v_item->>'owner')::uuid AND state = 'running'
       FOR UPDATE;
      -- A record an earlier item of the batch finishes is no longer 'running' for this one.
      IF NOT FOUND OR EXISTS (
          SELECT 1 FROM unnest(v_key_c, v_key_k, v_key_o) AS k(c, k, o)
           WHERE k.c = (v_item->>'c')::uuid AND k.k = v_item->>'key'
             AND k.o = (v_item->>'owner')::uuid) THEN
        v_out[v_i] := 'fenced'; v_detail[v_i] := '{}'; CONTINUE;
      END IF;
    END IF;
    IF v_ev IS NOT NULL THEN
      INSERT INTO provider_events (provider, provider_event_id, kind, payment_id, captured)
      VALUES (p_provider, v_ev->>'id', v_ev->>'kind', v_p, v_item->>'s' = 'captured')
      ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        v_out[v_i] := 'duplicate'; v_detail[v_i] := '{}'; CONTINUE;
      END IF;
    END IF;

    v_out[v_i] := 'settled';
    IF v_item ? 'key' THEN
      v_key_i := array_append(v_key_i, v_i);
      v_key_c := array_append(v_key_c, (v_item->>'c')::uuid);
      v_key_k := array_append(v_key_k, (v_item->>'key'));
      v_key_o := array_append(v_key_o, (v_item->>'owner')::uuid);
    END IF;

    IF v_path = 'confirm' THEN
      v_c_i := array_append(v_c_i, v_i);
      v_c_pay := array_append(v_c_pay, v_p);
      v_c_ref := array_append(v_c_ref, (v_item->>'r'));
      v_c_order := array_append(v_c_order, v_rec.order_id);
      v_c_hold := array_append(v_c_hold, v_rec.hold_id);
      v_c_event := array_append(v_c_event, v_rec.event_id);
      v_c_customer := array_append(v_c_customer, v_rec.customer_id);
      v_c_quantity := array_append(v_c_quantity, v_rec.quantity);
      v_c_codes := array_append(v_c_codes, (v_item->'codes'));
      v_c_reply := array_append(v_c_reply,
        v_item ? 'key' OR coalesce((v_item->>'reply')::boolean, false));
      -- The order and its payment as they will stand once confirmed (order_json's fields;
      -- the tickets are added once issued). A pending payment has no refund.
      v_c_head := array_append(v_c_head, jsonb_build_object(
        'orderId', v_rec.order_id, 'eventId', v_rec.event_id, 'holdId', v_rec.hold_id,
        'status', 'confirmed', 'totalCents', v_rec.total_cents,
        'currency', v_rec.order_currency, 'failureReason', v_rec.failure_reason,
        'createdAt', api_time(v_rec.created_at), 'confirmedAt', api_time(now()),
        'cancelledAt', api_time(v_rec.cancelled_at),
        'payment', jsonb_build_object(
          'paymentId', v_p, 'provider', v_rec.provider, 'method', v_rec.method,
          'status', 'captured', 'amountCents', v_rec.amount_cents,
          'declineReason', v_rec.decline_reason, 'nextAction', NULL, 'refund', NULL)));
      v_c_news := array_append(v_c_news, jsonb_build_object(
        'customerId', v_rec.customer_id, 'orderId', v_rec.order_id,
        'amountCents', v_rec.amount_cents, 'currency', v_rec.currency));
      CONTINUE;
    END IF;

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
    END IF;
    IF v_item ? 'key' OR (v_item->>'reply')::boolean THEN
      v_json_i := array_append(v_json_i, v_i);
      v_json_order := array_append(v_json_order, v_rec.order_id);
    ELSE
      v_detail[v_i] := jsonb_build_object('confirmed', false);
    END IF;
  END LOOP;

  IF cardinality(v_c_i) > 0 THEN
    FOR v_rec IN
      SELECT a.i, a.tickets FROM settle_batch_confirm(v_c_i, v_c_pay, v_c_ref, v_c_order,
        v_c_hold, v_c_event, v_c_customer, v_c_quantity, v_c_codes, v_c_news, v_guard_live) a
    LOOP
      v_at := array_position(v_c_i, v_rec.i);
      v_detail[v_rec.i] := CASE WHEN v_c_reply[v_at]
        THEN jsonb_build_object('confirmed', true, 'order',
               v_c_head[v_at] || jsonb_build_object('tickets', v_rec.tickets))
        ELSE jsonb_build_object('confirmed', true) END;
    END LOOP;
  END IF;

  -- Replies that are not a confirmation of this batch: the order as it now stands.
  FOR v_at IN 1 .. cardinality(v_json_i) LOOP
    v_detail[v_json_i[v_at]] := jsonb_build_object(
      'order', order_json(v_json_order[v_at]), 'confirmed', false);
  END LOOP;

  -- The Idempotency-Key records, finished with the order as their reply.
  IF cardinality(v_key_i) > 0 THEN
    UPDATE idempotency_keys k
       SET state = 'done', response_status = 201,
           response_body = jsonb_build_object('kind', 'reply', 'body', v_detail[r.i]->'order')
      FROM unnest(v_key_i, v_key_c, v_key_k, v_key_o) AS r(i, c, k, o)
     WHERE k.customer_id = r.c AND k.idem_key = r.k AND k.owner = r.o AND k.state = 'running';
  END IF;

  RETURN QUERY SELECT s.i - 1, v_out[s.i], v_detail[s.i]
                 FROM generate_subscripts(v_out, 1) AS s(i);
END;
$$;

-- Checkout's first statement (checkout_begin_batch of 049, as 065 set it) stretches the
-- payment window of every hold it begins in one statement after its loop, instead of two
-- per request: each UPDATE of holds and of tickets fired its statement-level count trigger
-- (hold_sizes_keep, ticket_counts_keep) once per request. The checks, the locks and their
-- order, and the writes of orders and payments are 049's unchanged.
CREATE OR REPLACE FUNCTION checkout_begin_batch(
  p_provider text, p_window_seconds int, p_requests jsonb, p_skip text[] DEFAULT '{}')
RETURNS TABLE (n int, outcome text, detail jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off
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
  v_mine int;
  -- The holds begun, their payment window stretched after the loop, all in one statement.
  v_begun uuid[] := '{}';
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
    v_begun := array_append(v_begun, v_hold);

    v_out[r.i] := 'started';
    v_detail[r.i] := jsonb_build_object('eventId', v_event, 'amountCents', v_total,
                                        'currency', v_currency, 'quantity', v_quantity);
  END LOOP;

  -- The tickets stay reserved for the payment window (locked above, in the loop). A later
  -- request of the batch for a hold begun here is refused by its payment in flight, so
  -- nothing in the loop reads the window before it is stretched.
  IF cardinality(v_begun) > 0 THEN
    WITH h AS (
      UPDATE holds
         SET claim_expires_at = greatest(claim_expires_at,
                                         now() + make_interval(secs => p_window_seconds))
       WHERE hold_id = ANY(v_begun)
      RETURNING hold_id, event_id, claim_expires_at)
    UPDATE tickets t SET hold_expires_at = h.claim_expires_at
      FROM h JOIN hold_items i ON i.hold_id = h.hold_id
     WHERE t.event_id = i.event_id AND t.ticket_no = i.ticket_no AND t.event_id = h.event_id
       AND t.hold_id = h.hold_id AND t.order_id IS NULL;
  END IF;

  RETURN QUERY SELECT s.i - 1, v_out[s.i], v_detail[s.i]
                 FROM generate_subscripts(v_out, 1) AS s(i);
END;
$$;
