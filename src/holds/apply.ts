/**
 * The apply half of every hold, shared by customer holds (holds.ts) and waitlist offers
 * (waitlist/offers.ts): the per-customer limit under the customer lock, one claim, the
 * hold row with its items and locked prices, and the outbox row, all in the caller's
 * transaction. Kept apart from holds.ts so the waitlist can make holds inside a return
 * transaction while holds.ts calls the waitlist on every return, without an import cycle.
 */
import type { EventRecord } from '../catalog/events.js';
import { DomainError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { seatsPayload } from '../outbox/write.js';
import type { Queryable } from '../storage/index.js';
import { lockCustomerAndCount, type Guard, type TicketRow } from './claim.js';
import { assertSaleOpen } from './saleWindow.js';
import type { Hold } from './schemas.js';

/** Claims the hold's tickets in the caller's transaction; returns the rows claimed. */
export type Claim = (tx: Queryable, holdId: string, expiresAt: string) => Promise<TicketRow[]>;

/**
 * Runs last in the hold's transaction, with the hold it created: the HTTP layer stores the
 * Idempotency-Key reply here, so the hold and its record commit (or roll back) together.
 */
export type OnApplied = (tx: Queryable, hold: Hold) => Promise<void>;

/** True when the tickets are one run of consecutive seats in one row. */
function areAdjacent(tickets: readonly TicketRow[]): boolean {
  if (tickets.length === 1) return true;
  const first = tickets[0];
  if (first === undefined || first.seat_number === null) return false;
  const sameRow = tickets.every((t) => t.section_key === first.section_key
    && t.row_label === first.row_label && t.seat_number !== null);
  if (!sameRow) return false;
  const numbers = tickets.map((t) => t.seat_number as number).sort((a, b) => a - b);
  return numbers.every((n, i) => i === 0 || n === (numbers[i - 1] as number) + 1);
}

/**
 * The apply half of every hold: limit check, one claim, the hold row with its items and
 * locked prices, and the outbox row, all in the caller's transaction (three statements).
 * `offer` only marks the reply: the waitlist records its offers in its own table.
 * `unguarded` is the test seam of claim.ts (`Guard`); production never passes it.
 */
export async function applyHold(
  tx: Queryable, event: EventRecord, customerId: string, quantity: number, claim: Claim,
  onApplied: OnApplied | undefined, offer = false, unguarded?: Guard,
): Promise<Hold> {
  const usage = await lockCustomerAndCount(tx, customerId, event.eventId, event.holdSeconds,
    unguarded);
  assertSaleOpen(event, usage.createdAtMs); // by the database clock, inside the transaction
  if (usage.used + quantity > event.maxTicketsPerCustomer) throw overLimit(event, usage.used);
  const holdId = newId();
  const tickets = (await claim(tx, holdId, usage.expiresAt))
    .sort((a, b) => a.ticket_no - b.ticket_no);
  if (tickets.length !== quantity) {
    throw new Error(`assertion failed: claim returned ${tickets.length} of ${quantity}`);
  }
  const priceOf = new Map(event.zones.map((zone) => [zone.key, zone.priceCents]));
  const prices = tickets.map((t) => priceOf.get(t.zone_key) ?? 0);
  const total = prices.reduce((sum, price) => sum + price, 0);
  const currency = event.zones[0]?.currency ?? 'EUR';
  const adjacent = areAdjacent(tickets);
  // One round trip: the hold, its items and the outbox row (the same row writeOutbox
  // would append) in one statement.
  const outbox = seatsPayload(
    tickets.map((t) => ({ ticketNo: t.ticket_no, seatId: t.seat_id, zone: t.zone_key })),
    { holdId, customerId },
  );
  await tx.query(
    `WITH hold AS (
       INSERT INTO holds (hold_id, event_id, customer_id, state, quantity, adjacent, currency,
                          total_cents, expires_at, claim_expires_at, created_at)
       VALUES ($1, $2, $3, 'held', $4, $5, $6, $7, $8::timestamptz, $8::timestamptz,
               $9::timestamptz)),
     outbox AS (
       INSERT INTO outbox_events (event_id, kind, payload)
       VALUES ($2, 'seats.held', $13::jsonb))
     INSERT INTO hold_items (hold_id, event_id, ticket_no, zone_key, price_cents)
     SELECT $1, $2, * FROM unnest($10::int[], $11::text[], $12::int[])`,
    [holdId, event.eventId, customerId, quantity, adjacent, currency, total, usage.expiresAt,
      usage.createdAt, tickets.map((t) => t.ticket_no), tickets.map((t) => t.zone_key), prices,
      JSON.stringify(outbox)],
  );
  // The reply is built from what this transaction wrote: no read-back round trip.
  const hold: Hold = {
    holdId, eventId: event.eventId, status: 'held',
    expiresAt: new Date(usage.expiresAtMs).toISOString(), extended: false, adjacent,
    items: tickets.map((t, i) => ({
      ticketNo: t.ticket_no, seatId: t.seat_id, section: t.section_key, row: t.row_label,
      number: t.seat_number, zone: t.zone_key, priceCents: prices[i] as number,
    })),
    totalCents: total, currency, createdAt: new Date(usage.createdAtMs).toISOString(), offer,
  };
  await onApplied?.(tx, hold);
  return hold;
}

/** The limit_exceeded refusal, with the limit and what the customer has. */
export function overLimit(event: EventRecord, used: number): DomainError {
  return new DomainError('limit_exceeded',
    `at most ${event.maxTicketsPerCustomer} tickets per customer; you have ${used}`,
    { limit: event.maxTicketsPerCustomer, current: used });
}

