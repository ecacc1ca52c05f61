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

/**
 * A charge to run, with the reference `prepare` (or `referenceFor`) gave it, already stored
 * with the payment.
 */
export interface PreparedCharge extends ChargeRequest {
  providerRef: string;
}

/** What the engine knows about a payment when it asks the provider about it. */
export interface PaymentQuery {
  paymentId: string;
  /**
   * Null when `prepare` never answered: the charge was then never started. Never null for a
   * provider with `referenceFor` (stored with the payment, whether or not it was charged).
   */
  providerRef: string | null;
  method: string;
}

/**
 * What the buyer's browser must do to finish a pending payment (Stripe: 3-D Secure, with
 * stripe.js `handleNextAction({ clientSecret })`). The outcome still arrives by webhook.
 */
export interface PaymentAction {
  type: 'use_stripe_sdk' | 'redirect_to_url';
  clientSecret: string;
  /** Where to send the buyer (redirect_to_url only). */
  redirectUrl: string | null;
}

/** What a provider says about a charge: final now, or final later by webhook. */
export type ChargeOutcome =
  | { status: 'captured'; providerRef: string }
  /** providerRef is null when the provider never registered the charge (nothing taken). */
  | { status: 'declined'; providerRef: string | null; reason: string }
  /** Not decided yet; `action` when the buyer must act first (3-D Secure). */
  | { status: 'pending'; providerRef: string; action?: PaymentAction };

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
  | { status: 'pending'; providerRef: string }
  /** Terminal: the provider will not return the money (closed card account, canceled). */
  | { status: 'failed'; providerRef: string; reason: string };

/** A refund the provider has registered, to read back. */
export interface RefundQuery {
  refundId: string;
  /** The provider's refund reference (not the charge's). */
  providerRef: string;
}

/**
 * What the provider says the charge was, checked against the stored payment before the
 * event settles anything (a signed event about another charge that carries our payment id
 * must not settle ours). Omitted by a provider whose events do not carry them.
 */
export interface PaymentFacts {
  amountCents?: number;
  /** ISO 4217, upper case. */
  currency?: string;
}

/** A verified webhook, translated to the engine's vocabulary. */
export type ProviderEvent =
  | { id: string; type: 'payment.captured'; paymentId: string; providerRef: string }
    & PaymentFacts
  | { id: string; type: 'payment.declined'; paymentId: string; providerRef: string;
      reason: string } & PaymentFacts
  | { id: string; type: 'payment.processing'; paymentId: string }
  | { id: string; type: 'refund.succeeded'; refundId: string; providerRef: string }
  | { id: string; type: 'refund.failed'; refundId: string; providerRef: string;
      reason: string }
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
  /**
   * The reference a payment's charge will have, for a provider that derives it from our
   * payment id (no call, nothing registered, no money moved). The engine then stores it in
   * the checkout's first write, with the payment, and charges without `prepare`. Omitted by
   * a provider that assigns the reference when it registers the charge (Stripe).
   */
  referenceFor?(paymentId: string): string;
  /**
   * Registers a charge without moving money and returns its provider reference, so the
   * engine can store it before the charge can be in flight. Idempotent per payment id.
   * Not called for a provider that has `referenceFor`.
   */
  prepare(request: ChargeRequest): Promise<string>;
  /** Runs a prepared charge. Throwing means "unknown": the money may or may not have moved. */
  charge(request: PreparedCharge): Promise<ChargeOutcome>;
  refund(request: RefundRequest): Promise<RefundOutcome>;
  /**
   * Reads a registered refund back: a refund can stay pending for days and then fail, and
   * re-sending the create call only replays its first answer. Undefined: unknown (ask later).
   */
  refundStatus(query: RefundQuery): Promise<RefundOutcome | undefined>;
  /**
   * The provider's current view of a charge, for reconciliation, found by our payment id
   * when there is no reference; undefined when the provider has no record of it (yet).
   * Never guesses: "not found" is not "declined".
   */
  lookup(payment: PaymentQuery): Promise<ChargeOutcome | undefined>;
  /**
   * Makes sure a charge the engine stops waiting for can never be captured: cancels it if
   * it has not been charged and answers `declined`; answers `captured` if it already was;
   * `pending` or undefined when the provider cannot tell yet (the engine asks again later).
   */
  abandon(payment: PaymentQuery): Promise<ChargeOutcome | undefined>;
  /** Verifies the signature over the raw body and translates the event; throws WebhookRejected. */
  verifyWebhook(rawBody: Buffer, headers: WebhookHeaders, nowMs: number): ProviderEvent;
  /** Stops timers and connections. */
  close(): Promise<void>;
}
