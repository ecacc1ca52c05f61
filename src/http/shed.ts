/**
 * Shoppers first under overload. While the node's event loop runs late (core/pressure.ts,
 * bound `SHED_EVENT_LOOP_DELAY_MS`), the crowd's cheapest-to-retry requests are refused
 * before they cost anything but their authentication: new queue joins and the polls of
 * fans this node knows to be waiting. Each gets 429 `rate_limited` with Retry-After
 * (`SHED_RETRY_AFTER_SECONDS`). What an admitted fan sends is never shed: holds, checkouts
 * and everything else carrying a pass, a hold or an order go through routes without this
 * hook, and a poll is shed only when the node's memory says its fan is still waiting.
 *
 * Why these two: a join is idempotent and a fan's place is the number the server gives it,
 * so a shed join that comes back later has lost no place it had (a fan already in line
 * keeps theirs; a newcomer is numbered when their join is accepted, as if they had come a
 * moment later). A waiting fan's poll only says how far the line moved.
 */
import type { FastifyRequest } from 'fastify';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { EventLoopPressure, neverOverloaded, type LoadSignal } from '../core/pressure.js';
import { waitingRoom } from '../queue/room.js';
import type { App } from './types.js';

type Hook = (request: FastifyRequest) => Promise<void>;

function shed(ctx: AppContext, what: string): DomainError {
  const retryAfterSeconds = ctx.config.queue.shedRetryAfterSeconds;
  return new DomainError('rate_limited',
    `this node is busy serving admitted shoppers; ${what} retry in ${retryAfterSeconds} s`,
    { retryAfterSeconds });
}

/**
 * The scope's overload signal: the test seam's when set, else the event loop's delay
 * against SHED_EVENT_LOOP_DELAY_MS while the app is open, else never overloaded (0: off).
 */
export function overloadSignal(app: App, ctx: AppContext): LoadSignal {
  if (ctx.seams?.pressure !== undefined) return ctx.seams.pressure;
  const delayMs = ctx.config.queue.shedEventLoopDelayMs;
  if (delayMs === 0) return neverOverloaded;
  const pressure = new EventLoopPressure({ delayMs, windowMs: limits.shedWindowMs });
  pressure.start();
  app.addHook('onClose', async () => {
    pressure.stop();
  });
  return pressure;
}

/** onRequest hook after auth: refuses queue joins while the node is overloaded. */
export function shedJoins(ctx: AppContext, signal: LoadSignal): Hook {
  return async () => {
    if (!signal.overloaded()) return;
    throw shed(ctx, 'joining is idempotent and your place, if you have one, is kept:');
  };
}

/**
 * onRequest hook after auth: refuses a `queue/me` poll while the node is overloaded and
 * its memory says the fan is still waiting (WaitingRoom.waitingInMemory).
 */
export function shedWaitingPolls(ctx: AppContext, signal: LoadSignal): Hook {
  const room = waitingRoom(ctx);
  return async (request) => {
    if (!signal.overloaded() || request.customerId === '') return;
    const { eventId } = request.params as { eventId: string };
    if (!room.waitingInMemory(eventId, request.customerId)) return;
    throw shed(ctx, 'you are still waiting and your place is kept:');
  };
}
