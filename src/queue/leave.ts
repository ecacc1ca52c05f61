/**
 * Leaving the line: a fan who gives up says so, and the line stops waiting for them. The
 * entry keeps its number (nobody behind moves up out of turn) but admission passes over
 * it, and a live pass is given back at once, so the next tick admits the next fan into
 * the freed slot. Leaving is final for the event: a re-join answers `left`.
 */
import { DomainError } from '../core/errors.js';
import type { Db, Queryable } from '../storage/index.js';
import { sqlNow } from './dbclock.js';
import { liveSlot } from './slot.js';
import type { EntryRef } from './types.js';

/** Why a fan left: on their own, or by moving to the event's waitlist. */
export type LeaveReason = 'left' | 'waitlist';

/** What leaving did. */
export interface LeaveOutcome {
  entry: EntryRef;
  /** True when a live pass was given back (its slot is free for the next tick). */
  slotFreed: boolean;
}

/**
 * Takes the customer out of the line in one transaction: not_found when they never joined,
 * already_left when they have left before (nothing changes then). Database clock unless a
 * test pins time with `nowMs`.
 */
export async function leaveLine(
  db: Db, eventId: string, customerId: string, reason: LeaveReason, nowMs?: number,
): Promise<LeaveOutcome> {
  return await db.tx(async (tx) => {
    const { rows } = await tx.query<{ number: number | null; left_reason: string | null }>(
      `SELECT number, left_reason FROM queue_entries
        WHERE event_id = $1 AND customer_id = $2 FOR UPDATE`,
      [eventId, customerId],
    );
    const row = rows[0];
    if (row === undefined) {
      throw new DomainError('not_found', 'you are not in this event\'s queue');
    }
    if (row.left_reason !== null) throw alreadyLeft(row.left_reason);
    const entryParams: unknown[] = [eventId, customerId, reason];
    const entryNow = sqlNow(entryParams, nowMs);
    const updated = await tx.query(
      `UPDATE queue_entries SET left_at = ${entryNow}, left_reason = $3
        WHERE event_id = $1 AND customer_id = $2 AND left_at IS NULL`,
      entryParams,
    );
    if (updated.rowCount !== 1) throw new Error('assertion failed: locked entry changed');
    const slotParams: unknown[] = [eventId, customerId];
    const now = sqlNow(slotParams, nowMs);
    const released = await tx.query(
      `UPDATE queue_admissions a SET released_at = ${now}, release_reason = 'left'
        WHERE a.event_id = $1 AND a.customer_id = $2 AND ${liveSlot('a', now)}`,
      slotParams,
    );
    const number = row.number === null ? null : Number(row.number);
    const entry: EntryRef = { customerId, number, left: true, leftReason: reason };
    return { entry, slotFreed: released.rowCount > 0 };
  });
}

const leftDetail: Record<string, string> = {
  waitlist: 'you moved from this queue to the waitlist already',
  // Set by the order's confirmation (migration 054): a fan who bought while still waiting.
  purchased: 'your order for this event completed while you waited: your turn has ended',
};

/** The refusal for a fan who left already (as `leaveLine` words it). */
export function alreadyLeft(leftReason: string): DomainError {
  return new DomainError('already_left', leftDetail[leftReason] ?? 'you left this queue already');
}
