/**
 * Hold latency as fans see it, across every node: each node counts hold replies into a
 * small fixed histogram per event and 10-second window, and adds its counts to shared
 * counters (the coordination store) once a second, so the hot path never waits on a
 * network trip. The dashboard reads the windows back and takes quantiles the way
 * Prometheus does (linear within a bucket). Display only: a lost flush loses samples,
 * never a ticket.
 */
import type { Clock } from '../core/clock.js';
import type { Coordinator } from '../coord/types.js';

/** Upper bounds of the histogram buckets; one more bucket counts everything slower. */
export const latencyBucketsMs = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];
/** Width of one window; the dashboard's series has one point per window. */
export const latencyWindowMs = 10_000;
/** Windows are kept a little longer than the dashboard looks back. */
const keepMs = 5 * 60_000;
/** Pending counters per node between flushes (events × windows × buckets stay far below). */
const pendingMax = 10_000;

/** The bucket a reply of `ms` falls in (the last index counts the slowest). */
export function bucketOf(ms: number): number {
  const index = latencyBucketsMs.findIndex((bound) => ms <= bound);
  return index === -1 ? latencyBucketsMs.length : index;
}

/**
 * The `q` quantile of a histogram (counts per bucket, overflow last), interpolated within
 * its bucket; the overflow bucket reports the highest bound. Null without samples.
 */
export function quantileMs(counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i += 1) {
    const count = counts[i] ?? 0;
    if (count > 0 && below + count >= rank) {
      const upper = latencyBucketsMs[i];
      if (upper === undefined) return latencyBucketsMs[latencyBucketsMs.length - 1] ?? null;
      const lower = i === 0 ? 0 : latencyBucketsMs[i - 1] ?? 0;
      return lower + (upper - lower) * ((rank - below) / count);
    }
    below += count;
  }
  return latencyBucketsMs[latencyBucketsMs.length - 1] ?? null;
}

/** The start of the window holding `atMs`. */
export function windowStartMs(atMs: number): number {
  return Math.floor(atMs / latencyWindowMs) * latencyWindowMs;
}

function counterKey(coord: Coordinator, eventId: string, startMs: number, bucket: number) {
  return coord.keys.event(eventId, `holdlat:${startMs}:${bucket}`);
}

/** One node's recorder: `record` is synchronous and cheap; `flush` ships the counts. */
export class HoldLatencyRecorder {
  private pending = new Map<string, { eventId: string; startMs: number; bucket: number;
    count: number }>();

  constructor(private readonly coord: Coordinator, private readonly clock: Clock) {}

  /** Counts one hold reply of `ms` for an event. */
  record(eventId: string, ms: number): void {
    const startMs = windowStartMs(this.clock.nowMs());
    const bucket = bucketOf(ms);
    const id = `${eventId}|${startMs}|${bucket}`;
    const entry = this.pending.get(id);
    if (entry !== undefined) {
      entry.count += 1;
      return;
    }
    if (this.pending.size >= pendingMax) return;
    this.pending.set(id, { eventId, startMs, bucket, count: 1 });
  }

  /** Adds the pending counts to the shared counters; a failed add is dropped (display only). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    await Promise.allSettled(batch.map(async (entry) => await this.coord.incr(
      counterKey(this.coord, entry.eventId, entry.startMs, entry.bucket), entry.count, keepMs,
    )));
  }
}

/** One window of the shared histogram. */
export interface LatencyWindow {
  startMs: number;
  counts: number[];
}

/** The last `windows` windows up to the one holding `nowMs`, oldest first. */
export async function readLatencyWindows(
  coord: Coordinator, eventId: string, nowMs: number, windows: number,
): Promise<LatencyWindow[]> {
  const lastStartMs = windowStartMs(nowMs);
  const starts = Array.from({ length: windows },
    (_, i) => lastStartMs - (windows - 1 - i) * latencyWindowMs);
  const buckets = latencyBucketsMs.length + 1;
  return await Promise.all(starts.map(async (startMs) => ({
    startMs,
    counts: await Promise.all(Array.from({ length: buckets }, async (_, bucket) => {
      const value = await coord.get(counterKey(coord, eventId, startMs, bucket));
      return value === null ? 0 : Number(value);
    })),
  })));
}

/** Adds histograms bucket by bucket. */
export function sumCounts(windows: readonly LatencyWindow[]): number[] {
  const total = new Array<number>(latencyBucketsMs.length + 1).fill(0);
  for (const window of windows) {
    window.counts.forEach((count, i) => { total[i] = (total[i] ?? 0) + count; });
  }
  return total;
}
