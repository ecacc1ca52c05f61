-- A waitlist position without reading everyone ahead (src/waitlist/waitlist.ts).
--
-- A position is the number of the event's waiting entries whose seq is at most the fan's.
-- It was counted by reading them all: a window over every waiting entry per batch of moves
-- from the line, a count per entry elsewhere. In the end-of-sale herd (every fan told "sold
-- out" moves at once, batches of up to 200) that made each batch cost the whole waitlist,
-- and worse: on tables not analyzed since the sale began, the planner joined the batch to
-- the window by a nested loop, 200 x the waitlist rows per batch (bench/herd.ts, 20,000
-- fans: 1.1 s per batch at the end, 430 moves/s, p99 0.9 s; 177,809 moves at ~300/s in the
-- 1,000,000-fan rehearsal).
--
-- Now the waiting entries are counted per bucket of 64 consecutive seqs, kept by statement
-- triggers on waitlist_entries (every insert, update and delete, whichever command made
-- it), so no path can forget them: a position is the sum of the buckets before the fan's
-- plus a count of at most 64 index entries inside it. A batch changes each bucket it
-- touches once, in bucket order, in the statement that wrote the entries. A bucket is 64
-- seqs, not one per event, so concurrent writers meet on a row only when their seqs are
-- within 64 of each other; herd moves from one node are one batch at a time anyway.
CREATE FUNCTION waitlist_bucket(p_seq bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT p_seq >> 6 $$;

-- fillfactor: the counts are updated in place all through a sale and nothing may vacuum
-- them (PGlite, or a server with autovacuum off), so leave room for HOT updates.
CREATE TABLE waitlist_counts (
  event_id uuid NOT NULL,
  bucket bigint NOT NULL,
  waiting integer NOT NULL,
  PRIMARY KEY (event_id, bucket)
) WITH (fillfactor = 50);

INSERT INTO waitlist_counts (event_id, bucket, waiting)
SELECT event_id, waitlist_bucket(seq), count(*)::int FROM waitlist_entries
 WHERE status = 'waiting' GROUP BY 1, 2;

-- The change of a statement, as (event, bucket, +1 / -1) per entry that entered or left
-- 'waiting' (or moved its seq), summed and applied in (event, bucket) order.
CREATE FUNCTION waitlist_counts_apply() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO waitlist_counts AS c (event_id, bucket, waiting)
    SELECT event_id, waitlist_bucket(seq), count(*)::int FROM new_rows
     WHERE status = 'waiting' GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, bucket) DO UPDATE SET waiting = c.waiting + excluded.waiting;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO waitlist_counts AS c (event_id, bucket, waiting)
    SELECT event_id, bucket, sum(d)::int FROM (
      SELECT event_id, waitlist_bucket(seq) AS bucket, 1 AS d FROM new_rows
       WHERE status = 'waiting'
      UNION ALL
      SELECT event_id, waitlist_bucket(seq), -1 FROM old_rows WHERE status = 'waiting'
    ) AS changes GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
    ON CONFLICT (event_id, bucket) DO UPDATE SET waiting = c.waiting + excluded.waiting;
  ELSE
    UPDATE waitlist_counts c SET waiting = c.waiting - gone.n
      FROM (SELECT event_id, waitlist_bucket(seq) AS bucket, count(*)::int AS n
              FROM old_rows WHERE status = 'waiting' GROUP BY 1, 2) AS gone
     WHERE c.event_id = gone.event_id AND c.bucket = gone.bucket;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER waitlist_counts_insert AFTER INSERT ON waitlist_entries
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION waitlist_counts_apply();
CREATE TRIGGER waitlist_counts_update AFTER UPDATE ON waitlist_entries
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION waitlist_counts_apply();
CREATE TRIGGER waitlist_counts_delete AFTER DELETE ON waitlist_entries
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION waitlist_counts_apply();
