/**
 * What the simulator measures: latency per step, outcome counters, and a timeline sampled
 * every tick (sold, held, queue length, admissions, store pacing, busy refusals and the
 * store node's own hold latency) for the report's charts.
 */
import type { IntervalLatency } from './serverLatency.js';
import { percentile } from './stats.js';

/** One sample of the sale's state over time. */
export interface TimelinePoint {
  tMs: number;
  sold: number;
  held: number;
  available: number;
  waiting: number;
  admitted: number;
  holdsOk: number;
  holdConflicts: number;
  /**
   * Holds the store refused as busy so far (503 `reason: store_busy` replies the crowd got,
   * retries included): per interval, the difference of two points.
   */
  holdsBusy: number;
  /**
   * The line's store pace factor (admin stats `queue.storePace.factor`): the share of the
   * admission rate the tick admitted at. Null without a waiting room or when not reported.
   */
  storePaceFactor: number | null;
  /** The store's reported hold queue wait (`queue.storePace.storeWaitMs`), ms; null: healthy. */
  storeWaitMs: number | null;
  /**
   * Admitted fans with a live pass (`queue.activeShoppers`) and the live cap the last tick
   * admitted against (`queue.storePace.liveCap`); absent or null when not reported.
   */
  activeShoppers?: number | null;
  liveCap?: number | null;
  /**
   * The server-side latency of the holds answered since the previous point, from the store
   * node's /metrics (bucket bounds); null when it could not be scraped (METRICS_ACCESS).
   */
  serverHold: IntervalLatency | null;
}

export interface StepSummary {
  step: string;
  count: number;
  /** Replies that failed: no reply, or a 5xx other than 503. */
  errors: number;
  /** 503 replies (a node or store said busy, with Retry-After): retried, not failures. */
  busy: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Replies by HTTP status (0: no reply). */
  statuses: Record<string, number>;
}

/**
 * Replies by the second their request was sent (from the recorder's start): how many, the
 * median and the slowest, and which step the slowest was. A stall shows as the seconds
 * whose requests all came back late.
 */
export interface LatencySecond {
  second: number;
  count: number;
  p50Ms: number;
  maxMs: number;
  slowestStep: string;
}

/** Collects measurements; cheap enough to call on every request. */
export class Recorder {
  private readonly startedMs = performance.now();
  private readonly bySecond = new Map<number, { values: number[]; max: number; maxStep: string }>();
  private readonly latencies = new Map<string, number[]>();
  private readonly statuses = new Map<string, Map<number, number>>();
  readonly counters = new Map<string, number>();
  readonly timeline: TimelinePoint[] = [];

  latency(step: string, ms: number, status: number): void {
    let list = this.latencies.get(step);
    if (list === undefined) {
      list = [];
      this.latencies.set(step, list);
      this.statuses.set(step, new Map());
    }
    list.push(ms);
    const second = Math.max(0, Math.floor((performance.now() - ms - this.startedMs) / 1000));
    let bucket = this.bySecond.get(second);
    if (bucket === undefined) {
      bucket = { values: [], max: -1, maxStep: step };
      this.bySecond.set(second, bucket);
    }
    if (ms > bucket.max) {
      bucket.max = ms;
      bucket.maxStep = step;
    }
    bucket.values.push(ms);
    const byStatus = this.statuses.get(step) as Map<number, number>;
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  count(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  /** p99 of one step so far (for the live progress line). */
  p99(step: string): number {
    const list = this.latencies.get(step);
    if (list === undefined || list.length === 0) return Number.NaN;
    return percentile([...list].sort((a, b) => a - b), 99);
  }

  /** Latency by the second requests were sent, in time order. */
  latencyOverTime(): LatencySecond[] {
    return [...this.bySecond.entries()].sort(([a], [b]) => a - b).map(([second, bucket]) => {
      const sorted = [...bucket.values].sort((a, b) => a - b);
      return {
        second, count: sorted.length, p50Ms: percentile(sorted, 50),
        maxMs: sorted[sorted.length - 1] ?? Number.NaN, slowestStep: bucket.maxStep,
      };
    });
  }

  steps(): StepSummary[] {
    return [...this.latencies.entries()].map(([step, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const statuses = Object.fromEntries(
        [...(this.statuses.get(step) ?? new Map<number, number>())].map(([k, v]) => [String(k), v]),
      );
      const byStatus = [...(this.statuses.get(step) ?? new Map<number, number>())];
      const errors = byStatus
        .filter(([status]) => status === 0 || (status >= 500 && status !== 503))
        .reduce((sum, [, n]) => sum + n, 0);
      const busy = byStatus.filter(([status]) => status === 503)
        .reduce((sum, [, n]) => sum + n, 0);
      return {
        step, count: sorted.length, errors, busy,
        p50Ms: percentile(sorted, 50), p95Ms: percentile(sorted, 95),
        p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? Number.NaN, statuses,
      };
    });
  }
}
