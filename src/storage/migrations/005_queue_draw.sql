-- The pre-queue draw in bounded chunks. At on-sale the numbering transaction only counts
-- the pre-queue (P) and reserves numbers first_number .. first_number + P - 1 for it, so
-- later joiners are numbered after it at once. The admission leader then assigns the
-- reserved numbers in short transactions, in two passes over the pre-queue:
--   1. keying: a queue_draw_keys row with HMAC-SHA256(seed, customer id as text) for every
--      entry (narrow inserts into one index; the entries themselves are not touched);
--   2. numbering: the keys in order of (draw_key, customer_id) are taken off that table and
--      their entries get the reserved numbers in turn.
-- Ordering by a keyed hash under a secret seed drawn at on-sale is a uniformly random
-- order, and anyone holding the seed can replay it. The progress of both passes lives on
-- the draw row and commits with each chunk, so a crash between chunks resumes where it was.

-- The pre-queue, walked in customer order by the keying pass and counted at on-sale.
CREATE INDEX queue_entries_predraw_idx ON queue_entries (event_id, customer_id)
  WHERE number IS NULL;

-- The keyed pre-queue while a draw is in progress; empty once it is done (the keys follow
-- from the seed, so nothing is lost).
CREATE TABLE queue_draw_keys (
  event_id uuid NOT NULL,
  draw_key bytea NOT NULL,
  customer_id uuid NOT NULL,
  PRIMARY KEY (event_id, draw_key, customer_id)
);
-- Superseded by queue_entries_predraw_idx.
DROP INDEX queue_entries_undrawn_idx;

-- The whole order is no longer stored: it follows from the seed and the entries' numbers.
ALTER TABLE queue_draws ALTER COLUMN result_order DROP NOT NULL;
-- 'keying', 'numbering' or 'done'.
ALTER TABLE queue_draws ADD COLUMN phase text NOT NULL DEFAULT 'done'
  CHECK (phase IN ('keying', 'numbering', 'done'));
-- Where each pass resumes: the last customer keyed, or the last (draw_key, customer)
-- numbered.
ALTER TABLE queue_draws ADD COLUMN cursor_key bytea;
ALTER TABLE queue_draws ADD COLUMN cursor_customer uuid;
-- Reserved numbers handed out so far; the next one is first_number + numbered.
ALTER TABLE queue_draws ADD COLUMN numbered bigint NOT NULL DEFAULT 0;
ALTER TABLE queue_draws ADD COLUMN completed_at timestamptz;
ALTER TABLE queue_draws ADD CONSTRAINT queue_draws_numbered_check
  CHECK (numbered >= 0 AND numbered <= entries);
