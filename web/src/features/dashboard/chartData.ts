/**
 * Shaping the on-sale figures into chart series: the dashboard polls the stats endpoint
 * about once a second and appends one sample per reply; rates come from the difference
 * between samples (so they are per second, whatever the polling jitter), and the server's
 * short series fills the charts before the first polls arrive. Pure and bounded.
 */

/** The figures of one stats reply that the charts draw (see GET /admin/events/:id/stats). */
export interface StatsLike {
  asOf: string;
  queue: { preQueue: number; waiting: number; admitted: number; admissionsPerMinute: number };
  tickets: { held: number; sold: number };
  activeHolds: number;
  revenueCents: number;
  holdLatency: { latencyMsP99: number | null };
  series: { stepSeconds: number; points: readonly {
    at: string; ticketsSold: number; revenueCents: number; admitted: number;
    queueLength: number; activeHolds: number; holdLatencyMsP99: number | null;
  }[] };
}

/** One point of every chart. */
export interface Sample {
  atMs: number;
  queueLength: number;
  /** Admitted so far (cumulative); admissionsPerSecond is its rate. */
  admitted: number;
  admissionsPerSecond: number;
  activeHolds: number;
  sold: number;
  revenueCents: number;
  holdLatencyMsP99: number | null;
}

/** The charts keep this many samples (about five minutes at one poll a second). */
export const maxSamples = 300;

/** The metrics a chart can draw. */
export type Metric = Exclude<keyof Sample, 'atMs'>;

/** Appends a stats reply; ignores a reply not newer than the last sample (a late poll). */
export function appendSample(samples: readonly Sample[], stats: StatsLike,
  keep = maxSamples): Sample[] {
  const atMs = Date.parse(stats.asOf);
  const last = samples[samples.length - 1];
  if (last !== undefined && atMs <= last.atMs) return [...samples];
  const admitted = stats.queue.admitted;
  const seconds = last === undefined ? 0 : (atMs - last.atMs) / 1000;
  const admissionsPerSecond = last === undefined || seconds <= 0
    ? stats.queue.admissionsPerMinute / 60
    : Math.max(0, admitted - last.admitted) / seconds;
  const next: Sample = {
    atMs,
    // `waiting` counts everyone in line, the pre-queue included.
    queueLength: stats.queue.waiting,
    admitted,
    admissionsPerSecond,
    activeHolds: stats.activeHolds,
    sold: stats.tickets.sold,
    revenueCents: stats.revenueCents,
    holdLatencyMsP99: stats.holdLatency.latencyMsP99,
  };
  const all = [...samples, next];
  return all.length > keep ? all.slice(all.length - keep) : all;
}

/**
 * Samples rebuilt from the server's series, ending at the reply's totals: cumulative
 * figures walk back by each window's count; the line's length and live holds are the
 * server's figures at each window's end.
 */
export function seedSamples(stats: StatsLike): Sample[] {
  const points = stats.series.points;
  const step = stats.series.stepSeconds;
  let sold = stats.tickets.sold;
  let revenue = stats.revenueCents;
  let admitted = stats.queue.admitted;
  const seeded: Sample[] = [];
  for (let i = points.length - 1; i >= 0; i -= 1) {
    const point = points[i];
    if (point === undefined) continue;
    seeded.unshift({
      atMs: Date.parse(point.at) + step * 1000,
      queueLength: point.queueLength,
      admitted,
      admissionsPerSecond: step > 0 ? point.admitted / step : 0,
      activeHolds: point.activeHolds,
      sold,
      revenueCents: revenue,
      holdLatencyMsP99: point.holdLatencyMsP99,
    });
    sold = Math.max(0, sold - point.ticketsSold);
    revenue = Math.max(0, revenue - point.revenueCents);
    admitted = Math.max(0, admitted - point.admitted);
  }
  // Only windows that have ended are history; the live samples take over from here.
  const asOfMs = Date.parse(stats.asOf);
  return seeded.filter((sample) => sample.atMs <= asOfMs);
}

/** A round number at or above `value` (1, 2 or 5 times a power of ten), for a y axis. */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/** The time span every chart shares: first to last sample. */
export interface TimeDomain {
  fromMs: number;
  toMs: number;
}

export function timeDomain(samples: readonly Sample[]): TimeDomain | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  return first && last ? { fromMs: first.atMs, toMs: Math.max(last.atMs, first.atMs + 1) }
    : undefined;
}

/**
 * Round clock steps, close enough together that any span from 2 s up to (not including)
 * 90 min gets two labels.
 */
const tickStepsMs = [1, 2, 3, 5, 10, 15, 20, 30, 60, 90, 120, 180, 240, 300, 600, 900, 1_200,
  1_800].map((seconds) => seconds * 1_000);

function ticksEvery(domain: TimeDomain, stepMs: number): { atMs: number; at: number }[] {
  const span = domain.toMs - domain.fromMs;
  const ticks: { atMs: number; at: number }[] = [];
  for (let t = Math.ceil(domain.fromMs / stepMs) * stepMs; t <= domain.toMs; t += stepMs) {
    ticks.push({ atMs: t, at: (t - domain.fromMs) / span });
  }
  return ticks;
}

/**
 * Time-axis ticks on round clock times (every second … 30 min), each with its place across
 * the chart (0 at the domain's start, 1 at its end): the step that puts the most labels on
 * the axis without passing `most` (the larger step on a tie). Which step that is depends on
 * where the round times fall, not only on the span: a 15 s span may hold one label at 10 s
 * steps and three at 5 s steps.
 */
export function timeTicks(domain: TimeDomain, most = 4): { atMs: number; at: number }[] {
  let best: { atMs: number; at: number }[] | undefined;
  for (const stepMs of tickStepsMs) {
    const ticks = ticksEvery(domain, stepMs);
    if (ticks.length <= most && ticks.length >= (best?.length ?? 0)) best = ticks;
  }
  // Longer than most × 30 min: the widest step, with more labels than asked.
  return best ?? ticksEvery(domain, tickStepsMs.at(-1) as number);
}

/**
 * Chart geometry: an SVG path through the samples that have a value, and the y maximum.
 * x follows time over `domain` (shared by every chart), else over the metric's own points.
 */
export function linePath(samples: readonly Sample[], metric: Metric, width: number,
  height: number, domain?: TimeDomain): { path: string; yMax: number; latest: number | null } {
  const values = samples.map((s) => ({ atMs: s.atMs, value: s[metric] }))
    .filter((p): p is { atMs: number; value: number } =>
      typeof p.value === 'number' && Number.isFinite(p.value));
  const latest = values[values.length - 1]?.value ?? null;
  if (values.length === 0) return { path: '', yMax: 1, latest };
  const yMax = niceCeil(Math.max(...values.map((p) => p.value)));
  const first = domain?.fromMs ?? values[0]?.atMs ?? 0;
  const span = domain ? domain.toMs - domain.fromMs
    : Math.max((values[values.length - 1]?.atMs ?? first) - first, 1);
  const path = values.map((p, i) => {
    const x = values.length === 1 && !domain ? width : ((p.atMs - first) / span) * width;
    const y = height - (p.value / yMax) * height;
    return `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`;
  }).join(' ');
  return { path, yMax, latest };
}
