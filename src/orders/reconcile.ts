/**
 * Reconciliation: finishes what a crash, a lost webhook or a provider outage left open.
 * Refunds recorded but never confirmed are sent again (the refund id keeps that safe);
 * payments still pending after a grace period are looked up at the provider and settled
 * like a webhook would. Only a definite answer from the provider settles a payment: "not
 * found" is never read as "declined". Past the payment window the reconciler asks the
 * provider to abandon the charge (cancel it if it was not charged), and settles with that
 * answer. Bounded batches; safe to run on any node, run by one (the leader).
 */
import { limits } from '../config/limits.js';
import type { ChargeOutcome } from '../payments/types.js';
import { executeRefund, settlePayment, type BookingDeps } from './settle.js';

export interface ReconcileOptions {
  /** Leave pending payments alone for this long: their webhook is probably on its way. */
  pendingAfterSeconds?: number;
  /** Retry requested refunds older than this. */
  refundAfterSeconds?: number;
}

/** One reconciliation pass; returns how many payments and refunds it touched. */
export async function reconcilePayments(
  deps: BookingDeps, options: ReconcileOptions = {},
): Promise<{ payments: number; refunds: number }> {
  const { rows: refunds } = await deps.db.query<{
    refund_id: string; payment_id: string; provider_ref: string | null; amount_cents: number;
    currency: string;
  }>(
    `SELECT r.refund_id, r.payment_id, p.provider_ref, r.amount_cents, p.currency
       FROM refunds r JOIN payments p ON p.payment_id = r.payment_id
      WHERE r.status = 'requested' AND p.provider = $1
        AND r.created_at <= now() - make_interval(secs => $2)
      ORDER BY r.created_at LIMIT $3`,
    [deps.provider.name, options.refundAfterSeconds ?? 30, limits.reconcileBatch],
  );
  for (const refund of refunds) {
    await executeRefund(deps, {
      refundId: refund.refund_id, paymentId: refund.payment_id, providerRef: refund.provider_ref,
      amountCents: Number(refund.amount_cents), currency: refund.currency,
    });
  }
  const { rows: payments } = await deps.db.query<{
    payment_id: string; provider_ref: string | null; method: string; past_window: boolean;
  }>(
    `SELECT payment_id, provider_ref, method,
            created_at <= now() - make_interval(secs => $3) AS past_window
       FROM payments
      WHERE status = 'pending' AND provider = $1
        AND created_at <= now() - make_interval(secs => $2)
      ORDER BY created_at LIMIT $4`,
    [deps.provider.name, options.pendingAfterSeconds ?? 60, deps.paymentWindowSeconds,
      limits.reconcileBatch],
  );
  for (const payment of payments) {
    try {
      await reconcilePayment(deps, payment);
    } catch (error) {
      deps.logger.warn({ err: error, paymentId: payment.payment_id }, 'reconcile lookup failed');
    }
  }
  return { payments: payments.length, refunds: refunds.length };
}

type Final = Exclude<ChargeOutcome, { status: 'pending' }>;

function isFinal(outcome: ChargeOutcome | undefined): outcome is Final {
  return outcome !== undefined && outcome.status !== 'pending';
}

/** Settles one pending payment if the provider gives a definite answer; else leaves it. */
async function reconcilePayment(deps: BookingDeps, payment: {
  payment_id: string; provider_ref: string | null; method: string; past_window: boolean;
}): Promise<void> {
  const query = { paymentId: payment.payment_id, providerRef: payment.provider_ref,
    method: payment.method };
  const outcome = await deps.provider.lookup(query);
  if (isFinal(outcome)) {
    await settlePayment(deps, payment.payment_id, outcome);
    return;
  }
  if (!payment.past_window) return;
  // Still undecided past the window: make sure it can no longer be captured. The answer
  // is definite either way (cancelled → declined; charged after all → captured, and the
  // capture is refunded if its tickets are gone). An undecided answer waits for next pass.
  const abandoned = await deps.provider.abandon(query);
  if (isFinal(abandoned)) {
    await settlePayment(deps, payment.payment_id, abandoned);
    return;
  }
  deps.logger.warn({ paymentId: payment.payment_id }, 'payment still undecided past its window');
}
