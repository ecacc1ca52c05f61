/** Registration and login. */
import type { AppContext } from '../../context.js';
import { authenticateCustomer, registerCustomer } from '../../customers/accounts.js';
import { LoginInput, RegisterInput, Session } from '../../customers/schemas.js';
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
}
