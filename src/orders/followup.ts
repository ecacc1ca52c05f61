/**
 * Following a payment up after the provider's first answer: what the buyer must still do
 * (3-D Secure), whether a signed webhook is really about the payment it names, and how a
 * refund ended. A refund that fails at the provider is terminal: the money is still with
 * the merchant, so it is recorded as `failed` with the provider's reason, logged as an
 * error, counted in `stampede_refunds_failed`, and listed by
 * `GET /admin/orders?refundStatus=failed` for an operator to settle by hand.
 */
import type { PaymentAction, ProviderEvent, RefundOutcome } from '../payments/types.js';
import type { Db, Queryable } from '../storage/index.js';

type Logger = { warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };

/** Stores what the buyer must do to finish a pending payment (shown while it is pending). */
export async function recordPaymentAction(db: Queryable, paymentId: string,
  action: PaymentAction): Promise<void> {
  await db.query(
    `UPDATE payments SET next_action = $2::jsonb WHERE payment_id = $1 AND status = 'pending'`,
    [paymentId, JSON.stringify(action)],
  );
}

/**
 * Why a payment event must not settle its payment, or undefined when it matches: the
 * provider reference must be the stored one (when stored) and the amount and currency the
 * payment's. A signed event can still be about another charge that carries our payment id
 * (another integration on the same account, a copied intent), and must not settle ours.
 */
export async function paymentEventMismatch(
  tx: Queryable, event: Extract<ProviderEvent, { type: 'payment.captured' | 'payment.declined' }>,
): Promise<string | undefined> {
  const { rows } = await tx.query<{ provider_ref: string | null; amount_cents: string;
    currency: string }>(
    'SELECT provider_ref, amount_cents, currency FROM payments WHERE payment_id = $1',
    [event.paymentId],
  );
  const payment = rows[0];
  if (payment === undefined) return undefined;
  if (payment.provider_ref !== null && payment.provider_ref !== event.providerRef) {
    return `event is about ${event.providerRef}, the payment is ${payment.provider_ref}`;
  }
  if (event.amountCents !== undefined && event.amountCents !== Number(payment.amount_cents)) {
    return `event amount ${event.amountCents}, the payment is ${payment.amount_cents}`;
  }
  if (event.currency !== undefined && event.currency !== payment.currency) {
    return `event currency ${event.currency}, the payment is ${payment.currency}`;
  }
  return undefined;
}

/** Records a refund's outcome: succeeded, failed (terminal), or still pending. */
export async function recordRefundOutcome(db: Queryable, logger: Logger, refundId: string,
  outcome: RefundOutcome): Promise<void> {
  if (outcome.status === 'failed') {
    await failRefund(db, logger, refundId, outcome.providerRef, outcome.reason);
    return;
  }
  await db.query(
    `UPDATE refunds SET provider_ref = coalesce(provider_ref, $2),
            status = CASE WHEN $3 THEN 'succeeded' ELSE status END,
            succeeded_at = CASE WHEN $3 THEN now() ELSE succeeded_at END
      WHERE refund_id = $1 AND status = 'requested'`,
    [refundId, outcome.providerRef, outcome.status === 'succeeded'],
  );
}

/**
 * Marks a refund failed. A succeeded refund can still fail later at Stripe (the card
 * network returns it), so both requested and succeeded refunds may move here.
 */
export async function failRefund(db: Queryable, logger: Logger, refundId: string,
  providerRef: string, reason: string): Promise<void> {
  const { rows } = await db.query<{ order_id: string; payment_id: string }>(
    `UPDATE refunds SET status = 'failed', failure_reason = $3, failed_at = now(),
            provider_ref = coalesce(provider_ref, $2)
      WHERE refund_id = $1 AND status IN ('requested', 'succeeded')
     RETURNING order_id, payment_id`,
    [refundId, providerRef, reason],
  );
  const row = rows[0];
  if (row === undefined) return;
  logger.error({ refundId, orderId: row.order_id, paymentId: row.payment_id, reason },
    'refund failed at the provider; the buyer has not been paid back');
}

/** Refunds that failed at the provider (not yet settled by an operator), for /metrics. */
export async function failedRefunds(db: Db | Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM refunds WHERE status = 'failed'",
  );
  return rows[0]?.n ?? 0;
}

/** Signed payment events that did not match their payment, in the last day, for /metrics. */
export async function mismatchedPaymentEvents(db: Db | Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM provider_events
      WHERE kind = 'payment.mismatch' AND received_at > now() - interval '1 day'`,
  );
  return rows[0]?.n ?? 0;
}
