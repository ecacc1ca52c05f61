/** The customer's live stream of notifications (SSE), fed from every node. */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import {
  customerStreams, replayNotifications,
} from '../../notifications/stream.js';
import type { NotificationMessage } from '../../notifications/types.js';
import { bearerSecurity, customerAuth } from '../auth.js';
import { problemResponses } from '../problem.js';
import { customerRateLimit, perMinute } from '../ratelimit.js';
import { SseConnection } from '../sse.js';
import { streamSlots } from '../streamSlots.js';
import type { App } from '../types.js';

const label = 'notification';

/** A Last-Event-ID we issued is a notification id; anything else means "no replay". */
function lastIdOf(header: unknown): number | undefined {
  if (typeof header !== 'string' || !/^\d{1,18}$/.test(header)) return undefined;
  return Number(header);
}

async function stream(
  ctx: AppContext, app: App, customerId: string, lastId: number | undefined,
  reply: FastifyReply,
): Promise<void> {
  const slots = streamSlots(app, label);
  const { sseMaxConnections, sseMaxPerCustomer, sseHeartbeatMs, sseMaxLifetimeSeconds } =
    ctx.config.queue;
  // Synchronous: no await between the caps and the reservation.
  const release = slots.reserve(customerId, sseMaxConnections, sseMaxPerCustomer, reply);
  let connection: SseConnection | undefined;
  let stop: (() => void) | undefined;
  try {
    let sentUpTo = lastId ?? 0;
    const early: NotificationMessage[] = [];
    const send = (message: NotificationMessage): void => {
      if (connection === undefined) {
        early.push(message);
        return;
      }
      // Replay and live delivery may overlap, and a notice may be published twice.
      if (message.id <= sentUpTo) return;
      sentUpTo = message.id;
      connection.send({ id: String(message.id), event: 'notification',
        data: JSON.stringify(message) });
    };
    // Listen first, then read the backlog, so nothing falls between the two.
    stop = await customerStreams(ctx.coord, ctx.logger).listen(customerId, send);
    const backlog = lastId === undefined ? [] : await replayNotifications(ctx.db, customerId,
      lastId);
    reply.hijack();
    connection = new SseConnection(reply.raw, {
      heartbeatMs: sseHeartbeatMs, maxLifetimeMs: sseMaxLifetimeSeconds * 1000,
    });
    const live = connection;
    const unlisten = stop;
    slots.open.add(live);
    live.whenClosed(() => {
      slots.open.delete(live);
      release();
      unlisten();
    });
    for (const message of [...backlog, ...early].sort((a, b) => a.id - b.id)) send(message);
  } catch (error) {
    if (connection === undefined) {
      release();
      stop?.();
    }
    throw error;
  }
}

/** Notification routes under /api/v1/me. */
export async function notificationRoutes(app: App, ctx: AppContext): Promise<void> {
  const auth = customerAuth(ctx);
  app.addHook('preClose', async () => {
    for (const connection of streamSlots(app, label).open) connection.end();
  });
  app.get(
    '/api/v1/me/stream',
    {
      onRequest: [auth, customerRateLimit(ctx, 'me-stream', perMinute(60))],
      // Never compress an event stream: frames would sit in the compressor's buffer.
      config: { compress: false },
      schema: {
        tags: ['notifications'], security: bearerSecurity,
        summary: 'Server-Sent Events of my notifications (event "notification")',
        description: 'Each message is `{id, kind, eventId, title, body, holdId?, orderId?, ' +
          'at}` with kind one of queue.admitted, waitlist.offered, order.confirmed, ' +
          'order.payment_failed, order.refunded, event.cancelled, queue.closed; the SSE id ' +
          'is the notification id. Reconnect with Last-Event-ID to receive what was sent ' +
          'since (up to 100). Heartbeats are comment lines; the server ends the stream ' +
          'after a maximum lifetime. A few streams per customer per node: more get 429.',
        response: { 200: Type.String({ description: 'text/event-stream' }),
          ...problemResponses(401, 403, 429, 503) },
      },
    },
    async (request, reply) => {
      await stream(ctx, app, request.customerId, lastIdOf(request.headers['last-event-id']),
        reply);
    },
  );
}
