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
import type { BatchGate } from '../core/groupCommit.js';
import { isUuid, newId, randomToken } from '../core/ids.js';
import { clearHoldTickets, holdTicketsLocked, retimeTickets } from '../holds/holds.js';
import { IdempotencyFenced } from '../idempotency/store.js';
import { seatsPayload, writeOutbox } from '../outbox/write.js';
import type { PaymentProvider, ProviderEvent } from '../payments/types.js';
import type { Db, Queryable } from '../storage/index.js';
import { releaseShopperSlot } from '../queue/admission.js';
import { failRefund, paymentEventMismatch, recordRefundOutcome } from './followup.js';
import { getOrder } from './orders.js';
import type { Order } from './schemas.js';
import type { CheckoutGuard } from './checkoutBatch.js';
import {
  isSettleGuard, settleBatchersFor, type FinalOutcome, type SettleGuard, type SettleItem,
  type SettleResult,
} from './settleBatch.js';

/** Test seams of checkout, set on the context by tests only (AppContext.seams). */
export interface CheckoutSeams {
  /**
   * Runs once the payment and its reference are written, right before the charge is sent
   * (a crash test exits the process here).
   */
  beforeCharge?: () => void;
  /** Runs right after the provider answered a charge (a crash test exits the process here). */
  afterCharge?: () => void;
  /** Holds settle batches back until a race's items have queued (settleBatch.ts). */
  settleBatches?: BatchGate;
  /** Holds checkout begin batches back until a race's requests have queued. */
  checkoutBatches?: BatchGate;
}

