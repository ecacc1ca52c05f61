/**
 * From the line to the waitlist in one step: a fan the line cannot serve (sold out, or
 * nothing left for the fans ahead) moves onto the event's waitlist and out of the line,
 * keeping their place order: among fans who moved from the line, the waitlist offers in
 * line-number order, whenever each of them clicked.
 *
 * How the order is kept: the tick that closes the line (or the first hand-over, if one
 * comes before) reserves a block of the waitlist's sequence (`queue_state.waitlist_seq_base`,
 * under the line's lock; waitblock.ts), and a fan
 * who moves takes `base + their number` (or their earlier place, if they were on the
 * waitlist already). Fans who join the waitlist directly later draw from beyond the block,
 * so they come after everyone who moved from the line.
 */
import type { EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import type { WaitlistEntry } from '../waitlist/schemas.js';
import { joinWaitlist } from '../waitlist/waitlist.js';
import { findEntry } from './line.js';
import type { WaitingRoom } from './room.js';
import type { QueueView } from './types.js';
import { readWaitlistBase, reserveWaitlistBase } from './waitblock.js';

/** What the fan asks the waitlist for. */
export interface HandOverInput {
  zone?: string;
  quantity: number;
}

/** The fan's line view (now `left`) and their waitlist entry. */
export interface HandOverOutcome {
  queue: QueueView;
  waitlist: WaitlistEntry;
}

/**
 * Moves the customer from the line to the waitlist: not_found when not in the line,
 * already_left when they left it before; the waitlist's own refusals (over the limit, an
 * unknown zone) leave them in the line, unchanged.
 */
export async function moveToWaitlist(
  ctx: AppContext, room: WaitingRoom, event: EventRecord, customerId: string,
  input: HandOverInput,
): Promise<HandOverOutcome> {
  if (!event.queue.enabled) throw new DomainError('not_found', 'this event has no queue');
  const entry = await findEntry(ctx.db, event.eventId, customerId);
  if (entry === undefined) {
    throw new DomainError('not_found', 'you are not in this event\'s queue');
  }
  if (entry.left === true) throw new DomainError('already_left', 'you left this queue already');
  // The block first, so a place from it is always earlier than a fresh waitlist join. The
  // closing tick reserved it, so a herd told "sold out" only reads it: no line lock per move.
  const base = await readWaitlistBase(ctx.db, event.eventId) ??
    await ctx.db.tx((tx) => reserveWaitlistBase(tx, event.eventId));
  // The place from the block is taken in the join itself (an earlier place is kept), so the
  // entry it returns is final: one position count per move, not one per statement.
  const { entry: waitlist } = await joinWaitlist(ctx,
    { customerId, eventId: event.eventId, ...input },
    entry.number === null ? {} : { seq: base + entry.number });
  const queue = await room.leave(event, customerId, 'waitlist');
  return { queue, waitlist };
}
