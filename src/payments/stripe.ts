/**
 * The Stripe adapter, on the official SDK. A checkout is one PaymentIntent, in two steps:
 * `prepare` creates it unconfirmed (no money can move) with our payment id in its metadata
 * and idempotency key, and the engine stores its id; only then does `charge` confirm it.
 * So every intent that could take money is known by id before it can, and one whose
 * creation answer was lost is found again by our payment id (search on metadata) and
 * cancelled. Webhooks are verified with `stripe.webhooks.constructEvent` over the raw body
 * and translated to engine events.
 */
import Stripe from 'stripe';
import { limits } from '../config/limits.js';
import {
  WebhookRejected, type ChargeOutcome, type ChargeRequest, type PaymentProvider,
  type PaymentQuery, type PreparedCharge, type ProviderEvent, type RefundOutcome,
  type RefundRequest, type WebhookHeaders,
} from './types.js';

export interface StripeProviderOptions {
  secretKey: string;
  webhookSecret: string;
  /** An SDK client to use instead of one built from the key (tests). */
  client?: Stripe;
}

type Intent = Stripe.PaymentIntent;

function outcomeOf(intent: Intent): ChargeOutcome {
  if (intent.status === 'succeeded') return { status: 'captured', providerRef: intent.id };
  if (intent.status === 'canceled' || intent.status === 'requires_payment_method') {
    const reason = intent.last_payment_error?.code ?? intent.status;
    return { status: 'declined', providerRef: intent.id, reason };
  }
  return { status: 'pending', providerRef: intent.id };
}

/** Stripe as a payment provider. */
export class StripeProvider implements PaymentProvider {
  readonly name = 'stripe';
  private readonly stripe: Stripe;

  constructor(private readonly options: StripeProviderOptions) {
    this.stripe = options.client ?? new Stripe(options.secretKey, { maxNetworkRetries: 2 });
  }

  acceptsMethod(method: string): boolean {
    return /^pm_[A-Za-z0-9_]{1,100}$/.test(method);
  }

  async prepare(request: ChargeRequest): Promise<string> {
    const intent = await this.stripe.paymentIntents.create({
      amount: request.amountCents,
      currency: request.currency.toLowerCase(),
      payment_method: request.method,
      confirm: false,
      description: request.description,
      metadata: { paymentId: request.paymentId },
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
    }, { idempotencyKey: `intent-${request.paymentId}` });
    return intent.id;
  }

  async charge(request: PreparedCharge): Promise<ChargeOutcome> {
    try {
      const intent = await this.stripe.paymentIntents.confirm(request.providerRef,
        { payment_method: request.method },
        { idempotencyKey: `charge-${request.paymentId}` });
      return outcomeOf(intent);
    } catch (error) {
      // A card error is an answer (declined); anything else is "unknown yet" and is left
      // pending for the webhook or the reconciler to settle.
      if (error instanceof Stripe.errors.StripeCardError) {
        return { status: 'declined', providerRef: request.providerRef,
          reason: error.code ?? 'card_declined' };
      }
      throw error;
    }
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    if (request.providerRef === null) throw new Error('assertion failed: refund without a charge');
    const refund = await this.stripe.refunds.create(
      { payment_intent: request.providerRef, metadata: { refundId: request.refundId } },
      { idempotencyKey: `refund-${request.refundId}` },
    );
    return refund.status === 'succeeded'
      ? { status: 'succeeded', providerRef: refund.id }
      : { status: 'pending', providerRef: refund.id };
  }

  async lookup(payment: PaymentQuery): Promise<ChargeOutcome | undefined> {
    const intent = await this.find(payment);
    if (intent === undefined) return undefined;
    // Created but never confirmed: nothing has happened yet, which is not an outcome.
    if (intent.status === 'requires_confirmation') return undefined;
    return outcomeOf(intent);
  }

  async abandon(payment: PaymentQuery): Promise<ChargeOutcome | undefined> {
    const intent = await this.find(payment);
    if (intent === undefined) {
      // prepare never answered and search finds no intent: checkout never confirmed one
      // (it confirms only a stored reference), so nothing can have been charged.
      return payment.providerRef === null
        ? { status: 'declined', providerRef: null, reason: 'not_charged' }
        : undefined;
    }
    const cancellable = ['requires_payment_method', 'requires_confirmation', 'requires_action',
      'requires_capture'];
    if (!cancellable.includes(intent.status)) return outcomeOf(intent);
    const cancelled = await this.stripe.paymentIntents.cancel(intent.id, {
      cancellation_reason: 'abandoned',
    }, { idempotencyKey: `abandon-${payment.paymentId}` });
    return outcomeOf(cancelled);
  }

  /** The intent of a payment: by its stored id, else by our payment id in its metadata. */
  private async find(payment: PaymentQuery): Promise<Intent | undefined> {
    if (payment.providerRef !== null) {
      return await this.stripe.paymentIntents.retrieve(payment.providerRef);
    }
    if (!/^[0-9a-f-]{36}$/.test(payment.paymentId)) return undefined;
    const found = await this.stripe.paymentIntents.search({
      query: `metadata['paymentId']:'${payment.paymentId}'`, limit: 1,
    });
    return found.data[0];
  }

  verifyWebhook(rawBody: Buffer, headers: WebhookHeaders, nowMs: number): ProviderEvent {
    const header = headers['stripe-signature'];
    if (typeof header !== 'string') throw new WebhookRejected('no signature');
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(rawBody, header, this.options.webhookSecret,
        limits.webhookToleranceSeconds, undefined, nowMs);
    } catch (error) {
      throw new WebhookRejected(error instanceof Error ? error.message.split('\n')[0] ?? '' : '');
    }
    return translate(event);
  }

  async close(): Promise<void> {
    // The SDK keeps no timers or pooled sockets that need closing.
  }
}

/** Stripe event → engine event; anything the engine does not act on is 'ignored'. */
function translate(event: Stripe.Event): ProviderEvent {
  const object = event.data.object as { id?: string; metadata?: Record<string, string> | null;
    last_payment_error?: { code?: string } | null };
  const paymentId = object.metadata?.paymentId;
  const providerRef = object.id ?? '';
  switch (event.type) {
    case 'payment_intent.succeeded':
      if (paymentId === undefined) break;
      return { id: event.id, type: 'payment.captured', paymentId, providerRef };
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled':
      if (paymentId === undefined) break;
      return { id: event.id, type: 'payment.declined', paymentId, providerRef,
        reason: object.last_payment_error?.code ?? event.type };
    case 'payment_intent.processing':
      if (paymentId === undefined) break;
      return { id: event.id, type: 'payment.processing', paymentId };
    case 'refund.updated':
    case 'refund.created': {
      const refundId = object.metadata?.refundId;
      const status = (event.data.object as { status?: string }).status;
      if (refundId === undefined || status !== 'succeeded') break;
      return { id: event.id, type: 'refund.succeeded', refundId, providerRef };
    }
    default:
      break;
  }
  return { id: event.id, type: 'ignored', providerType: event.type };
}
