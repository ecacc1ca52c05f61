/**
 * The Stripe adapter, on the official SDK. A checkout is one PaymentIntent, in two steps:
 * `prepare` creates it unconfirmed (no money can move) with our payment id in its metadata
 * and idempotency key, and the engine stores its id; only then does `charge` confirm it.
 * So every intent that could take money is known by id before it can, and one whose
 * creation answer was lost is found again by our payment id (search on metadata) and
 * cancelled. Webhooks are verified with `stripe.webhooks.constructEvent` over the raw body
 * and translated to engine events, with the intent's amount and currency so the engine can
 * check them against the stored payment.
 *
 * 3-D Secure: a confirm that answers `requires_action` stays pending and hands the client
 * the intent's client secret and next action; the buyer's browser finishes it with stripe.js
 * and the outcome arrives by webhook. An intent the buyer never finishes is cancelled by the
 * reconciler when the payment window ends. Refunds are read back by id (a refund can stay
 * pending and later fail); `failed` and `canceled` are terminal failures.
 *
 * Every call has a timeout and a bounded number of retries (same idempotency key), so a
 * slow Stripe costs a buyer a bounded wait, never a hung checkout.
 */
import Stripe from 'stripe';
import { limits } from '../config/limits.js';
import {
  WebhookRejected, type ChargeOutcome, type ChargeRequest, type PaymentAction,
  type PaymentProvider, type PaymentQuery, type PreparedCharge, type ProviderEvent,
  type RefundOutcome, type RefundQuery, type RefundRequest, type WebhookHeaders,
} from './types.js';

export interface StripeProviderOptions {
  secretKey: string;
  webhookSecret: string;
  /** API base URL (stripe-mock, a proxy, a test server); unset: Stripe itself. */
  apiUrl?: string | undefined;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Retries of a request that got no answer (the SDK reuses the idempotency key). */
  maxNetworkRetries?: number;
}

type Intent = Stripe.PaymentIntent;

/** The client's next step for an intent that requires action, if it names one we support. */
function actionOf(intent: Intent): PaymentAction | undefined {
  if (intent.status !== 'requires_action' || intent.client_secret === null) return undefined;
  const type = intent.next_action?.type;
  if (type === 'redirect_to_url') {
    return { type, clientSecret: intent.client_secret,
      redirectUrl: intent.next_action?.redirect_to_url?.url ?? null };
  }
  return { type: 'use_stripe_sdk', clientSecret: intent.client_secret, redirectUrl: null };
}

function outcomeOf(intent: Intent): ChargeOutcome {
  if (intent.status === 'succeeded') return { status: 'captured', providerRef: intent.id };
  if (intent.status === 'canceled' || intent.status === 'requires_payment_method') {
    const reason = intent.last_payment_error?.code ?? intent.status;
    return { status: 'declined', providerRef: intent.id, reason };
  }
  const action = actionOf(intent);
  return action === undefined ? { status: 'pending', providerRef: intent.id }
    : { status: 'pending', providerRef: intent.id, action };
}

function refundOutcomeOf(refund: Stripe.Refund): RefundOutcome {
  if (refund.status === 'succeeded') return { status: 'succeeded', providerRef: refund.id };
  if (refund.status === 'failed' || refund.status === 'canceled') {
    return { status: 'failed', providerRef: refund.id,
      reason: refund.failure_reason ?? refund.status };
  }
  return { status: 'pending', providerRef: refund.id };
}

/** The SDK client: timeout and retry budget always set; host/port/protocol from apiUrl. */
function client(options: StripeProviderOptions): Stripe {
  const config: Stripe.StripeConfig = {
    timeout: options.timeoutMs ?? 8_000,
    maxNetworkRetries: options.maxNetworkRetries ?? 1,
  };
  if (options.apiUrl !== undefined) {
    const url = new URL(options.apiUrl);
    config.host = url.hostname;
    config.protocol = url.protocol === 'http:' ? 'http' : 'https';
    config.port = url.port === '' ? (url.protocol === 'http:' ? 80 : 443) : Number(url.port);
  }
  return new Stripe(options.secretKey, config);
}

/** Stripe as a payment provider. */
export class StripeProvider implements PaymentProvider {
  readonly name = 'stripe';
  private readonly stripe: Stripe;

  constructor(private readonly options: StripeProviderOptions) {
    this.stripe = client(options);
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
    return refundOutcomeOf(refund);
  }

  async refundStatus(query: RefundQuery): Promise<RefundOutcome | undefined> {
    if (!/^re_[A-Za-z0-9_]{1,200}$/.test(query.providerRef)) return undefined;
    return refundOutcomeOf(await this.stripe.refunds.retrieve(query.providerRef));
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
    last_payment_error?: { code?: string } | null; amount?: number; currency?: string;
    status?: string; failure_reason?: string | null };
  const paymentId = object.metadata?.paymentId;
  const providerRef = object.id ?? '';
  const facts = {
    ...(typeof object.amount === 'number' ? { amountCents: object.amount } : {}),
    ...(typeof object.currency === 'string' ? { currency: object.currency.toUpperCase() } : {}),
  };
  switch (event.type) {
    case 'payment_intent.succeeded':
      if (paymentId === undefined) break;
      return { id: event.id, type: 'payment.captured', paymentId, providerRef, ...facts };
    case 'payment_intent.payment_failed':
    case 'payment_intent.canceled':
      if (paymentId === undefined) break;
      return { id: event.id, type: 'payment.declined', paymentId, providerRef, ...facts,
        reason: object.last_payment_error?.code ?? event.type };
    case 'payment_intent.processing':
      if (paymentId === undefined) break;
      return { id: event.id, type: 'payment.processing', paymentId };
    case 'refund.created':
    case 'refund.updated':
    case 'refund.failed':
    case 'charge.refund.updated': {
      const refundId = object.metadata?.refundId;
      if (refundId === undefined) break;
      if (object.status === 'succeeded') {
        return { id: event.id, type: 'refund.succeeded', refundId, providerRef };
      }
      if (object.status === 'failed' || object.status === 'canceled') {
        return { id: event.id, type: 'refund.failed', refundId, providerRef,
          reason: object.failure_reason ?? object.status };
      }
      break;
    }
    default:
      break;
  }
  return { id: event.id, type: 'ignored', providerType: event.type };
}
