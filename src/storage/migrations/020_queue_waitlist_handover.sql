-- From the line to the waitlist in one step, keeping place order: the first hand-over of an
-- event reserves a block of the waitlist's sequence, and a fan who moves takes
-- base + their line number (src/queue/handover.ts).
ALTER TABLE queue_state ADD COLUMN waitlist_seq_base bigint;
