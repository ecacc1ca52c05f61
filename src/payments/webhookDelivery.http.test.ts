/**
 * The simulated gateway's webhooks over real HTTP, to a node that is slow to answer them.
 * A real provider signs each delivery attempt when it sends it, so a delivery that waited
 * (a backlog behind a slow receiver, a retry) still carries a fresh timestamp. Signed when
 * the outcome was decided and then queued behind the gateway's few connections, genuine
 * webhooks arrived older than the signature tolerance in the 1,000,000-fan rehearsal and
 * were refused with 400 (37,002 of them) while the node was saturated for minutes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventDetails } from '../catalog/schemas.js';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { ManualClock } from '../core/clock.js';
import type { App } from '../http/types.js';
import type { Db } from '../storage/index.js';
import { auditBooking } from '../testing/audit.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import { bearer, buildCustomers, buildEvent } from '../testing/factories.js';
import { PauseGate } from '../testing/pauseGate.js';
import { installPayments, simulatedWebhookSecret } from './index.js';
import { databaseLedger, httpDeliver, SimulatedGateway } from './simulated.js';

const backends = await testBackends();

/** Waits until `check` holds, asking again every few milliseconds. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 6_000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}

/** Webhook responses by status, from the node's own /metrics. */
async function webhookStatuses(app: App): Promise<Record<string, number>> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('stampede_http_requests_total{')) continue;
    if (!line.includes('route="/api/v1/payments/webhooks/:provider"')) continue;
    const status = /status="(\d+)"/.exec(line)?.[1];
    if (status !== undefined) counts[status] = Number(line.split(' ').at(-1));
  }
  return counts;
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`webhook deliveries over HTTP on ${backend.name}`, () => {
    let db: Db;
    let app: App;
    let ctx: AppContext;
    let base: string;
    const clock = new ManualClock(Date.now());
    const gate = new PauseGate();

    beforeAll(async () => {
      db = await backend.open();
      ({ app, ctx } = await buildTestApp(db, { clock, seams: { settleBatches: gate },
        env: { PAYMENT_WINDOW_SECONDS: '3600' } }));
      base = await app.listen({ port: 0, host: '127.0.0.1' });
    });
    afterAll(async () => {
      gate.resume();
      await app?.close();
      await db?.close();
    });

    it('answers 200 to every genuine delivery that waited past the signature tolerance',
      async () => {
        const event: EventDetails = await buildEvent(ctx, { holdSeconds: 3600 });
        let settled = 0;
        const post = httpDeliver(base);
        const gateway = new SimulatedGateway({
          secret: simulatedWebhookSecret(ctx.secrets.secret), clock, asyncDelayMs: 0, seed: 3,
          ledger: databaseLedger(db),
          deliver: async (delivery) => {
            try {
              await post(delivery);
            } finally {
              settled++;
            }
          },
        });
        installPayments(ctx, gateway);
        try {
          // More payments than the gateway has connections: while the node holds every
          // settle back, the captures it is working on fill them and the rest wait.
          const payments = limits.simulatedWebhookConnections + 8;
          const fans = await buildCustomers(ctx, payments);
          gate.pause();
          const orders: { orderId: string; token: string }[] = [];
          for (const [i, fan] of fans.entries()) {
            const hold = await app.inject({ method: 'POST',
              url: `/api/v1/events/${event.eventId}/holds`, headers: bearer(fan.token),
              payload: { zone: 'seats', quantity: 1 } });
            expect(hold.statusCode, hold.body).toBe(201);
            const order = await app.inject({ method: 'POST',
              url: `/api/v1/holds/${hold.json().holdId}/checkout`,
              headers: { ...bearer(fan.token), 'idempotency-key': `slow-node-${i}` },
              payload: { paymentMethod: 'sim_async_ok' } });
            expect(order.json().status, order.body).toBe('pending_payment');
            orders.push({ orderId: order.json().orderId, token: fan.token });
          }
          // Every connection is taken by a capture the node is still settling.
          await until(() => gate.queued() >= limits.simulatedWebhookConnections,
            'the gateway connections fill with held captures');
          // The node stays saturated for longer than the signature tolerance...
          clock.advance((limits.webhookToleranceSeconds + 1) * 1_000);
          gate.resume();
          // ...and every delivery (2 events × 2 copies per payment) then ends.
          await until(() => settled === payments * 4, 'every delivery ends');
          const statuses = await webhookStatuses(app);
          expect(statuses).toEqual({ 200: payments * 4 });
          for (const { orderId, token } of orders) {
            const order = (await app.inject({ method: 'GET', url: `/api/v1/orders/${orderId}`,
              headers: bearer(token) })).json();
            expect(order.status).toBe('confirmed');
          }
          expect(await auditBooking(db, event.eventId)).toEqual([]);
        } finally {
          await gateway.close();
        }
      });
  });
}
