/**
 * The server's clock as this page sees it. Deadlines (hold timers, waitlist offers) are
 * server timestamps, and a fan's device clock can be minutes off; every API reply's `Date`
 * header gives the offset, so every countdown on every page reads the same corrected time.
 */
import type { Middleware } from 'openapi-fetch';

/** The `Date` header names the second the server wrote it in, not the millisecond. */
const headerResolutionMs = 1_000;

/** Undefined until the first reply: then the device's clock is all there is. */
let skewMs: number | undefined;
const sentAt = new Map<string, number>();

/** Server clock minus this device's clock, in ms: never less than the true offset. */
export function serverSkewMs(): number {
  return skewMs ?? 0;
}

/** The server's time now, as a millisecond timestamp (never behind the server's clock). */
export function serverNowMs(): number {
  return Date.now() + serverSkewMs();
}

/**
 * Takes one reply's `Date` header, read between `sentAtMs` and `receivedAtMs` on this
 * device. The server wrote it at some device time in that window, when its own clock read
 * between the header's second and the next, so the offset lies in
 * [header − received, header + 1 s − sent]. A countdown must never show more time than the
 * server gives, so the page takes the top of that range: the smallest top any reply has
 * given, as each is a bound on the same offset, unless a reply's bottom lies above the kept
 * value, which proves the kept value stale (the device clock was set back, or an earlier
 * `Date` came from a cache), and then that reply's top alone. The error is at most the
 * round trip plus a second, always on the side of less time left.
 */
export function noteServerDate(
  header: string | null, sentAtMs: number, receivedAtMs: number,
): void {
  const headerMs = Date.parse(header ?? '');
  if (!Number.isFinite(headerMs) || receivedAtMs < sentAtMs) return;
  const lowestMs = headerMs - receivedAtMs;
  const highestMs = headerMs + headerResolutionMs - sentAtMs;
  skewMs = skewMs === undefined || lowestMs > skewMs ? highestMs : Math.min(skewMs, highestMs);
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