/** What order commands need: the database, the provider, the payment window, a logger. */
export interface BookingDeps {
  db: Db;
  provider: PaymentProvider;
  /** Tickets stay reserved this long after checkout starts (PAYMENT_WINDOW_SECONDS). */
  paymentWindowSeconds: number;
  logger: { warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /**
   * Test seam: one guard of checkout's first statement or of the settle batch removed (a
   * race test's control only).
   */
  unguarded?: SettleGuard | CheckoutGuard;
  /** Test seams (AppContext.seams); production never sets them. */
  seams?: CheckoutSeams;
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
  tx: Queryable, paymentId: string, outcome: FinalOutcome,
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

/** Submits an item to the settle batch of the deps' database and provider. */
async function submitSettle(deps: BookingDeps, item: SettleItem): Promise<SettleResult> {
  return await settleBatchersFor(deps.db, deps.seams?.settleBatches)
    .submit(deps.provider.name, item,
      isSettleGuard(deps.unguarded) ? deps.unguarded : undefined);
}

/** Settles a payment with a final outcome and sends any resulting refund. */
export async function settlePayment(
  deps: BookingDeps, paymentId: string, outcome: FinalOutcome,
): Promise<void> {
  const result = await submitSettle(deps, { paymentId, outcome });
  if (result.kind === 'slow') await settleAlone(deps, paymentId, outcome);
}

/**
 * Settles in a transaction of its own what the batch leaves to it (a capture whose tickets
 * are gone, a capture after a recorded decline): refunds, returned tickets offered to the
 * waitlist. With `reply`, answers the order and stores it as the key's reply in the same
 * transaction (IdempotencyFenced rolls it back when the key was taken over).
 */
async function settleAlone(
  deps: BookingDeps, paymentId: string, outcome: FinalOutcome,
  reply?: { orderId: string; customerId: string; key?: { key: string; owner: string } },
): Promise<Order | undefined> {
  const { order, refund } = await runSettling(deps.db, async (tx, forceFail) => {
    const refundToRun = await settleInTx(tx, paymentId, outcome, forceFail);
    if (reply === undefined) return { order: undefined, refund: refundToRun };
    const answer = await getOrder(tx, reply.orderId, { customerId: reply.customerId });
    if (reply.key !== undefined) {
      const done = await tx.query(
        `UPDATE idempotency_keys
            SET state = 'done', response_status = 201, response_body = $4::jsonb
          WHERE customer_id = $1 AND idem_key = $2 AND owner = $3 AND state = 'running'`,
        [reply.customerId, reply.key.key, reply.key.owner,
          JSON.stringify({ kind: 'reply', body: answer })]);
      if (done.rowCount !== 1) throw new IdempotencyFenced();
    }
    return { order: answer, refund: refundToRun };
  });
  if (refund !== undefined) await executeRefund(deps, refund);
  return order;
}

/**
 * Settles a checkout's own charge outcome in the next settle batch and answers the order as
 * written there (also stored as the key's reply when the item carries the key).
 */
export async function settleOutcome(
  deps: BookingDeps, item: SettleItem, about: { orderId: string; customerId: string },
): Promise<Order> {
  const result = await submitSettle(deps, item);
  switch (result.kind) {
    case 'settled':
      if (result.order === undefined) throw new Error('assertion failed: settled without reply');
      return result.order;
    case 'fenced':
      throw new IdempotencyFenced();
    case 'slow': {
      const key = item.idempotency;
      const order = await settleAlone(deps, item.paymentId, item.outcome, {
        ...about, ...(key === undefined ? {} : { key: { key: key.key, owner: key.owner } }),
      });
      if (order === undefined) throw new Error('assertion failed: no order after settling');
      return order;
    }
    default:
      throw new Error(`assertion failed: own payment settled as ${result.kind}`);
  }
}

/** What applying a webhook did. */
export interface WebhookResult {
  duplicate: boolean;
}

/**
 * Applies one verified provider event exactly once. Payment outcomes go through the settle
 * batch, which records the event id with its effect (a redelivery, or a second copy in the
 * same batch, is a duplicate) and makes news about a payment already settled the same way
 * a no-op; the batch's slow cases and every other event run in a transaction of their own.
 * A capture this node's own batch already confirmed is answered from memory (no record).
 */
export async function applyProviderEvent(
  deps: BookingDeps, event: ProviderEvent,
): Promise<WebhookResult> {
  if ((event.type !== 'payment.captured' && event.type !== 'payment.declined')
    || !isUuid(event.paymentId)) {
    return await applyProviderEventAlone(deps, event);
  }
  // The same capture this node's own batch already confirmed (the usual fate of a sim_ok
  // checkout's two webhooks): nothing can change, so no settle item and no database trip.
  // An event carrying an amount or currency is checked against the payment in the batch.
  if (event.type === 'payment.captured' && event.amountCents === undefined
    && event.currency === undefined
    && settleBatchersFor(deps.db, deps.seams?.settleBatches)
      .confirmedHere(deps.provider.name, event.paymentId, event.providerRef)) {
    return { duplicate: true };
  }
  const outcome: FinalOutcome = event.type === 'payment.captured'
    ? { status: 'captured', providerRef: event.providerRef }
    : { status: 'declined', providerRef: event.providerRef, reason: event.reason };
  const result = await submitSettle(deps, {
    paymentId: event.paymentId, outcome,
    providerEvent: { id: event.id, kind: event.type,
      ...(event.amountCents === undefined ? {} : { amountCents: event.amountCents }),
      ...(event.currency === undefined ? {} : { currency: event.currency }) },
  });
  switch (result.kind) {
    case 'duplicate':
      return { duplicate: true };
    case 'mismatch':
      deps.logger.error({ eventId: event.id, paymentId: event.paymentId,
        mismatch: result.mismatch }, 'payment event does not match its payment; ignored');
      return { duplicate: false };
    case 'slow':
      return await applyProviderEventAlone(deps, event);
    default:
      return { duplicate: false };
  }
}

/**
 * Applies one verified provider event in a transaction of its own: the event id is
 * recorded in the same transaction as its effect, so concurrent identical deliveries
 * serialize on that row and all but one find it already there.
 */
async function applyProviderEventAlone(
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
