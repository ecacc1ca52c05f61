/**
 * The line's block of waitlist places: fans who move from the line to the waitlist take
 * `base + their number`, so offers go in line order whenever each of them moved (handover.ts).
 */
import { limits } from '../config/limits.js';
import { DomainError } from '../core/errors.js';
import type { Queryable } from '../storage/index.js';

/**
 * The start of the event's reserved block of waitlist positions, reserving it if the line
 * has none yet: room for every number handed out so far plus `limits.queueWaitlistSpare`
 * later joiners. Takes the line's row lock; the closing tick (which holds it already) calls
 * this, so the herd of fans told "sold out" only ever reads the base (the move batch,
 * migration 038).
 */
export async function reserveWaitlistBase(tx: Queryable, eventId: string): Promise<number> {
  const { rows } = await tx.query<{ base: number | null; last: number | null }>(
    `SELECT s.waitlist_seq_base AS base, n.last_number AS last
       FROM queue_state s LEFT JOIN queue_numbering n USING (event_id)
      WHERE s.event_id = $1 FOR UPDATE OF s`,
    [eventId],
  );
  const row = rows[0];
  if (row === undefined) throw new DomainError('not_found', 'this event has no line');
  if (row.base !== null) return Number(row.base);
  const reserved = await tx.query<{ base: number }>(
    `SELECT setval('waitlist_seq', nextval('waitlist_seq') + $1::bigint) - $1::bigint AS base`,
    [Number(row.last ?? 0) + limits.queueWaitlistSpare],
  );
  const base = Number(reserved.rows[0]?.base);
  await tx.query('UPDATE queue_state SET waitlist_seq_base = $2 WHERE event_id = $1',
    [eventId, base]);
  return base;
}
