import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { signPayload, verifySignature } from './signature.js';
import { limits } from '../config/limits.js';
import {
  DeliveryFailed, httpDeliver, SimulatedGateway, type WebhookDelivery,
} from './simulated.js';
import { StripeProvider } from './stripe.js';
import { WebhookRejected } from './types.js';

const secret = 'whsec_test_0123456789abcdef';

/** Waits until `check` holds, asking again every few milliseconds. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}

describe('webhook signatures', () => {
  const body = Buffer.from('{"id":"evt_1","type":"payment.captured"}');
  const nowMs = Date.UTC(2030, 0, 1);
  const t = nowMs / 1000;

  it('accepts a fresh signature over the exact bytes', () => {
    expect(() => verifySignature(secret, body, signPayload(secret, body, t), nowMs)).not.toThrow();
    const rotated = `${signPayload('another-secret-xyz', body, t)},v1=${
      signPayload(secret, body, t).split('v1=')[1]}`;
    expect(() => verifySignature(secret, body, rotated, nowMs)).not.toThrow();
  });

  it('rejects a changed body, a wrong secret, a stale or future timestamp, junk', () => {
    const header = signPayload(secret, body, t);
    const cases: [Buffer, string | undefined, number][] = [
      [Buffer.from(`${body.toString()} `), header, nowMs],
      [body, signPayload('wrong-secret-0123456', body, t), nowMs],
      [body, header, nowMs + 301_000],
      [body, header, nowMs - 301_000],
      [body, undefined, nowMs],
      [body, 't=abc,v1=zz', nowMs],
      [body, `t=${t}`, nowMs],
      [body, `v1=${'0'.repeat(64)}`, nowMs],
    ];
    for (const [raw, sig, now] of cases) {
      expect(() => verifySignature(secret, raw, sig, now)).toThrow(WebhookRejected);
    }
  });
});

describe('simulated gateway', () => {
  it('sends every outcome twice, shuffled, and answers by payment method', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const sent: WebhookDelivery[] = [];
    const gateway = new SimulatedGateway({
      secret, clock, manual: true, seed: 7,
      deliver: async (delivery) => {
        sent.push(delivery);
      },
    });
    let n = 0;
    const charge = (method: string) => {
      const paymentId = `00000000-0000-4000-8000-00000000000${++n}`;
      return gateway.charge({ paymentId, amountCents: 100, currency: 'EUR', method,
        description: 'test', providerRef: `simpay_${paymentId}` });
    };
    expect((await charge('sim_ok')).status).toBe('captured');
    expect((await charge('sim_declined')).status).toBe('declined');
    expect((await charge('sim_async_ok')).status).toBe('pending');
    expect(gateway.pending()).toHaveLength(2 + 2 + 4);
    expect(await gateway.flush()).toBe(8);
    const events = sent.map((d) => gateway.verifyWebhook(Buffer.from(d.body), d.headers,
      clock.nowMs()));
    expect(new Set(events.map((e) => e.id)).size).toBe(4);
    expect(events.filter((e) => e.type === 'payment.processing')).toHaveLength(2);
    expect(gateway.acceptsMethod('sim_ok')).toBe(true);
    expect(gateway.acceptsMethod('pm_card_visa')).toBe(false);
  });
});

describe('simulated gateway webhook delivery over HTTP', () => {
  /** A receiver answering the given statuses in turn; records what arrived. */
  async function receiver(statuses: number[]) {
    const seen: { url: string; body: string; signature: unknown; socket: unknown }[] = [];
    const server = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      request.on('end', () => {
        seen.push({ url: request.url ?? '', body, socket: request.socket,
          signature: request.headers['stampede-signature'] });
        response.statusCode = statuses[Math.min(seen.length, statuses.length) - 1] ?? 200;
        response.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { seen, base: `http://127.0.0.1:${port}/shop/`,
      close: () => new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }) };
  }
  const delivery = { body: '{"id":"evt_1"}',
    headers: { 'content-type': 'application/json', 'stampede-signature': 't=1,v1=ab' } };

  it('posts one attempt to the public URL on kept-alive connections; 5xx and 429 throw',
    async () => {
      const target = await receiver([503, 429, 200]);
      try {
        const deliver = httpDeliver(target.base);
        // No retry here: the gateway retries, signing the next attempt anew.
        await expect(deliver(delivery)).rejects.toThrow(DeliveryFailed);
        await expect(deliver(delivery)).rejects.toThrow(DeliveryFailed);
        for (let i = 0; i < 8; i++) await deliver(delivery);
        expect(target.seen).toHaveLength(10);
        for (const arrived of target.seen) {
          expect(arrived).toMatchObject({ url: '/shop/api/v1/payments/webhooks/simulated',
            body: delivery.body, signature: 't=1,v1=ab' });
        }
        // Kept alive: eight deliveries one after another take a connection or two (the pool
        // may open a second while the first finishes its reply), not one each.
        const later = new Set(target.seen.slice(2).map((arrived) => arrived.socket));
        expect(later.size).toBeLessThan(4);
      } finally {
        await target.close();
      }
    });

  it('takes a 4xx refusal as final (no retry)', async () => {
    const target = await receiver([400, 200]);
    try {
      await httpDeliver(target.base)(delivery);
      expect(target.seen).toHaveLength(1);
    } finally {
      await target.close();
    }
  });

  it('retries a failed delivery with a new signature, however long the first one took',
    async () => {
      const clock = new ManualClock(Date.UTC(2030, 0, 1));
      const target = await receiver([503, 200]);
      const post = httpDeliver(target.base);
      const gateway = new SimulatedGateway({ secret, clock, duplicates: false,
        deliver: async (d) => {
          const first = target.seen.length === 0;
          try {
            await post(d);
          } finally {
            // The receiver took longer than the signature tolerance to answer its 503.
            if (first) clock.advance((limits.webhookToleranceSeconds + 60) * 1_000);
          }
        } });
      try {
        const paymentId = '00000000-0000-4000-8000-00000000000c';
        await gateway.charge({ paymentId, amountCents: 100, currency: 'EUR', method: 'sim_ok',
          description: 'test', providerRef: `simpay_${paymentId}` });
        await until(() => target.seen.length === 2, 'the retry arrives');
        const [first, retry] = target.seen;
        expect(retry?.body).toBe(first?.body);
        expect(retry?.signature).not.toBe(first?.signature);
        expect(() => verifySignature(secret, Buffer.from(retry?.body ?? ''),
          String(retry?.signature), clock.nowMs())).not.toThrow();
      } finally {
        await gateway.close();
        await target.close();
      }
    });
});

