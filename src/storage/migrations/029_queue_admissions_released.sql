-- The admission tick's freed-slot lookup (queue/admits.ts releasedSince: the customers of one
-- event whose slot was freed in the last few seconds, so their cached passes are forgotten)
-- had no index on released_at: it read every admission of the event through
-- queue_admissions_recent_idx and filtered. Measured on PostgreSQL 15, 5 events x 100,000
-- admissions, 90 % released, ~840 freed in the 6 s window: 100,000 index entries and about
-- 2,200 buffers, 32-51 ms per tick; with this index an index scan of the window, about 830
-- buffers, 0.45-2.1 ms. Partial: a live admission has no released_at and is not indexed, so
-- admitting writes nothing more; a release already was not a HOT update (released_at is in
-- queue_admissions_open_idx's predicate), and now writes one more index entry.
CREATE INDEX IF NOT EXISTS queue_admissions_released_idx
  ON queue_admissions (event_id, released_at) WHERE released_at IS NOT NULL;
