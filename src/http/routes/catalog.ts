/** Venues, events, search and seat maps. */
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import {
  EventDetails, EventInput, SearchPage, SearchQuery, SeatMap, Venue, VenueInput,
} from '../../catalog/schemas.js';
import { cancelEvent } from '../../catalog/cancel.js';
import { createEvent, getEvent } from '../../catalog/events.js';
import { PublicReadCache } from '../../catalog/publicReads.js';
import { searchEvents } from '../../catalog/search.js';
import { createVenue, getVenue } from '../../catalog/venues.js';
import { limits } from '../../config/limits.js';
import type { AppContext } from '../../context.js';
import { SeatMapCache } from '../../inventory/seatmap-cache.js';
import { DomainError } from '../../core/errors.js';
import { refundCancelledEvents } from '../../orders/eventRefunds.js';
import { bookingDeps } from '../../orders/workers.js';
import { displayRead } from '../../storage/replica.js';
import { adminAuth, bearerSecurity } from '../auth.js';
import { problemResponses } from '../problem.js';
import type { App } from '../types.js';

const VenueParams = Type.Object({ venueId: Type.String({ maxLength: 100 }) });
const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });

/** Catalog routes under /api/v1. */
export async function catalogRoutes(app: App, ctx: AppContext): Promise<void> {
  const admin = adminAuth(ctx);
  const cache = new PublicReadCache({
    ttlMs: ctx.config.http.publicReadCacheMs, maxEntries: limits.publicReadCacheEntries,
  });
  // Public reads get their own per-address budget (the app-wide limit counts writes only):
  // generous, and one budget for the event page and search together.
  const readLimiter = app.createRateLimit({
    max: ctx.config.http.readsPerIpPerMinute, timeWindow: 60_000,
    keyGenerator: (request) => `reads:${request.ip}`, allowList: () => false,
  });
  const readLimit = async (request: FastifyRequest): Promise<void> => {
    const verdict = await readLimiter(request);
    if (verdict.isAllowed || !verdict.isExceeded) return;
    throw new DomainError('rate_limited', `too many reads; retry in ${verdict.ttlInSeconds} s`,
      { retryAfterSeconds: Math.max(1, verdict.ttlInSeconds) });
  };
  app.post(
    '/api/v1/venues',
    {
      onRequest: admin,
      schema: {
        tags: ['catalog'], summary: 'Create a venue', security: bearerSecurity,
        body: VenueInput, response: { 201: Venue, ...problemResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => reply.status(201).send(await createVenue(ctx.db, request.body)),
  );
  app.get(
    '/api/v1/venues/:venueId',
    {
      schema: {
        tags: ['catalog'], summary: 'A venue and its layout', params: VenueParams,
        response: { 200: Venue, ...problemResponses(404) },
      },
    },
    async (request) => await getVenue(ctx.db, request.params.venueId),
  );
  app.post(
    '/api/v1/events',
    {
      onRequest: admin,
      schema: {
        tags: ['catalog'], summary: 'Create an event and its tickets', security: bearerSecurity,
        body: EventInput, response: { 201: EventDetails, ...problemResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createEvent(ctx.db, ctx.clock, request.body)),
  );
  app.get(
    '/api/v1/events',
    {
      compress: {},
      onRequest: readLimit,
      schema: {
        tags: ['catalog'], summary: 'Search events', querystring: SearchQuery,
        description: 'Served from a per-node cache up to PUBLIC_READ_CACHE_MS (1 s) old. '
          + 'Limited per address (RATE_LIMIT_READS_PER_IP, shared with the event page).',
        response: { 200: SearchPage, ...problemResponses(400, 429) },
      },
    },
    async (request) => await cache.search(request.query,
      () => displayRead(ctx, (db) => searchEvents(db, ctx.clock, request.query))),
  );
  app.get(
    '/api/v1/events/:eventId',
    {
      onRequest: readLimit,
      schema: {
        tags: ['catalog'], summary: 'Event details with live availability', params: EventParams,
        description: 'Served from a per-node cache up to PUBLIC_READ_CACHE_MS (1 s) old, so '
          + 'availability may lag that much; the node that cancels an event drops its entry '
          + 'at once. Limited per address (RATE_LIMIT_READS_PER_IP, shared with search).',
        response: { 200: EventDetails, ...problemResponses(404, 429) },
      },
    },
    async (request) => await cache.event(request.params.eventId,
      () => displayRead(ctx, (db) => getEvent(db, ctx.clock, request.params.eventId))),
  );
  app.post(
    '/api/v1/events/:eventId/cancel',
    {
      onRequest: admin,
      schema: {
        tags: ['catalog'], summary: 'Cancel an event (idempotent)', security: bearerSecurity,
        description: 'Sales stop at once and live seat-map streams end with an `end` message. '
          + 'Every confirmed order is cancelled and refunded: a first batch before this '
          + 'answers, the rest by the maintenance leader within seconds (resumable, '
          + 'idempotent). Ticket holders and the waitlist get an `event.cancelled` notice.',
        params: EventParams, response: { 200: EventDetails, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => {
      await cancelEvent(ctx.db, request.params.eventId);
      cache.invalidateEvent(request.params.eventId);
      // Refund a first batch now; the maintenance leader refunds the rest (and resumes
      // after a crash), so a big event does not hold this request.
      await refundCancelledEvents(bookingDeps(ctx), { eventId: request.params.eventId });
      return await getEvent(ctx.db, ctx.clock, request.params.eventId);
    },
  );
  // Snapshots from the standby when there is one; its `version` says which live deltas
  // apply on top, so a lagging snapshot is caught up by the stream like a cached one.
  const seatMaps = new SeatMapCache(ctx.readDb ?? ctx.db, ctx.clock);
  const primarySeatMaps = ctx.readDb === undefined
    ? seatMaps
    : new SeatMapCache(ctx.db, ctx.clock);
  const seatMap = async (eventId: string) => {
    try {
      return await seatMaps.get(eventId);
    } catch (error) {
      if (seatMaps === primarySeatMaps) throw error;
      if (error instanceof DomainError && error.code !== 'not_found') throw error;
      return await primarySeatMaps.get(eventId);
    }
  };
  app.get(
    '/api/v1/events/:eventId/seatmap',
    {
      schema: {
        tags: ['catalog'],
        summary: 'Live seat map',
        description: 'Served from a per-node cache at most 250 ms old; `version` says which ' +
          'live deltas apply on top. gzip when the client accepts it.',
        params: EventParams,
        response: { 200: SeatMap, ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      const map = await seatMap(request.params.eventId);
      // Pre-serialized text is sent as-is (Fastify skips serializing strings and buffers);
      // the response schema still documents the shape.
      reply.header('content-type', 'application/json; charset=utf-8');
      reply.header('vary', 'accept-encoding');
      const gzip = /\bgzip\b/.test(request.headers['accept-encoding'] ?? '');
      if (gzip) reply.header('content-encoding', 'gzip');
      return reply.send((gzip ? map.gzipped : map.json) as unknown as SeatMap);
    },
  );
}
