-- The single-customer count of the per-customer limit reads the customer's own rows,
-- whatever the statistics (hold_lock_and_count of migration 006: same signature, lock,
-- snapshot and result; only its count's plan changes).
--
-- hold_lock_and_count serves the holds made outside hold_batch, above all the waitlist's
-- offers (src/waitlist/offers.ts: twice per offer, in the transaction that returns the
-- tickets: the expiry sweep, a release, a cancelled order). Its count was a static
-- statement of a PL/pgSQL function, so after five calls a connection kept a generic plan,
-- made from whatever the statistics said then. On tables last analyzed (nearly) empty, as
-- at the start of a sale on a fresh database, that plan was a sequential scan of `holds`
-- and of `orders`, or a walk of the event's confirmed orders filtered by customer, and it
-- stayed so as the sale grew. Measured with bench/offerScale.ts --stats=stale (one
-- connection whose first sweeps ran on empty tables, then 30,000 live holds and 15,000
-- confirmed orders, 64 returns swept and offered; shared machine, load 14-17): per offer
-- 30,000 entries of orders_event_confirmed_idx in one run, in another 135,408 rows of
-- `holds` and 30,000 of `orders` read by sequential scan; 85-177 ms per offer.
--
-- Now the count is planned afresh at each call (EXECUTE: a custom plan from the tables'
-- sizes as they are, a fraction of a millisecond) in the shape of hold_batch's (055): the
-- customer is the only index condition (`customer_id = $1 AND state = 'held'`, `status =
-- 'confirmed'`), the event and the expiry filter the sums, so no index by event, expiry or
-- creation time can bound it and the cheapest path is the customer's own index entries
-- (holds_customer_idx, orders_customer_event_idx) once the tables are more than a page or
-- two. The function also runs with sequential scans off, as hold_batch does (052).
--
-- The lock and the snapshot are unchanged: the count is its own statement after the lock,
-- so it sees every hold and order committed before the lock was granted.
CREATE OR REPLACE FUNCTION hold_lock_and_count(p_customer text, p_event text,
                                               p_hold_seconds int)
RETURNS TABLE (used int, expires_at text, created_at text, expires_ms float8,
               created_ms float8)
LANGUAGE plpgsql VOLATILE
SET enable_seqscan = off
AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_customer || p_event, 7));
  RETURN QUERY EXECUTE $count$
    SELECT ((SELECT coalesce(sum(h.quantity) FILTER (
                      WHERE h.event_id = $2 AND h.claim_expires_at > now()), 0)
               FROM holds h WHERE h.customer_id = $1 AND h.state = 'held')
          + (SELECT coalesce(sum(o.quantity) FILTER (WHERE o.event_id = $2), 0)
               FROM orders o WHERE o.customer_id = $1 AND o.status = 'confirmed'))::int,
           (now() + make_interval(secs => $3))::text,
           now()::text,
           extract(epoch FROM now() + make_interval(secs => $3))::float8 * 1000,
           extract(epoch FROM now())::float8 * 1000
  $count$ USING p_customer::uuid, p_event::uuid, p_hold_seconds;
END;
$$;
