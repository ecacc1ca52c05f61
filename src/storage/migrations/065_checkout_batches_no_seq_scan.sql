-- Checkout's batches never plan a sequential scan (checkout_begin_batch of 049 and
-- settle_batch of 064, their text unchanged), as hold_batch does since 052.
--
-- Both run with `plan_cache_mode = force_generic_plan`: a connection makes each statement's
-- plan once and keeps it until the tables are analyzed again. Made while `orders` and
-- `payments` were a page or two (the first checkouts of a sale on a new database; autovacuum
-- off, or within its naptime), the plans of the begin batch's "payment in flight" check
-- (orders by hold) and of the settle batch's reads of payments with their orders were
-- sequential scans, kept as the tables grew. Measured with bench/checkoutProfile.ts 1500 8
-- 32 (fresh database, tables never analyzed; shared machine, load 10-11): 0.41-0.46
-- sequential scans of `orders` and 0.55-0.61 of `payments` per checkout, reading 170 and
-- 230 rows per checkout in a window of about 1,000 checkouts, growing with the tables.
--
-- Every statement of both functions (and of order_json, which they call) is a keyed lookup
-- with an index to serve it, so with sequential scans disabled the planner picks the index
-- whatever the statistics say; a table with no usable index would still be scanned (the
-- setting only prices that path out of the way). The same holds for PGlite.
ALTER FUNCTION checkout_begin_batch(text, int, jsonb, text[]) SET enable_seqscan = off;
ALTER FUNCTION settle_batch(text, jsonb, text[]) SET enable_seqscan = off;