describe('simulated gateway delivery queue', () => {
  it('sends a few deliveries at once and signs each one as it leaves the queue', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const started: WebhookDelivery[] = [];
    const answers: (() => void)[] = [];
    const gateway = new SimulatedGateway({ secret, clock, asyncDelayMs: 0,
      deliveriesInFlight: 2,
      deliver: async (d) => {
        started.push(d);
        await new Promise<void>((resolve) => answers.push(resolve));
      } });
    try {
      for (const n of [1, 2, 3]) {
        const paymentId = `00000000-0000-4000-8000-00000000010${n}`;
        await gateway.charge({ paymentId, amountCents: 100, currency: 'EUR', method: 'sim_ok',
          description: 'test', providerRef: `simpay_${paymentId}` });
      }
      await until(() => started.length === 2, 'two deliveries start');
      // A receiver slower than the signature tolerance: the four waiting deliveries are
      // signed when they get a slot, with the time they are sent.
      clock.advance((limits.webhookToleranceSeconds + 60) * 1_000);
      for (let sent = 2; sent < 6; sent++) {
        expect(answers).toHaveLength(2); // never more than two at once
        answers.shift()?.();
        await until(() => started.length === sent + 1, 'the next delivery starts');
      }
      for (const d of started.slice(2)) {
        expect(() => verifySignature(secret, Buffer.from(d.body),
          d.headers['stampede-signature'], clock.nowMs())).not.toThrow();
      }
    } finally {
      for (const answer of answers) answer();
      await gateway.close();
    }
  });
});

