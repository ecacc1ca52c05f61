-- The organizer's queue figures kept where the rows are written (src/queue/counts.ts).
--
-- Every refresh of /admin/events/:id/stats counted the line: count(*) with FILTERs over all
-- of the event's queue_entries, the fans who left without an admission (a second walk),
-- and a walk of every queue_admissions row for the slots freed by reason. In a 1,000,000-fan
-- sale that is a million rows read per refresh, on every node, once a second.
--
-- Now statement triggers on queue_entries and queue_admissions keep the counts in
-- queue_counts, in the statement (and so the transaction) that wrote the rows, whichever
-- command wrote them: the join batch, the pre-queue draw, a leave, a move to the waitlist,
-- an admission tick, a slot released by an order, by idleness or by the fan. No path can
-- forget them. A statement changes its counts once, so a join batch, a draw chunk or a tick
-- is one counts write however many rows it wrote (a settle batch frees slots with one
-- statement per order, all on its own backend's row).
--
-- The counts of one event are spread over rows by writer: each database backend adds to its
-- own row (shard = pg_backend_pid(), 0 for the backfill below), and a reader sums the rows.
-- Two transactions in flight are on two backends, so no writer ever waits for another on a
-- counts row, and none can deadlock on one (a settle batch frees slots order by order while
-- holding ticket locks; a shared row taken in its middle could close a cycle with another
-- batch). An event has as many rows as backends have written to it: the pools' connections,
-- plus one per connection that was replaced (a new backend has a new pid).
--
-- One figure crosses the tables: fans who left the line and were never admitted. A leave
-- counts the fan when it sees no admission; an admission uncounts a fan it sees left. So
-- that the two cannot miss each other (a leave and an admission of the same fan in flight
-- together), an admission first takes a share lock on its fans' line entries: a leave in
-- flight makes it wait until the leave commits, and it then sees the leave; a leave that
-- comes after waits for the admission to commit, and then sees it. Admitted fans have
-- numbers, so the draw (which numbers unnumbered entries) never meets that lock; joins
-- insert and lock nothing existing.
--
-- Time-dependent figures (live slots, slots that lapsed) are not counted: they are read
-- from the live admissions through queue_admissions_open_idx at read time.

-- fillfactor: the rows are updated in place all through a sale and nothing may vacuum them
-- (PGlite, or a server with autovacuum off), so leave room for HOT updates.
CREATE TABLE queue_counts (
  event_id uuid NOT NULL,
  -- The writing backend's pid; 0 for counts written by this migration.
  shard integer NOT NULL,
  joined bigint NOT NULL DEFAULT 0,
  -- Entries without a number (before the draw reaches them).
  pre_queue bigint NOT NULL DEFAULT 0,
  -- Entries that left the line, by left_reason ('left', 'waitlist').
  left_line bigint NOT NULL DEFAULT 0,
  waitlist bigint NOT NULL DEFAULT 0,
  -- Entries that left with no admission.
  left_unadmitted bigint NOT NULL DEFAULT 0,
  admitted bigint NOT NULL DEFAULT 0,
  -- Admissions with released_at set, and by release_reason.
  released bigint NOT NULL DEFAULT 0,
  freed_order bigint NOT NULL DEFAULT 0,
  freed_left bigint NOT NULL DEFAULT 0,
  freed_idle bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (event_id, shard)
) WITH (fillfactor = 50);

-- Joins per second of joined_at, for the dashboard's two-minute series (stats/onsale.ts),
-- which counted the last two minutes' joins by walking the line (there is no index on
-- joined_at, and one would cost every join an index write). Kept by the same triggers, one
-- row per event, second and writing backend.
CREATE TABLE queue_join_seconds (
  event_id uuid NOT NULL,
  second bigint NOT NULL,
  shard integer NOT NULL,
  joined integer NOT NULL,
  PRIMARY KEY (event_id, second, shard)
) WITH (fillfactor = 50);

-- Adds a statement's changes (one row per event: this backend's shard and the deltas) to
-- the counts, with one upsert. The triggers below build the rows; the sum is written here
-- once.
CREATE FUNCTION queue_counts_add(p_rows queue_counts[]) RETURNS void
LANGUAGE sql
AS $$
  INSERT INTO queue_counts AS c SELECT * FROM unnest(p_rows)
  ON CONFLICT (event_id, shard) DO UPDATE
    SET joined = c.joined + excluded.joined, pre_queue = c.pre_queue + excluded.pre_queue,
        left_line = c.left_line + excluded.left_line, waitlist = c.waitlist + excluded.waitlist,
        left_unadmitted = c.left_unadmitted + excluded.left_unadmitted,
        admitted = c.admitted + excluded.admitted, released = c.released + excluded.released,
        freed_order = c.freed_order + excluded.freed_order,
        freed_left = c.freed_left + excluded.freed_left,
        freed_idle = c.freed_idle + excluded.freed_idle;
$$;

