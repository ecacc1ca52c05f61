-- The line's counts are added by a function whose statement is planned once per connection
-- (queue_counts_add of migration 046, its statement unchanged).
--
-- Every statement that writes queue_entries or queue_admissions (a join batch, a draw
-- chunk, an admission tick, a leave, a slot released) ends with its counts trigger calling
-- queue_counts_add once. The function was LANGUAGE sql, and PostgreSQL does not keep plans
-- of a SQL function that cannot be inlined (an INSERT never is): it parsed, analyzed and
-- planned its INSERT … ON CONFLICT DO UPDATE on every call. As plpgsql the plan is made on
-- a connection's first calls and kept. Timed inside PostgreSQL (2,000 calls, three rounds,
-- alternated, shared machine at load 10.6): 149-243 µs a call as SQL, 29-37 µs as plpgsql.
-- A join batch of 43 fans (the rehearsal's mean) called it once, for about a sixth of the
-- batch's statement time (bench/joinBuffers.ts; docs/benchmarks-journal.md).
CREATE OR REPLACE FUNCTION queue_counts_add(p_rows queue_counts[]) RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
  INSERT INTO queue_counts AS c SELECT * FROM unnest(p_rows)
  ON CONFLICT (event_id, shard) DO UPDATE
    SET joined = c.joined + excluded.joined, pre_queue = c.pre_queue + excluded.pre_queue,
        left_line = c.left_line + excluded.left_line, waitlist = c.waitlist + excluded.waitlist,
        left_unadmitted = c.left_unadmitted + excluded.left_unadmitted,
        admitted = c.admitted + excluded.admitted, released = c.released + excluded.released,
        freed_order = c.freed_order + excluded.freed_order,
        freed_left = c.freed_left + excluded.freed_left,
        freed_idle = c.freed_idle + excluded.freed_idle;
END
$$;
