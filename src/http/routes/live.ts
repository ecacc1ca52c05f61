/**
 * The live seat map of an event, as Server-Sent Events and as a WebSocket: thin transports
 * over the node's LiveHub (src/realtime/hub.ts), which owns the messages, versions, gaps
 * and resumes. This module only checks the caps, opens the stream, resumes SSE from
 * Last-Event-ID, sends heartbeats and drops clients that do not keep up.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { WebSocket } from 'ws';

import { limits } from '../../config/limits.js';
import type { AppContext } from '../../context.js';
import { DomainError } from '../../core/errors.js';
import { isUuid } from '../../core/ids.js';
import { liveHub, type LiveClient } from '../../realtime/hub.js';
import { problemResponses } from '../problem.js';
import { SseConnection } from '../sse.js';
import { StreamSlots } from '../streamSlots.js';
import type { App } from '../types.js';

const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });
const tags = ['live'];

/** The last version an SSE client saw, from Last-Event-ID; undefined when absent or bad. */
function lastVersionOf(request: FastifyRequest): number | undefined {
  const header = request.headers['last-event-id'];
  if (typeof header !== 'string' || header.length > limits.liveLastEventIdLength) return undefined;
  if (!/^\d+$/.test(header)) return undefined;
  const version = Number(header);
  return Number.isSafeInteger(version) ? version : undefined;
}

type Prepared = Awaited<ReturnType<ReturnType<typeof liveHub>['prepare']>>;

/** A stream about to open: its hub join and its slot (give it back when the stream ends). */
interface Admitted {
  prepared: Prepared;
  release(): void;
}

/**
 * Takes a slot and prepares the event's channel (404 for an unknown event, slot given
 * back at once). The socket closing before the stream opens also gives everything back.
 */
async function admit(
  ctx: AppContext, slots: StreamSlots, request: FastifyRequest, reply: FastifyReply,
  eventId: string,
): Promise<Admitted> {
  const { maxConnections, maxPerAddress } = ctx.config.live;
  const release = slots.reserve(request.ip, maxConnections, maxPerAddress, reply);
  let prepared: Prepared;
  try {
    if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
    prepared = await liveHub(ctx).prepare(eventId);
  } catch (error) {
    release();
    throw error;
  }
  const socket = request.raw.socket;
  const abandon = (): void => {
    release();
    prepared.cancel();
  };
  // The client may have gone while the channel was being prepared.
  if (socket.destroyed) abandon();
  else socket.once('close', abandon);
  return { prepared, release };
}

function openSse(
  ctx: AppContext, eventId: string, { prepared, release }: Admitted, request: FastifyRequest,
  reply: FastifyReply, open: Set<LiveClient>,
): void {
  const { heartbeatMs, maxLifetimeSeconds, maxBufferedBytes } = ctx.config.live;
  reply.hijack();
  const connection = new SseConnection(reply.raw, {
    heartbeatMs, maxLifetimeMs: maxLifetimeSeconds * 1000, maxBufferedBytes,
  });
  if (connection.isClosed) {
    release();
    prepared.cancel();
    return;
  }
  const client: LiveClient = {
    send: (batch) => connection.sendFrame(batch.sse),
    end: () => connection.end(),
  };
  open.add(client);
  connection.whenClosed(() => {
    release();
    open.delete(client);
    liveHub(ctx).leave(eventId, client);
  });
  prepared.join(client, lastVersionOf(request));
}

function openWebSocket(
  ctx: AppContext, eventId: string, { prepared, release }: Admitted, socket: WebSocket,
  open: Set<LiveClient>,
): void {
  const { heartbeatMs, maxLifetimeSeconds, maxBufferedBytes } = ctx.config.live;
  const hub = liveHub(ctx);
  const client: LiveClient = {
    send: (batch) => {
      if (socket.readyState !== socket.OPEN) return;
      for (const frame of batch.frames) socket.send(frame.ws, { binary: false });
      // A reader this far behind is dropped; it reconnects and starts from a snapshot.
      if (socket.bufferedAmount > maxBufferedBytes) socket.terminate();
    },
    end: () => socket.close(1000, 'end of feed'),
  };
  let alive = true;
  const heartbeat = setInterval(() => {
    if (!alive) {
      socket.terminate();
      return;
    }
    alive = false;
    socket.ping();
  }, heartbeatMs);
  heartbeat.unref();
  const lifetime = setTimeout(() => socket.close(4000, 'reconnect'), maxLifetimeSeconds * 1000);
  lifetime.unref();
  socket.on('pong', () => {
    alive = true;
  });
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    // The one request a client makes: a fresh snapshot after it saw a gap.
    if (/"type"\s*:\s*"snapshot"/.test(data.toString())) hub.resend(eventId, client);
  });
  socket.on('close', () => {
    release();
    clearInterval(heartbeat);
    clearTimeout(lifetime);
    open.delete(client);
    hub.leave(eventId, client);
  });
  if (socket.readyState !== socket.OPEN) {
    release();
    prepared.cancel();
    return;
  }
  open.add(client);
  prepared.join(client, undefined);
}

