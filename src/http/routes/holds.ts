/** Holds: create (seats or best available), read, list, release, extend, check out. */
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { extendHold, getHold, listHolds, releaseHold } from '../../holds/holds.js';
import { HoldDesk } from '../../holds/place.js';
import { Hold, HoldInput, HoldList } from '../../holds/schemas.js';
import { checkout } from '../../orders/checkout.js';
import { CheckoutInput, Order } from '../../orders/schemas.js';
import { bookingDeps } from '../../orders/workers.js';
import { unguardedOffers } from '../../waitlist/offers.js';
import { bearerSecurity, customerAuth } from '../auth.js';
import {
  idempotencyScope, OptionalIdempotencyHeaders, RequiredIdempotencyHeaders,
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
  // A new fan's token version is compared in the hold batch, not read before it.
  const holdCustomer = customerAuth(ctx, { deferVersion: true });
  const desk = new HoldDesk(ctx);
  app.addHook('onClose', async () => desk.close());
  const offersControl = unguardedOffers(ctx);
  app.post(
    '/api/v1/events/:eventId/holds',
    {
      onRequest: holdCustomer,
      // The app-wide address budget is taken here too, with the hold's own buckets.
      preHandler: holdRateLimit(ctx),
      config: { writeLimit: 'own' },
      schema: {
        tags: ['holds'], summary: 'Hold seats, or N tickets of a zone (best available)',
        description: 'All or nothing. On an event with a queue, send the X-Queue-Pass header. '
          + '503 `service_unavailable` (with Retry-After and `reason: "store_busy"`): the '
          + 'store\'s hold queue for the event is too deep to answer in time; nothing was '
          + 'decided, the pass and the fan\'s place are kept, retry after Retry-After. A '
          + 'retry whose Idempotency-Key already has a recorded reply gets that reply, busy '
          + 'or not, whether or not its queue pass is still valid, and once the sale is over.',
        security: bearerSecurity, params: EventParams, headers: HoldHeaders, body: HoldInput,
        response: {
          201: Hold, ...problemResponses(400, 401, 403, 404, 409, 413, 422, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const key = request.headers['idempotency-key'];
      const placed = await desk.place({
        eventId: request.params.eventId, customerId: request.customerId,
        pass: request.headers['x-queue-pass'], input: request.body,
        ...(key === undefined ? {} : { idempotency: idempotencyScope(request, key) }),
        ...(request.uncheckedTokenVersion === undefined ? {}
          : { tokenVersion: request.uncheckedTokenVersion }),
        elapsedMs: () => reply.elapsedTime,
      });
      if (placed.replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(201).send(placed.hold);
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
      await releaseHold(ctx.db, request.customerId, request.params.holdId, offersControl);
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
    async (request, reply) => {
      const done = await checkout(bookingDeps(ctx), {
        customerId: request.customerId, holdId: request.params.holdId,
        paymentMethod: request.body.paymentMethod,
        idempotency: idempotencyScope(request, request.headers['idempotency-key']),
      });
      if (done.replayed) reply.header('idempotent-replayed', 'true');
      return reply.status(201).send(done.order);
    },
  );
}
