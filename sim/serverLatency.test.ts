import { describe, expect, it } from 'vitest';
import {
  between, histogramBuckets, quantileBoundMs, RouteIntervals, routeBuckets, shareWithin, total,
} from './serverLatency.js';

const route = '/api/v1/events/:eventId/holds';
const line = (status: string, le: string, count: number, method = 'POST', r = route): string =>
  `stampede_http_request_duration_seconds_bucket{method="${method}",route="${r}",` +
  `status="${status}",le="${le}"} ${count}`;

describe('an unlabelled histogram from /metrics', () => {
  it('reads its buckets and nothing of a histogram whose name it prefixes', () => {
    const text = [
      '# HELP stampede_hold_batch_wait_seconds Time a hold request waited',
      'stampede_hold_batch_wait_seconds_bucket{le="0.1"} 7',
      'stampede_hold_batch_wait_seconds_bucket{le="1"} 9',
      'stampede_hold_batch_wait_seconds_bucket{le="+Inf"} 10',
      'stampede_hold_batch_wait_seconds_sum 3.2',
      'stampede_hold_batch_wait_seconds_count 10',
      'stampede_hold_batch_wait_seconds_more_bucket{le="0.1"} 1000',
    ].join('\n');
    const buckets = histogramBuckets(text, 'stampede_hold_batch_wait_seconds');
    expect([...buckets]).toEqual([[0.1, 7], [1, 9], [Infinity, 10]]);
    expect(quantileBoundMs(buckets, 0.5)).toBe(100);
    expect(histogramBuckets(text, 'stampede_hold_batch_run_seconds').size).toBe(0);
  });
});

describe('server-side route latency from /metrics', () => {
  const first = [
    '# HELP stampede_http_request_duration_seconds HTTP request latency by route',
    line('201', '0.05', 90), line('201', '0.1', 95), line('201', '+Inf', 100),
    line('409', '0.05', 10), line('409', '0.1', 10), line('409', '+Inf', 10),
    // Another route and another method must not count.
    line('201', '0.05', 1000, 'POST', '/api/v1/events/:eventId/queue'),
    line('200', '0.05', 1000, 'GET'),
    `stampede_http_request_duration_seconds_count{method="POST",route="${route}"} 110`,
  ].join('\n');

  it('sums a route\'s buckets over its statuses and nothing else', () => {
    const buckets = routeBuckets(first, 'POST', route);
    expect([...buckets]).toEqual([[0.05, 100], [0.1, 105], [Infinity, 110]]);
    expect(total(buckets)).toBe(110);
  });

  it('reads quantiles and shares of the requests between two scrapes', () => {
    const second = [line('201', '0.05', 190), line('201', '0.1', 290),
      line('201', '+Inf', 310), line('409', '0.05', 10), line('409', '0.1', 10),
      line('409', '+Inf', 10)].join('\n');
    const interval = between(routeBuckets(first, 'POST', route), routeBuckets(second, 'POST', route));
    expect(total(interval)).toBe(210);
    // 100 of 210 within 50 ms, 195 within 100 ms: p50 ≤ 100 ms, p99 past the last bucket.
    expect(quantileBoundMs(interval, 0.5)).toBe(100);
    expect(quantileBoundMs(interval, 0.9)).toBe(100);
    expect(quantileBoundMs(interval, 0.99)).toBe(Infinity);
    expect(shareWithin(interval, 0.1)).toBeCloseTo(195 / 210);
    expect(Number.isNaN(quantileBoundMs(new Map(), 0.99))).toBe(true);
  });
});

describe('route intervals', () => {
  const scrape = (fast: number, slow: number, refused = 0): string => [
    ...['201', '503'].flatMap((status) => {
      const [f, sl] = status === '201' ? [fast, slow] : [refused, 0];
      return [['0.1', f], ['10', f + sl], ['+Inf', f + sl]].map(([le, n]) =>
        `stampede_http_request_duration_seconds_bucket{le="${le}",method="POST",` +
        `route="/h",status="${status}"} ${n}`);
    }),
  ].join('\n');

  it('give the requests between consecutive scrapes, none for the first or after a restart',
    () => {
      const intervals = new RouteIntervals('POST', '/h', '503');
      expect(intervals.next(scrape(10, 0))).toBeNull();
      expect(intervals.next(scrape(110, 0))).toEqual({ count: 100, p50Ms: 100, p99Ms: 100 });
      // Refusals (503) are left out: 5 slow holds, not 5 slow among 500 fast refusals.
      expect(intervals.next(scrape(110, 5, 500)))
        .toEqual({ count: 5, p50Ms: 10_000, p99Ms: 10_000 });
      // The node restarted: its counters went back, so no figure rather than a false one.
      expect(intervals.next(scrape(3, 0))).toBeNull();
      expect(intervals.next(scrape(4, 0))).toEqual({ count: 1, p50Ms: 100, p99Ms: 100 });
      expect(intervals.next('')).toBeNull();
      expect(intervals.next(scrape(5, 0))).toBeNull();
    });
});
