/**
 * Rate limits on the coordinator's token buckets: shared by every node through Redis when
 * REDIS_URL is set, in-process otherwise. A bucket holds a minute's allowance and refills
 * continuously, so a client may burst a little and then is paced; a refusal is 429
 * `rate_limited` with `Retry-After`.
 *
 * - The app-wide per-address budget on writes (`appWriteLimit`): every POST, PUT, PATCH
 *   and DELETE route takes it first, unless the route says `config.writeLimit`: `'own'`
 *   (the route's own hook takes it, with its other buckets, in the same round trip) or
 *   `'exempt'` (payment webhooks, which have a budget of their own).
 * - Per-customer and per-address buckets of the hot writes (queue joins, holds) and the
 *   per-customer buckets of booking writes (checkout, extend, release, cancel).
 *
 * Several buckets of one request are taken together (one coordinator call) and count only
 * when all allow: a request one bucket refuses gets its tokens back from the others, so a
 * fan behind a busy shared address keeps their own allowance, and one fan's refused
 * retries do not spend their neighbours' address budget.
 *
 * Limits fail open: if the coordinator is unreachable the request goes through (logged).
 * They protect capacity; refusing every fan because Redis blinked would be the outage.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { AppContext } from '../context.js';
import type { BucketLimit, BucketResult } from '../coord/index.js';
import { DomainError } from '../core/errors.js';

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** A minute's allowance as a token bucket. */
export function perMinute(count: number): BucketLimit {
  return { capacity: count, refillPerSecond: count / 60 };
}

/** One bucket a request takes a token from. */
interface Take {
  bucket: string;
  limit: BucketLimit;
}

function rateLimited(retryAfterMs: number): DomainError {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new DomainError('rate_limited', `too many requests; retry in ${retryAfterSeconds} s`, {
    retryAfterSeconds,
  });
}

/** Takes a token from one bucket: `rate_limited` when refused, through when unreachable. */
async function take(ctx: AppContext, bucket: string, limit: BucketLimit): Promise<void> {
  let result;
  try {
    result = await ctx.coord.consume(bucket, limit);
  } catch (error) {
    ctx.logger.warn({ err: error, bucket }, 'rate limit unavailable; request allowed');
    return;
  }
  if (!result.allowed) throw rateLimited(result.retryAfterMs);
}

/**
 * Takes a token from every bucket in one coordinator call (one script call and one round
 * trip on Redis), or from none: when one refuses, the tokens the others granted are
 * given back before the refusal is thrown, with the longest wait among the refusals. A
 * store that cannot be reached lets the request through (fail open).
 */
export async function takeAll(ctx: AppContext, takes: readonly Take[]): Promise<void> {
  let results: readonly BucketResult[];
  try {
    results = await ctx.coord.consumeEach(takes);
  } catch (error) {
    const buckets = takes.map(({ bucket }) => bucket);
    ctx.logger.warn({ err: error, buckets }, 'rate limit unavailable; request allowed');
    return;
  }
  let refusedForMs: number | undefined;
  for (const result of results) {
    if (result.allowed) continue;
    refusedForMs = Math.max(refusedForMs ?? 0, result.retryAfterMs);
  }
  if (refusedForMs === undefined) return;
  await Promise.all(takes.map(async ({ bucket, limit }, i) => {
    if (results[i]?.allowed !== true) return;
    try {
      await ctx.coord.giveBack(bucket, limit);
    } catch (error) {
      // The token is spent until the bucket refills: a little less allowance, nothing worse.
      ctx.logger.warn({ err: error, bucket }, 'rate limit token not given back');
    }
  }));
  throw rateLimited(refusedForMs);
}

/** The app-wide per-address bucket on writes. */
function addressWrites(ctx: AppContext, request: FastifyRequest): Take {
  return {
    bucket: ctx.coord.keys.global(`rl:writes:ip:${request.ip}`),
    limit: perMinute(ctx.config.http.writesPerIpPerMinute),
  };
}

/**
 * The app-wide per-address budget on writes, as an onRequest hook (app.ts adds it to every
 * write route whose `config.writeLimit` is unset): fans share addresses (venue Wi-Fi,
 * carrier NAT), so the budget is large; per-customer limits live with the routes.
 */
export function appWriteLimit(ctx: AppContext): Hook {
  return async (request) => {
    const { bucket, limit } = addressWrites(ctx, request);
    await take(ctx, bucket, limit);
  };
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
 * A hot write's limits in one hook and one round trip: the app-wide address budget on
 * writes, the route's per-address bucket and the fan's bucket, taken together, all or
 * none (`takeAll`). Routes using it declare `config: { writeLimit: 'own' }` so the
 * app-wide budget is not taken a second time in a hook of its own.
 */
export function writeRateLimit(
  ctx: AppContext, name: string, limits: { perCustomer: BucketLimit; perIp: BucketLimit },
): Hook {
  return async (request) => {
    const takes: Take[] = [
      addressWrites(ctx, request),
      { bucket: ctx.coord.keys.global(`rl:${name}:ip:${request.ip}`), limit: limits.perIp },
    ];
    if (request.customerId !== '') {
      takes.push({
        bucket: ctx.coord.keys.global(`rl:${name}:c:${request.customerId}`),
        limit: limits.perCustomer,
      });
    }
    await takeAll(ctx, takes);
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
 * each its own bucket; the per-address limit on all writes is app-wide. Organizer
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
