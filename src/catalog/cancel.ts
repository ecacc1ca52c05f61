/**
 * Cancelling an event: sales stop at once (hold and checkout paths refuse a cancelled
 * event) and an `event.cancelled` outbox row is written in the same transaction, so the
 * live feed ends for every watcher and ticket holders can be told. Refunding the orders
 * of a cancelled event is the organizer's next step (order cancellation with refund).
 */
import { DomainError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { writeOutbox } from '../outbox/write.js';
import type { Db } from '../storage/index.js';

/** Marks the event cancelled; idempotent (a second call changes nothing, writes nothing). */
export async function cancelEvent(db: Db, eventId: string): Promise<{ cancelledAt: string }> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  return await db.tx(async (tx) => {
    const { rows } = await tx.query<{ cancelled_at: Date; newly: boolean }>(
      `WITH target AS (SELECT event_id, cancelled_at FROM events WHERE event_id = $1 FOR UPDATE),
            changed AS (
              UPDATE events e SET cancelled_at = now()
                FROM target WHERE e.event_id = target.event_id AND target.cancelled_at IS NULL
              RETURNING e.cancelled_at)
       SELECT coalesce((SELECT cancelled_at FROM changed), target.cancelled_at) AS cancelled_at,
              EXISTS (SELECT 1 FROM changed) AS newly
         FROM target`,
      [eventId],
    );
    const row = rows[0];
    if (row === undefined) throw new DomainError('not_found', `no event ${eventId}`);
    if (row.newly) await writeOutbox(tx, eventId, 'event.cancelled', { reason: 'cancelled' });
    return { cancelledAt: row.cancelled_at.toISOString() };
  });
}
