/**
 * Argument checks and arithmetic shared by both coordinators, so the in-process stand-in
 * and Redis reject the same programmer errors and compute the same bucket answers.
 */
import assert from 'node:assert/strict';

import type { Keyspace } from './keys.js';
import type { BucketLimit, BucketResult, CoordLogger } from './types.js';

/** Logs to stderr when the caller gave no logger; dropping handler errors silently hides bugs. */
export const consoleLogger: CoordLogger = {
  warn: (obj, msg) => console.warn(`[coord] ${msg ?? ''}`, obj),
};

/** Rejects names that did not come from the coordinator's keyspace. */
export function assertOwned(keys: Keyspace, name: string): void {
  assert.ok(keys.owns(name), `coordination name outside prefix ${keys.prefix}: ${name}`);
}

/** TTLs must be whole positive milliseconds (PEXPIRE refuses anything else). */
export function assertTtl(ttlMs: number): void {
  assert.ok(Number.isSafeInteger(ttlMs) && ttlMs > 0, `ttlMs must be a positive integer: ${ttlMs}`);
}

/** setMax scores are integers: compared alike by Lua's doubles and by JavaScript. */
export function assertScore(score: number): void {
  assert.ok(Number.isSafeInteger(score), `score must be a safe integer: ${score}`);
}

/** Counters are integers in Redis; a fractional step is a bug, not a rounding question. */
export function assertIncrement(by: number): void {
  assert.ok(Number.isSafeInteger(by), `increment must be an integer: ${by}`);
}

/** A bucket that can never satisfy `cost` is a configuration bug; say so loudly. */
export function assertBucket(limit: BucketLimit, cost: number): void {
  const { capacity, refillPerSecond } = limit;
  assert.ok(Number.isFinite(capacity) && capacity > 0, `bucket capacity must be > 0: ${capacity}`);
  assert.ok(
    Number.isFinite(refillPerSecond) && refillPerSecond > 0,
    `bucket refillPerSecond must be > 0: ${refillPerSecond}`,
  );
  assert.ok(Number.isFinite(cost) && cost >= 0, `bucket cost must be >= 0: ${cost}`);
  assert.ok(cost <= capacity, `bucket cost ${cost} exceeds capacity ${capacity}`);
}

/** A bucket's stored state: fractional tokens as of `atMs`. */
export interface BucketState {
  tokens: number;
  atMs: number;
}

/**
 * Refills then takes `cost` tokens. Mirrors the Lua script in redis.ts line for line;
 * a clock that steps backwards refills nothing rather than draining the bucket.
 */
export function takeTokens(
  state: BucketState | undefined,
  nowMs: number,
  limit: BucketLimit,
  cost: number,
): { state: BucketState; result: BucketResult } {
  const last = state ?? { tokens: limit.capacity, atMs: nowMs };
  const elapsedMs = Math.max(0, nowMs - last.atMs);
  let tokens = Math.min(limit.capacity, last.tokens + (elapsedMs * limit.refillPerSecond) / 1000);
  const atMs = Math.max(last.atMs, nowMs);
  if (tokens >= cost) {
    tokens -= cost;
    const result = { allowed: true, remaining: Math.floor(tokens), retryAfterMs: 0 };
    return { state: { tokens, atMs }, result };
  }
  const retryAfterMs = Math.ceil(((cost - tokens) * 1000) / limit.refillPerSecond);
  return {
    state: { tokens, atMs },
    result: { allowed: false, remaining: Math.floor(tokens), retryAfterMs },
  };
}

/**
 * Refills then gives `cost` tokens back (never above capacity): undoes a take whose request
 * was refused elsewhere. Mirrors the Lua script in redis.ts; an absent bucket is full, so
 * there is nothing to give back to it (undefined).
 */
export function returnTokens(
  state: BucketState | undefined,
  nowMs: number,
  limit: BucketLimit,
  cost: number,
): BucketState | undefined {
  if (state === undefined) return undefined;
  const elapsedMs = Math.max(0, nowMs - state.atMs);
  const refilled = state.tokens + (elapsedMs * limit.refillPerSecond) / 1000;
  return { tokens: Math.min(limit.capacity, refilled + cost), atMs: Math.max(state.atMs, nowMs) };
}

/** How long an idle bucket must be kept: after this it is full, the same as absent. */
export function bucketIdleTtlMs(limit: BucketLimit): number {
  return Math.ceil((limit.capacity * 1000) / limit.refillPerSecond) + 1000;
}

/** Calls a subscriber, keeping its failure away from the transport and other handlers. */
export function deliver(
  logger: CoordLogger,
  channel: string,
  handler: (message: string) => void,
  message: string,
): void {
  try {
    handler(message);
  } catch (err) {
    logger.warn({ err, channel }, 'coordination subscriber threw; message dropped for it');
  }
}
