/** Registration and login. */
import type { AppContext } from '../../context.js';
import {
  authenticateCustomer, registerCustomer, registerCustomersInBulk,
} from '../../customers/accounts.js';
import {
  BulkRegistered, BulkRegisterInput, LoginInput, RegisterInput, Session,
} from '../../customers/schemas.js';
import { adminAuth, bearerSecurity } from '../auth.js';
import { problemResponses } from '../problem.js';
import type { App } from '../types.js';

/** POST /api/v1/customers and POST /api/v1/sessions. */
export async function customerRoutes(app: App, ctx: AppContext): Promise<void> {
  app.post(
    '/api/v1/customers',
    {
      schema: {
        tags: ['customers'], summary: 'Register a customer',
        body: RegisterInput,
        response: { 201: Session, ...problemResponses(400, 409, 413, 429) },
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
      schema: {
        tags: ['customers'], summary: 'Log in',
        body: LoginInput,
        response: { 200: Session, ...problemResponses(400, 401, 413, 429) },
      },
    },
    async (request) => {
      const customerId = await authenticateCustomer(ctx.db, request.body);
      return { customerId, token: ctx.tokens.issue(customerId) };
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
