/**
 * Authentication hooks. Customer tokens are verified from their signature alone; the admin
 * token is compared in constant time. Missing or invalid credentials answer 401; valid
 * credentials of the wrong kind answer 403.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { secretsEqual } from '../customers/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated customer, set by the customer hook. */
    customerId: string;
  }
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,1000})$/.exec(header);
  return match?.[1];
}

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** onRequest hook: requires a valid customer token and sets request.customerId. */
export function customerAuth(ctx: AppContext): Hook {
  return async (request) => {
    const token = bearerToken(request);
    if (token === undefined) throw new DomainError('unauthorized', 'a customer token is required');
    const customerId = ctx.tokens.verify(token);
    if (customerId === undefined) {
      const isAdmin = secretsEqual(token, ctx.secrets.adminToken);
      if (isAdmin) throw new DomainError('forbidden', 'this route takes a customer token');
      throw new DomainError('unauthorized', 'invalid or expired token');
    }
    request.customerId = customerId;
  };
}

/** onRequest hook: requires the admin token. */
export function adminAuth(ctx: AppContext): Hook {
  return async (request) => {
    const token = bearerToken(request);
    if (token === undefined) throw new DomainError('unauthorized', 'the admin token is required');
    if (secretsEqual(token, ctx.secrets.adminToken)) return;
    if (ctx.tokens.verify(token) !== undefined) {
      throw new DomainError('forbidden', 'this route is for organizers');
    }
    throw new DomainError('unauthorized', 'invalid admin token');
  };
}

/** True when the request carries the admin token (for owner-or-admin routes). */
export function isAdminRequest(ctx: AppContext, request: FastifyRequest): boolean {
  const token = bearerToken(request);
  return token !== undefined && secretsEqual(token, ctx.secrets.adminToken);
}

/** OpenAPI security requirement for both kinds of bearer token. */
export const bearerSecurity = [{ bearerAuth: [] }];
