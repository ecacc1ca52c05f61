/**
 * Did store pacing act during the sale, when, and how did the store's hold latency follow?
 * Read from the timeline (one point per stats sample): the line's store pace factor, the
 * holds refused as busy, and the hold node's own latency per interval. Pure, so the report
 * can be checked on a made-up timeline.
 */
import type { TimelinePoint } from './metrics.js';

/** Store pacing over one window of the run (seconds after on-sale). */
export interface PacingWindow {
  fromSeconds: number;
  toSeconds: number;
  /** The lowest pace factor sampled in the window; null when none was reported. */
  minFactor: number | null;
  /** The longest store wait reported in the window, ms; null when no store said busy. */
  maxStoreWaitMs: number | null;
  /** Holds refused as busy in the window. */
  busyRefusals: number;
  /** Holds the store node answered in the window (its /metrics). */
  serverHolds: number;
  /** The worst sampled interval's server-side hold p99 (bucket bound), ms; null: none. */
  serverHoldP99Ms: number | null;
}

const maxOf = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);
const minOf = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

/**
 * The timeline in windows of `windowSeconds` from on-sale (points before on-sale fall in
 * negative windows, which are kept: pacing may act on the pre-queue's first draw). A
 * point's busy refusals are those since the previous point.
 */
export function pacingWindows(
  timeline: readonly TimelinePoint[], onSaleAtMs: number, windowSeconds: number,
): PacingWindow[] {
  const windows = new Map<number, PacingWindow>();
  let previousBusy = 0;
  for (const point of timeline) {
    const seconds = (point.tMs - onSaleAtMs) / 1000;
    const index = Math.floor(seconds / windowSeconds);
    let window = windows.get(index);
    if (window === undefined) {
      window = { fromSeconds: index * windowSeconds, toSeconds: (index + 1) * windowSeconds,
        minFactor: null, maxStoreWaitMs: null, busyRefusals: 0, serverHolds: 0,
        serverHoldP99Ms: null };
      windows.set(index, window);
    }
    window.minFactor = minOf(window.minFactor, point.storePaceFactor);
    window.maxStoreWaitMs = maxOf(window.maxStoreWaitMs, point.storeWaitMs);
    window.busyRefusals += Math.max(0, point.holdsBusy - previousBusy);
    previousBusy = point.holdsBusy;
    const server = point.serverHold;
    if (server !== null && server.count > 0) {
      window.serverHolds += server.count;
      window.serverHoldP99Ms = maxOf(window.serverHoldP99Ms, server.p99Ms);
    }
  }
  return [...windows.entries()].sort(([a], [b]) => a - b).map(([, window]) => window);
}

const ms = (value: number | null): string =>
  value === null ? '–' : value === Infinity ? '> 10000' : String(Math.round(value));
const s0 = (value: number): string => value.toFixed(0);

/** The worst interval p99 among points matching `pick`, with when (s after on-sale). */
function worstServerP99(
  timeline: readonly TimelinePoint[], onSaleAtMs: number,
  pick: (point: TimelinePoint) => boolean,
): { p99Ms: number; atSeconds: number; holds: number } | null {
  let worst: { p99Ms: number; atSeconds: number; holds: number } | null = null;
  for (const point of timeline) {
    const server = point.serverHold;
    if (server === null || server.count === 0 || !pick(point)) continue;
    if (worst === null || server.p99Ms > worst.p99Ms) {
      worst = { p99Ms: server.p99Ms, atSeconds: (point.tMs - onSaleAtMs) / 1000,
        holds: server.count };
    }
  }
  return worst;
}

/**
 * While paced: the most live shoppers sampled and the lowest live cap (the cap follows the
 * factor, admission.ts planBudget); empty when the stats did not report them.
 */
function liveFigures(paced: readonly TimelinePoint[]): string {
  const live = paced.reduce<number | null>((m, p) => maxOf(m, p.activeShoppers ?? null), null);
  const cap = paced.reduce<number | null>((m, p) => minOf(m, p.liveCap ?? null), null);
  if (live === null && cap === null) return '';
  return `; while paced, live shoppers up to ${live ?? '–'}, live cap down to ${cap ?? '–'}`;
}

