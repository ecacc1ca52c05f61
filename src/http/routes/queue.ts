/** The waiting room: join, my place, the live stream of it, and proof-of-work challenges. */
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';

import type { EventRecord } from '../../catalog/events.js';
import type { AppContext } from '../../context.js';
import { DomainError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { createJoinChallenge, proofProblemDetail, spendJoinProof } from '../../queue/pow.js';
import { waitingRoom } from '../../queue/room.js';
import { ChallengeSchema, JoinBody, QueueViewSchema } from '../../queue/schemas.js';
import type { QueueView } from '../../queue/types.js';
import { QueueWatch } from '../../queue/watch.js';
import { bearerSecurity, customerAuth } from '../auth.js';
import { problemResponses } from '../problem.js';
import { customerRateLimit, joinRateLimit, perMinute } from '../ratelimit.js';
import { SseConnection } from '../sse.js';
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

/** Open queue streams on this node, ended when the app closes so shutdown is not held up. */
const openStreams = new WeakMap<App, Set<SseConnection>>();

/** What the stream handler needs from the request. */
interface StreamRequest {
  eventId: string;
  customerId: string;
  lastEventId: string | undefined;
}

async function stream(
  ctx: AppContext, app: App, request: StreamRequest, reply: FastifyReply,
): Promise<void> {
  const streams = openStreams.get(app) ?? new Set<SseConnection>();
  openStreams.set(app, streams);
  const { sseMaxConnections, sseHeartbeatMs } = ctx.config.queue;
  if (streams.size >= sseMaxConnections) {
    reply.header('retry-after', '5');
    throw new DomainError('service_unavailable', 'this node has no room for another stream');
  }
  const event = await findEvent(ctx, request.eventId);
  const room = waitingRoom(ctx);
  let connection: SseConnection | undefined;
  const backlog: { view: QueueView; seq: number }[] = [];
  const send = (view: QueueView, seq: number): void => {
    if (connection === undefined) backlog.push({ view, seq });
    else connection.send({ id: String(seq), event: 'queue', data: JSON.stringify(view) });
  };
  // Errors before the stream opens (not in line, unknown event) are ordinary problem+json.
  const { watch, view, seq } = await QueueWatch.open(
    room, event, request.customerId, send, () => ctx.clock.nowMs(),
  );
  reply.hijack();
  connection = new SseConnection(reply.raw, sseHeartbeatMs);
  streams.add(connection);
  const opened = connection;
  opened.whenClosed(() => {
    streams.delete(opened);
    void watch.close();
  });
  // A reconnecting client that already saw this tick gets nothing until the next one.
  if (request.lastEventId !== String(seq)) send(view, seq);
  for (const queued of backlog.splice(0)) send(queued.view, queued.seq);
}

/** Waiting-room routes under /api/v1/events/:eventId/queue. */
export async function queueRoutes(app: App, ctx: AppContext): Promise<void> {
  const auth = customerAuth(ctx);
  const room = waitingRoom(ctx);
  app.addHook('preClose', async () => {
    for (const connection of openStreams.get(app) ?? []) connection.end();
  });

  app.post(
    '/api/v1/events/:eventId/queue',
    {
      onRequest: auth,
      preHandler: joinRateLimit(ctx),
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
      const event = await findEvent(ctx, request.params.eventId);
      await requireProof(ctx, event, request.customerId, request.body?.proofOfWork);
      const { view, created } = await room.join(event, request.customerId);
      return reply.status(created ? 201 : 200).send(view);
    },
  );

  app.get(
    '/api/v1/events/:eventId/queue/me',
    {
      onRequest: auth,
      schema: {
        tags, summary: 'My place in the waiting room', security: bearerSecurity,
        params: EventParams, response: { 200: QueueViewSchema, ...problemResponses(401, 404) },
      },
    },
    async (request) => {
      const event = await findEvent(ctx, request.params.eventId);
      return await room.view(event, request.customerId);
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
          'as its id; send Last-Event-ID when reconnecting. Heartbeats are comment lines.',
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
