/**
 * Webhook signatures of the simulated gateway, shaped like Stripe's: the header
 * `Stampede-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
 * Signing the timestamp with the body stops replays of old deliveries; comparing in
 * constant time stops byte-by-byte guessing; several v1 values allow secret rotation.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { limits } from '../config/limits.js';
import { WebhookRejected } from './types.js';

export const signatureHeader = 'stampede-signature';

function mac(secret: string, timestamp: number, rawBody: Buffer | string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/** The header value for a body signed at `timestampSeconds`. */
export function signPayload(secret: string, rawBody: Buffer | string, timestampSeconds: number):
  string {
  return `t=${timestampSeconds},v1=${mac(secret, timestampSeconds, rawBody).toString('hex')}`;
}

/** Throws WebhookRejected unless `header` signs `rawBody` with `secret` within tolerance. */
export function verifySignature(
  secret: string, rawBody: Buffer, header: string | undefined, nowMs: number,
  toleranceSeconds: number = limits.webhookToleranceSeconds,
): void {
  if (header === undefined || header.length > 1000) throw new WebhookRejected('no signature');
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const [name, value] = part.trim().split('=', 2);
    if (name === 't' && value !== undefined && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (name === 'v1' && value !== undefined && /^[0-9a-f]{64}$/.test(value)) {
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw new WebhookRejected('malformed signature header');
  }
  if (Math.abs(nowMs / 1000 - timestamp) > toleranceSeconds) {
    throw new WebhookRejected('signature timestamp outside the tolerance');
  }
  const expected = mac(secret, timestamp, rawBody);
  const ok = signatures.some((candidate) => timingSafeEqual(candidate, expected));
  if (!ok) throw new WebhookRejected('signature mismatch');
}