/** The report's store pacing lines: whether pacing acted, when, and how holds fared. */
export function pacingLines(
  timeline: readonly TimelinePoint[], onSaleAtMs: number, windowSeconds = 30, maxRows = 40,
): string[] {
  const at = (point: TimelinePoint): number => (point.tMs - onSaleAtMs) / 1000;
  const paced = timeline.filter((p) => p.storePaceFactor !== null && p.storePaceFactor < 1);
  const reported = timeline.some((p) => p.storePaceFactor !== null);
  const lines: string[] = [];
  if (!reported) {
    lines.push('pacing      not reported (no waiting room, or no stats sampled)');
  } else if (paced.length === 0) {
    lines.push('pacing      never acted: the store pace factor stayed at 100 % throughout');
  } else {
    const lowest = paced.reduce((a, b) =>
      (b.storePaceFactor ?? 1) < (a.storePaceFactor ?? 1) ? b : a);
    const longestWait = timeline.reduce<number | null>((w, p) => maxOf(w, p.storeWaitMs), null);
    lines.push(`pacing      factor below 100 % in ${paced.length} of ${timeline.length} samples, ` +
      `first ${s0(at(paced[0] as TimelinePoint))} s, last ` +
      `${s0(at(paced[paced.length - 1] as TimelinePoint))} s after on-sale; lowest ` +
      `${((lowest.storePaceFactor ?? 1) * 100).toFixed(0)} % at ${s0(at(lowest))} s; ` +
      `store wait reported up to ${ms(longestWait)} ms` + liveFigures(paced));
  }
  const busyTotal = timeline[timeline.length - 1]?.holdsBusy ?? 0;
  lines.push(`store busy  ${busyTotal} hold replies refused as busy (503 store_busy, retries ` +
    'included)');
  const scraped = timeline.some((p) => p.serverHold !== null);
  if (!scraped) {
    lines.push('server hold not scraped (the store node\'s /metrics was not readable)');
  } else {
    const worst = (pick: (p: TimelinePoint) => boolean, label: string): string => {
      const w = worstServerP99(timeline, onSaleAtMs, pick);
      if (w === null) return `${label} none`;
      const bound = w.p99Ms === Infinity ? 'beyond 10 s' : `≤ ${ms(w.p99Ms)} ms`;
      return `${label} ${bound} at ${s0(w.atSeconds)} s (${w.holds} holds)`;
    };
    lines.push(`server hold worst sampled-interval p99 ${worst(() => true, 'overall')}; ` +
      worst((p) => p.storePaceFactor !== null && p.storePaceFactor < 1, 'while paced') + '; ' +
      worst((p) => p.storePaceFactor === null || p.storePaceFactor >= 1, 'otherwise'));
  }
  const windows = pacingWindows(timeline, onSaleAtMs, windowSeconds)
    .filter((w) => (w.minFactor !== null && w.minFactor < 1) || w.busyRefusals > 0);
  if (windows.length === 0) return lines;
  lines.push(`  s after on-sale  lowest factor  store wait ms  busy refusals  ` +
    `server holds  worst p99 ms`);
  for (const w of windows.slice(0, maxRows)) {
    lines.push(`  ${`${w.fromSeconds}–${w.toSeconds}`.padEnd(15)} ` +
      `${(w.minFactor === null ? '–' : `${(w.minFactor * 100).toFixed(0)} %`).padStart(13)} ` +
      `${ms(w.maxStoreWaitMs).padStart(14)} ${String(w.busyRefusals).padStart(14)} ` +
      `${String(w.serverHolds).padStart(13)} ${ms(w.serverHoldP99Ms).padStart(13)}`);
  }
  if (windows.length > maxRows) {
    lines.push(`  … ${windows.length - maxRows} more windows paced or refusing (report.json)`);
  }
  return lines;
}
