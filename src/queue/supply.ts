/**
 * What the line can still sell: the tickets left, who is already in the store looking for
 * them, and how many more fans that can serve. The admission tick admits nobody into an
 * empty store, and every fan's view is told the truth about the tickets left, from the
 * same figures (one read per tick, broadcast with the tick).
 *
 * The rule (docs/WAITING_ROOM.md, "Inventory-aware admission"):
 *   supply  = available + ⌊heldReturnShare × held that may come back⌋
 *   room    = ⌈supply / ticketsPerShopper⌉ − seekers
 * where seekers are live shoppers who hold nothing (they are looking for tickets now),
 * "held that may come back" excludes tickets whose payment is already under way, and
 * ticketsPerShopper is the event's measured demand (mean tickets per hold), clamped to
 * 1 … maxTicketsPerCustomer. The line is closed when nothing is available and nothing
 * held may come back: every ticket is sold or being paid for.
 */
import type { EventRecord } from '../catalog/events.js';
import type { QueueConfig } from '../config/index.js';
import { ticketState } from '../inventory/availability.js';
import type { Queryable } from '../storage/index.js';
import { liveSlot } from './slot.js';

/** What the last tick knew about the tickets left (broadcast with it). */
export interface Supply {
  /** Tickets anyone may hold now. */
  available: number;
  /** Tickets in someone's cart (live holds). */
  held: number;
  /**
   * Of `held`, those that may come back to the line: no payment under way, and not a
   * waitlist offer (if an offer lapses, the next fan on the waitlist gets it).
   */
  mayReturn: number;
  /** Fans waiting on the event's waitlist: returned tickets go to them first. */
  waitlistWaiting?: number;
  /** Live shoppers who hold nothing: they are looking for tickets now. */
  seekers: number;
  /** Tickets one shopper takes, as measured on this event (the knob's default before). */
  ticketsPerShopper: number;
}

/** The knobs of the rule (QueueConfig). */
export interface SupplyKnobs {
  /** Share of returnable held tickets counted as coming back, 0 … 1. */
  heldReturnShare: number;
  /** Tickets per shopper before the event has enough holds to measure it. */
  defaultTicketsPerShopper: number;
}

/** The rule's knobs from the configuration. */
export function supplyKnobs(config: QueueConfig): SupplyKnobs {
  return {
    heldReturnShare: config.heldReturnPercent / 100,
    defaultTicketsPerShopper: config.ticketsPerShopper,
  };
}

/** Holds needed before the measured tickets-per-hold replaces the default. */
export const demandSampleMin = 20;

/**
 * How many more shoppers may be admitted without outnumbering the tickets they could buy:
 * ⌈supply / ticketsPerShopper⌉ − seekers, never negative. Pure, so the property test can
 * check every tick against it.
 */
export function inventoryRoom(supply: Supply, knobs: SupplyKnobs): number {
  const share = Math.min(1, Math.max(0, knobs.heldReturnShare));
  const tickets = supply.available + Math.floor(share * supply.mayReturn);
  const shoppers = Math.ceil(tickets / Math.max(1, supply.ticketsPerShopper));
  return Math.max(0, shoppers - supply.seekers);
}

/**
 * Closed: nothing is available and nothing held may come back (sold, being paid for, or
 * offered to the waitlist). A closed line stays closed while anyone waits on the
 * waitlist: tickets that come back go to them first. Otherwise it reopens when tickets
 * come back (a payment that failed, a cancellation) for the fans still in line.
 */
export function isClosed(supply: Supply, wasClosed: boolean): boolean {
  if (supply.available === 0 && supply.mayReturn === 0) return true;
  return wasClosed && (supply.waitlistWaiting ?? 0) > 0;
}

/**
 * Reads the supply of one event: ticket states by the database clock (as every ticket
 * query), shoppers' slots by `now` (the tick's instant). One round trip.
 */
export async function readSupply(
  db: Queryable, event: EventRecord, now: Date, knobs: SupplyKnobs,
): Promise<Supply> {
  const { rows } = await db.query<{
    held: number; sold: number; kept: number; seekers: number; holds: number;
    tickets: number | null; waitlist: number;
  }>(
    `SELECT
       (SELECT count(*) FROM tickets t WHERE t.event_id = $1 AND ${ticketState.held})::int
         AS held,
       (SELECT count(*) FROM tickets t WHERE t.event_id = $1 AND ${ticketState.sold})::int
         AS sold,
       (SELECT count(*) FROM tickets t
         WHERE t.event_id = $1 AND t.order_id IS NULL AND t.hold_expires_at > now()
           AND (EXISTS (SELECT 1 FROM orders o
                         WHERE o.hold_id = t.hold_id AND o.status = 'pending_payment')
                OR EXISTS (SELECT 1 FROM waitlist_offers w WHERE w.hold_id = t.hold_id)))::int
         AS kept,
       (SELECT count(*) FROM waitlist_entries
         WHERE event_id = $1 AND status = 'waiting')::int AS waitlist,
       (SELECT count(*) FROM queue_admissions a
         WHERE a.event_id = $1 AND ${liveSlot('a', '$2')}
           AND NOT EXISTS (SELECT 1 FROM holds h
                            WHERE h.event_id = a.event_id AND h.customer_id = a.customer_id
                              AND h.state = 'held' AND h.expires_at > now()))::int AS seekers,
       (SELECT count(*) FROM holds WHERE event_id = $1)::int AS holds,
       (SELECT avg(quantity) FROM holds WHERE event_id = $1)::float8 AS tickets`,
    [event.eventId, now],
  );
  const row = rows[0];
  const capacity = event.zones.reduce((sum, zone) => sum + zone.capacity, 0);
  const held = row?.held ?? 0;
  const measured = (row?.holds ?? 0) >= demandSampleMin && row?.tickets != null
    ? Number(row.tickets) : knobs.defaultTicketsPerShopper;
  return {
    available: Math.max(0, capacity - held - (row?.sold ?? 0)),
    held,
    mayReturn: Math.max(0, held - (row?.kept ?? 0)),
    waitlistWaiting: row?.waitlist ?? 0,
    seekers: row?.seekers ?? 0,
    ticketsPerShopper: Math.min(event.maxTicketsPerCustomer, Math.max(1, measured)),
  };
}

/** How a waiting fan's chances look, from the tickets left and the fans ahead. */
export type Outlook = 'open' | 'in_carts' | 'unlikely' | 'sold_out';

/**
 * The truth for a fan `position` places from the front: sold out; everything left is in
 * carts (nothing to promise a time for); what is left cannot serve the fans ahead (the
 * shoppers still looking and the position − 1 fans before this one, at the measured
 * tickets per shopper, even if every cart came back); or open.
 */
export function outlookFor(supply: Supply, position: number, closed: boolean): Outlook {
  if (closed) return 'sold_out';
  if (supply.available === 0) return 'in_carts';
  const ahead = supply.seekers + Math.max(0, position - 1);
  if (ahead * supply.ticketsPerShopper >= supply.available + supply.held) return 'unlikely';
  return 'open';
}
