/**
 * Checkout: hold → order → payment → confirmation.
 *
 * 1. One transaction locks the hold, checks it is the buyer's and live on the buyer's
 *    timer, records the order (pending_payment) and the payment (pending), and stretches
 *    the tickets' reservation to the payment window so a payment that succeeds late still
 *    finds them.
 * 2. Outside any transaction: the provider registers the charge without moving money
 *    (`prepare`), its reference is stored, and only then is the charge run, keyed by the
 *    payment id. A lost answer leaves a pending payment with a known reference.
 * 3. A final answer is applied at once (settle); a pending or lost one waits for the
 *    webhook or the reconciler, which settle only on the provider's definite answer. A
 *    pending answer that needs the buyer (3-D Secure) is stored and returned in the order's
 *    `payment.nextAction`; the reconciler cancels it if the buyer never finishes.
 */
import { DomainError, invalid } from '../core/errors.js';
import { isUuid, newId } from '../core/ids.js';
import { retimeHoldTickets } from '../holds/holds.js';
import type { ChargeOutcome } from '../payments/types.js';
import { recordPaymentAction } from './followup.js';
import { getOrder } from './orders.js';
import type { Order } from './schemas.js';
import { settlePayment, type BookingDeps } from './settle.js';

/** A checkout request of an authenticated customer. */
export interface CheckoutRequest {
  customerId: string;
  holdId: string;
  paymentMethod: string;
}

interface StartedCheckout {
  orderId: string;
  paymentId: string;
  amountCents: number;
  currency: string;
}

async function startCheckout(deps: BookingDeps, request: CheckoutRequest):
  Promise<StartedCheckout> {
  return await deps.db.tx(async (tx) => {
    // Lock first, read second: under READ COMMITTED a statement's subqueries see the
    // snapshot taken before it waited for the lock, so a single locking SELECT would miss
    // the order a concurrent checkout of the same hold committed while we waited.
    await tx.query('SELECT 1 FROM holds WHERE hold_id = $1 AND customer_id = $2 FOR UPDATE',
      [request.holdId, request.customerId]);
    const { rows } = await tx.query<{
      event_id: string; state: string; buyer_live: boolean; quantity: number;
      total_cents: number; currency: string; pending: boolean; event_cancelled: boolean;
    }>(
      `SELECT h.event_id, h.state, h.expires_at > now() AND h.claim_expires_at > now()
                AS buyer_live,
              h.quantity, h.total_cents, h.currency,
              EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = h.hold_id
                                             AND o.status = 'pending_payment') AS pending,
              EXISTS (SELECT 1 FROM events e WHERE e.event_id = h.event_id
                                             AND e.cancelled_at IS NOT NULL) AS event_cancelled
         FROM holds h WHERE h.hold_id = $1 AND h.customer_id = $2`,
      [request.holdId, request.customerId],
    );
    const hold = rows[0];
    if (hold === undefined) throw new DomainError('not_found', `no hold ${request.holdId}`);
    if (hold.state === 'purchased') throw new DomainError('hold_purchased');
    if (hold.state !== 'held' || !hold.buyer_live) {
      throw new DomainError('hold_expired', 'the hold has ended; make a new one');
    }
    if (hold.pending) {
      throw new DomainError('payment_pending', 'a payment for this hold is being processed');
    }
    // The database decides, inside the money-taking transaction: hold creation reads events
    // through a per-node cache, so a hold may be granted up to a second after a cancellation.
    if (hold.event_cancelled) throw new DomainError('not_on_sale', 'the event was cancelled');
    const orderId = newId();
    const paymentId = newId();
    const amountCents = Number(hold.total_cents);
    await tx.query(
      `INSERT INTO orders (order_id, event_id, customer_id, hold_id, status, quantity,
                           total_cents, currency)
       VALUES ($1, $2, $3, $4, 'pending_payment', $5, $6, $7)`,
      [orderId, hold.event_id, request.customerId, request.holdId, hold.quantity, amountCents,
        hold.currency],
    );
    await tx.query(
      `INSERT INTO payments (payment_id, order_id, event_id, provider, method, amount_cents,
                             currency, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')`,
      [paymentId, orderId, hold.event_id, deps.provider.name, request.paymentMethod,
        amountCents, hold.currency],
    );
    const { rows: [claim] } = await tx.query<{ claim: string }>(
      `UPDATE holds
          SET claim_expires_at = greatest(claim_expires_at,
                                          now() + make_interval(secs => $2))
        WHERE hold_id = $1 AND state = 'held'
       RETURNING claim_expires_at::text AS claim`,
      [request.holdId, deps.paymentWindowSeconds],
    );
    if (claim === undefined) throw new Error('assertion failed: locked hold changed state');
    await retimeHoldTickets(tx, hold.event_id, request.holdId, hold.quantity, claim.claim);
    return { orderId, paymentId, amountCents, currency: hold.currency };
  });
}

/** Test-only hooks into checkout, to simulate a crash at a chosen point. */
export const checkoutTesting: { afterCharge?: () => void } = {};

/** Checks out a hold; answers the order as it stands after the provider's first answer. */
export async function checkout(deps: BookingDeps, request: CheckoutRequest): Promise<Order> {
  if (!deps.provider.acceptsMethod(request.paymentMethod)) {
    throw invalid('/paymentMethod',
      `payment method "${request.paymentMethod}" is not accepted by ${deps.provider.name}`);
  }
  if (!isUuid(request.holdId)) throw new DomainError('not_found', `no hold ${request.holdId}`);
  const started = await startCheckout(deps, request);
  const charge = {
    paymentId: started.paymentId, amountCents: started.amountCents, currency: started.currency,
    method: request.paymentMethod, description: `Stampede order ${started.orderId}`,
  };
  let providerRef: string;
  try {
    providerRef = await deps.provider.prepare(charge);
  } catch (error) {
    // prepare never moves money, and only a stored reference is ever charged: nothing can
    // be in flight, so this is a definite "not charged" and the buyer may try again.
    deps.logger.warn({ err: error, paymentId: started.paymentId }, 'charge could not start');
    await settlePayment(deps, started.paymentId,
      { status: 'declined', providerRef: null, reason: 'provider_unavailable' });
    return await getOrder(deps.db, started.orderId, { customerId: request.customerId });
  }
  // The reference is stored before the charge can be in flight, so whatever happens next
  // (a lost answer, a crash) the reconciler can ask the provider about this exact charge.
  // If this write fails, the charge is never started and the reconciler cancels it.
  const stored = await deps.db.query(
    `UPDATE payments SET provider_ref = $2
      WHERE payment_id = $1 AND (provider_ref IS NULL OR provider_ref = $2)`,
    [started.paymentId, providerRef],
  );
  if (stored.rowCount !== 1) throw new Error('assertion failed: new payment lost its row');
  let outcome: ChargeOutcome | undefined;
  try {
    outcome = await deps.provider.charge({ ...charge, providerRef });
    checkoutTesting.afterCharge?.();
  } catch (error) {
    // The charge's fate is unknown: the order stays pending and the webhook or the
    // reconciler settles it from the provider's own answer (never by guessing).
    deps.logger.warn({ err: error, paymentId: started.paymentId }, 'charge failed to answer');
    outcome = undefined;
  }
  if (outcome !== undefined && outcome.status !== 'pending') {
    await settlePayment(deps, started.paymentId, outcome);
  } else if (outcome?.action !== undefined) {
    // 3-D Secure: the buyer finishes in their browser; the reply carries what it needs.
    await recordPaymentAction(deps.db, started.paymentId, outcome.action);
  }
  return await getOrder(deps.db, started.orderId, { customerId: request.customerId });
}
