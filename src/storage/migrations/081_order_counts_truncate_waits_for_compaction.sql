-- TRUNCATE orders empties the kept order counts (077), including what a compaction running
-- at that moment writes.
--
-- 077's trigger deleted order_counts' rows in the truncating transaction's snapshot. A
-- compaction (order_counts_compact) that had begun first and was still open had deleted the
-- rows of gone backends and inserted a shard-0 row for their event; the trigger's DELETE
-- waited for the rows the compaction deleted, but never saw the row it inserted, so after
-- both committed that shard-0 row kept the counts of orders that no longer exist.
--
-- The trigger now takes order_counts in EXCLUSIVE mode before its DELETE: it waits for every
-- open writer of order_counts (compaction, or a writer of orders, whose statement triggers
-- write there: those already hold orders, which TRUNCATE waited for) to end, and a
-- compaction starting later waits for the TRUNCATE to end. Readers go on. Lock order:
-- orders, then order_counts, as order_counts_rebuild (077) takes them.

CREATE OR REPLACE FUNCTION order_counts_truncated() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  LOCK TABLE order_counts IN EXCLUSIVE MODE;
  DELETE FROM order_counts;
  RETURN NULL;
END
$$;
