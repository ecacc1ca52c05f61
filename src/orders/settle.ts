/**
 * Applying payment outcomes. A payment only moves forward (pending → captured | declined),
 * so duplicate and out-of-order news is harmless: whatever arrives second finds the
 * payment settled and changes nothing, with one exception: a capture reported for a
 * payment recorded as declined moves it to captured and refunds it (the money was taken).
 * A captured payment ends in exactly one of two places: its order confirmed (tickets
 * sold, codes issued), or one refund row (unique per payment), inserted in the same
 * transaction that records why the order failed. The provider is called for the refund
 * after commit, keyed by the refund id, and the reconciler retries refunds that never got
 * their answer.
 */
import { isUuid, newId, randomToken } from '../core/ids.js';
import { clearHoldTickets, holdTicketsLocked, retimeTickets } from '../holds/holds.js';
import { seatsPayload, writeOutbox } from '../outbox/write.js';
import type { ChargeOutcome, PaymentProvider, ProviderEvent } from '../payments/types.js';
import type { Db, Queryable } from '../storage/index.js';
import { releaseShopperSlot } from '../queue/admission.js';
import { failRefund, paymentEventMismatch, recordRefundOutcome } from './followup.js';

/** What order commands need: the database, the provider, the payment window, a logger. */
export interface BookingDeps {
  db: Db;
  provider: PaymentProvider;
  /** Tickets stay reserved this long after checkout starts (PAYMENT_WINDOW_SECONDS). */
  paymentWindowSeconds: number;
  logger: { warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

/** A refund recorded in the database, to be sent to the provider after commit. */
export interface RefundToRun {
  refundId: string;
  paymentId: string;
  providerRef: string | null;
  amountCents: number;
  currency: string;
}

/** Thrown when a live hold turns out to have lost tickets mid-transaction: settle as failed. */
class TicketsLost extends Error {
  constructor() {
    super('tickets lost');
  }
}

interface LockedPayment {
  payment_status: string; amount_cents: number; currency: string; provider_ref: string | null;
  order_id: string; order_status: string; hold_id: string; event_id: string;
  customer_id: string; quantity: number;
}

/** Runs a settling transaction; if tickets were lost under it, runs it again forced to fail. */
export async function runSettling<T>(
  db: Db, work: (tx: Queryable, forceFail: boolean) => Promise<T>,
): Promise<T> {
  try {
    return await db.tx((tx) => work(tx, false));
  } catch (error) {
    if (!(error instanceof TicketsLost)) throw error;
    return await db.tx((tx) => work(tx, true));
  }
}

/** Records a refund of a captured payment, once per payment (unique payment_id). */
export async function recordRefund(
  tx: Queryable, paymentId: string, orderId: string, reason: string,
): Promise<RefundToRun | undefined> {
  const { rows } = await tx.query<{
    refund_id: string; provider_ref: string | null; amount_cents: number; currency: string;
    event_id: string; customer_id: string;
  }>(
    `INSERT INTO refunds (refund_id, payment_id, order_id, amount_cents, reason, status)
     SELECT $1, p.payment_id, $3, p.amount_cents, $4, 'requested'
       FROM payments p WHERE p.payment_id = $2 AND p.status = 'captured'
     ON CONFLICT (payment_id) DO NOTHING
     RETURNING refund_id, amount_cents,
       (SELECT provider_ref FROM payments WHERE payment_id = $2) AS provider_ref,
       (SELECT currency FROM payments WHERE payment_id = $2) AS currency,
       (SELECT event_id FROM orders WHERE order_id = $3) AS event_id,
       (SELECT customer_id FROM orders WHERE order_id = $3) AS customer_id`,
    [newId(), paymentId, orderId, reason],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  // The buyer is told in the same transaction (outbox → notifier).
  await writeOutbox(tx, row.event_id, 'order.refunded', {
    customerId: row.customer_id, orderId, amountCents: Number(row.amount_cents),
    currency: row.currency, reason,
  });
  return { refundId: row.refund_id, paymentId, providerRef: row.provider_ref,
    amountCents: Number(row.amount_cents), currency: row.currency };
}

/** Confirms a pending order whose hold is still live: tickets sold, codes issued. */
async function confirmOrder(tx: Queryable, p: LockedPayment): Promise<boolean> {
  const held = await tx.query(
    `UPDATE holds SET state = 'purchased', ended_at = now()
      WHERE hold_id = $1 AND state = 'held' AND claim_expires_at > now()`,
    [p.hold_id],
  );
  if (held.rowCount !== 1) return false;
  const { rows: sold } = await tx.query<{ ticket_no: number; seat_id: string | null;
    zone_key: string }>(
    `WITH target AS (${holdTicketsLocked('t.order_id IS NULL AND t.hold_expires_at > now()')})
     UPDATE tickets t SET order_id = $3, hold_id = NULL, hold_expires_at = NULL
       FROM target
      WHERE t.event_id = $1 AND t.ticket_no = target.ticket_no AND t.hold_id = $2
        AND t.order_id IS NULL AND t.hold_expires_at > now()
     RETURNING t.ticket_no, t.seat_id, t.zone_key`,
    [p.event_id, p.hold_id, p.order_id],
  );
  if (sold.length !== p.quantity) throw new TicketsLost();
  const confirmed = await tx.query(
    `UPDATE orders SET status = 'confirmed', confirmed_at = now()
      WHERE order_id = $1 AND status = 'pending_payment'`,
    [p.order_id],
  );
  // The order row is locked and was pending: anything else is a bug, and rolling back
  // (tickets unsold) is better than tickets sold to an order that is not confirmed.
  if (confirmed.rowCount !== 1) throw new Error('assertion failed: locked order changed state');
  // The shopper is done: free their waiting-room slot now, not when the pass expires, so
  // maxActiveShoppers counts live shoppers (a no-op for events without a queue).
  await releaseShopperSlot(tx, p.event_id, p.customer_id);
  const codes = sold.map(() => randomToken(16));
  await tx.query(
    `INSERT INTO order_tickets (ticket_id, order_id, event_id, ticket_no, zone_key, price_cents,
                                code, status)
     SELECT gen_random_uuid(), $1, $2, i.ticket_no, i.zone_key, i.price_cents, c.code, 'valid'
       FROM unnest($4::int[], $5::text[]) AS c (ticket_no, code)
       JOIN hold_items i ON i.hold_id = $3 AND i.ticket_no = c.ticket_no`,
    [p.order_id, p.event_id, p.hold_id, sold.map((t) => t.ticket_no), codes],
  );
  await writeOutbox(tx, p.event_id, 'seats.sold', seatsPayload(
    sold.map((t) => ({ ticketNo: t.ticket_no, seatId: t.seat_id, zone: t.zone_key })),
    { holdId: p.hold_id, orderId: p.order_id, customerId: p.customer_id },
  ));
  await writeOutbox(tx, p.event_id, 'order.confirmed', {
    customerId: p.customer_id, orderId: p.order_id, amountCents: Number(p.amount_cents),
    currency: p.currency,
  });
  return true;
}

/** Marks a pending order payment_failed and tells the buyer (outbox), once. */
async function failOrder(tx: Queryable, p: LockedPayment, reason: string): Promise<void> {
  const failed = await tx.query(
    `UPDATE orders SET status = 'payment_failed', failure_reason = $2
      WHERE order_id = $1 AND status = 'pending_payment'`,
    [p.order_id, reason],
  );
  if (failed.rowCount !== 1) return;
  await writeOutbox(tx, p.event_id, 'order.payment_failed', {
    customerId: p.customer_id, orderId: p.order_id, reason,
  });
}

/**
 * Settles a pending payment with a final outcome, in the caller's transaction. Returns a
 * refund to send after commit when captured money cannot become an order.
 */
export async function settleInTx(
  tx: Queryable, paymentId: string, outcome: Exclude<ChargeOutcome, { status: 'pending' }>,
  forceFail: boolean,
): Promise<RefundToRun | undefined> {
  const { rows } = await tx.query<LockedPayment>(
    `SELECT p.status AS payment_status, p.amount_cents, p.currency, p.provider_ref,
            o.order_id, o.status AS order_status, o.hold_id, o.event_id, o.customer_id,
            o.quantity
       FROM payments p JOIN orders o ON o.order_id = p.order_id
      WHERE p.payment_id = $1
      FOR UPDATE OF o, p`,
    [paymentId],
  );
  const p = rows[0];
  if (p === undefined) return undefined;
  if (p.payment_status !== 'pending') {
    // A capture for a payment we hold as declined (a lost answer, a provider that changed
    // its mind): the money was taken, so record it and refund it, once.
    if (outcome.status === 'captured' && p.payment_status === 'declined') {
      return await refundCaptureAfterDecline(tx, paymentId, p, outcome.providerRef);
    }
    // Already settled the same way: a duplicate or late message, nothing to do.
    return undefined;
  }
  if (outcome.status === 'declined') {
    await tx.query(
      `UPDATE payments SET status = 'declined', decline_reason = $2, settled_at = now(),
              provider_ref = coalesce(provider_ref, $3)
        WHERE payment_id = $1 AND status = 'pending'`,
      [paymentId, outcome.reason, outcome.providerRef],
    );
    await failOrder(tx, p, `payment declined: ${outcome.reason}`);
    await shrinkToBuyerTimer(tx, p.event_id, p.hold_id);
    return undefined;
  }
  await tx.query(
    `UPDATE payments SET status = 'captured', settled_at = now(),
            provider_ref = coalesce(provider_ref, $2)
      WHERE payment_id = $1 AND status = 'pending'`,
    [paymentId, outcome.providerRef],
  );
  if (p.order_status === 'pending_payment' && !forceFail && (await confirmOrder(tx, p))) {
    return undefined;
  }
  const reason = 'tickets no longer held when the payment arrived; refunded';
  await failOrder(tx, p, reason);
  const ended = await tx.query(
    `UPDATE holds SET state = 'expired', ended_at = now() WHERE hold_id = $1 AND state = 'held'`,
    [p.hold_id],
  );
  if (ended.rowCount === 1) {
    await clearHoldTickets(tx, p.event_id, p.hold_id, p.customer_id, 'payment_failed');
  }
  return await recordRefund(tx, paymentId, p.order_id, reason);
}

/**
 * The safety net of invariant 4: the payment is moved to captured and one refund is
 * recorded (refunds.payment_id is unique, so a repeat records nothing). The order stays
 * payment_failed, now with the reason; the hold is not touched, since the buyer may have
 * paid for it since with another payment.
 */
async function refundCaptureAfterDecline(
  tx: Queryable, paymentId: string, p: LockedPayment, providerRef: string,
): Promise<RefundToRun | undefined> {
  const moved = await tx.query(
    `UPDATE payments SET status = 'captured', settled_at = now(),
            provider_ref = coalesce(provider_ref, $2)
      WHERE payment_id = $1 AND status = 'declined'`,
    [paymentId, providerRef],
  );
  if (moved.rowCount !== 1) throw new Error('assertion failed: locked payment changed state');
  const reason = 'payment captured after it was recorded as declined; refunded';
  await tx.query(
    `UPDATE orders SET failure_reason = $2 WHERE order_id = $1 AND status = 'payment_failed'`,
    [p.order_id, reason],
  );
  return await recordRefund(tx, paymentId, p.order_id, reason);
}

/** After a decline the buyer may retry until their own timer ends, no longer. */
async function shrinkToBuyerTimer(tx: Queryable, eventId: string, holdId: string): Promise<void> {
  const { rows } = await tx.query<{ claim: string }>(
    `UPDATE holds SET claim_expires_at = expires_at
      WHERE hold_id = $1 AND state = 'held' RETURNING claim_expires_at::text AS claim`,
    [holdId],
  );
  const claim = rows[0]?.claim;
  if (claim === undefined) return;
  await retimeTickets(tx, eventId, holdId, claim);
}

/** Sends a recorded refund to the provider and records its answer; failures wait for retry. */
export async function executeRefund(deps: BookingDeps, refund: RefundToRun): Promise<void> {
  let outcome;
  try {
    outcome = await deps.provider.refund(refund);
  } catch (error) {
    deps.logger.warn({ err: error, refundId: refund.refundId }, 'refund failed; will retry');
    return;
  }
  await recordRefundOutcome(deps.db, deps.logger, refund.refundId, outcome);
}

/** Settles a payment with a final outcome and sends any resulting refund. */
export async function settlePayment(
  deps: BookingDeps, paymentId: string, outcome: Exclude<ChargeOutcome, { status: 'pending' }>,
): Promise<void> {
  const refund = await runSettling(deps.db, (tx, forceFail) =>
    settleInTx(tx, paymentId, outcome, forceFail));
  if (refund !== undefined) await executeRefund(deps, refund);
}

/** What applying a webhook did. */
export interface WebhookResult {
  duplicate: boolean;
}

/**
 * Applies one verified provider event exactly once: the event id is recorded in the same
 * transaction as its effect, so concurrent identical deliveries serialize on that row
 * and all but one find it already there.
 */
export async function applyProviderEvent(
  deps: BookingDeps, event: ProviderEvent,
): Promise<WebhookResult> {
  const { duplicate, refund } = await runSettling(deps.db, async (tx, forceFail) => {
    // Ids we did not issue cannot match a row; the event is recorded and otherwise ignored.
    const ours = 'paymentId' in event ? isUuid(event.paymentId)
      : 'refundId' in event ? isUuid(event.refundId) : true;
    const paymentId = ours && 'paymentId' in event ? event.paymentId : null;
    const fresh = await tx.query(
      `INSERT INTO provider_events (provider, provider_event_id, kind, payment_id, captured)
       VALUES ($1, $2, $3, $4::uuid, $5) ON CONFLICT DO NOTHING`,
      [deps.provider.name, event.id, event.type, paymentId, event.type === 'payment.captured'],
    );
    if (fresh.rowCount === 0) return { duplicate: true, refund: undefined };
    if (!ours) return { duplicate: false, refund: undefined };
    if (event.type === 'payment.captured' || event.type === 'payment.declined') {
      const mismatch = await paymentEventMismatch(tx, event);
      if (mismatch !== undefined) {
        // Recorded (so a redelivery is a duplicate), alerted on, and settles nothing.
        await tx.query(`UPDATE provider_events SET kind = 'payment.mismatch'
                         WHERE provider = $1 AND provider_event_id = $2`,
        [deps.provider.name, event.id]);
        deps.logger.error({ eventId: event.id, paymentId: event.paymentId, mismatch },
          'payment event does not match its payment; ignored');
        return { duplicate: false, refund: undefined };
      }
    }
    switch (event.type) {
      case 'payment.captured':
        return { duplicate: false, refund: await settleInTx(tx, event.paymentId,
          { status: 'captured', providerRef: event.providerRef }, forceFail) };
      case 'payment.declined':
        return { duplicate: false, refund: await settleInTx(tx, event.paymentId,
          { status: 'declined', providerRef: event.providerRef, reason: event.reason },
          forceFail) };
      case 'refund.succeeded':
        await tx.query(
          `UPDATE refunds SET status = 'succeeded', succeeded_at = now(),
                  provider_ref = coalesce(provider_ref, $2)
            WHERE refund_id = $1 AND status = 'requested'`,
          [event.refundId, event.providerRef],
        );
        return { duplicate: false, refund: undefined };
      case 'refund.failed':
        await failRefund(tx, deps.logger, event.refundId, event.providerRef, event.reason);
        return { duplicate: false, refund: undefined };
      default:
        // processing and ignored events: acknowledged, nothing to change.
        return { duplicate: false, refund: undefined };
    }
  });
  if (refund !== undefined) await executeRefund(deps, refund);
  return { duplicate };
}
