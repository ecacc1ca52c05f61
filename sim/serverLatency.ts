/**
 * Server-side latency of a route, read from the request histogram a node exposes at
 * `/metrics` (`stampede_http_request_duration_seconds`): what the server took, apart from
 * any wait in the client's connection pool. Two scrapes give the requests between them, so
 * a run can report each minute as well as the whole.
 */

const histogram = 'stampede_http_request_duration_seconds_bucket';

/** Cumulative request counts by bucket upper bound (seconds; Infinity for +Inf). */
export type Buckets = Map<number, number>;

/**
 * Reads one route's buckets from a /metrics text, summed over every status it answered
 * but `skipStatus` (e.g. the fast 503s of a busy store, apart from the holds it decided).
 */
export function routeBuckets(
  metricsText: string, method: string, route: string, skipStatus?: string,
): Buckets {
  const buckets: Buckets = new Map();
  const wanted = [`method="${method}"`, `route="${route}"`];
  const skipped = skipStatus === undefined ? undefined : `status="${skipStatus}"`;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(`${histogram}{`)) continue;
    const close = line.lastIndexOf('}');
    const labels = line.slice(histogram.length + 1, close).split(',');
    if (!wanted.every((label) => labels.includes(label))) continue;
    if (skipped !== undefined && labels.includes(skipped)) continue;
    const le = labels.find((label) => label.startsWith('le='))?.slice(4, -1);
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    const count = Number(line.slice(close + 1).trim());
    buckets.set(bound, (buckets.get(bound) ?? 0) + count);
  }
  return buckets;
}

/**
 * Reads the buckets of an unlabelled histogram `name` (e.g. `stampede_hold_batch_wait_seconds`)
 * from a /metrics text; empty when the node has none.
 */
export function histogramBuckets(metricsText: string, name: string): Buckets {
  const buckets: Buckets = new Map();
  const prefix = `${name}_bucket{le="`;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const close = line.indexOf('"}', prefix.length);
    if (close < 0) continue;
    const le = line.slice(prefix.length, close);
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(close + 2).trim()));
  }
  return buckets;
}

/** The requests between two scrapes: `after − before`, bucket by bucket. */
export function between(before: Buckets, after: Buckets): Buckets {
  const out: Buckets = new Map();
  for (const [bound, count] of after) out.set(bound, count - (before.get(bound) ?? 0));
  return out;
}

/** How many requests the buckets hold (the +Inf bucket). */
export function total(buckets: Buckets): number {
  return buckets.get(Infinity) ?? 0;
}

/**
 * The upper bound, in ms, of the bucket that holds the q-quantile: "p99 ≤ this". NaN when
 * there were no requests; Infinity when the quantile is past the largest finite bucket.
 */
export function quantileBoundMs(buckets: Buckets, q: number): number {
  const count = total(buckets);
  if (count === 0) return Number.NaN;
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  for (const bound of bounds) {
    if ((buckets.get(bound) ?? 0) >= q * count) return bound * 1000;
  }
  return Infinity;
}

/** The share of requests answered within `seconds` (a bucket bound), 0–1; NaN if none. */
export function shareWithin(buckets: Buckets, seconds: number): number {
  const count = total(buckets);
  return count === 0 ? Number.NaN : (buckets.get(seconds) ?? 0) / count;
}

/** One interval of a route's server-side latency (bucket bounds, ms). */
export interface IntervalLatency {
  count: number;
  /** "p50 ≤ this"; NaN without requests, Infinity past the last finite bucket (10 s). */
  p50Ms: number;
  p99Ms: number;
}

/**
 * A route's latency between consecutive scrapes of one node's /metrics: each `next` gives
 * the requests answered since the previous scrape. Null for the first scrape (nothing to
 * subtract from), for a text without the route's histogram, and after a restart of the
 * node (its counters went back), so a gap never shows as a false figure.
 */
export class RouteIntervals {
  private last: Buckets | null = null;

  constructor(
    private readonly method: string, private readonly route: string,
    private readonly skipStatus?: string,
  ) {}

  next(metricsText: string): IntervalLatency | null {
    const now = routeBuckets(metricsText, this.method, this.route, this.skipStatus);
    const before = this.last;
    this.last = now.size === 0 ? null : now;
    if (before === null || now.size === 0) return null;
    const interval = between(before, now);
    if ([...interval.values()].some((count) => count < 0)) return null;
    return {
      count: total(interval), p50Ms: quantileBoundMs(interval, 0.5),
      p99Ms: quantileBoundMs(interval, 0.99),
    };
  }
}
