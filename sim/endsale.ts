/**
 * The end of the sale, as the report shows it: how long the last fans waited after the
 * last ticket was sold, how they were resolved, why shopper slots were freed, how hold
 * attempts were refused, and how far the ETA fans were shown was from the truth over time.
 */
import type { Customer, EngineResult } from './engine.js';
import type { EtaSample } from './report.js';
import { percentile } from './stats.js';

/** How the sale ended for the crowd. */
export interface EndOfSale {
  /** The last ticket bought, seconds after on-sale (null if none was). */
  lastSaleSeconds: number | null;
  /** The last fan resolved (bought, declined, left, told sold out, on the waitlist). */
  lastResolvedSeconds: number | null;
  /** lastResolved − lastSale once every fan is resolved (else null); target ≤ 30 s. */
  lastSaleToLastResolvedSeconds: number | null;
  /** Fans still unresolved when the run stopped (timed out). */
  unresolved: number;
  toldSoldOut: number;
  movedToWaitlist: number;
  /** Fans who gave their pass back or left the line (the simulator's DELETE …/queue/me). */
  leftLine: number;
  /** Shopper slots freed, by why (from the server at the end). */
  freed: { order: number; left: number; idle: number; lapsed: number } | null;
}

/** Hold attempts refused for want of tickets, against the holds that succeeded. */
export interface Refusals {
  holdsOk: number;
  insufficientInventory: number;
  seatsTaken: number;
  /** (insufficient + seats taken) per successful hold; the target is at most 1. */
  perSuccessfulHold: number | null;
}

/** ETA error in one stretch of the sale (by when the fan was told). */
export interface EtaBucket {
  fromSeconds: number;
  samples: number;
  medianErrorSeconds: number;
  /** Median of |predicted − actual| / actual (actual at least one tick, 1 s). */
  medianRelativeError: number;
}

const outcomesResolved = new Set(['bought', 'declined', 'abandoned', 'sold_out', 'gave_up',
  'left', 'waitlist']);

function freedFrom(queue: Record<string, unknown> | null): EndOfSale['freed'] {
  const freed = queue?.freed as Partial<NonNullable<EndOfSale['freed']>> | undefined;
  if (freed === undefined) return null;
  return { order: freed.order ?? 0, left: freed.left ?? 0, idle: freed.idle ?? 0,
    lapsed: freed.lapsed ?? 0 };
}

/** The end-of-sale figures, with times relative to the on-sale. */
export function endOfSale(
  result: EngineResult, onSaleAtMs: number, counters: Record<string, number>,
): EndOfSale {
  const resolved = result.customers.filter((c) => outcomesResolved.has(c.outcome ?? ''));
  const lastResolvedMs = resolved.reduce<number | null>(
    (max, c) => Math.max(max ?? 0, c.resolvedAtMs ?? 0), null);
  const since = (ms: number | null): number | null => ms === null ? null : (ms - onSaleAtMs) / 1000;
  const count = (outcome: Customer['outcome']): number =>
    result.customers.filter((c) => c.outcome === outcome).length;
  return {
    lastSaleSeconds: since(result.lastSaleAtMs),
    lastResolvedSeconds: since(lastResolvedMs),
    // Only meaningful once everyone is resolved: otherwise the last fan is still waiting.
    lastSaleToLastResolvedSeconds: result.lastSaleAtMs === null || lastResolvedMs === null ||
      resolved.length < result.customers.length
      ? null : Math.max(0, lastResolvedMs - result.lastSaleAtMs) / 1000,
    unresolved: result.customers.length - resolved.length,
    toldSoldOut: result.customers.filter((c) => c.toldSoldOut === true).length,
    movedToWaitlist: count('waitlist'),
    leftLine: (counters.gave_pass_back ?? 0),
    freed: freedFrom(result.finalQueue),
  };
}

/** Refused hold attempts (insufficient inventory, seats taken) per successful hold. */
export function refusals(counters: Record<string, number>): Refusals {
  const holdsOk = counters.holds_ok ?? 0;
  const insufficientInventory = counters.hold_insufficient_inventory ?? 0;
  const seatsTaken = counters.hold_seats_unavailable ?? 0;
  return {
    holdsOk, insufficientInventory, seatsTaken,
    perSuccessfulHold: holdsOk === 0 ? null : (insufficientInventory + seatsTaken) / holdsOk,
  };
}

/** Relative error of one prediction: against the actual wait, at least one tick (1 s). */
export function relativeError(sample: EtaSample): number {
  return Math.abs(sample.predictedSeconds - sample.actualSeconds) /
    Math.max(1, sample.actualSeconds);
}

/** Median relative error over samples (null without any). */
export function medianRelative(samples: readonly EtaSample[]): number | null {
  if (samples.length === 0) return null;
  return percentile(samples.map(relativeError).sort((a, b) => a - b), 50);
}

/** ETA error by when the fans were told, in buckets of `bucketSeconds` after on-sale. */
export function etaOverTime(
  samples: readonly (EtaSample & { toldAtSeconds: number })[], bucketSeconds = 10,
): EtaBucket[] {
  const buckets = new Map<number, (EtaSample & { toldAtSeconds: number })[]>();
  for (const sample of samples) {
    const from = Math.floor(sample.toldAtSeconds / bucketSeconds) * bucketSeconds;
    const list = buckets.get(from) ?? [];
    list.push(sample);
    buckets.set(from, list);
  }
  return [...buckets.entries()].sort(([a], [b]) => a - b).map(([fromSeconds, list]) => ({
    fromSeconds, samples: list.length,
    medianErrorSeconds: percentile(list.map((s) =>
      Math.abs(s.predictedSeconds - s.actualSeconds)).sort((a, b) => a - b), 50),
    medianRelativeError: medianRelative(list) ?? 0,
  }));
}
