/**
 * Notifications end to end: outbox rows written by real commands, the real relay, the
 * notifier sink, a real SMTP server in-process (smtp-server) and real SSE clients over
 * HTTP. Embedded (PGlite, in-process coordination, one node) and PostgreSQL + Redis with
 * two nodes: the relay and the e-mail dispatcher run on node 1, the fan listens on node 2.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEvent } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { createMemoryCoordinator } from '../coord/memory.js';
import { createRedisCoordinator, type Coordinator } from '../coord/index.js';
import type { App } from '../http/types.js';
import { OutboxRelay } from '../outbox/relay.js';
import type { SimulatedGateway } from '../payments/simulated.js';
import { tickLine } from '../queue/admission.js';
import { waitingRoom } from '../queue/room.js';
import type { Db } from '../storage/index.js';
import { testBackends } from '../testing/backends.js';
import { buildTestApp } from '../testing/context.js';
import {
  bearer, buildCustomer, buildEvent, buildHold, buildVenue,
} from '../testing/factories.js';
import { installTestGateway } from '../testing/payments.js';
import {
  deleteRedisPrefix, serviceAvailable, testRedisUrl,
} from '../testing/services.js';
import { startTestSmtp, type TestSmtp } from '../testing/smtp.js';
import { SseClient } from '../testing/sse.js';
import { startNotifications, type Notifications } from './index.js';

const backends = await testBackends();
const redisUp = await serviceAvailable('Redis', testRedisUrl);
const prefix = `test:notify:${randomUUID().slice(0, 8)}:`;

interface Node {
  ctx: AppContext;
  app: App;
  base: string;
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 15_000):
  Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}

const shapes = [
  { name: 'embedded (PGlite, in-process coordination)', backend: 'pglite', redis: false },
  { name: 'PostgreSQL + Redis, two nodes', backend: 'postgres', redis: true },
] as const;

for (const shape of shapes) {
  const backend = backends.find((b) => b.name === shape.backend);
  const available = backend?.available === true && (!shape.redis || redisUp);
  describe.skipIf(!available)(`notifications, ${shape.name}`, () => {
    let db: Db;
    let smtp: TestSmtp;
    let one: Node;
    let two: Node;
    let gateway: SimulatedGateway;
    let notifications: Notifications;
    let relay: OutboxRelay;
    const coords: Coordinator[] = [];

    function coordinator(name: string): Coordinator {
      const coord = shape.redis
        ? createRedisCoordinator({ url: testRedisUrl, prefix, name: `test-notify-${name}`,
          logger: { warn: () => undefined } })
        : createMemoryCoordinator({});
      coords.push(coord);
      return coord;
    }

    async function node(coord: Coordinator, env: Record<string, string>): Promise<Node> {
      const { app, ctx } = await buildTestApp(db, { coord, env });
      const base = await app.listen({ port: 0, host: '127.0.0.1' });
      return { app, ctx, base };
    }

    beforeAll(async () => {
      db = await (backend as NonNullable<typeof backend>).open();
      smtp = await startTestSmtp();
      one = await node(coordinator('one'), {
        SMTP_URL: smtp.url, SMTP_FROM: 'Stampede <tickets@example.com>',
        PAYMENT_WINDOW_SECONDS: '600',
      });
      two = shape.redis ? await node(coordinator('two'), {}) : one;
      gateway = installTestGateway(one.app, one.ctx);
      notifications = startNotifications(one.ctx);
      relay = new OutboxRelay(one.ctx, { sinks: [notifications.sink], pollMs: 50 });
      await relay.start();
    });
    afterAll(async () => {
      await relay?.stop();
      await notifications?.stop();
      await gateway?.close();
      await one?.app.close();
      if (two !== one) await two?.app.close();
      await Promise.all(coords.map((coord) => coord.close().catch(() => undefined)));
      if (shape.redis) await deleteRedisPrefix(prefix);
      await smtp?.close();
      await db?.close();
    });

    const mailsTo = (email: string) => smtp.received.filter((mail) => mail.to.includes(email));

    /** A sold-out event, a fan on its waitlist listening on node 2, and the seat released. */
    async function offerScenario(given?: Awaited<ReturnType<typeof buildCustomer>>) {
      const venue = await buildVenue(one.ctx, { rows: 1, seatsPerRow: 1, standing: 1 });
      const event = await buildEvent(one.ctx, { venue, title: `Notify ${randomUUID()}` });
      const holder = await buildCustomer(one.ctx);
      const seat = await buildHold(one.ctx, event.eventId, holder.customerId,
        { seats: ['A-1-1'] });
      const fan = given ?? await buildCustomer(one.ctx);
      const joined = await two.app.inject({ method: 'POST',
        url: `/api/v1/events/${event.eventId}/waitlist`, headers: bearer(fan.token),
        payload: { zone: 'seats', quantity: 1 } });
      expect(joined.statusCode, joined.body).toBe(201);
      const sse = await SseClient.open(`${two.base}/api/v1/me/stream`, bearer(fan.token));
      expect(sse.response.status).toBe(200);
      expect(sse.response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const released = await one.app.inject({ method: 'DELETE',
        url: `/api/v1/holds/${seat.holdId}`, headers: bearer(holder.token) });
      expect(released.statusCode).toBe(204);
      const entry = (await two.app.inject({ method: 'GET', url: '/api/v1/me/waitlist',
        headers: bearer(fan.token) })).json().data[0];
      expect(entry.status).toBe('offered');
      return { event, fan, sse, holdId: entry.holdId as string };
    }

    it('pushes an offer to the fan on another node and e-mails it, once', async () => {
      const { event, fan, sse, holdId } = await offerScenario();
      try {
        const message = await sse.nextOf('notification', 15_000);
        const data = JSON.parse(message.data ?? '{}');
        expect(data).toMatchObject({ kind: 'waitlist.offered', eventId: event.eventId, holdId,
          title: `Tickets for you: ${event.title}` });
        expect(message.id).toBe(String(data.id));
        await until(() => mailsTo(fan.email).length === 1);
        const [mail] = mailsTo(fan.email);
        expect(mail?.from).toBe('tickets@example.com');
        expect(mail?.subject).toBe(`Tickets for you: ${event.title}`);
        expect(mail?.raw).toContain(`/holds/${holdId}`);

        // The relay delivers again (at least once): nothing is sent twice.
        await db.query('UPDATE outbox_events SET published_at = NULL WHERE event_id = $1',
          [event.eventId]);
        await until(async () => (await db.query(
          `SELECT 1 FROM outbox_events WHERE event_id = $1 AND published_at IS NULL`,
          [event.eventId])).rows.length === 0);
        await notifications.dispatcher?.runOnce();
        const { rows } = await db.query<{ channel: string; n: number }>(
          `SELECT channel, count(*)::int AS n FROM notifications
            WHERE customer_id = $1 GROUP BY channel ORDER BY channel`, [fan.customerId]);
        expect(rows).toEqual([{ channel: 'email', n: 1 }, { channel: 'stream', n: 1 }]);

        // Buying the offer: the next message is the order, not a repeat of the offer.
        const paid = await one.app.inject({ method: 'POST', url: `/api/v1/holds/${holdId}/checkout`,
          headers: { ...bearer(fan.token), 'idempotency-key': `n-${holdId}` },
          payload: { paymentMethod: 'sim_ok' } });
        expect(paid.json().status).toBe('confirmed');
        const next = JSON.parse((await sse.nextOf('notification', 15_000)).data ?? '{}');
        expect(next).toMatchObject({ kind: 'order.confirmed', orderId: paid.json().orderId });
        expect(next.id).toBeGreaterThan(data.id);
        await until(() => mailsTo(fan.email).length === 2);
        expect(mailsTo(fan.email)[1]?.subject).toBe(`Order confirmed: ${event.title}`);
        expect(mailsTo(fan.email).filter((m) => m.subject.startsWith('Tickets for you')))
          .toHaveLength(1);
      } finally {
        sse.close();
      }
    });

    it('replays missed notifications after Last-Event-ID', async () => {
      const { fan, sse, holdId } = await offerScenario();
      const first = JSON.parse((await sse.nextOf('notification', 15_000)).data ?? '{}');
      sse.close();
      const again = await SseClient.open(`${two.base}/api/v1/me/stream`,
        { ...bearer(fan.token), 'last-event-id': String(first.id - 1) });
      try {
        const replayed = JSON.parse((await again.nextOf('notification', 15_000)).data ?? '{}');
        expect(replayed).toMatchObject({ id: first.id, kind: 'waitlist.offered', holdId });
      } finally {
        again.close();
      }
    });

    it('retries an e-mail the mail server refused, and sends it once', async () => {
      const refused = await buildCustomer(one.ctx);
      smtp.refuseNext(1, refused.email);
      const { fan, sse } = await offerScenario(refused);
      sse.close();
      await until(async () => (await db.query(
        `SELECT 1 FROM notifications WHERE customer_id = $1 AND channel = 'email'
            AND attempts >= 1 AND sent_at IS NULL`, [fan.customerId])).rows.length === 1);
      expect(mailsTo(fan.email)).toHaveLength(0);
      // Its back-off is over.
      await db.query(`UPDATE notifications SET next_attempt_at = now()
                       WHERE customer_id = $1 AND channel = 'email'`, [fan.customerId]);
      await until(() => mailsTo(fan.email).length === 1);
      await notifications.dispatcher?.runOnce();
      expect(mailsTo(fan.email)).toHaveLength(1);
    });

    it('writes one outbox row per admission tick and tells each admitted fan', async () => {
      const event = await buildEvent(one.ctx, { queue: { enabled: true, admitPerMinute: 600,
        maxActiveShoppers: 100, passSeconds: 600 } });
      const record = await loadEvent(one.ctx.db, event.eventId);
      const fans = await Promise.all([0, 1, 2].map(() => buildCustomer(one.ctx)));
      for (const fan of fans) await waitingRoom(one.ctx).join(record, fan.customerId);
      const sse = await SseClient.open(`${two.base}/api/v1/me/stream`,
        bearer(fans[2]?.token ?? ''));
      try {
        const outcome = await tickLine(one.ctx.db, record, { token: 1, claimGraceSeconds: 60 });
        expect(outcome.kind === 'ticked' && outcome.admitted.length).toBe(3);
        const { rows } = await db.query<{ payload: { customerIds: string[] } }>(
          `SELECT payload FROM outbox_events WHERE event_id = $1 AND kind = 'queue.admitted'`,
          [event.eventId]);
        expect(rows).toHaveLength(1);
        expect(rows[0]?.payload.customerIds.sort())
          .toEqual(fans.map((fan) => fan.customerId).sort());
        const told = JSON.parse((await sse.nextOf('notification', 15_000)).data ?? '{}');
        expect(told).toMatchObject({ kind: 'queue.admitted', eventId: event.eventId });
        await until(async () => (await db.query(
          `SELECT DISTINCT customer_id FROM notifications
            WHERE kind = 'queue.admitted' AND channel = 'email' AND sent_at IS NOT NULL
              AND event_id = $1`, [event.eventId])).rows.length === 3);
      } finally {
        sse.close();
      }
    });
  });
}
