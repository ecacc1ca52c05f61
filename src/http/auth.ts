/**
 * Authentication hooks. Customer tokens are verified from their signature alone; the admin
 * token is compared in constant time. Missing or invalid credentials answer 401; valid
 * credentials of the wrong kind answer 403.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { tokenVersions, TokenRevoked } from '../customers/tokenVersions.js';
import { secretsEqual } from '../customers/tokens.js';
import { checkCheckinToken, CheckinTokenSigner } from '../orders/checkinTokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated customer, set by the customer hook. */
    customerId: string;
    /**
     * Set only by a customer hook that left the revocation check to the route's domain
     * decision (`deferVersion`): the token's version, still to be compared with the
     * customer's current one before anything changes.
     */
    uncheckedTokenVersion?: number;
  }
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,1000})$/.exec(header);
  return match?.[1];
}

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Per-context singleton: one door-token signer per app. */
const doorSigners = new WeakMap<AppContext, CheckinTokenSigner>();

export { tokenVersions };

/** The context's signer of door staff check-in tokens. */
export function checkinSigner(ctx: AppContext): CheckinTokenSigner {
  let signer = doorSigners.get(ctx);
  if (signer === undefined) {
    signer = new CheckinTokenSigner(ctx.secrets.secret);
    doorSigners.set(ctx, signer);
  }
  return signer;
}

/** The 403 or 401 for a token that is not a customer's. */
function notACustomer(ctx: AppContext, token: string): DomainError {
  if (secretsEqual(token, ctx.secrets.adminToken)
    || checkinSigner(ctx).read(token) !== undefined) {
    return new DomainError('forbidden', 'this route takes a customer token');
  }
  return new DomainError('unauthorized', 'invalid or expired token');
}

/**
 * onRequest hook: requires a valid customer token, not revoked (its version is the
 * customer's current one), and sets request.customerId.
 *
 * With `deferVersion`, a customer whose version this node has not cached is let through
 * with `request.uncheckedTokenVersion` set instead of waiting for a read: the route's
 * domain decision must compare it before changing anything (the hold batch does, in the
 * statement that decides the hold). A cached version is still checked here.
 */
export function customerAuth(ctx: AppContext, options: { deferVersion?: boolean } = {}): Hook {
  const versions = tokenVersions(ctx);
  return async (request) => {
    const token = bearerToken(request);
    if (token === undefined) throw new DomainError('unauthorized', 'a customer token is required');
    const claims = ctx.tokens.verifyClaims(token);
    if (claims === undefined) throw notACustomer(ctx, token);
    const cached = versions.cached(claims.customerId);
    if (cached === undefined && options.deferVersion === true) {
      request.customerId = claims.customerId;
      request.uncheckedTokenVersion = claims.version;
      return;
    }
    if (claims.version < (cached ?? await versions.current(claims.customerId))) {
      throw new TokenRevoked();
    }
    request.customerId = claims.customerId;
  };
}

/** onRequest hook: requires the admin token. */
export function adminAuth(ctx: AppContext): Hook {
  return async (request) => {
    const token = bearerToken(request);
    if (token === undefined) throw new DomainError('unauthorized', 'the admin token is required');
    if (secretsEqual(token, ctx.secrets.adminToken)) return;
    if (ctx.tokens.verify(token) !== undefined || checkinSigner(ctx).read(token) !== undefined) {
      throw new DomainError('forbidden', 'this route is for organizers');
    }
    throw new DomainError('unauthorized', 'invalid admin token');
  };
}

/**
 * onRequest hook for the door routes of `/events/:eventId/...`: the admin token, or a live
 * check-in token of this very event. A check-in token of another event, or a customer
 * token, is 403.
 */
export function doorAuth(ctx: AppContext): Hook {
  const signer = checkinSigner(ctx);
  return async (request) => {
    const token = bearerToken(request);
    if (token === undefined) {
      throw new DomainError('unauthorized', 'a check-in or admin token is required');
    }
    if (secretsEqual(token, ctx.secrets.adminToken)) return;
    const eventId = (request.params as { eventId?: unknown }).eventId;
    if (signer.read(token) !== undefined && typeof eventId === 'string') {
      const verdict = await checkCheckinToken(ctx.db, signer, token, eventId, ctx.clock);
      if (verdict === 'ok') return;
      if (verdict === 'elsewhere') {
        throw new DomainError('forbidden', 'this check-in token is for another event');
      }
      throw new DomainError('unauthorized', 'this check-in token was revoked or has expired');
    }
    if (ctx.tokens.verify(token) !== undefined) {
      throw new DomainError('forbidden', 'this route is for door staff and organizers');
    }
    throw new DomainError('unauthorized', 'invalid token');
  };
}

/** True when the request carries the admin token (for owner-or-admin routes). */
export function isAdminRequest(ctx: AppContext, request: FastifyRequest): boolean {
  const token = bearerToken(request);
  return token !== undefined && secretsEqual(token, ctx.secrets.adminToken);
}

/** OpenAPI security requirement for both kinds of bearer token. */
export const bearerSecurity = [{ bearerAuth: [] }];
