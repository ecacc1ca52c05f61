/**
 * Queue passes: what admission hands a fan, sent back on every hold as `X-Queue-Pass`.
 *
 * Format `qp1.<payload>.<mac>`: payload is base64url JSON `{e, c, p, n, x}` (event,
 * customer, pass id, queue number, expiry in epoch ms) and mac is HMAC-SHA256 over
 * `qp1.<payload>` under a key derived for this purpose only. There is no algorithm field
 * to negotiate, so `alg: none` and algorithm-confusion tricks have nothing to bite on: the
 * only accepted shape is this one, with this MAC, compared in constant time.
 *
 * A valid signature proves the server issued the pass; the gate also checks the admission
 * row (released, claimed in time) because a pass outliving its slot must not keep it busy.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { deriveKey } from '../customers/tokens.js';

const version = 'qp1';
/** Longer headers are rejected before any parsing or hashing. */
export const passMaxLength = 1_024;

/** What a pass says. */
export interface PassClaims {
  eventId: string;
  customerId: string;
  passId: string;
  number: number;
  expiresAtMs: number;
}

/** Why a pass was refused; each maps to a precise `queue_pass_required` detail. */
export type PassProblem =
  | 'malformed'
  | 'bad_signature'
  | 'other_event'
  | 'other_customer'
  | 'expired';

/** The outcome of checking a pass against the request it came with. */
export type PassCheck =
  | { ok: true; claims: PassClaims }
  | { ok: false; problem: PassProblem };

/** Human-readable details for each refusal. */
export const passProblemDetail: Record<PassProblem, string> = {
  malformed: 'the queue pass is malformed',
  bad_signature: 'the queue pass signature is invalid',
  other_event: 'the queue pass is for another event',
  other_customer: 'the queue pass belongs to another customer',
  expired: 'the queue pass has expired',
};

interface Payload {
  e: string;
  c: string;
  p: string;
  n: number;
  x: number;
}

function isPayload(value: unknown): value is Payload {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.e === 'string' && typeof v.c === 'string' && typeof v.p === 'string' &&
    Number.isSafeInteger(v.n) && Number.isSafeInteger(v.x);
}

/** Signs and verifies passes with a key derived from the server secret. */
export class QueuePasses {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = deriveKey(secret, 'queue-pass');
  }

  /** A signed pass for these claims. */
  sign(claims: PassClaims): string {
    const payload: Payload = {
      e: claims.eventId, c: claims.customerId, p: claims.passId,
      n: claims.number, x: claims.expiresAtMs,
    };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${version}.${body}.${this.mac(`${version}.${body}`).toString('base64url')}`;
  }

  /**
   * Checks signature first (nothing in an unsigned payload is believed), then binding to
   * this event and customer, then expiry against `nowMs`.
   */
  verify(token: string, expect: { eventId: string; customerId: string; nowMs: number }): PassCheck {
    const claims = this.open(token);
    if (typeof claims === 'string') return { ok: false, problem: claims };
    if (claims.eventId !== expect.eventId) return { ok: false, problem: 'other_event' };
    if (claims.customerId !== expect.customerId) return { ok: false, problem: 'other_customer' };
    if (claims.expiresAtMs <= expect.nowMs) return { ok: false, problem: 'expired' };
    return { ok: true, claims };
  }

  private open(token: string): PassClaims | PassProblem {
    if (token.length > passMaxLength) return 'malformed';
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== version) return 'malformed';
    const [, body = '', signature = ''] = parts;
    if (!/^[A-Za-z0-9_-]+$/.test(body) || !/^[A-Za-z0-9_-]+$/.test(signature)) return 'malformed';
    const expected = this.mac(`${version}.${body}`);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return 'bad_signature';
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return 'malformed';
    }
    // Only reachable with our own key, so a bad shape here is a bug or an old format.
    if (!isPayload(parsed)) return 'malformed';
    return {
      eventId: parsed.e, customerId: parsed.c, passId: parsed.p,
      number: parsed.n, expiresAtMs: parsed.x,
    };
  }

  private mac(data: string): Buffer {
    return createHmac('sha256', this.key).update(data).digest();
  }
}
