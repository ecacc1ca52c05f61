/**
 * Per-customer and per-address rate limits for write routes (queue joins, holds, checkout,
 * extend, release, cancel), on
 * the coordinator's token buckets: shared by every node through Redis when REDIS_URL is
 * set, in-process otherwise. A bucket holds a minute's allowance and refills continuously,
 * so a fan may burst a little and then is paced; a refusal is 429 `rate_limited` with
 * `Retry-After`.
 *
 * Limits fail open: if the coordinator is unreachable the request goes through (logged).
 * They protect capacity; refusing every fan because Redis blinked would be the outage.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { AppContext } from '../context.js';
import type { BucketLimit } from '../coord/index.js';
import { DomainError } from '../core/errors.js';

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** A minute's allowance as a token bucket. */
export function perMinute(count: number): BucketLimit {
  return { capacity: count, refillPerSecond: count / 60 };
}

async function take(ctx: AppContext, bucket: string, limit: BucketLimit): Promise<void> {
  let result;
  try {
    result = await ctx.coord.consume(bucket, limit);
  } catch (error) {
    ctx.logger.warn({ err: error, bucket }, 'rate limit unavailable; request allowed');
    return;
  }
  if (result.allowed) return;
  const retryAfterSeconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
  throw new DomainError('rate_limited', `too many requests; retry in ${retryAfterSeconds} s`, {
    retryAfterSeconds,
  });
}

/**
 * A hook limiting `name` per authenticated customer. Use it after the customer auth hook
 * (as a later onRequest entry or a preHandler); without a customer it does nothing.
 */
export function customerRateLimit(ctx: AppContext, name: string, limit: BucketLimit): Hook {
  return async (request) => {
    if (request.customerId === '') return;
    await take(ctx, ctx.coord.keys.global(`rl:${name}:c:${request.customerId}`), limit);
  };
}

/** A hook limiting `name` per client address (X-Forwarded-For as trusted by the app). */
export function ipRateLimit(ctx: AppContext, name: string, limit: BucketLimit): Hook {
  return async (request) => {
    await take(ctx, ctx.coord.keys.global(`rl:${name}:ip:${request.ip}`), limit);
  };
}

/**
 * Both limits in one hook and one round trip: the address's bucket and the fan's are taken
 * at once (with Redis, two scripts in flight together instead of one after the other), so
 * a request refused by one still counts against the other, as an attempt. A refusal by the
 * address is reported first (cheapest to be wrong about), then the fan's.
 */
export function writeRateLimit(
  ctx: AppContext, name: string, limits: { perCustomer: BucketLimit; perIp: BucketLimit },
): Hook {
  return async (request) => {
    const byIp = take(ctx, ctx.coord.keys.global(`rl:${name}:ip:${request.ip}`), limits.perIp);
    const byCustomer = request.customerId === ''
      ? Promise.resolve()
      : take(ctx, ctx.coord.keys.global(`rl:${name}:c:${request.customerId}`),
        limits.perCustomer);
    const [ip, customer] = await Promise.allSettled([byIp, byCustomer]);
    if (ip.status === 'rejected') throw ip.reason;
    if (customer.status === 'rejected') throw customer.reason;
  };
}

/** The limits on joining a queue, from configuration. */
export function joinRateLimit(ctx: AppContext): Hook {
  const { joinsPerCustomerPerMinute, joinsPerIpPerMinute } = ctx.config.queue;
  return writeRateLimit(ctx, 'join', {
    perCustomer: perMinute(joinsPerCustomerPerMinute), perIp: perMinute(joinsPerIpPerMinute),
  });
}

/** The limits on creating holds, from configuration: `preHandler: holdRateLimit(ctx)`. */
export function holdRateLimit(ctx: AppContext): Hook {
  const { holdsPerCustomerPerMinute, holdsPerIpPerMinute } = ctx.config.queue;
  return writeRateLimit(ctx, 'hold', {
    perCustomer: perMinute(holdsPerCustomerPerMinute), perIp: perMinute(holdsPerIpPerMinute),
  });
}

/**
 * The per-customer limit on one booking write (`checkout`, `extend`, `release`, `cancel`),
 * each its own bucket; the per-address limit on all writes is app-wide (app.ts). Organizer
 * requests carry no customer and are not limited here.
 */
export function bookingRateLimit(
  ctx: AppContext, name: 'checkout' | 'extend' | 'release' | 'cancel',
): Hook {
  return customerRateLimit(ctx, name, perMinute(ctx.config.http.bookingWritesPerCustomerPerMinute));
}

/** The per-address limit on logins and registrations (scrypt is the costly part). */
export function authRateLimit(ctx: AppContext): Hook {
  return ipRateLimit(ctx, 'auth', perMinute(ctx.config.http.authPerIpPerMinute));
}

/**
 * Login attempts per e-mail address: a bucket of a few, refilled over a quarter of an hour,
 * taken before the password is checked (so concurrent guesses cannot slip past it). Other
 * accounts keep their own buckets: one account under attack locks nobody else out. The key
 * is a digest, so no address is stored in the coordination store.
 */
export function loginAttemptLimit(ctx: AppContext): Hook {
  const count = ctx.config.http.loginsPerEmailPerQuarterHour;
  const limit: BucketLimit = { capacity: count, refillPerSecond: count / 900 };
  return async (request) => {
    const email = (request.body as { email?: unknown } | undefined)?.email;
    if (typeof email !== 'string') return;
    const digest = createHash('sha256').update(email.trim().toLowerCase()).digest('base64url');
    await take(ctx, ctx.coord.keys.global(`rl:login:e:${digest.slice(0, 32)}`), limit);
  };
}
