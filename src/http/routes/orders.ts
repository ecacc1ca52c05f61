/** Orders (read, list, cancel), door check-in and the organizer's check-in tokens. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { cancelOrder } from '../../orders/cancel.js';
import {
  createCheckinToken, listCheckinTokens, revokeCheckinToken,
} from '../../orders/checkinTokens.js';
import { checkIn, doorTally } from '../../orders/checkins.js';
import { getOrder, listOrders, type Viewer } from '../../orders/orders.js';
import {
  Checkin, CheckinInput, CheckinTokenInput, CheckinTokenList, CreatedCheckinToken, DoorTally,
  Order, OrderList,
} from '../../orders/schemas.js';
import { bookingDeps } from '../../orders/workers.js';
import {
  adminAuth, bearerSecurity, checkinSigner, customerAuth, doorAuth, isAdminRequest,
} from '../auth.js';
import { problemResponses } from '../problem.js';
import { bookingRateLimit } from '../ratelimit.js';
import type { App } from '../types.js';

const OrderParams = Type.Object({ orderId: Type.String({ maxLength: 100 }) });
const EventParams = Type.Object({ eventId: Type.String({ maxLength: 100 }) });
const TokenParams = Type.Object({
  eventId: Type.String({ maxLength: 100 }), tokenId: Type.String({ maxLength: 100 }),
});

/** onRequest hook for owner-or-admin routes: the admin token passes, else a customer token. */
function ownerOrAdmin(ctx: AppContext) {
  const customer = customerAuth(ctx);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (isAdminRequest(ctx, request)) return;
    await customer(request, reply);
  };
}

function viewerOf(ctx: AppContext, request: FastifyRequest): Viewer {
  return isAdminRequest(ctx, request) ? { admin: true } : { customerId: request.customerId };
}

/** Order routes under /api/v1. */
export async function orderRoutes(app: App, ctx: AppContext): Promise<void> {
  const customer = customerAuth(ctx);
  const owner = ownerOrAdmin(ctx);
  app.get(
    '/api/v1/orders/:orderId',
    {
      onRequest: owner,
      schema: {
        tags: ['orders'], summary: 'An order with its tickets (owner or organizer)',
        security: bearerSecurity, params: OrderParams,
        response: { 200: Order, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => await getOrder(ctx.db, request.params.orderId, viewerOf(ctx, request)),
  );
  app.get(
    '/api/v1/me/orders',
    {
      onRequest: customer,
      schema: {
        tags: ['orders'], summary: "The customer's orders", security: bearerSecurity,
        response: { 200: OrderList, ...problemResponses(401, 403) },
      },
    },
    async (request) => ({ data: await listOrders(ctx.db, request.customerId) }),
  );
  app.post(
    '/api/v1/orders/:orderId/cancel',
    {
      onRequest: owner,
      preHandler: bookingRateLimit(ctx, 'cancel'),
      schema: {
        tags: ['orders'], summary: 'Cancel an order: refund, tickets back to the pool',
        description: 'A fan is refused 409 not_cancellable once a ticket was scanned or the '
          + 'event started; an organizer may still refund (scanned seats stay sold).',
        security: bearerSecurity, params: OrderParams,
        response: { 200: Order, ...problemResponses(401, 403, 404, 409, 429) },
      },
    },
    async (request) =>
      await cancelOrder(bookingDeps(ctx), request.params.orderId, viewerOf(ctx, request)),
  );
  app.post(
    '/api/v1/events/:eventId/checkins',
    {
      onRequest: doorAuth(ctx),
      schema: {
        tags: ['orders'], summary: 'Check a ticket code in (first scan only)',
        description: 'Takes the admin token or a check-in token of this event.',
        security: bearerSecurity, params: EventParams, body: CheckinInput,
        response: { 200: Checkin, ...problemResponses(400, 401, 403, 404, 409, 413) },
      },
    },
    async (request) => await checkIn(ctx.db, request.params.eventId, request.body.code),
  );
  app.get(
    '/api/v1/events/:eventId/checkins/summary',
    {
      onRequest: doorAuth(ctx),
      schema: {
        tags: ['orders'], summary: "The door's tally: valid tickets and how many are in",
        description: 'Takes the admin token or a check-in token of this event.',
        security: bearerSecurity, params: EventParams,
        response: { 200: DoorTally, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => await doorTally(ctx.db, request.params.eventId),
  );
  await checkinTokenRoutes(app, ctx);
}

/** The organizer's check-in tokens for door staff: create, list, revoke. */
async function checkinTokenRoutes(app: App, ctx: AppContext): Promise<void> {
  const admin = adminAuth(ctx);
  const url = '/api/v1/admin/events/:eventId/checkin-tokens';
  app.post(
    url,
    {
      onRequest: admin,
      schema: {
        tags: ['admin'], summary: 'Create a check-in token for door staff of one event',
        description: 'The token can only check tickets in at this event (and read its door '
          + 'tally). It is shown once, in this reply; revoke it with DELETE.',
        security: bearerSecurity, params: EventParams, body: CheckinTokenInput,
        response: { 201: CreatedCheckinToken, ...problemResponses(400, 401, 403, 404, 413) },
      },
    },
    async (request, reply) => reply.status(201).send(await createCheckinToken(ctx.db,
      checkinSigner(ctx), request.params.eventId, request.body)),
  );
  app.get(
    url,
    {
      onRequest: admin,
      schema: {
        tags: ['admin'], summary: "An event's check-in tokens (without the tokens)",
        security: bearerSecurity, params: EventParams,
        response: { 200: CheckinTokenList, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => ({ data: await listCheckinTokens(ctx.db, request.params.eventId) }),
  );
  app.delete(
    `${url}/:tokenId`,
    {
      onRequest: admin,
      schema: {
        tags: ['admin'], summary: 'Revoke a check-in token at once',
        security: bearerSecurity, params: TokenParams,
        response: { 204: Type.Null(), ...problemResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await revokeCheckinToken(ctx.db, request.params.eventId, request.params.tokenId);
      return reply.status(204).send(null);
    },
  );
}
