/**
 * A small Stripe API on 127.0.0.1 for tests: the real `stripe` SDK is pointed at it
 * (STRIPE_API_URL), so requests, form encoding, idempotency keys, timeouts, retries and
 * card errors all go through the SDK as in production. It keeps PaymentIntents and Refunds
 * in memory and behaves like Stripe's test mode for the cards tests use:
 *
 * - `pm_card_visa` succeeds on confirm;
 * - `pm_card_threeDSecure2Required` answers `requires_action` (next action
 *   `use_stripe_sdk`) until the test finishes or fails the challenge;
 * - `pm_card_chargeDeclined` is a 402 card error (`card_declined`);
 * - refunds answer `succeeded`, or `pending` when `refundsPending` is set, and a pending
 *   refund is moved on by the test (`setRefund`).
 *
 * A POST with an Idempotency-Key seen before replays the first answer, as Stripe does (for
 * 24 h). `stall` makes chosen requests hang until the client gives up. Webhooks are built
 * here and signed with the SDK's own test-header helper.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import Stripe from 'stripe';

type Json = Record<string, unknown>;

interface Intent extends Json {
  id: string; status: string; amount: number; currency: string;
  payment_method: string | null; metadata: Record<string, string>; client_secret: string;
}

interface Refund extends Json {
  id: string; status: string; payment_intent: string; amount: number;
  metadata: Record<string, string>; failure_reason: string | null;
}

/** One request the server received. */
export interface SeenRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
}

export class FakeStripe {
  readonly intents = new Map<string, Intent>();
  readonly refunds = new Map<string, Refund>();
  readonly seen: SeenRequest[] = [];
  /** New refunds stay `pending` (the test moves them on). */
  refundsPending = false;
  /** Requests matching this hang without an answer. */
  stall: ((method: string, path: string) => boolean) | undefined;
  private readonly replies = new Map<string, { status: number; body: Json }>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private n = 0;
  url = '';

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Requests seen for a method and path prefix. */
  count(method: string, pathPrefix: string): SeenRequest[] {
    return this.seen.filter((r) => r.method === method && r.path.startsWith(pathPrefix));
  }

  /** The intent created for one of our payment ids. */
  intentOf(paymentId: string): Intent {
    const intent = [...this.intents.values()].find((i) => i.metadata.paymentId === paymentId);
    if (intent === undefined) throw new Error(`no intent for payment ${paymentId}`);
    return intent;
  }

  /** The buyer finished (or failed) the 3-D Secure challenge in their browser. */
  finishAction(intentId: string, ok: boolean): Intent {
    const intent = this.mustIntent(intentId);
    if (ok) {
      Object.assign(intent, { status: 'succeeded', next_action: null });
    } else {
      Object.assign(intent, { status: 'requires_payment_method', next_action: null,
        last_payment_error: { code: 'payment_intent_authentication_failure' } });
    }
    return intent;
  }

  /** Moves a refund on, as the card network would days later. */
  setRefund(refundId: string, status: 'succeeded' | 'failed' | 'canceled',
    failureReason: string | null = null): Refund {
    const refund = this.refunds.get(refundId);
    if (refund === undefined) throw new Error(`no refund ${refundId}`);
    Object.assign(refund, { status, failure_reason: failureReason });
    return refund;
  }

  /** A signed webhook (body and headers) for an event about `object`. */
  webhook(type: string, object: Json, secret: string): { body: string;
    headers: Record<string, string> } {
    this.n += 1;
    const body = JSON.stringify({
      id: `evt_${this.n}_${Date.now()}`, object: 'event', type, api_version: '2024-06-20',
      created: Math.floor(Date.now() / 1000), livemode: false, pending_webhooks: 1,
      request: null, data: { object },
    });
    const signature = new Stripe('sk_test_unused').webhooks.generateTestHeaderString({
      payload: body, secret,
    });
    return { body, headers: { 'content-type': 'application/json',
      'stripe-signature': signature } };
  }

