-- The organizer's dashboard reads the fans who left the line without walking the line.
--
-- Every refresh of /admin/events/:id/stats (stats/onsale.ts, queue/admission.ts queueStats)
-- counted the fans who left before their turn, and those who left in the last two minutes,
-- each by a walk over all the event's queue entries: with the entries of a crowd (150,000
-- in a bounded run, 440,000 in the 1,000,000-fan rehearsal) that is two of the four walks
-- a refresh made, and the dashboard query and the queue figures were the third and fourth
-- costliest statements of the run (docs/benchmarks-journal.md, "Inside the crowd").
--
-- Leavers are few (a fan who leaves, or moves to the waitlist, at the end of the sale) and
-- this index holds only them. Setting left_at now also writes this index; the rows were
-- rarely HOT-updated anyway (the line's pages are full), and a fan leaves once.
CREATE INDEX queue_entries_left_idx ON queue_entries (event_id, left_at)
  WHERE left_at IS NOT NULL;