describe('simulated gateway books', () => {
  const query = (paymentId: string, method = 'sim_ok') =>
    ({ paymentId, providerRef: `simpay_${paymentId}`, method });

  it('reports what happened: never charged is unknown, and abandon cancels it', async () => {
    const gateway = new SimulatedGateway({
      secret, clock: new ManualClock(0), manual: true, deliver: async () => undefined,
    });
    const id = '00000000-0000-4000-8000-00000000000a';
    expect(await gateway.lookup(query(id))).toBeUndefined();
    expect(await gateway.abandon(query(id))).toMatchObject({ status: 'declined',
      reason: 'canceled' });
    // A charge that arrives after the cancel finds it cancelled: no money moves.
    const late = await gateway.charge({ ...query(id), amountCents: 1, currency: 'EUR',
      description: 'x' });
    expect(late.status).toBe('declined');
    expect(await gateway.lookup(query(id))).toMatchObject({ status: 'declined' });
  });

  it('keeps a capture: abandon after a charge answers captured', async () => {
    const gateway = new SimulatedGateway({
      secret, clock: new ManualClock(0), manual: true, deliver: async () => undefined,
    });
    const id = '00000000-0000-4000-8000-00000000000b';
    await gateway.charge({ ...query(id), amountCents: 1, currency: 'EUR', description: 'x' });
    expect(await gateway.lookup(query(id))).toMatchObject({ status: 'captured' });
    expect(await gateway.abandon(query(id))).toMatchObject({ status: 'captured' });
  });
});

describe('stripe webhook verification', () => {
  const provider = new StripeProvider({ secretKey: 'sk_test_unused', webhookSecret: secret });
  const stripe = new Stripe('sk_test_unused');
  const event = {
    id: 'evt_123', object: 'event', type: 'payment_intent.succeeded', api_version: '2024-06-20',
    created: 1, livemode: false, pending_webhooks: 1, request: null,
    data: { object: { id: 'pi_1', object: 'payment_intent', status: 'succeeded',
      metadata: { paymentId: '00000000-0000-4000-8000-000000000002' } } },
  };
  const payload = JSON.stringify(event);

  it('verifies with constructEvent and translates the event', () => {
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret });
    const parsed = provider.verifyWebhook(Buffer.from(payload),
      { 'stripe-signature': header }, Date.now());
    expect(parsed).toEqual({ id: 'evt_123', type: 'payment.captured',
      paymentId: '00000000-0000-4000-8000-000000000002', providerRef: 'pi_1' });
  });

  it('rejects a tampered body, a stale timestamp and a missing header', () => {
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret });
    const tampered = Buffer.from(payload.replace('pi_1', 'pi_2'));
    expect(() => provider.verifyWebhook(tampered, { 'stripe-signature': header }, Date.now()))
      .toThrow(WebhookRejected);
    const old = stripe.webhooks.generateTestHeaderString({
      payload, secret, timestamp: Math.floor(Date.now() / 1000) - 3_600 });
    expect(() => provider.verifyWebhook(Buffer.from(payload), { 'stripe-signature': old },
      Date.now())).toThrow(WebhookRejected);
    expect(() => provider.verifyWebhook(Buffer.from(payload), {}, Date.now()))
      .toThrow(WebhookRejected);
  });

  it('accepts only PaymentMethod ids as payment methods', () => {
    expect(provider.acceptsMethod('pm_card_visa')).toBe(true);
    expect(provider.acceptsMethod('sim_ok')).toBe(false);
  });
});
