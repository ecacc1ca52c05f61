/**
 * How fast the line moves, and what that means for one fan: the ETA estimator.
 *
 * A waiting room admits at whichever of three limits binds on a tick: the configured rate
 * (`admitPerMinute`), the free shopper slots (`maxActiveShoppers`: once full, the line moves
 * only as fast as shoppers finish), or the inventory room (once the tickets left bound how
 * many may shop, only as fast as seekers find tickets or tickets come back). A rate
 * measured over the last minute lags every change between them, so the tick keeps a
 * `Pace`: which limit bound (the regime), the headroom it left (fans who could be admitted
 * at the configured rate without waiting for anything to free up), and smoothed
 * measurements (exponentially weighted, ~8 s) of the admissions on constrained ticks, of
 * the slots freed, and of the tick period. The pace is broadcast with the tick; each node
 * turns it into one fan's ETA with no I/O (`etaFor`):
 *
 *   position ≤ headroom′:  t = position / rate
 *   beyond:                t = headroom′ / rate + (position − headroom′) / sustained
 *   ETA = ⌈t / tick⌉ × tick + lag − (time since that tick)
 *
 * where headroom′ grows by what frees up while it is being admitted (headroom × rate /
 * (rate − sustained)), and `sustained` is the measured constrained throughput once the
 * store has been full, never below maxActive / passSeconds (every pass ends by then; not
 * while inventory binds, when only what comes back moves the line) and never above the
 * rate; before the store has ever been full it is the rate (the room's sizing is the prior
 * for how long shoppers stay; `sustainedPerSecond`). Admission happens on ticks, so the
 * time is rounded up to the tick the fan's number is reached on.
 */

import type { StorePace } from './storePace.js';

/** Which limit held admission back on the last tick. */
export type Regime = 'rate' | 'slots' | 'inventory' | 'drained';

/** The line's pace, as of one tick (broadcast with it, kept in `queue_state.pace`). */
export interface Pace {
  regime: Regime;
  /** The configured admission rate, per second. */
  ratePerSecond: number;
  /** Fans who could be admitted now at the rate alone: min(free slots, inventory room). */
  headroom: number;
  /** Admissions per second on ticks held back by slots or inventory (smoothed); null before. */
  constrainedPerSecond: number | null;
  /** Shopper slots freed per second (smoothed): orders, leaving, idling, lapsing. */
  freedPerSecond: number;
  /**
   * Live slots after the tick, and the cap the tick admitted against: maxActiveShoppers, or
   * less while the store is paced (storePace.ts `storeLiveCap`).
   */
  live: number;
  maxActive: number;
  passSeconds: number;
  /** The measured interval between ticks, ms (smoothed). */
  tickMs: number;
  /**
   * From a tick's instant to its broadcast leaving the leader, ms (smoothed): the tick's
   * own transaction and the publish. A fan's number is reached when the broadcast says so.
   */
  lagMs?: number;
  /** When the tick ran (database clock, epoch ms). */
  atMs: number;
  /**
   * Store pacing (storePace.ts): the share of admitPerMinute admitted at while the store
   * is busy; `ratePerSecond` is already scaled by it. Absent before pacing ever ran.
   */
  store?: StorePace;
}

/** Smoothing time constant of the measurements. */
export const paceTauMs = 8_000;

/** What one tick saw, for `nextPace`. */
export interface TickSample {
  atMs: number;
  /** The configured tick period (the first interval, before any is measured). */
  tickMs: number;
  admitPerMinute: number;
  maxActive: number;
  passSeconds: number;
  /** Live slots before this tick's admissions. */
  liveBefore: number;
  /** Admitted on this tick. */
  admitted: number;
  /** The budget's terms (admitted ≤ each). */
  byRate: number;
  bySlots: number;
  byInventory: number;
  /** Nobody was left to admit (the line was empty behind the last admitted fan). */
  drained: boolean;
  /** The previous tick's lag to its broadcast, as the leader measured it (if it did). */
  lagMs?: number;
}

function smooth(previous: number, sample: number, dtMs: number): number {
  const alpha = 1 - Math.exp(-dtMs / paceTauMs);
  return previous + alpha * (sample - previous);
}

/** Which term bound the budget: the smallest; ties go to slots, then inventory. */
function regimeOf(sample: TickSample): Regime {
  if (sample.drained) return 'drained';
  const least = Math.min(sample.byRate, sample.bySlots, sample.byInventory);
  if (sample.bySlots <= least) return 'slots';
  if (sample.byInventory <= least) return 'inventory';
  return 'rate';
}

