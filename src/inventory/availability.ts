/**
 * Per-zone ticket counts, computed from ticket rows (never counted down): a ticket is sold
 * when an order owns it, held when a hold owns it and has not expired by the database
 * clock, available otherwise. An expired hold stops counting the instant it expires.
 */
import type { Queryable } from '../storage/index.js';

export interface ZoneCounts {
  held: number;
  sold: number;
}

/** SQL predicates for ticket states, shared by every query that classifies tickets. */
export const ticketState = {
  sold: 'order_id IS NOT NULL',
  held: 'order_id IS NULL AND hold_id IS NOT NULL AND hold_expires_at > now()',
  available: 'order_id IS NULL AND (hold_id IS NULL OR hold_expires_at <= now())',
} as const;

/** Held and sold counts per event and zone, for the given events, in one query. */
export async function zoneCounts(
  db: Queryable,
  eventIds: readonly string[],
): Promise<Map<string, Map<string, ZoneCounts>>> {
  const result = new Map<string, Map<string, ZoneCounts>>();
  if (eventIds.length === 0) return result;
  const { rows } = await db.query<{ event_id: string; zone_key: string; held: number; sold: number }>(
    `SELECT event_id, zone_key,
            count(*) FILTER (WHERE ${ticketState.held})::int AS held,
            count(*) FILTER (WHERE ${ticketState.sold})::int AS sold
       FROM tickets
      WHERE event_id = ANY($1::uuid[])
        AND (order_id IS NOT NULL OR hold_id IS NOT NULL)
      GROUP BY event_id, zone_key`,
    [eventIds],
  );
  for (const row of rows) {
    let zones = result.get(row.event_id);
    if (zones === undefined) {
      zones = new Map();
      result.set(row.event_id, zones);
    }
    zones.set(row.zone_key, { held: row.held, sold: row.sold });
  }
  return result;
}
