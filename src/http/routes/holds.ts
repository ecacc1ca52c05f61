/** Holds: create (seats or best available), read, list, release, extend, check out. */
import { Type } from 'typebox';
import { EventCache } from '../../catalog/eventCache.js';
import type { EventRecord } from '../../catalog/events.js';
import type { AppContext } from '../../context.js';
import { DomainError } from '../../core/errors.js';
import { createHold, extendHold, getHold, listHolds, releaseHold } from '../../holds/holds.js';
import { assertSaleMayBeOpen } from '../../holds/saleWindow.js';
import { Hold, HoldInput, HoldList } from '../../holds/schemas.js';
import { checkout } from '../../orders/checkout.js';
import { CheckoutInput, Order } from '../../orders/schemas.js';
import { bookingDeps } from '../../orders/workers.js';
import { assertMayHold } from '../../queue/gate.js';
import { bearerSecurity, customerAuth } from '../auth.js';
import {
  OptionalIdempotencyHeaders, RequiredIdempotencyHeaders, sendIdempotent,
} from '../idempotency.js';
import { problemResponses } from '../problem.js';
import { bookingRateLimit, holdRateLimit } from '../ratelimit.js';
import type { App } from '../types.js';

const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });
const HoldParams = Type.Object({ holdId: Type.String({ maxLength: 100 }) });
const HoldHeaders = Type.Object({
  ...OptionalIdempotencyHeaders.properties,
  'x-queue-pass': Type.Optional(Type.String({ maxLength: 4_000 })),
});

/** Hold routes under /api/v1. */
export async function holdRoutes(app: App, ctx: AppContext): Promise<void> {
  const customer = customerAuth(ctx);
  // Per node, about a second: a cancellation reaches hold creation that late at most (its
  // checkout re-checks in its own transaction). Refusals are decided on a fresh read.
  const events = new EventCache(ctx.db, ctx.clock);
  const passGates = async (
    event: EventRecord, customerId: string, pass: string | undefined,
  ): Promise<void> => {
    assertSaleMayBeOpen(event, ctx.clock.nowMs());
    await assertMayHold(ctx, event, customerId, pass);
  };
  app.post(
    '/api/v1/events/:eventId/holds',
    {
      onRequest: customer,
      preHandler: holdRateLimit(ctx),
      schema: {
        tags: ['holds'], summary: 'Hold seats, or N tickets of a zone (best available)',
        description: 'All or nothing. On an event with a queue, send the X-Queue-Pass header.',
        security: bearerSecurity, params: EventParams, headers: HoldHeaders, body: HoldInput,
        response: { 201: Hold, ...problemResponses(400, 401, 403, 404, 409, 413, 422, 429) },
      },
    },
    async (request, reply) => {
      // Gates first, outside the idempotency record: their refusals are retryable (the
      // sale opens, a pass arrives), so they must not be stored against the key.
      const pass = request.headers['x-queue-pass'];
      const found = await events.lookup(request.params.eventId);
      let event = found.event;
      try {
        await passGates(event, request.customerId, pass);
      } catch (error) {
        if (!(error instanceof DomainError) || !found.cached) throw error;
        // Never refuse on a cached record: the sale may have opened, the queue changed.
        event = await events.refresh(request.params.eventId);
        await passGates(event, request.customerId, pass);
      }
      return await sendIdempotent(ctx, request, reply, async (finish) => ({
        status: 201,
        body: await createHold(ctx.db, event, request.customerId, request.body,
          finish === undefined ? undefined
            : async (tx, hold) => await finish(tx, { status: 201, body: hold }),
          ctx.unguarded),
      }));
    },
  );
  app.get(
    '/api/v1/holds/:holdId',
    {
      onRequest: customer,
      schema: {
        tags: ['holds'], summary: 'A hold (owner only)', security: bearerSecurity,
        params: HoldParams, response: { 200: Hold, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => await getHold(ctx.db, request.customerId, request.params.holdId),
  );
  app.get(
    '/api/v1/me/holds',
    {
      onRequest: customer,
      schema: {
        tags: ['holds'], summary: "The customer's live holds", security: bearerSecurity,
        response: { 200: HoldList, ...problemResponses(401, 403) },
      },
    },
    async (request) => ({ data: await listHolds(ctx.db, request.customerId) }),
  );
  app.delete(
    '/api/v1/holds/:holdId',
    {
      onRequest: customer,
      preHandler: bookingRateLimit(ctx, 'release'),
      schema: {
        tags: ['holds'], summary: 'Release a hold now', security: bearerSecurity,
        params: HoldParams,
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      await releaseHold(ctx.db, request.customerId, request.params.holdId);
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/api/v1/holds/:holdId/extend',
    {
      onRequest: customer,
      preHandler: bookingRateLimit(ctx, 'extend'),
      schema: {
        tags: ['holds'], summary: "Extend a hold once by the event's allowance",
        security: bearerSecurity, params: HoldParams,
        response: { 200: Hold, ...problemResponses(401, 403, 404, 409, 429) },
      },
    },
    async (request) => await extendHold(ctx.db, request.customerId, request.params.holdId),
  );
  app.post(
    '/api/v1/holds/:holdId/checkout',
    {
      onRequest: customer,
      preHandler: bookingRateLimit(ctx, 'checkout'),
      schema: {
        tags: ['orders'], summary: 'Check out a hold: order, payment, tickets',
        description: 'Idempotency-Key is required; a retry with it returns the first reply.',
        security: bearerSecurity, params: HoldParams, headers: RequiredIdempotencyHeaders,
        body: CheckoutInput,
        response: { 201: Order, ...problemResponses(400, 401, 403, 404, 409, 413, 429) },
      },
    },
    async (request, reply) => await sendIdempotent(ctx, request, reply, async () => ({
      status: 201,
      body: await checkout(bookingDeps(ctx), {
        customerId: request.customerId, holdId: request.params.holdId,
        paymentMethod: request.body.paymentMethod,
      }),
    })),
  );
}
