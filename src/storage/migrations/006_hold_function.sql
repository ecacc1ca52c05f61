-- Hold creation: serialize one customer's holds on one event and count what they hold and
-- own, in one round trip instead of two. The count must see every hold committed before
-- the lock was granted: in READ COMMITTED a VOLATILE function takes a fresh snapshot for
-- each statement it runs, so the SELECT after the lock sees them (a single SQL statement
-- would not: its snapshot predates the wait). The lock key is the one the two separate
-- statements used, so nodes running either version still serialize with each other.
CREATE FUNCTION hold_lock_and_count(p_customer text, p_event text, p_hold_seconds int)
RETURNS TABLE (used int, expires_at text, created_at text, expires_ms float8,
               created_ms float8)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_customer || p_event, 7));
  RETURN QUERY
    SELECT ((SELECT coalesce(sum(h.quantity), 0) FROM holds h
              WHERE h.customer_id = p_customer::uuid AND h.event_id = p_event::uuid
                AND h.state = 'held' AND h.claim_expires_at > now())
          + (SELECT coalesce(sum(o.quantity), 0) FROM orders o
              WHERE o.customer_id = p_customer::uuid AND o.event_id = p_event::uuid
                AND o.status = 'confirmed'))::int,
           (now() + make_interval(secs => p_hold_seconds))::text,
           now()::text,
           extract(epoch FROM now() + make_interval(secs => p_hold_seconds))::float8 * 1000,
           extract(epoch FROM now())::float8 * 1000;
END;
$$;
