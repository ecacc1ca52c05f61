/**
 * The server's clock as this page sees it. Deadlines (hold timers, waitlist offers) are
 * server timestamps, and a fan's device clock can be minutes off; every API reply's `Date`
 * header gives the offset, so every countdown on every page reads the same corrected time.
 */
import type { Middleware } from 'openapi-fetch';

/** The `Date` header has one-second resolution: a smaller offset is noise, not skew. */
const noiseMs = 1_500;

let skewMs = 0;
const sentAt = new Map<string, number>();

/** Server clock minus this device's clock, in ms (0 when within the header's resolution). */
export function serverSkewMs(): number {
  return skewMs;
}

/** The server's time now, as a millisecond timestamp. */
export function serverNowMs(): number {
  return Date.now() + skewMs;
}

/**
 * Takes one reply's `Date` header, read between `sentAtMs` and `receivedAtMs` on this
 * device: the server wrote it somewhere in between, so the midpoint is the best guess.
 */
export function noteServerDate(header: string | null, sentAtMs: number, receivedAtMs: number): void {
  const serverMs = Date.parse(header ?? '');
  if (!Number.isFinite(serverMs) || receivedAtMs < sentAtMs) return;
  const measured = serverMs - (sentAtMs + receivedAtMs) / 2;
  skewMs = Math.abs(measured) > noiseMs ? measured : 0;
}

/** Measures the offset on every reply of the typed client. */
export const serverClockMiddleware: Middleware = {
  onRequest({ id }) {
    sentAt.set(id, Date.now());
    return undefined;
  },
  onResponse({ id, response }) {
    const started = sentAt.get(id);
    sentAt.delete(id);
    if (started !== undefined) noteServerDate(response.headers.get('date'), started, Date.now());
    return undefined;
  },
  onError({ id }) {
    sentAt.delete(id);
    return undefined;
  },
};
