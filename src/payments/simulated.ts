/**
 * The built-in simulated gateway. It behaves like a real card gateway so the booking
 * engine is exercised the way production exercises it:
 *
 *  - `sim_ok` captures at once, `sim_declined` declines at once;
 *  - `sim_async_ok` / `sim_async_declined` answer pending, and the outcome arrives later
 *    by signed webhook;
 *  - `sim_slow` captures after several seconds (for hold/payment races);
 *  - every outcome is also sent as a webhook, each delivery may be duplicated, and the
 *    deliveries of one payment are shuffled (a "processing" event can arrive after the
 *    "captured" one), as real providers do;
 *  - refunds succeed and are confirmed by webhook too.
 *
 * Outcomes depend only on the payment method, so `lookup` (reconciliation) needs no state
 * and works on any node. Webhooks go through an injectable `deliver`; in `manual` mode
 * they queue until `flush()`, which lets tests drive asynchronous outcomes exactly.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { signatureHeader, signPayload, verifySignature } from './signature.js';
import {
  WebhookRejected, type ChargeOutcome, type ChargeRequest, type PaymentProvider,
  type ProviderEvent, type RefundOutcome, type RefundRequest, type WebhookHeaders,
} from './types.js';

/** Payment methods of the simulated gateway. */
export const simulatedMethods = [
  'sim_ok', 'sim_declined', 'sim_async_ok', 'sim_async_declined', 'sim_slow',
] as const;
export type SimulatedMethod = (typeof simulatedMethods)[number];

/** A signed webhook ready to POST. */
export interface WebhookDelivery {
  body: string;
  headers: Record<string, string>;
}

/** How the gateway sends webhooks; default is an HTTP POST to the webhook URL. */
export type Deliver = (delivery: WebhookDelivery) => Promise<void>;

export interface SimulatedGatewayOptions {
  /** Webhook signing secret. */
  secret: string;
  clock: Clock;
  deliver: Deliver;
  /** Queue webhooks until flush() instead of sending them on timers. */
  manual?: boolean;
  /** Delay before asynchronous outcomes are sent (default 1,500 ms). */
  asyncDelayMs?: number;
  /** How long `sim_slow` takes to capture (default 5,000 ms). */
  slowMs?: number;
  /** Send every webhook twice (default true). */
  duplicates?: boolean;
  /** Seed for shuffling deliveries, so a run can be replayed. */
  seed?: number;
}

interface SimEventBody {
  id: string;
  type: string;
  created: number;
  data: { paymentId?: string; refundId?: string; providerRef?: string; reason?: string };
}

/** Builds a webhook poster for a base URL (used outside tests). */
export function httpDeliver(baseUrl: string): Deliver {
  const url = `${baseUrl.replace(/\/$/, '')}/api/v1/payments/webhooks/simulated`;
  return async (delivery) => {
    // Real gateways retry failed deliveries with backoff; so does this one, a little.
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        const response = await fetch(url, {
          method: 'POST', body: delivery.body, headers: delivery.headers,
          signal: AbortSignal.timeout(10_000),
        });
        if (response.ok || (response.status >= 400 && response.status < 500)) return;
      } catch {
        // fall through to the retry
      }
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt).unref());
    }
  };
}

/** A small seeded generator (mulberry32) for reproducible delivery orders. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function isSimMethod(method: string): method is SimulatedMethod {
  return (simulatedMethods as readonly string[]).includes(method);
}

/** The simulated gateway. */
export class SimulatedGateway implements PaymentProvider {
  readonly name = 'simulated';
  private readonly queue: WebhookDelivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly random: () => number;
  private closed = false;

  constructor(private readonly options: SimulatedGatewayOptions) {
    this.random = seeded(options.seed ?? 1);
  }

  acceptsMethod(method: string): boolean {
    return isSimMethod(method);
  }

  async charge(request: ChargeRequest): Promise<ChargeOutcome> {
    const providerRef = `simpay_${request.paymentId}`;
    const method = request.method;
    if (!isSimMethod(method)) throw new Error(`assertion failed: unknown method ${method}`);
    const outcome = SimulatedGateway.outcomeOf(method, providerRef);
    if (method === 'sim_slow') await this.sleep(this.options.slowMs ?? 5_000);
    const events = [this.event(outcome.type, { paymentId: request.paymentId, providerRef,
      ...(outcome.type === 'payment.declined' ? { reason: 'card_declined' } : {}) })];
    if (method === 'sim_async_ok' || method === 'sim_async_declined') {
      events.push(this.event('payment.processing', { paymentId: request.paymentId, providerRef }));
      this.send(events, this.options.asyncDelayMs ?? 1_500);
      return { status: 'pending', providerRef };
    }
    this.send(events, 50);
    return outcome.type === 'payment.captured'
      ? { status: 'captured', providerRef }
      : { status: 'declined', providerRef, reason: 'card_declined' };
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const providerRef = `simre_${request.refundId}`;
    this.send([this.event('refund.succeeded', { refundId: request.refundId, providerRef })], 50);
    return { status: 'succeeded', providerRef };
  }

