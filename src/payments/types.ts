/**
 * The one interface every payment provider sits behind. The booking engine never talks
 * to a provider in a database transaction: it records intent first (a pending payment, a
 * requested refund), calls the provider with that record's id as the idempotency key, and
 * applies the outcome in a later transaction. A crash in between leaves a record the
 * reconciler finishes, and a retried call cannot charge or refund twice.
 */

/** A charge for one checkout. `paymentId` doubles as the provider idempotency key. */
export interface ChargeRequest {
  paymentId: string;
  amountCents: number;
  currency: string;
  method: string;
  description: string;
}

/** What a provider says about a charge: final now, or final later by webhook. */
export type ChargeOutcome =
  | { status: 'captured'; providerRef: string }
  | { status: 'declined'; providerRef: string; reason: string }
  | { status: 'pending'; providerRef: string };

/** A full refund of a captured payment. `refundId` is the idempotency key. */
export interface RefundRequest {
  refundId: string;
  paymentId: string;
  providerRef: string | null;
  amountCents: number;
  currency: string;
}

export type RefundOutcome =
  | { status: 'succeeded'; providerRef: string }
  | { status: 'pending'; providerRef: string };

/** A verified webhook, translated to the engine's vocabulary. */
export type ProviderEvent =
  | { id: string; type: 'payment.captured'; paymentId: string; providerRef: string }
  | { id: string; type: 'payment.declined'; paymentId: string; providerRef: string;
      reason: string }
  | { id: string; type: 'payment.processing'; paymentId: string }
  | { id: string; type: 'refund.succeeded'; refundId: string; providerRef: string }
  /** A provider event the engine does not act on (still acknowledged). */
  | { id: string; type: 'ignored'; providerType: string };

/** Headers as Node gives them. */
export type WebhookHeaders = Record<string, string | string[] | undefined>;

/** Thrown by `verifyWebhook` for a bad or stale signature or an unreadable body. */
export class WebhookRejected extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'WebhookRejected';
  }
}

/** A payment provider. */
export interface PaymentProvider {
  /** Path segment of its webhook route: /api/v1/payments/webhooks/<name>. */
  readonly name: string;
  /** Whether the provider accepts this payment method string (validated before ordering). */
  acceptsMethod(method: string): boolean;
  charge(request: ChargeRequest): Promise<ChargeOutcome>;
  refund(request: RefundRequest): Promise<RefundOutcome>;
  /** The provider's current view of a charge, for reconciliation; undefined if unknown. */
  lookup(payment: { paymentId: string; providerRef: string | null; method: string }):
    Promise<ChargeOutcome | undefined>;
  /** Verifies the signature over the raw body and translates the event; throws WebhookRejected. */
  verifyWebhook(rawBody: Buffer, headers: WebhookHeaders, nowMs: number): ProviderEvent;
  /** Stops timers and connections. */
  close(): Promise<void>;
}
