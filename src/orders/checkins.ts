/**
 * Door check-in: the first scan of a valid ticket code wins, atomically (a guarded UPDATE
 * on `checked_in_at IS NULL`), so two doors scanning one code at once admit one person.
 */
import { DomainError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import type { Queryable } from '../storage/index.js';
import type { Checkin, DoorTally } from './schemas.js';

/** Checks a ticket code in at an event's door. */
export async function checkIn(db: Queryable, eventId: string, code: string): Promise<Checkin> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  const { rows } = await db.query<{
    ticket_id: string; order_id: string; seat_id: string | null; section_key: string;
    row_label: string | null; seat_number: number | null; zone_key: string; checked_in_at: Date;
  }>(
    `UPDATE order_tickets ot SET checked_in_at = now()
       FROM tickets t
      WHERE ot.event_id = $1 AND ot.code = $2 AND ot.status = 'valid'
        AND ot.checked_in_at IS NULL
        AND t.event_id = ot.event_id AND t.ticket_no = ot.ticket_no
     RETURNING ot.ticket_id, ot.order_id, t.seat_id, t.section_key, t.row_label, t.seat_number,
               ot.zone_key, ot.checked_in_at`,
    [eventId, code],
  );
  const row = rows[0];
  if (row !== undefined) {
    return {
      ticketId: row.ticket_id, orderId: row.order_id, eventId, seatId: row.seat_id,
      section: row.section_key, row: row.row_label, number: row.seat_number, zone: row.zone_key,
      checkedInAt: row.checked_in_at.toISOString(),
    };
  }
  const { rows: seen } = await db.query<{ checked_in_at: Date }>(
    `SELECT checked_in_at FROM order_tickets
      WHERE event_id = $1 AND code = $2 AND status = 'valid' AND checked_in_at IS NOT NULL`,
    [eventId, code],
  );
  const first = seen[0];
  if (first !== undefined) {
    throw new DomainError('already_checked_in', 'this ticket was already scanned',
      { checkedInAt: first.checked_in_at.toISOString() });
  }
  // Unknown code, another event's code, or a cancelled ticket: all look the same.
  throw new DomainError('not_found', 'no valid ticket with this code for this event');
}

/** The door's tally: valid tickets of the event and how many are scanned in. */
export async function doorTally(db: Queryable, eventId: string): Promise<DoorTally> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  const { rows } = await db.query<{ title: string; starts_at: Date; valid: number;
    checked_in: number }>(
    `SELECT e.title, e.starts_at,
            (SELECT count(*) FROM order_tickets ot
              WHERE ot.event_id = e.event_id AND ot.status = 'valid')::int AS valid,
            (SELECT count(*) FROM order_tickets ot
              WHERE ot.event_id = e.event_id AND ot.status = 'valid'
                AND ot.checked_in_at IS NOT NULL)::int AS checked_in
       FROM events e WHERE e.event_id = $1`,
    [eventId],
  );
  const row = rows[0];
  if (row === undefined) throw new DomainError('not_found', `no event ${eventId}`);
  return { eventId, title: row.title, startsAt: row.starts_at.toISOString(), valid: row.valid,
    checkedIn: row.checked_in };
}
