-- Checkout's first statement also stores the provider's reference for the charge, when the
-- provider names it before charging (p_provider_ref; the simulated gateway derives it from the
-- payment id). The checkout then goes straight to the charge: one commit and one round trip
-- less than writing the reference in a statement of its own (orders/checkout.ts). A provider
-- that assigns references when it registers the charge (Stripe) passes null, as before, and
-- the reference is stored after `prepare`, before the charge.
--
-- Replaces checkout_begin of migration 017 (same checks, locks and results; see 017). The new
-- parameter comes last with a default, so a call in 017's form still resolves to this one.
DROP FUNCTION checkout_begin(uuid, uuid, uuid, uuid, text, text, int, jsonb);

CREATE FUNCTION checkout_begin(p_hold uuid, p_customer uuid, p_order uuid, p_payment uuid,
                               p_provider text, p_method text, p_window_seconds int,
                               p_idem jsonb DEFAULT NULL, p_provider_ref text DEFAULT NULL)
RETURNS TABLE (outcome text, detail jsonb)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
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
  IF p_idem IS NOT NULL THEN
    IF (p_idem->>'own')::boolean THEN
      PERFORM 1 FROM idempotency_keys
       WHERE customer_id = p_customer AND idem_key = p_idem->>'key'
         AND owner = (p_idem->>'owner')::uuid AND state = 'running';
      IF NOT FOUND THEN
        RETURN QUERY SELECT 'fenced'::text, '{}'::jsonb; RETURN;
      END IF;
    ELSE
      INSERT INTO idempotency_keys (customer_id, idem_key, fingerprint, state, owner)
      VALUES (p_customer, p_idem->>'key', p_idem->>'fp', 'running', (p_idem->>'owner')::uuid)
      ON CONFLICT DO NOTHING;
      IF NOT FOUND THEN
        RETURN QUERY SELECT 'idem_seen'::text, '{}'::jsonb; RETURN;
      END IF;
    END IF;
  END IF;

  PERFORM 1 FROM holds WHERE hold_id = p_hold AND customer_id = p_customer FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, '{}'::jsonb; RETURN;
  END IF;
  SELECT h.event_id, h.state, h.expires_at > now() AND h.claim_expires_at > now(),
         h.quantity, h.total_cents, h.currency,
         EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = h.hold_id
                                         AND o.status = 'pending_payment'),
         EXISTS (SELECT 1 FROM events e WHERE e.event_id = h.event_id
                                         AND e.cancelled_at IS NOT NULL)
    INTO v_event, v_state, v_live, v_quantity, v_total, v_currency, v_pending, v_cancelled
    FROM holds h WHERE h.hold_id = p_hold;
  IF v_state = 'purchased' THEN
    RETURN QUERY SELECT 'hold_purchased'::text, '{}'::jsonb; RETURN;
  END IF;
  IF v_state <> 'held' OR NOT v_live THEN
    RETURN QUERY SELECT 'hold_expired'::text, '{}'::jsonb; RETURN;
  END IF;
  IF v_pending THEN
    RETURN QUERY SELECT 'payment_pending'::text, '{}'::jsonb; RETURN;
  END IF;
  -- The database decides, in the statement that records the order: hold creation reads
  -- events through a per-node cache, so a hold may be granted shortly after a cancellation.
  IF v_cancelled THEN
    RETURN QUERY SELECT 'not_on_sale'::text, '{}'::jsonb; RETURN;
  END IF;

  -- Every ticket must still be the hold's (a live hold's tickets can only have been lost to
  -- a bug or an operator); checked before anything is written, so a refusal writes nothing.
  -- A hold's tickets are found through hold_items (tickets.hold_id is not indexed, so that
  -- claims are HOT updates, migration 024), tickets.hold_id still checked.
  SELECT count(*)::int INTO v_mine FROM (
    SELECT 1 FROM hold_items i
      JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
     WHERE i.hold_id = p_hold AND t.event_id = v_event AND t.hold_id = p_hold
       AND t.order_id IS NULL
     ORDER BY t.ticket_no FOR UPDATE OF t) mine;
  IF v_mine <> v_quantity THEN
    RETURN QUERY SELECT 'hold_expired'::text, '{}'::jsonb; RETURN;
  END IF;

  INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity, total_cents,
                      currency)
  VALUES (p_order, v_event, p_customer, p_hold, 'pending_payment', v_quantity, v_total,
          v_currency);
  INSERT INTO payments (payment_id, order_id, event_id, provider, method, amount_cents,
                        currency, status, provider_ref)
  VALUES (p_payment, p_order, v_event, p_provider, p_method, v_total, v_currency, 'pending',
          p_provider_ref);
  UPDATE holds SET claim_expires_at = greatest(claim_expires_at,
                                               now() + make_interval(secs => p_window_seconds))
   WHERE hold_id = p_hold
  RETURNING claim_expires_at INTO v_claim;
  UPDATE tickets t SET hold_expires_at = v_claim
    FROM hold_items i
   WHERE i.hold_id = p_hold AND t.event_id = i.event_id AND t.ticket_no = i.ticket_no
     AND t.event_id = v_event AND t.hold_id = p_hold AND t.order_id IS NULL;

  RETURN QUERY SELECT 'started'::text, jsonb_build_object('eventId', v_event,
    'amountCents', v_total, 'currency', v_currency, 'quantity', v_quantity);
END;
$$;