  async lookup(payment: { paymentId: string; providerRef: string | null; method: string }):
    Promise<ChargeOutcome | undefined> {
    if (!isSimMethod(payment.method)) return undefined;
    const providerRef = payment.providerRef ?? `simpay_${payment.paymentId}`;
    const outcome = SimulatedGateway.outcomeOf(payment.method, providerRef);
    return outcome.type === 'payment.captured'
      ? { status: 'captured', providerRef }
      : { status: 'declined', providerRef, reason: 'card_declined' };
  }

  verifyWebhook(rawBody: Buffer, headers: WebhookHeaders, nowMs: number): ProviderEvent {
    const header = headers[signatureHeader];
    verifySignature(this.options.secret, rawBody, typeof header === 'string' ? header : undefined,
      nowMs);
    let body: SimEventBody;
    try {
      body = JSON.parse(rawBody.toString('utf8')) as SimEventBody;
    } catch {
      throw new WebhookRejected('body is not JSON');
    }
    const { id, type, data } = body;
    if (typeof id !== 'string' || typeof type !== 'string' || typeof data !== 'object') {
      throw new WebhookRejected('not a gateway event');
    }
    const text = (value: unknown): string => {
      if (typeof value !== 'string') throw new WebhookRejected(`event ${type} lacks a field`);
      return value;
    };
    switch (type) {
      case 'payment.captured':
        return { id, type, paymentId: text(data.paymentId), providerRef: text(data.providerRef) };
      case 'payment.declined':
        return { id, type, paymentId: text(data.paymentId), providerRef: text(data.providerRef),
          reason: text(data.reason) };
      case 'payment.processing':
        return { id, type, paymentId: text(data.paymentId) };
      case 'refund.succeeded':
        return { id, type, refundId: text(data.refundId), providerRef: text(data.providerRef) };
      default:
        return { id, type: 'ignored', providerType: type };
    }
  }

  /** Signs an event body as the gateway would (tests build deliveries with it). */
  sign(body: string, timestampSeconds?: number): WebhookDelivery {
    const t = timestampSeconds ?? Math.floor(this.options.clock.nowMs() / 1000);
    return {
      body,
      headers: { 'content-type': 'application/json',
        [signatureHeader]: signPayload(this.options.secret, body, t) },
    };
  }

  /** Webhooks queued in manual mode, not yet delivered. */
  pending(): readonly WebhookDelivery[] {
    return [...this.queue];
  }

  /** Delivers every queued webhook (manual mode), in queue order, one at a time. */
  async flush(): Promise<number> {
    let count = 0;
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      await this.options.deliver(next);
      count++;
    }
    return count;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private static outcomeOf(method: SimulatedMethod, providerRef: string):
    { type: 'payment.captured' | 'payment.declined'; providerRef: string } {
    const declined = method === 'sim_declined' || method === 'sim_async_declined';
    return { type: declined ? 'payment.declined' : 'payment.captured', providerRef };
  }

  private event(type: string, data: SimEventBody['data']): string {
    const body: SimEventBody = {
      id: `evt_${randomBytes(12).toString('hex')}`, type,
      created: Math.floor(this.options.clock.nowMs() / 1000), data,
    };
    return JSON.stringify(body);
  }

  /** Shuffles, duplicates and sends (or queues) the deliveries of one payment. */
  private send(bodies: string[], delayMs: number): void {
    const copies = this.options.duplicates === false ? bodies : bodies.flatMap((b) => [b, b]);
    for (let i = copies.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [copies[i], copies[j]] = [copies[j] as string, copies[i] as string];
    }
    const deliveries = copies.map((body) => this.sign(body));
    if (this.options.manual === true) {
      this.queue.push(...deliveries);
      return;
    }
    deliveries.forEach((delivery, i) => {
      if (this.closed) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.options.deliver(delivery).catch(() => undefined);
      }, delayMs + i * 20);
      timer.unref();
      this.timers.add(timer);
    });
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
}
