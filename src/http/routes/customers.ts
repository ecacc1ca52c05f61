/** Registration, login and logout. */
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import {
  authenticateCustomer, registerCustomer, registerCustomersInBulk,
} from '../../customers/accounts.js';
import {
  BulkRegistered, BulkRegisterInput, LoginInput, RegisterInput, Session,
} from '../../customers/schemas.js';
import { adminAuth, bearerSecurity, customerAuth, tokenVersions } from '../auth.js';
import { problemResponses } from '../problem.js';
import { authRateLimit, loginAttemptLimit } from '../ratelimit.js';
import type { App } from '../types.js';

/** POST /api/v1/customers and POST /api/v1/sessions. */
export async function customerRoutes(app: App, ctx: AppContext): Promise<void> {
  // The node's token-version cache listens for other nodes' revocations until it closes.
  app.addHook('onClose', async () => {
    await tokenVersions(ctx).close();
  });
  app.post(
    '/api/v1/customers',
    {
      preHandler: authRateLimit(ctx),
      schema: {
        tags: ['customers'], summary: 'Register a customer',
        body: RegisterInput,
        response: { 201: Session, ...problemResponses(400, 409, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const customerId = await registerCustomer(ctx.db, request.body);
      return reply.status(201).send({ customerId, token: ctx.tokens.issue(customerId) });
    },
  );
  app.post(
    '/api/v1/sessions',
    {
      preHandler: [authRateLimit(ctx), loginAttemptLimit(ctx)],
      schema: {
        tags: ['customers'], summary: 'Log in',
        body: LoginInput,
        description: 'At most a few attempts per e-mail address per quarter hour; then 429 '
          + 'with Retry-After (other accounts are unaffected).',
        response: { 200: Session, ...problemResponses(400, 401, 413, 429, 503) },
      },
    },
    async (request) => {
      const { customerId, tokenVersion } = await authenticateCustomer(ctx.db, request.body);
      return { customerId, token: ctx.tokens.issue(customerId, tokenVersion) };
    },
  );
  app.delete(
    '/api/v1/sessions',
    {
      onRequest: customerAuth(ctx),
      schema: {
        tags: ['customers'], summary: 'Log out everywhere: revoke every token of the customer',
        description: 'The token sent and every other token of this customer stop working at '
          + 'once on this node and within a few seconds on every node; log in for a new one.',
        security: bearerSecurity,
        response: { 204: Type.Null(), ...problemResponses(401, 403) },
      },
    },
    async (request, reply) => {
      await tokenVersions(ctx).revokeAll(request.customerId);
      return reply.status(204).send(null);
    },
  );
  app.post(
    '/api/v1/admin/customers/bulk',
    {
      onRequest: adminAuth(ctx),
      schema: {
        tags: ['customers'], summary: 'Register many customers sharing one password (imports)',
        security: bearerSecurity, body: BulkRegisterInput,
        response: { 201: BulkRegistered, ...problemResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => {
      const { password, customers } = request.body;
      const created = await registerCustomersInBulk(ctx.db, password, customers);
      const data = [...created].map(([email, customerId]) => ({
        customerId, email, token: ctx.tokens.issue(customerId),
      }));
      return reply.status(201).send({ data, skipped: customers.length - data.length });
    },
  );
}
