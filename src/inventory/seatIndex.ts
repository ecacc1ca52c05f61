/**
 * Per-node seat id → ticket number maps, one per event. A layout never changes after the
 * event is created (its tickets are written in the event's own transaction), so a map
 * read once stays true: named-seat holds resolve their seats in memory instead of a query
 * per request. Bounded by events (the least recently used is dropped) and single-flight:
 * the first holds on an event share one read of its seats.
 */
import type { Queryable } from '../storage/index.js';

/** Seat id → ticket_no of one event; seats not in it are not at the event. */
export type SeatIndex = ReadonlyMap<string, number>;

/** How many events' maps one node keeps (a 50,000-seat map is a few MiB). */
const maxEvents = 32;

const indexes = new Map<string, Promise<SeatIndex>>();
/** The most recently used event's id: the last key of `indexes`, when it is there. */
let newest: string | undefined;

async function readSeatIndex(db: Queryable, eventId: string): Promise<SeatIndex> {
  const { rows } = await db.query<{ seat_id: string; ticket_no: number }>(
    'SELECT seat_id, ticket_no FROM tickets WHERE event_id = $1 AND seat_id IS NOT NULL',
    [eventId],
  );
  return new Map(rows.map((row) => [row.seat_id, row.ticket_no]));
}

/**
 * The event's seat index. Only call it for an event known to exist: a map read for a
 * missing event would be empty, and would be kept.
 */
export async function seatIndex(db: Queryable, eventId: string): Promise<SeatIndex> {
  const known = indexes.get(eventId);
  if (known !== undefined) {
    // Most recently used last: re-insert, unless it is already (an on-sale's every hold).
    if (eventId !== newest) {
      indexes.delete(eventId);
      indexes.set(eventId, known);
      newest = eventId;
    }
    return await known;
  }
  const read = readSeatIndex(db, eventId);
  indexes.set(eventId, read);
  newest = eventId;
  while (indexes.size > maxEvents) {
    const oldest = indexes.keys().next();
    if (oldest.done === true) break;
    indexes.delete(oldest.value);
  }
  try {
    return await read;
  } catch (error) {
    // A failed read is not kept: the next hold reads again.
    if (indexes.get(eventId) === read) {
      indexes.delete(eventId);
      if (newest === eventId) newest = undefined;
    }
    throw error;
  }
}

/** Forgets every map; for tests. */
export function clearSeatIndexes(): void {
  indexes.clear();
  newest = undefined;
}

/** Events whose maps are kept, for tests. */
export function seatIndexSize(): number {
  return indexes.size;
}
