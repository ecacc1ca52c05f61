-- A zone view's re-read (src/inventory/zoneView.ts `readUnsoldSql`): the free seats of a
-- seated zone as ticket numbers, with the event's feed version, in one snapshot. Only an
-- unsold ticket can be free, and tickets_unsold_idx (016: WHERE order_id IS NULL) holds only
-- those, by section: near the end of a sale a few hundred of a 20,000-seat zone's tickets,
-- where the view's first read (every seat row of the zone) visits them all.
--
-- As a plain statement the planner took a sequential scan of every ticket of the table
-- whenever its statistics said most tickets were unsold, which they say from a sale's start
-- until something analyzes tickets again (bench/zoneViewReread.ts: 699-994 buffers a read
-- at 0-97 % sold, the index only once tickets were vacuumed and analyzed at 97 %: 24). 052
-- and 076 met the same for the hold batch and the queue's shape; off sequential scans it
-- reads the index, whose section condition takes exactly the zone's unsold tickets.
CREATE OR REPLACE FUNCTION zone_free_seats(p_event uuid, p_zone text)
RETURNS TABLE (feed_version bigint, free int[])
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $$
  SELECT coalesce((SELECT f.version FROM event_feed f WHERE f.event_id = p_event), 0)::bigint,
         coalesce(array_agg(t.ticket_no), '{}')::int[]
    FROM tickets t
   WHERE t.event_id = p_event
     AND t.section_key = ANY ((SELECT z.sections FROM zones z
                                WHERE z.event_id = p_event AND z.zone_key = p_zone)::text[])
     AND t.seat_id IS NOT NULL
     AND t.order_id IS NULL AND (t.hold_id IS NULL OR t.hold_expires_at <= now())
$$;
