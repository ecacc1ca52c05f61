/** The waitlist: join an event's, list mine, leave. Offers arrive as holds (/me/holds). */
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { WaitlistEntry, WaitlistJoinInput, WaitlistList } from '../../waitlist/schemas.js';
import { joinWaitlist, leaveWaitlist, listWaitlist } from '../../waitlist/waitlist.js';
import { bearerSecurity, customerAuth } from '../auth.js';
import { problemResponses } from '../problem.js';
import { customerRateLimit, perMinute } from '../ratelimit.js';
import type { App } from '../types.js';

const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });
const tags = ['waitlist'];

/** Waitlist routes under /api/v1. */
export async function waitlistRoutes(app: App, ctx: AppContext): Promise<void> {
  const customer = customerAuth(ctx);
  const writes = customerRateLimit(ctx, 'waitlist',
    perMinute(ctx.config.http.bookingWritesPerCustomerPerMinute));
  app.post(
    '/api/v1/events/:eventId/waitlist',
    {
      onRequest: customer,
      preHandler: writes,
      schema: {
        tags, summary: "Join the event's waitlist (idempotent per customer)",
        description: 'Open while the wanted zone (any zone without one) cannot sell the ' +
          'quantity. When tickets come back, the earliest entry they can serve in full gets ' +
          'an offer: a hold made for the fan (listed in /me/holds with offer: true), bought ' +
          'through the normal checkout. 201 when added, 200 with the entry unchanged when ' +
          'already waiting or offered.',
        security: bearerSecurity, params: EventParams, body: WaitlistJoinInput,
        response: {
          200: WaitlistEntry, 201: WaitlistEntry,
          ...problemResponses(400, 401, 403, 404, 409, 413, 422, 429),
        },
      },
    },
    async (request, reply) => {
      const { entry, created } = await joinWaitlist(ctx, {
        customerId: request.customerId, eventId: request.params.eventId,
        zone: request.body.zone, quantity: request.body.quantity,
      }, { requireSoldOut: true });
      return reply.status(created ? 201 : 200).send(entry);
    },
  );
  app.get(
    '/api/v1/me/waitlist',
    {
      onRequest: customer,
      schema: {
        tags, summary: "The customer's waitlist entries, newest first", security: bearerSecurity,
        response: { 200: WaitlistList, ...problemResponses(401, 403) },
      },
    },
    async (request) => ({ data: await listWaitlist(ctx.db, request.customerId) }),
  );
  app.delete(
    '/api/v1/events/:eventId/waitlist',
    {
      onRequest: customer,
      preHandler: writes,
      schema: {
        tags, summary: "Leave the event's waitlist (a live offer is released to the next fan)",
        security: bearerSecurity, params: EventParams,
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      await leaveWaitlist(ctx, request.customerId, request.params.eventId);
      return reply.status(204).send(null);
    },
  );
}
