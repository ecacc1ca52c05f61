/**
 * The seat map: every seat's status for one event. One statement reads the layout, the
 * status of every ticket as one character each (in ticket order, which is layout order)
 * and the event's live-feed version, all from one snapshot; the nested reply is built here.
 * Every feed row at or below that version is already in the map (the relay stamps a row
 * only after it committed); rows above it apply on top.
 */
import { DomainError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import type { SeatMap, SeatStatus, SectionInput } from '../catalog/schemas.js';
import type { Queryable } from '../storage/index.js';
import { ticketState } from './availability.js';
import { seatIdOf } from './tickets.js';

const statusOf: Record<string, SeatStatus> = { a: 'available', h: 'held', s: 'sold' };

/** The raw material of a seat map: layout, zones, one status character per ticket. */
export interface SeatStates {
  layout: SectionInput[];
  zones: { key: string; sections: string[] }[];
  /** `a`, `h` or `s` per ticket, in ticket order (ticket_no 1 first). */
  states: string;
  /** The live-feed version these states reflect. */
  version: number;
  cancelled: boolean;
}

/** Reads an event's layout, ticket states and feed version from one snapshot. */
export async function readSeatStates(db: Queryable, eventId: string): Promise<SeatStates> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  const { rows } = await db.query<{
    layout: SectionInput[]; zones: { key: string; sections: string[] }[] | null;
    states: string | null; version: number; cancelled: boolean;
  }>(
    `SELECT v.layout,
            (SELECT json_agg(json_build_object('key', z.zone_key, 'sections', z.sections))
               FROM zones z WHERE z.event_id = e.event_id) AS zones,
            (SELECT string_agg(CASE WHEN ${ticketState.sold} THEN 's'
                                    WHEN ${ticketState.held} THEN 'h' ELSE 'a' END,
                               '' ORDER BY t.ticket_no)
               FROM tickets t WHERE t.event_id = e.event_id) AS states,
            coalesce((SELECT f.version FROM event_feed f WHERE f.event_id = e.event_id),
                     0)::bigint AS version,
            e.cancelled_at IS NOT NULL AS cancelled
       FROM events e JOIN venues v ON v.venue_id = e.venue_id
      WHERE e.event_id = $1`,
    [eventId],
  );
  const row = rows[0];
  if (row === undefined) throw new DomainError('not_found', `no event ${eventId}`);
  return {
    layout: row.layout, zones: row.zones ?? [], states: row.states ?? '',
    version: Number(row.version), cancelled: row.cancelled,
  };
}

/** Reads the live seat map of an event. */
export async function getSeatMap(db: Queryable, eventId: string): Promise<SeatMap> {
  const row = await readSeatStates(db, eventId);
  const zoneOf = new Map<string, string>();
  for (const zone of row.zones) for (const key of zone.sections) zoneOf.set(key, zone.key);
  const states = row.states;
  let cursor = 0;
  const sections = row.layout.map((section) => {
    const zone = zoneOf.get(section.key) ?? '';
    if (section.kind === 'standing') {
      let available = 0;
      for (let i = 0; i < section.capacity; i++) if (states[cursor + i] === 'a') available++;
      cursor += section.capacity;
      const { key, name, kind, capacity } = section;
      return { key, name, kind, zone, capacity, available, rows: [] };
    }
    let available = 0;
    let capacity = 0;
    const seatRows = section.rows.map((seatRow) => {
      const seats = [];
      for (let number = 1; number <= seatRow.seats; number++) {
        const status = statusOf[states[cursor++] ?? 'a'] ?? 'available';
        if (status === 'available') available++;
        seats.push({ id: seatIdOf(section.key, seatRow.label, number), number, status });
      }
      capacity += seatRow.seats;
      return { label: seatRow.label, seats };
    });
    return { key: section.key, name: section.name, kind: section.kind, zone, capacity, available,
      rows: seatRows };
  });
  return { eventId, version: Number(row.version), sections };
}