const messagesDescription = 'Messages: `snapshot` first (counts per zone and section, one ' +
  'status character per seat: a available, h held, s sold), then `seats` ' +
  '{version, prevVersion, changes} and `availability` {version, prevVersion, zones, ' +
  'sections} per batch (within 250 ms), and `end` when the event is cancelled. A `seats` ' +
  'message whose prevVersion is not your version means a gap: reconnect (SSE) or send ' +
  '{"type":"snapshot"} (WebSocket) for a fresh snapshot. See docs/REALTIME.md.';

/** Live seat-map routes under /api/v1/events/:eventId. */
export async function liveRoutes(app: App, ctx: AppContext): Promise<void> {
  // Anyone may watch, so the per-owner cap counts client addresses.
  const slots = new StreamSlots('live', {
    nodeFull: 'live_node_full', ownerOver: 'live_too_many_streams', owner: 'address',
  });
  const open = new Set<LiveClient>();
  const admitted = new WeakMap<IncomingMessage, Admitted>();
  app.addHook('preClose', async () => {
    for (const client of [...open]) client.end();
    await liveHub(ctx).close();
  });

  app.get(
    '/api/v1/events/:eventId/live',
    {
      // Never compress an event stream: frames would sit in the compressor's buffer.
      config: { compress: false },
      schema: {
        tags, params: EventParams,
        summary: 'Server-Sent Events of the live seat map and availability',
        description: `${messagesDescription} Each message's id is its version; reconnect ` +
          'with Last-Event-ID to get only what you missed (or a snapshot when this node ' +
          'no longer has it). Heartbeats are comment lines. A client that lets more than ' +
          'LIVE_MAX_BUFFERED_BYTES pile up is dropped.',
        response: { 200: Type.String({ description: 'text/event-stream' }),
          ...problemResponses(404, 429, 503) },
      },
    },
    async (request, reply) => {
      const { eventId } = request.params;
      const ready = await admit(ctx, slots, request, reply, eventId);
      openSse(ctx, eventId, ready, request, reply, open);
    },
  );

  app.route({
    method: 'GET',
    url: '/api/v1/events/:eventId/ws',
    preHandler: async (request, reply) => {
      // Only an upgrade takes a slot; a plain GET is answered 426 by the handler below.
      if (request.headers.upgrade?.toLowerCase() !== 'websocket') return;
      const { eventId } = request.params as { eventId: string };
      admitted.set(request.raw, await admit(ctx, slots, request, reply, eventId));
    },
    schema: {
      tags, params: EventParams,
      summary: 'WebSocket of the live seat map and availability',
      description: `${messagesDescription} One JSON text frame per message: ` +
        '{"type": "<message>", ...}. The server pings; a client that lets more than ' +
        'LIVE_MAX_BUFFERED_BYTES pile up is dropped. Without an Upgrade header: 426.',
      response: { 101: Type.Null({ description: 'switching protocols' }),
        ...problemResponses(404, 426, 429, 503) },
    },
    handler: async () => {
      throw new DomainError('upgrade_required',
        'this is a WebSocket endpoint; connect with a WebSocket client (or use /live for SSE)');
    },
    wsHandler: (socket, request) => {
      const ready = admitted.get(request.raw);
      if (ready === undefined) {
        socket.close(1011, 'not prepared');
        return;
      }
      openWebSocket(ctx, (request.params as { eventId: string }).eventId, ready, socket, open);
    },
  });
}