  private mustIntent(id: string): Intent {
    const intent = this.intents.get(id);
    if (intent === undefined) throw new Error(`no intent ${id}`);
    return intent;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url ?? '/', 'http://x');
    const method = request.method ?? 'GET';
    const key = request.headers['idempotency-key'];
    const idempotencyKey = typeof key === 'string' ? key : undefined;
    this.seen.push({ method, path: url.pathname, idempotencyKey });
    if (this.stall?.(method, url.pathname) === true) return; // never answers
    const send = ({ status, body }: { status: number; body: Json }): void => {
      response.writeHead(status, { 'content-type': 'application/json',
        'request-id': `req_${this.seen.length}` });
      response.end(JSON.stringify(body));
    };
    if (method === 'POST' && idempotencyKey !== undefined) {
      const replay = this.replies.get(idempotencyKey);
      if (replay !== undefined) {
        send(replay);
        return;
      }
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const reply = this.route(method, url, form);
    if (method === 'POST' && idempotencyKey !== undefined) {
      this.replies.set(idempotencyKey, structuredClone(reply));
    }
    send(reply);
  }

  private route(method: string, url: URL, form: URLSearchParams): { status: number;
    body: Json } {
    const ok = (body: Json) => ({ status: 200, body: structuredClone(body) });
    const notFound = { status: 404, body: { error: { type: 'invalid_request_error',
      code: 'resource_missing', message: 'No such object' } } };
    const parts = url.pathname.split('/').filter((p) => p !== '');
    if (parts[0] !== 'v1') return notFound;
    if (parts[1] === 'payment_intents') {
      if (method === 'POST' && parts.length === 2) {
        this.n += 1;
        const id = `pi_fake${this.n}`;
        const intent: Intent = {
          id, object: 'payment_intent', status: 'requires_confirmation',
          amount: Number(form.get('amount')), currency: form.get('currency') ?? 'eur',
          payment_method: form.get('payment_method'),
          metadata: { paymentId: form.get('metadata[paymentId]') ?? '' },
          client_secret: `${id}_secret_fake${this.n}`, next_action: null,
          last_payment_error: null,
        };
        this.intents.set(id, intent);
        return ok(intent);
      }
      if (method === 'GET' && parts[2] === 'search') {
        const wanted = /metadata\['paymentId'\]:'([^']*)'/.exec(url.searchParams.get('query')
          ?? '')?.[1];
        const data = [...this.intents.values()].filter((i) => i.metadata.paymentId === wanted);
        return ok({ object: 'search_result', data, has_more: false, url: '/v1/payment_intents/search' });
      }
      const intent = this.intents.get(parts[2] ?? '');
      if (intent === undefined) return notFound;
      if (method === 'GET' && parts.length === 3) return ok(intent);
      if (method === 'POST' && parts[3] === 'confirm') return this.confirm(intent, form);
      if (method === 'POST' && parts[3] === 'cancel') {
        if (intent.status === 'succeeded' || intent.status === 'canceled') {
          return { status: 400, body: { error: { type: 'invalid_request_error',
            code: 'payment_intent_unexpected_state', message: `intent is ${intent.status}` } } };
        }
        Object.assign(intent, { status: 'canceled', next_action: null,
          cancellation_reason: form.get('cancellation_reason') });
        return ok(intent);
      }
    }
    if (parts[1] === 'refunds') {
      if (method === 'POST' && parts.length === 2) {
        const intent = this.intents.get(form.get('payment_intent') ?? '');
        if (intent === undefined) return notFound;
        this.n += 1;
        const refund: Refund = {
          id: `re_fake${this.n}`, object: 'refund', payment_intent: intent.id,
          amount: intent.amount, currency: intent.currency,
          status: this.refundsPending ? 'pending' : 'succeeded',
          metadata: { refundId: form.get('metadata[refundId]') ?? '' }, failure_reason: null,
        };
        this.refunds.set(refund.id, refund);
        return ok(refund);
      }
      const refund = this.refunds.get(parts[2] ?? '');
      if (method === 'GET' && refund !== undefined) return ok(refund);
    }
    return notFound;
  }

  private confirm(intent: Intent, form: URLSearchParams): { status: number; body: Json } {
    const method = form.get('payment_method') ?? intent.payment_method;
    if (intent.status !== 'requires_confirmation') return { status: 200, body: structuredClone(intent) };
    if (method === 'pm_card_chargeDeclined') {
      Object.assign(intent, { status: 'requires_payment_method',
        last_payment_error: { code: 'card_declined', type: 'card_error' } });
      return { status: 402, body: { error: { type: 'card_error', code: 'card_declined',
        decline_code: 'generic_decline', message: 'Your card was declined.',
        payment_intent: structuredClone(intent) } } };
    }
    if (method === 'pm_card_threeDSecure2Required') {
      Object.assign(intent, { status: 'requires_action', next_action: {
        type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } } });
    } else {
      Object.assign(intent, { status: 'succeeded' });
    }
    return { status: 200, body: structuredClone(intent) };
  }
}
