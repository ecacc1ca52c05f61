/**
 * Completed orders reach the admissions cache through the outbox. The transaction that
 * confirms an order (the settle batch, or a settlement of its own) frees the shopper's
 * waiting-room slot and writes `order.confirmed`; once the relay hands that row over, this
 * sink forgets the fan's cached pass in the coordination store, which every node reads, so
 * the next poll on any node reads PostgreSQL and shows the slot freed. Before this, a fan
 * who had just bought still saw "admitted" until the next tick (releasedSince). A buyer who
 * was still waiting has been marked out of the line by the same transaction (`purchased`,
 * migration 054): the sink reads those entries (one round trip per event in the round, off
 * the request path) and writes them to the members cache, so their next poll on any node
 * says they bought instead of showing them waiting until their number comes up. Every path
 * that confirms an order writes the row, so none of them has to know about the caches.
 */
import type { AppContext } from '../context.js';
import type { OutboxRow, OutboxSink } from '../outbox/relay.js';
import { findLeftEntries } from './line.js';
import { waitingRoom } from './room.js';

/** Customers with a confirmed order in `rows`, per event. */
export function confirmedBuyers(rows: readonly OutboxRow[]): Map<string, string[]> {
  const byEvent = new Map<string, string[]>();
  for (const row of rows) {
    if (row.kind !== 'order.confirmed') continue;
    const customerId = (row.payload as { customerId?: unknown } | null)?.customerId;
    if (typeof customerId !== 'string') continue;
    byEvent.set(row.eventId, [...(byEvent.get(row.eventId) ?? []), customerId]);
  }
  return byEvent;
}

/**
 * The relay sink that forgets the cached passes of fans whose order confirmed, and caches
 * the entries of those it took out of the line. Best effort and idempotent (a forgotten
 * entry is forgotten again, an entry written again is the same): it never fails the relay's
 * round; should it not run, the next tick forgets the pass (and the cache's bound still
 * applies), and a waiting buyer's view reads their entry once their number comes up.
 */
export function confirmedOrdersSink(ctx: AppContext): OutboxSink {
  const room = waitingRoom(ctx);
  return async (rows) => {
    for (const [eventId, customerIds] of confirmedBuyers(rows)) {
      try {
        // Events without a queue have no passes and no line: no cache entry to write.
        if (!(await room.event(eventId)).queue.enabled) continue;
      } catch (error) {
        ctx.logger.warn({ err: error, eventId }, 'event unread; forgetting passes anyway');
      }
      await room.admits.forget(eventId, customerIds);
      try {
        await room.remember(eventId, ...await findLeftEntries(ctx.db, eventId, customerIds));
      } catch (error) {
        ctx.logger.warn({ err: error, eventId }, 'buyers\' entries unread; views read them');
      }
    }
  };
}