/** The pace after a tick, from the previous pace (undefined on the first tick). */
export function nextPace(previous: Pace | undefined, sample: TickSample): Pace {
  const regime = regimeOf(sample);
  const ratePerSecond = sample.admitPerMinute / 60;
  const headroom = Math.max(0,
    Math.min(sample.bySlots, sample.byInventory) - sample.admitted);
  const live = sample.liveBefore + sample.admitted;
  if (previous === undefined) {
    return {
      regime, ratePerSecond, headroom, constrainedPerSecond: null, freedPerSecond: 0, live,
      maxActive: sample.maxActive, passSeconds: sample.passSeconds, tickMs: sample.tickMs,
      ...(sample.lagMs === undefined ? {} : { lagMs: sample.lagMs }), atMs: sample.atMs,
    };
  }
  const dtMs = sample.atMs - previous.atMs;
  if (!(dtMs > 0)) {
    return { ...previous, regime, ratePerSecond, headroom, live, atMs: sample.atMs };
  }
  const freed = Math.max(0, previous.live - sample.liveBefore);
  const constrained = regime === 'slots' || regime === 'inventory';
  const admittedPerSecond = (sample.admitted * 1000) / dtMs;
  return {
    regime, ratePerSecond, headroom,
    constrainedPerSecond: constrained
      ? smooth(previous.constrainedPerSecond ?? admittedPerSecond, admittedPerSecond, dtMs)
      : previous.constrainedPerSecond,
    freedPerSecond: smooth(previous.freedPerSecond, (freed * 1000) / dtMs, dtMs),
    live, maxActive: sample.maxActive, passSeconds: sample.passSeconds,
    // One late tick (a busy database) moves the period a little, not to its length.
    tickMs: smooth(previous.tickMs, Math.min(dtMs, 10 * sample.tickMs), 4 * dtMs),
    ...lag(previous.lagMs, sample.lagMs, dtMs),
    atMs: sample.atMs,
  };
}

function lag(
  previous: number | undefined, sample: number | undefined, dtMs: number,
): { lagMs?: number } {
  if (sample === undefined) return previous === undefined ? {} : { lagMs: previous };
  const bounded = Math.min(Math.max(0, sample), 10_000);
  return { lagMs: previous === undefined ? bounded : smooth(previous, bounded, 4 * dtMs) };
}

/**
 * The throughput once the headroom is used. Little's law: a store of maxActive slots whose
 * shoppers stay R seconds on average lets maxActive / R fans in per second once it is full,
 * and the line moves at min(rate, maxActive / R).
 *
 * - Inventory binds: what comes back is all there is (the measured constrained rate; no
 *   floor from passes expiring).
 * - The store has been full (a tick held back by slots): the measured constrained rate,
 *   at least what pass expiry guarantees (maxActive / passSeconds), at most the rate.
 * - The store has never been full: nothing measured yet can tell R (every slot is younger
 *   than the time since the first admission, so any lower bound on R from the slots' ages
 *   stays below maxActive / rate until the store fills, and the first finishers are the
 *   quick ones). The prior is the room's own sizing: maxActive slots at `rate` admissions
 *   per second stay unfilled while shoppers stay less than maxActive / rate, so the line
 *   goes at the rate. Turnover measured while the store fills is not used: it counts only
 *   the shoppers quick enough to be done already, and a fuller store of them would
 *   promise a slower line than the one fans get. If shoppers do stay longer, the store
 *   fills, and from that tick on the measured rate replaces the prior.
 */
export function sustainedPerSecond(pace: Pace): number {
  if (pace.regime === 'inventory') {
    // What comes back is all there is: no floor from passes expiring.
    return Math.min(pace.ratePerSecond, pace.constrainedPerSecond ?? 0);
  }
  if (pace.constrainedPerSecond === null) return pace.ratePerSecond;
  const floor = pace.passSeconds > 0 ? pace.maxActive / pace.passSeconds : 0;
  return Math.min(pace.ratePerSecond, Math.max(floor, pace.constrainedPerSecond));
}

/**
 * Seconds until the fan `position` places from the front is admitted, as of `elapsedMs`
 * after the tick the pace is from; null when the line has no throughput to go by.
 * Whole seconds, at least 1 while the fan waits.
 */
export function etaFor(position: number, pace: Pace, elapsedMs: number): number | null {
  if (position <= 0) return 0;
  const rate = pace.ratePerSecond;
  if (!(rate > 0)) return null;
  const sustained = sustainedPerSecond(pace);
  // While the headroom is admitted at the rate, more frees up at the sustained rate.
  const headroom = sustained >= rate ? Infinity : (pace.headroom * rate) / (rate - sustained);
  const first = Math.min(position, headroom);
  let seconds = first / rate;
  if (position > first) {
    if (!(sustained > 0)) return null;
    seconds += (position - first) / sustained;
  }
  const tickSeconds = Math.max(0.05, pace.tickMs / 1000);
  const ticks = Math.max(1, Math.ceil(seconds / tickSeconds - 1e-9));
  const lagMs = pace.lagMs ?? 0;
  const since = Math.min(Math.max(0, elapsedMs), pace.tickMs + lagMs) / 1000;
  return Math.max(1, Math.round(ticks * tickSeconds + lagMs / 1000 - since));
}