-- Each branch adds its statement's changes (one row per event, in event order) to this
-- backend's row through queue_counts_add; a branch gives 0 for the columns it never changes.
-- Plain aggregates over the transition table, no function per row: a join batch of 500
-- rows pays for the trigger about what one more index on queue_entries would cost.
CREATE FUNCTION queue_counts_entries() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(n.event_id, pg_backend_pid(), count(*),
                 count(*) FILTER (WHERE n.number IS NULL),
                 count(*) FILTER (WHERE n.left_reason = 'left'),
                 count(*) FILTER (WHERE n.left_reason = 'waitlist'),
                 count(*) FILTER (WHERE n.left_reason IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM queue_admissions a WHERE a.event_id = n.event_id
                      AND a.customer_id = n.customer_id)),
                 0, 0, 0, 0, 0)::queue_counts
        FROM new_rows n GROUP BY n.event_id ORDER BY n.event_id));
    INSERT INTO queue_join_seconds AS j (event_id, second, shard, joined)
    SELECT n.event_id, floor(extract(epoch FROM n.joined_at))::bigint, pg_backend_pid(),
           count(*)
      FROM new_rows n GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, second, shard) DO UPDATE SET joined = j.joined + excluded.joined;
  ELSIF TG_OP = 'UPDATE' THEN
    -- Both images of a row are judged in one statement (one snapshot), so a row whose
    -- leaving did not change nets to zero whatever the admissions say.
    PERFORM queue_counts_add(ARRAY(
    SELECT ROW(d.event_id, pg_backend_pid(), 0, d.pre_queue, d.left_line, d.waitlist,
               d.left_unadmitted, 0, 0, 0, 0, 0)::queue_counts
      FROM (SELECT r.event_id, sum(r.sign * (r.number IS NULL)::int) AS pre_queue,
                   sum(r.sign * (r.left_reason IS NOT DISTINCT FROM 'left')::int) AS left_line,
                   sum(r.sign * (r.left_reason IS NOT DISTINCT FROM 'waitlist')::int)
                     AS waitlist,
                   coalesce(sum(r.sign) FILTER (WHERE r.left_reason IS NOT NULL AND NOT EXISTS (
                     SELECT 1 FROM queue_admissions a WHERE a.event_id = r.event_id
                        AND a.customer_id = r.customer_id)), 0) AS left_unadmitted
              FROM (SELECT 1 AS sign, n.event_id, n.customer_id, n.number, n.left_reason
                      FROM new_rows n
                    UNION ALL
                    SELECT -1, o.event_id, o.customer_id, o.number, o.left_reason
                      FROM old_rows o) AS r
             GROUP BY r.event_id) AS d
     WHERE d.pre_queue <> 0 OR d.left_line <> 0 OR d.waitlist <> 0 OR d.left_unadmitted <> 0
     ORDER BY d.event_id));
    -- joined_at does not change in the product; a row whose does moves its second.
    INSERT INTO queue_join_seconds AS j (event_id, second, shard, joined)
    SELECT x.event_id, x.second, pg_backend_pid(), sum(x.d)
      FROM (SELECT n.event_id, floor(extract(epoch FROM n.joined_at))::bigint AS second, 1 AS d
              FROM new_rows n
            UNION ALL
            SELECT o.event_id, floor(extract(epoch FROM o.joined_at))::bigint, -1
              FROM old_rows o) AS x
     GROUP BY 1, 2 HAVING sum(x.d) <> 0 ORDER BY 1, 2
    ON CONFLICT (event_id, second, shard) DO UPDATE SET joined = j.joined + excluded.joined;
  ELSE
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(o.event_id, pg_backend_pid(), -count(*),
                 -count(*) FILTER (WHERE o.number IS NULL),
                 -count(*) FILTER (WHERE o.left_reason = 'left'),
                 -count(*) FILTER (WHERE o.left_reason = 'waitlist'),
                 -count(*) FILTER (WHERE o.left_reason IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM queue_admissions a WHERE a.event_id = o.event_id
                      AND a.customer_id = o.customer_id)),
                 0, 0, 0, 0, 0)::queue_counts
        FROM old_rows o GROUP BY o.event_id ORDER BY o.event_id));
    INSERT INTO queue_join_seconds AS j (event_id, second, shard, joined)
    SELECT o.event_id, floor(extract(epoch FROM o.joined_at))::bigint, pg_backend_pid(),
           -count(*)
      FROM old_rows o GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, second, shard) DO UPDATE SET joined = j.joined + excluded.joined;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION queue_counts_admissions() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- The share lock that orders this admission with a leave of the same fan (see above);
    -- the count below is a statement of its own, so it sees a leave committed meanwhile.
    -- (A race test's control turns the lock off with stampede.queue_counts_unguarded.)
    IF coalesce(current_setting('stampede.queue_counts_unguarded', true), '') <> 'lock' THEN
      PERFORM 1 FROM queue_entries e
        WHERE (e.event_id, e.customer_id) IN (SELECT n.event_id, n.customer_id FROM new_rows n)
        ORDER BY e.event_id, e.customer_id FOR SHARE OF e;
    END IF;
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(n.event_id, pg_backend_pid(), 0, 0, 0, 0,
                 -count(*) FILTER (WHERE e.left_at IS NOT NULL),
                 count(*), count(*) FILTER (WHERE n.released_at IS NOT NULL),
                 count(*) FILTER (WHERE n.release_reason = 'order'),
                 count(*) FILTER (WHERE n.release_reason = 'left'),
                 count(*) FILTER (WHERE n.release_reason = 'idle'))::queue_counts
        FROM new_rows n
        LEFT JOIN queue_entries e ON e.event_id = n.event_id AND e.customer_id = n.customer_id
       GROUP BY n.event_id ORDER BY n.event_id));
  ELSIF TG_OP = 'UPDATE' THEN
    -- Most updates are a pass's claim (claimed_at), which changes no count: nothing written.
    PERFORM queue_counts_add(ARRAY(
    SELECT ROW(r.event_id, pg_backend_pid(), 0, 0, 0, 0, 0, 0,
               sum(r.sign * (r.released_at IS NOT NULL)::int),
               sum(r.sign * (r.release_reason = 'order')::int),
               sum(r.sign * (r.release_reason = 'left')::int),
               sum(r.sign * (r.release_reason = 'idle')::int))::queue_counts
      FROM (SELECT 1 AS sign, n.event_id, n.released_at, coalesce(n.release_reason, '')
                     AS release_reason
              FROM new_rows n
            UNION ALL
            SELECT -1, o.event_id, o.released_at, coalesce(o.release_reason, '')
              FROM old_rows o) AS r
     GROUP BY r.event_id
    HAVING sum(r.sign * (r.released_at IS NOT NULL)::int) <> 0
        OR sum(r.sign * (r.release_reason = 'order')::int) <> 0
        OR sum(r.sign * (r.release_reason = 'left')::int) <> 0
        OR sum(r.sign * (r.release_reason = 'idle')::int) <> 0
     ORDER BY r.event_id));
  ELSE
    PERFORM queue_counts_add(ARRAY(
      SELECT ROW(o.event_id, pg_backend_pid(), 0, 0, 0, 0,
                 count(*) FILTER (WHERE e.left_at IS NOT NULL),
                 -count(*), -count(*) FILTER (WHERE o.released_at IS NOT NULL),
                 -count(*) FILTER (WHERE o.release_reason = 'order'),
                 -count(*) FILTER (WHERE o.release_reason = 'left'),
                 -count(*) FILTER (WHERE o.release_reason = 'idle'))::queue_counts
        FROM old_rows o
        LEFT JOIN queue_entries e ON e.event_id = o.event_id AND e.customer_id = o.customer_id
       GROUP BY o.event_id ORDER BY o.event_id));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER queue_counts_entries_insert AFTER INSERT ON queue_entries
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_entries();
CREATE TRIGGER queue_counts_entries_update AFTER UPDATE ON queue_entries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_entries();
CREATE TRIGGER queue_counts_entries_delete AFTER DELETE ON queue_entries
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_entries();
CREATE TRIGGER queue_counts_admissions_insert AFTER INSERT ON queue_admissions
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_admissions();
CREATE TRIGGER queue_counts_admissions_update AFTER UPDATE ON queue_admissions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_admissions();
CREATE TRIGGER queue_counts_admissions_delete AFTER DELETE ON queue_admissions
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION queue_counts_admissions();

