/**
 * Reconciliation: finishes what a crash, a lost webhook or a provider outage left open.
 * Refunds recorded but never sent are sent again (the refund id keeps that safe); refunds
 * the provider registered but has not finished are read back by their reference, so one
 * that fails days later is noticed (recorded `failed`, alerted on);
 * payments still pending after a grace period are looked up at the provider and settled
 * like a webhook would. Only a definite answer from the provider settles a payment: "not
 * found" is never read as "declined". Past the payment window the reconciler asks the
 * provider to abandon the charge (cancel it if it was not charged), and settles with that
 * answer. Bounded batches; safe to run on any node, run by one (the leader). Each row backs
 * off on its own (see dueSql), so rows that never settle cannot starve the others.
 */
import { limits } from '../config/limits.js';
import type { ChargeOutcome } from '../payments/types.js';
import type { Queryable } from '../storage/index.js';
import { recordRefundOutcome } from './followup.js';
import { executeRefund, settlePayment, type BookingDeps } from './settle.js';

export interface ReconcileOptions {
  /** Leave pending payments alone for this long: their webhook is probably on its way. */
  pendingAfterSeconds?: number;
  /** Retry requested refunds older than this. */
  refundAfterSeconds?: number;
}

/**
 * Picks due rows and books the attempt in one statement (`FOR UPDATE SKIP LOCKED`, so two
 * reconcilers never take the same row): oldest due first, and each attempt pushes the row's
 * next try out exponentially. Rows that never settle back off; newer rows get their turn.
 */
const dueSql = (table: 'payments' | 'refunds', key: string, where: string) => `
  WITH due AS (
    SELECT ${key} FROM ${table} x WHERE ${where}
       AND coalesce(x.next_attempt_at, x.created_at + make_interval(secs => $2)) <= now()
     ORDER BY coalesce(x.next_attempt_at, x.created_at + make_interval(secs => $2))
     LIMIT $3 FOR UPDATE SKIP LOCKED)
  UPDATE ${table} t SET reconcile_attempts = t.reconcile_attempts + 1,
         next_attempt_at = now() + make_interval(secs => least($4::float8,
           $5::float8 * power(2, least(t.reconcile_attempts, 20))))
    FROM due WHERE t.${key} = due.${key}
  RETURNING t.${key}, t.reconcile_attempts, t.created_at`;

/** One reconciliation pass; returns how many payments and refunds it touched. */
export async function reconcilePayments(
  deps: BookingDeps, options: ReconcileOptions = {},
): Promise<{ payments: number; refunds: number }> {
  const backoff = [limits.reconcileBackoffMaxSeconds, limits.reconcileBackoffBaseSeconds];
  const { rows: dueRefunds } = await deps.db.query<{ refund_id: string;
    reconcile_attempts: number; created_at: Date }>(
    dueSql('refunds', 'refund_id', `x.status = 'requested' AND EXISTS (
      SELECT 1 FROM payments p WHERE p.payment_id = x.payment_id AND p.provider = $1)`),
    [deps.provider.name, options.refundAfterSeconds ?? 30, limits.reconcileBatch, ...backoff],
  );
  const { rows: refunds } = await deps.db.query<{
    refund_id: string; payment_id: string; provider_ref: string | null; amount_cents: number;
    currency: string; refund_ref: string | null;
  }>(
    `SELECT r.refund_id, r.payment_id, p.provider_ref, r.amount_cents, p.currency,
            r.provider_ref AS refund_ref
       FROM refunds r JOIN payments p ON p.payment_id = r.payment_id
      WHERE r.refund_id = ANY($1::uuid[]) AND r.status = 'requested'
      ORDER BY r.created_at`,
    [dueRefunds.map((r) => r.refund_id)],
  );
  for (const refund of refunds) {
    if (refund.refund_ref !== null) {
      // The provider has it: read it back. Creating it again would only replay the first
      // answer (same idempotency key) and never see it succeed or fail.
      await readRefundBack(deps, refund.refund_id, refund.refund_ref);
      continue;
    }
    await executeRefund(deps, {
      refundId: refund.refund_id, paymentId: refund.payment_id, providerRef: refund.provider_ref,
      amountCents: Number(refund.amount_cents), currency: refund.currency,
    });
  }
  const { rows: duePayments } = await deps.db.query<{ payment_id: string;
    reconcile_attempts: number; created_at: Date }>(
    dueSql('payments', 'payment_id', `x.status = 'pending' AND x.provider = $1`),
    [deps.provider.name, options.pendingAfterSeconds ?? 60, limits.reconcileBatch, ...backoff],
  );
  const { rows: payments } = await deps.db.query<{
    payment_id: string; provider_ref: string | null; method: string; past_window: boolean;
  }>(
    `SELECT payment_id, provider_ref, method,
            created_at <= now() - make_interval(secs => $2) AS past_window
       FROM payments
      WHERE payment_id = ANY($1::uuid[]) AND status = 'pending' ORDER BY created_at`,
    [duePayments.map((p) => p.payment_id), deps.paymentWindowSeconds],
  );
  for (const payment of payments) {
    try {
      await reconcilePayment(deps, payment);
    } catch (error) {
      deps.logger.warn({ err: error, paymentId: payment.payment_id }, 'reconcile lookup failed');
    }
  }
  for (const row of [...dueRefunds, ...duePayments]) {
    if (row.reconcile_attempts === limits.reconcileAlertAttempts) {
      deps.logger.error({ row }, 'payment or refund still unsettled after many attempts');
    }
  }
  return { payments: payments.length, refunds: refunds.length };
}

/**
 * Pending payments and requested refunds that have been tried at least
 * `limits.reconcileAlertAttempts` times: an operator should look (the /metrics gauge
 * `stampede_reconcile_stuck` alerts on it).
 */
export async function reconcileStuck(db: Queryable): Promise<{ payments: number;
  refunds: number }> {
  const { rows } = await db.query<{ payments: number; refunds: number }>(
    `SELECT (SELECT count(*) FROM payments WHERE status = 'pending'
              AND reconcile_attempts >= $1)::int AS payments,
            (SELECT count(*) FROM refunds WHERE status = 'requested'
              AND reconcile_attempts >= $1)::int AS refunds`,
    [limits.reconcileAlertAttempts],
  );
  return rows[0] ?? { payments: 0, refunds: 0 };
}

/** Reads a registered refund back from the provider and records how it stands. */
async function readRefundBack(deps: BookingDeps, refundId: string, refundRef: string):
  Promise<void> {
  try {
    const outcome = await deps.provider.refundStatus({ refundId, providerRef: refundRef });
    if (outcome !== undefined) await recordRefundOutcome(deps.db, deps.logger, refundId, outcome);
  } catch (error) {
    deps.logger.warn({ err: error, refundId }, 'refund status lookup failed; will retry');
  }
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
