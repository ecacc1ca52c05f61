/**
 * Optional proof of work on join (per event, `queue.proofOfWork`), with ALTCHA challenges:
 * the server hands out an HMAC-signed SHA-256 puzzle bound to the event and customer, the
 * browser brute-forces it (the ALTCHA widget or `solveChallenge`), and the join carries
 * the solution. It prices out mass sign-ups by bots without a captcha a fan must read.
 *
 * Each challenge is single-use: its signature is remembered in the coordination store
 * until the challenge expires, so one solution cannot join a thousand accounts. When the
 * store is unreachable the check fails open (logged): a Redis outage must not lock fans
 * out of the line, and the signature and expiry still bound what a replay can do.
 */
import { createChallenge, extractParams, verifySolution } from 'altcha-lib';
import type { Challenge } from 'altcha-lib/types';

import type { AppContext } from '../context.js';
import { deriveKey } from '../customers/tokens.js';

/** Why a proof was refused. */
export type ProofProblem = 'malformed' | 'invalid' | 'other_event' | 'other_customer' | 'reused';

/** Details for each refusal. */
export const proofProblemDetail: Record<ProofProblem, string> = {
  malformed: 'the proof of work is malformed',
  invalid: 'the proof of work is wrong or its challenge has expired',
  other_event: 'the proof of work was solved for another event',
  other_customer: 'the proof of work was solved for another customer',
  reused: 'this proof of work has already been used; fetch a new challenge',
};

const maxProofLength = 2_000;

function hmacKey(ctx: AppContext): string {
  return deriveKey(ctx.secrets.secret, 'queue-pow').toString('hex');
}

/** A fresh challenge for this customer and event. */
export async function createJoinChallenge(
  ctx: AppContext, eventId: string, customerId: string,
): Promise<Challenge> {
  const { powMaxNumber, powChallengeSeconds } = ctx.config.queue;
  return await createChallenge({
    hmacKey: hmacKey(ctx),
    maxnumber: powMaxNumber,
    expires: new Date(ctx.clock.nowMs() + powChallengeSeconds * 1000),
    params: { e: eventId, c: customerId },
  });
}

interface ProofPayload {
  algorithm: 'SHA-1' | 'SHA-256' | 'SHA-512';
  challenge: string;
  number: number;
  salt: string;
  signature: string;
}

/** Decodes the base64 JSON the ALTCHA widget submits. */
function decode(proof: string): ProofPayload | undefined {
  if (proof.length > maxProofLength) return undefined;
  try {
    const value = JSON.parse(Buffer.from(proof, 'base64').toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const v = value as Record<string, unknown>;
    if (v.algorithm !== 'SHA-256') return undefined;
    if (typeof v.challenge !== 'string' || typeof v.salt !== 'string') return undefined;
    if (typeof v.signature !== 'string' || !Number.isSafeInteger(v.number)) return undefined;
    return value as ProofPayload;
  } catch {
    return undefined;
  }
}

/** Checks a solution and spends it; returns why it was refused, or null when accepted. */
export async function spendJoinProof(
  ctx: AppContext, eventId: string, customerId: string, proof: string,
): Promise<ProofProblem | null> {
  const payload = decode(proof);
  if (payload === undefined) return 'malformed';
  // Expiry is checked below against the server clock rather than the library's wall clock.
  if (!(await verifySolution(payload, hmacKey(ctx), false))) return 'invalid';
  // The params sit in the signed salt, so they cannot be edited without failing above.
  const params = extractParams(payload);
  const expiresAtMs = Number(params.expires) * 1000;
  if (!Number.isFinite(expiresAtMs) || expiresAtMs <= ctx.clock.nowMs()) return 'invalid';
  if (params.e !== eventId) return 'other_event';
  if (params.c !== customerId) return 'other_customer';
  const { powChallengeSeconds } = ctx.config.queue;
  const key = ctx.coord.keys.event(eventId, `queue:pow:${payload.signature.slice(0, 64)}`);
  try {
    const first = await ctx.coord.set(key, '1', {
      onlyIfAbsent: true, ttlMs: (powChallengeSeconds + 60) * 1000,
    });
    return first ? null : 'reused';
  } catch (error) {
    ctx.logger.warn({ err: error, eventId }, 'proof-of-work reuse check unavailable; allowed');
    return null;
  }
}
