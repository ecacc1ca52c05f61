/**
 * The transactional outbox writer: every change of ticket state appends a row to
 * outbox_events in the transaction that makes the change, so a relay can publish exactly
 * what was committed (nothing for a rolled-back claim, nothing lost after a crash).
 */
import type { Queryable } from '../storage/index.js';

/**
 * Kinds of outbox events: ticket state changes (the live feed renders these) and facts a
 * customer is told about (the notifier sends these). Consumers ignore kinds they do not use.
 */
export type OutboxKind = 'seats.held' | 'seats.released' | 'seats.sold'
  | 'waitlist.offered' | 'order.confirmed' | 'order.payment_failed' | 'order.refunded'
  | 'event.cancelled' | 'queue.admitted' | 'queue.closed';

/** One ticket in an outbox payload; seatId is null for a standing unit. */
export interface OutboxTicket {
  ticketNo: number;
  seatId: string | null;
  zone: string;
}

/** Why tickets went back to the pool. */
export type ReleaseReason = 'released' | 'expired' | 'cancelled' | 'payment_failed';

/** Payload of a ticket state change; `zones` lists the zones touched, for availability. */
export interface SeatsPayload {
  holdId?: string;
  orderId?: string;
  customerId?: string;
  reason?: ReleaseReason;
  zones: string[];
  tickets: OutboxTicket[];
}

/** A waitlist offer: the hold made for the fan from returned tickets. */
export interface OfferPayload {
  customerId: string;
  holdId: string;
  quantity: number;
  zones: string[];
  expiresAt: string;
  reason: ReleaseReason;
}

/** An order outcome the buyer is told about (confirmed, payment failed, refunded). */
export interface OrderNoticePayload {
  customerId: string;
  orderId: string;
  amountCents?: number;
  currency?: string;
  reason?: string;
}

/** One admission tick: the customers it admitted (at most the tick's size). */
export interface AdmittedPayload {
  customerIds: string[];
}

/** Payload of `event.cancelled`: the live feed ends, the notifier tells ticket holders. */
export interface EventCancelledPayload {
  reason: 'cancelled';
}

/** Anything an outbox row may carry. */
export type OutboxPayload =
  | SeatsPayload | OfferPayload | OrderNoticePayload | AdmittedPayload | EventCancelledPayload;

/** Appends one outbox row in the caller's transaction. */
export async function writeOutbox(
  tx: Queryable, eventId: string, kind: OutboxKind, payload: OutboxPayload,
): Promise<void> {
  await tx.query(
    'INSERT INTO outbox_events (event_id, kind, payload) VALUES ($1, $2, $3::jsonb)',
    [eventId, kind, JSON.stringify(payload)],
  );
}

/** Builds a seats payload from ticket rows (any order; tickets are sorted by number). */
export function seatsPayload(
  tickets: readonly OutboxTicket[], extra: Omit<SeatsPayload, 'zones' | 'tickets'>,
): SeatsPayload {
  const sorted = [...tickets].sort((a, b) => a.ticketNo - b.ticketNo);
  const zones = [...new Set(sorted.map((ticket) => ticket.zone))].sort();
  return { ...extra, zones, tickets: sorted };
}
