/**
 * The expiry sweeper tidies; it decides nothing. A lapsed hold's tickets are already
 * available to everyone (the claim guard treats an expired hold as absent), so this only
 * records the ending (`state = 'expired'`), clears the ticket columns that still carry the
 * hold's id, and writes `seats.released` so live seat maps turn green without waiting for
 * the next claim; the returned tickets are offered to the waitlist in the same transaction.
 * It works in bounded batches and skips holds another transaction has locked (a concurrent
 * release or checkout finishes them instead).
 */
import { limits } from '../config/limits.js';
import { seatsPayload, writeOutbox } from '../outbox/write.js';
import type { Db } from '../storage/index.js';
import { offerReturnedAcrossEvents, offerSql } from '../waitlist/offers.js';

/** What one sweep did. */
export interface SweepResult {
  holds: number;
  tickets: number;
}

/**
 * The sweep's two statements (exported for bench/offerScale.ts): up to `$1` lapsed holds
 * marked expired, then the tickets still carrying one of their ids (`$1`) cleared. Only
 * tickets still carrying a swept hold's id: a lapsed ticket already re-claimed by another
 * hold carries that hold's id (the fencing token) and is left alone.
 */
export const sweepSql = {
  lapsed:
  `UPDATE holds h SET state = 'expired', ended_at = now()
    WHERE h.hold_id = ANY (ARRAY(
            SELECT hold_id FROM holds
             WHERE state = 'held' AND claim_expires_at <= now()
             ORDER BY claim_expires_at
             LIMIT $1
             FOR UPDATE SKIP LOCKED))
      AND h.state = 'held'
   RETURNING h.hold_id, h.event_id, h.customer_id`,
  release:
  `WITH target AS (
     SELECT t.event_id, t.ticket_no, t.hold_id FROM hold_items i
       JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
      WHERE i.hold_id = ANY($1::uuid[]) AND t.hold_id = i.hold_id AND t.order_id IS NULL
      ORDER BY t.event_id, t.ticket_no FOR UPDATE OF t)
   UPDATE tickets t SET hold_id = NULL, hold_expires_at = NULL
     FROM target
    WHERE t.event_id = target.event_id AND t.ticket_no = target.ticket_no
      AND t.hold_id = target.hold_id AND t.order_id IS NULL
   RETURNING t.event_id, target.hold_id, t.ticket_no, t.seat_id, t.zone_key`,
};

/** Marks up to `batch` lapsed holds expired and returns their tickets to the pool. */
export async function sweepExpiredHolds(
  db: Db, batch: number = limits.holdSweepBatch,
): Promise<SweepResult> {
  return await db.tx(async (tx) => {
    // Every read below is by a key or by the expiry index's lapsed end. On statistics
    // gathered when the tables were (nearly) empty, as at the start of a sale, the planner
    // would otherwise join the swept holds back by a walk of every live hold (holds_sweep_idx
    // in a bitmap) and read hold_items by sequential scan (bench/offerScale.ts --explain).
    await tx.query(offerSql.keyedOnly);
    const { rows: holds } = await tx.query<{
      hold_id: string; event_id: string; customer_id: string;
    }>(
      sweepSql.lapsed,
      [batch],
    );
    if (holds.length === 0) return { holds: 0, tickets: 0 };
    const { rows: tickets } = await tx.query<{
      event_id: string; hold_id: string; ticket_no: number; seat_id: string | null;
      zone_key: string;
    }>(
      sweepSql.release,
      [holds.map((hold) => hold.hold_id)],
    );
    const byHold = new Map<string, typeof tickets>();
    for (const ticket of tickets) {
      byHold.set(ticket.hold_id, [...(byHold.get(ticket.hold_id) ?? []), ticket]);
    }
    for (const hold of holds) {
      const released = byHold.get(hold.hold_id) ?? [];
      if (released.length === 0) continue;
      await writeOutbox(tx, hold.event_id, 'seats.released', seatsPayload(
        released.map((t) => ({ ticketNo: t.ticket_no, seatId: t.seat_id, zone: t.zone_key })),
        { holdId: hold.hold_id, customerId: hold.customer_id, reason: 'expired' },
      ));
    }
    // Returned tickets go to the waitlist first, in this same transaction.
    await offerReturnedAcrossEvents(tx, tickets, 'expired');
    return { holds: holds.length, tickets: tickets.length };
  });
}
