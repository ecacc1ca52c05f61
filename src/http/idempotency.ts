/**
 * Idempotency-Key for routes that create something (SPEC §6): the HTTP half of
 * idempotency/store.ts. The fingerprint covers the method, the route, its params and the
 * body (keys sorted), so "the same request" means the same thing whatever the JSON order.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { limits } from '../config/limits.js';
import type { IdempotencyScope } from '../idempotency/store.js';

const keySchema = Type.String({
  minLength: 1, maxLength: limits.idempotencyKeyLength, pattern: '^[\\x21-\\x7e]+$',
});

/** Headers schema for routes where the key is optional. */
export const OptionalIdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(keySchema),
});

/** Headers schema for routes where the key is required (checkout). */
export const RequiredIdempotencyHeaders = Type.Object({ 'idempotency-key': keySchema });

/** JSON with object keys sorted, so equal values always serialize alike. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function fingerprint(request: FastifyRequest): string {
  return createHash('sha256')
    .update(stableJson([request.method, request.routeOptions.url, request.params, request.body]))
    .digest('base64url');
}

/** The scope of a request's Idempotency-Key: the customer, the key, the fingerprint. */
export function idempotencyScope(request: FastifyRequest, key: string): IdempotencyScope {
  return { customerId: request.customerId, key, fingerprint: fingerprint(request) };
}
