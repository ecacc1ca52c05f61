/** The waiting room: join, my place, the live stream of it, and proof-of-work challenges. */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';

import type { EventRecord } from '../../catalog/events.js';
import type { AppContext } from '../../context.js';
import { DomainError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { tokenVersions, TokenRevoked } from '../../customers/tokenVersions.js';
import { moveToWaitlist } from '../../queue/handover.js';
import { createJoinChallenge, proofProblemDetail, spendJoinProof } from '../../queue/pow.js';
import { waitingRoom } from '../../queue/room.js';
import {
  ChallengeSchema, JoinBody, LeaveBody, QueueViewSchema,
} from '../../queue/schemas.js';
import type { QueueView } from '../../queue/types.js';
import { WaitlistEntry, WaitlistJoinInput } from '../../waitlist/schemas.js';
import { QueueWatch } from '../../queue/watch.js';
import { bearerSecurity, customerAuth } from '../auth.js';
import { problemResponses } from '../problem.js';
import { customerRateLimit, joinRateLimit, perMinute } from '../ratelimit.js';
import { overloadSignal, shedJoins, shedWaitingPolls } from '../shed.js';
import { SseConnection } from '../sse.js';
import { streamSlots } from '../streamSlots.js';
import type { App } from '../types.js';

const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });
const tags = ['queue'];

async function findEvent(ctx: AppContext, eventId: string): Promise<EventRecord> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  return await waitingRoom(ctx).event(eventId);
}

function challengeUrl(eventId: string): string {
  return `/api/v1/events/${eventId}/queue/challenge`;
}

/** Refuses a join without a fresh, solved, unused challenge when the event asks for one. */
async function requireProof(
  ctx: AppContext, event: EventRecord, customerId: string, proof: string | undefined,
): Promise<void> {
  if (!event.queue.enabled || !event.queue.proofOfWork) return;
  // Re-joining is idempotent and creates nothing, so it costs no work.
  if (await waitingRoom(ctx).isMember(event.eventId, customerId)) return;
  const extra = { challengeUrl: challengeUrl(event.eventId) };
  if (proof === undefined) {
    throw new DomainError('proof_of_work_required',
      'this event asks joiners for a proof of work: fetch a challenge, solve it and send ' +
      'the solution as proofOfWork', extra);
  }
  const problem = await spendJoinProof(ctx, event.eventId, customerId, proof);
  if (problem !== null) {
    throw new DomainError('proof_of_work_required', proofProblemDetail[problem], extra);
  }
}

/** What the stream handler needs from the request. */
interface StreamRequest {
  eventId: string;
  customerId: string;
  lastEventId: string | undefined;
}

/** Nothing more will come on the stream: the fan's line is over for them. */
function isFinal(view: QueueView): boolean {
  return view.state === 'sold_out' || view.state === 'expired' || view.state === 'left';
}

async function stream(
  ctx: AppContext, app: App, request: StreamRequest, reply: FastifyReply,
): Promise<void> {
  const slots = streamSlots(app, 'queue');
  const { sseMaxConnections, sseMaxPerCustomer, sseHeartbeatMs, sseMaxLifetimeSeconds } =
    ctx.config.queue;
  // Synchronous: no await between the checks and the reservation.
  const release = slots.reserve(
    request.customerId, sseMaxConnections, sseMaxPerCustomer, reply,
  );
  let connection: SseConnection | undefined;
  let watch: QueueWatch | undefined;
  try {
    const event = await findEvent(ctx, request.eventId);
    const backlog: { view: QueueView; seq: number }[] = [];
    const send = (view: QueueView, seq: number): void => {
      if (connection === undefined) {
        backlog.push({ view, seq });
        return;
      }
      connection.send({ id: String(seq), event: 'queue', data: JSON.stringify(view) });
      // Sold out or expired: this was the last word; the client may poll or reconnect.
      if (isFinal(view)) connection.end();
    };
    // Errors before the stream opens (not in line, unknown event) are ordinary problem+json.
    const opened = await QueueWatch.open(
      waitingRoom(ctx), event, request.customerId, send, () => ctx.clock.nowMs(),
    );
    watch = opened.watch;
    reply.hijack();
    connection = new SseConnection(reply.raw, {
      heartbeatMs: sseHeartbeatMs, maxLifetimeMs: sseMaxLifetimeSeconds * 1000,
    });
    const live = connection;
    const openWatch = watch;
    slots.open.add(live);
    live.whenClosed(() => {
      slots.open.delete(live);
      release();
      void openWatch.close();
    });
    // A reconnecting client that already saw this tick gets nothing until the next one.
    if (request.lastEventId !== String(opened.seq) || isFinal(opened.view)) {
      send(opened.view, opened.seq);
    }
    for (const queued of backlog.splice(0)) send(queued.view, queued.seq);
    // No queue on this event: there is nothing to wait for, so one view and done.
    if (!event.queue.enabled) live.end();
  } catch (error) {
    if (connection === undefined) {
      release();
      await watch?.close();
    }
    throw error;
  }
}