-- The counts of the lines that exist already, as the dashboard counted them (shard 0).
INSERT INTO queue_counts (event_id, shard, joined, pre_queue, left_line, waitlist,
                          left_unadmitted, admitted, released, freed_order, freed_left,
                          freed_idle)
SELECT coalesce(e.event_id, a.event_id), 0, coalesce(e.joined, 0), coalesce(e.pre_queue, 0),
       coalesce(e.left_line, 0), coalesce(e.waitlist, 0), coalesce(e.left_unadmitted, 0),
       coalesce(a.admitted, 0), coalesce(a.released, 0), coalesce(a.freed_order, 0),
       coalesce(a.freed_left, 0), coalesce(a.freed_idle, 0)
  FROM (SELECT x.event_id, count(*) AS joined,
               count(*) FILTER (WHERE x.number IS NULL) AS pre_queue,
               count(*) FILTER (WHERE x.left_reason = 'left') AS left_line,
               count(*) FILTER (WHERE x.left_reason = 'waitlist') AS waitlist,
               count(*) FILTER (WHERE x.left_at IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM queue_admissions y WHERE y.event_id = x.event_id
                    AND y.customer_id = x.customer_id)) AS left_unadmitted
          FROM queue_entries x GROUP BY x.event_id) AS e
  FULL JOIN (SELECT q.event_id, count(*) AS admitted,
                    count(*) FILTER (WHERE q.released_at IS NOT NULL) AS released,
                    count(*) FILTER (WHERE q.release_reason = 'order') AS freed_order,
                    count(*) FILTER (WHERE q.release_reason = 'left') AS freed_left,
                    count(*) FILTER (WHERE q.release_reason = 'idle') AS freed_idle
               FROM queue_admissions q GROUP BY q.event_id) AS a USING (event_id);

INSERT INTO queue_join_seconds (event_id, second, shard, joined)
SELECT event_id, floor(extract(epoch FROM joined_at))::bigint, 0, count(*)
  FROM queue_entries GROUP BY 1, 2;
