/**
 * Signed bearer tokens: `c1.<payload>.<mac>` where payload is base64url JSON `{sub, exp,
 * ver}` and mac is HMAC-SHA256 under a key derived from the server secret for this purpose
 * only (other signed things use other derived keys). The signature is checked without I/O;
 * `ver` is the customer's token version when it was issued, and a token older than the
 * current version is revoked (see tokenVersions.ts; a token without `ver` is version 0).
 *
 * A fan sends the same token with every join, poll and hold, so each node remembers the
 * tokens it has verified (bounded, the earliest verified dropped first): a token's MAC is
 * checked once per node, not once per request. What a token says cannot change, so the
 * memory cannot be stale; its expiry is still compared on every use, and revocation is
 * the version check's (tokenVersions.ts), which runs on every request as before.
 */
import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

import { limits } from '../config/limits.js';

export const customerTokenSeconds = 30 * 24 * 3600;

/** A purpose-bound signing key derived from the server secret. */
export function deriveKey(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'stampede', purpose, 32));
}

function mac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** What a valid token says: whose it is and its version. */
export interface TokenClaims {
  readonly customerId: string;
  readonly version: number;
}

/** A token this node has verified, with its expiry. */
interface Verified extends TokenClaims {
  readonly expiresAtMs: number;
}

/** Issues and verifies customer tokens. */
export class CustomerTokens {
  private readonly key: Buffer;
  /** Tokens whose MAC this node has checked, in the order they were first verified. */
  private readonly verified = new Map<string, Verified>();

  constructor(
    secret: string,
    private readonly nowMs: () => number,
    private readonly maxVerified: number = limits.verifiedTokenCacheEntries,
  ) {
    this.key = deriveKey(secret, 'customer-token');
  }

  /** How many verified tokens this node remembers (bounded by `maxVerified`). */
  get rememberedCount(): number {
    return this.verified.size;
  }

  issue(customerId: string, version = 0): string {
    const exp = Math.floor(this.nowMs() / 1000) + customerTokenSeconds;
    const payload = Buffer.from(JSON.stringify({ sub: customerId, exp, ver: version }))
      .toString('base64url');
    return `c1.${payload}.${mac(this.key, `c1.${payload}`).toString('base64url')}`;
  }

  /** The customer id of a valid, unexpired token; undefined for anything else. */
  verify(token: string): string | undefined {
    return this.verifyClaims(token)?.customerId;
  }

  /**
   * The customer and token version of a valid, unexpired token; undefined otherwise. A token
   * verified before is answered from memory (its expiry compared again).
   */
  verifyClaims(token: string): TokenClaims | undefined {
    const known = this.verified.get(token);
    if (known === undefined) return this.verifyAndRemember(token);
    if (known.expiresAtMs > this.nowMs()) return known;
    this.verified.delete(token);
    return undefined;
  }

  private verifyAndRemember(token: string): TokenClaims | undefined {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== 'c1') return undefined;
    const [, payload = '', signature = ''] = parts;
    const expected = mac(this.key, `c1.${payload}`);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const { sub, exp, ver } = (claims ?? {}) as { sub?: unknown; exp?: unknown; ver?: unknown };
    if (typeof sub !== 'string' || typeof exp !== 'number') return undefined;
    if (ver !== undefined && (typeof ver !== 'number' || !Number.isInteger(ver))) return undefined;
    if (exp * 1000 <= this.nowMs()) return undefined;
    const verified: Verified = { customerId: sub, version: ver ?? 0, expiresAtMs: exp * 1000 };
    this.verified.set(token, verified);
    if (this.verified.size > this.maxVerified) {
      const earliest = this.verified.keys().next();
      if (earliest.done !== true) this.verified.delete(earliest.value);
    }
    return verified;
  }
}

/** Constant-time comparison of two secrets of any length (compares their digests). */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}