/** Waiting-room routes under /api/v1/events/:eventId/queue. */
export async function queueRoutes(app: App, ctx: AppContext): Promise<void> {
  const auth = customerAuth(ctx);
  // A new fan's token version is compared in the join batch, not read before it.
  const joinAuth = customerAuth(ctx, { deferVersion: true });
  const versions = tokenVersions(ctx);
  const room = waitingRoom(ctx);
  app.addHook('preClose', async () => {
    for (const connection of streamSlots(app, 'queue').open) connection.end();
  });
  app.addHook('onClose', async () => {
    await room.stopFollowing();
  });
  const { pollsPerCustomerPerMinute } = ctx.config.queue;
  // Shoppers first: under overload, joins and waiting fans' polls are shed (../shed.ts).
  const overload = overloadSignal(app, ctx);

  app.post(
    '/api/v1/events/:eventId/queue',
    {
      onRequest: [joinAuth, shedJoins(ctx, overload)],
      // The app-wide address budget is taken here too, with the join's own buckets.
      preHandler: joinRateLimit(ctx),
      config: { writeLimit: 'own' },
      schema: {
        tags, summary: 'Join the waiting room (idempotent per customer)', security: bearerSecurity,
        params: EventParams, body: JoinBody,
        response: {
          200: QueueViewSchema, 201: QueueViewSchema,
          ...problemResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (request, reply) => {
      const version = request.uncheckedTokenVersion;
      const token = version === undefined ? undefined : { version, checked: false };
      try {
        const event = await findEvent(ctx, request.params.eventId);
        // A proof is spent when checked: a revoked token must not get that far.
        if (event.queue.proofOfWork) await versions.checkPending(request.customerId, token);
        await requireProof(ctx, event, request.customerId, request.body?.proofOfWork);
        const { view, created } = await room.join(event, request.customerId, token);
        return reply.status(created ? 201 : 200).send(view);
      } catch (error) {
        // Refused before the version was compared: a revoked token is told so instead.
        if (!(error instanceof TokenRevoked)) {
          await versions.checkPending(request.customerId, token);
        }
        throw error;
      }
    },
  );

  app.get(
    '/api/v1/events/:eventId/queue/me',
    {
      onRequest: [auth, shedWaitingPolls(ctx, overload),
        customerRateLimit(ctx, 'queue-me', perMinute(pollsPerCustomerPerMinute))],
      schema: {
        tags, summary: 'My place in the waiting room', security: bearerSecurity,
        params: EventParams,
        response: { 200: QueueViewSchema, ...problemResponses(401, 404, 429) },
      },
    },
    async (request) => {
      const event = await findEvent(ctx, request.params.eventId);
      return await room.view(event, request.customerId);
    },
  );

  app.delete(
    '/api/v1/events/:eventId/queue/me',
    {
      onRequest: auth,
      preHandler: customerRateLimit(ctx, 'queue-leave', perMinute(30)),
      schema: {
        tags, security: bearerSecurity, params: EventParams, body: LeaveBody,
        summary: 'Leave the waiting room, or give back a pass',
        description: 'Waiting: you leave the line (your number is passed over). Admitted: ' +
          'your pass is given back and its slot goes to the next fan at the next tick. ' +
          'Holds you already have are kept. Final for this event: a second call is 409 ' +
          'already_left, and a re-join answers state "left".',
        response: { 200: QueueViewSchema, ...problemResponses(400, 401, 404, 409, 429) },
      },
    },
    async (request) => {
      const event = await findEvent(ctx, request.params.eventId);
      return await room.leave(event, request.customerId);
    },
  );

  app.post(
    '/api/v1/events/:eventId/queue/me/waitlist',
    {
      onRequest: auth,
      preHandler: customerRateLimit(ctx, 'queue-leave', perMinute(30)),
      schema: {
        tags, security: bearerSecurity, params: EventParams, body: WaitlistJoinInput,
        summary: 'Move from the waiting room to the waitlist in one step',
        description: 'For a fan the line cannot serve (the view says sold_out, in_carts or ' +
          'unlikely and carries waitlistUrl): joins the event\'s waitlist and leaves the ' +
          'line (a live pass is given back). Fans who move from the line are offered ' +
          'returned tickets in line order, whenever each of them moved. Refusals of the ' +
          'waitlist (over the per-customer limit, an unknown zone) leave the fan in line.',
        response: {
          201: Type.Object({ queue: QueueViewSchema, waitlist: WaitlistEntry }),
          ...problemResponses(400, 401, 403, 404, 409, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const event = await findEvent(ctx, request.params.eventId);
      const moved = await moveToWaitlist(ctx, room, event, request.customerId, {
        ...(request.body.zone === undefined ? {} : { zone: request.body.zone }),
        quantity: request.body.quantity,
      });
      return reply.status(201).send(moved);
    },
  );

  app.get(
    '/api/v1/events/:eventId/queue/stream',
    {
      onRequest: [auth, customerRateLimit(ctx, 'queue-stream', perMinute(60))],
      // Never compress an event stream: frames would sit in the compressor's buffer.
      config: { compress: false },
      schema: {
        tags, security: bearerSecurity, params: EventParams,
        summary: 'Server-Sent Events of my place in the waiting room (event "queue")',
        description: 'Each message is the same object as queue/me, with the tick sequence ' +
          'as its id; send Last-Event-ID when reconnecting. Heartbeats are comment lines. ' +
          'The server ends the stream after a final sold_out, expired or left message, at once ' +
          'for an event without a queue, and after a maximum lifetime (reconnect then). ' +
          'A few streams per customer per node: more are refused with 429.',
        response: { 200: Type.String({ description: 'text/event-stream' }),
          ...problemResponses(401, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const lastEventId = request.headers['last-event-id'];
      await stream(ctx, app, {
        eventId: request.params.eventId, customerId: request.customerId,
        lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
      }, reply);
    },
  );

  app.get(
    '/api/v1/events/:eventId/queue/challenge',
    {
      onRequest: [auth, customerRateLimit(ctx, 'queue-challenge', perMinute(30))],
      schema: {
        tags, summary: 'A proof-of-work challenge for joining (ALTCHA)', security: bearerSecurity,
        params: EventParams, response: { 200: ChallengeSchema, ...problemResponses(401, 404) },
      },
    },
    async (request) => {
      const event = await findEvent(ctx, request.params.eventId);
      return await createJoinChallenge(ctx, event.eventId, request.customerId);
    },
  );
}
