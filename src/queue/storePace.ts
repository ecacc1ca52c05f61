/**
 * Store-paced admission: the waiting room admits no faster than the store can take holds.
 *
 * Each store node watches its hold batch queue per event (holds/busy.ts) and, while the
 * wait it would give a new hold is above the target (`QUEUE_STORE_TARGET_WAIT_MS`) or it
 * is refusing holds as busy, publishes a small signal for the event through coordination
 * (one key per event, hashed by event for Redis Cluster, with a short TTL; it keeps the
 * busiest live node's signal, a refusing one first, see `publishStoreSignal`). Healthy nodes
 * publish nothing, so any busy node keeps the signal alive and the key expires within
 * `limits.storeSignalTtlMs` once none is busy: a stale or missing signal means healthy, and
 * a lost Redis can only make admission go at the organizer's rate, never stall it.
 *
 * The admission leader reads the signal once per tick (`readStoreSignal`) and moves the
 * line's store factor with `nextStoreFactor`: down multiplicatively while the store is
 * over its target (faster the further over, and by half a second's worth at least while it
 * refuses), up linearly once it is not. The tick admits at `admitPerMinute × factor`,
 * never above `admitPerMinute` and never below `QUEUE_STORE_PACE_MIN_PERCENT` of it, and
 * caps the live shoppers at `maxActiveShoppers × factor` (`storeLiveCap`): a store that
 * is behind is behind on the shoppers already inside, so while it is paced the slots they
 * free are not refilled until the live count has fallen under the paced cap. Only how many
 * are admitted changes, never who: admission still walks the line in number order.
 * The factor lives in the line's pace (`queue_state.pace.store`), so a new leader carries
 * on from it, and shows in the stats and /metrics.
 */
import type { Coordinator } from '../coord/types.js';

/** What a store node says about one event's hold queue. */
export interface StoreSignal {
  /** The wait a new hold would have in the node's hold batch queue, ms (its estimate). */
  waitMs: number;
  /** The node refused holds as busy (503) since its last publish. */
  refusing: boolean;
}

/** The store pacing of a line after a tick (kept in its pace, shown in the stats). */
export interface StorePace {
  /** The share of `admitPerMinute` admitted at, (min, 1]. */
  factor: number;
  /** The store's reported hold queue wait, ms, or null when no store reported (healthy). */
  storeWaitMs: number | null;
  /** A store node refused holds as busy: slots are protected (admission.ts). */
  refusing: boolean;
  /**
   * The live-shopper cap the tick admitted against (`storeLiveCap`): maxActiveShoppers
   * when not paced. Absent from a pace written before the cap followed the factor.
   */
  liveCap?: number;
}

/** The tuning of `nextStoreFactor`. */
export interface StorePaceKnobs {
  /** Above this reported wait the rate goes down; 0 turns pacing off (factor 1). */
  targetWaitMs: number;
  /** The lowest factor. */
  minFactor: number;
  /** Share of the rate recovered per second once healthy. */
  recoverPerSecond: number;
}

/**
 * The key of an event's store signal: a hash (coord `setMax`), under a name of its own so
 * a node still writing the earlier plain string never meets it with the wrong type.
 */
export function storeSignalKey(coord: Coordinator, eventId: string): string {
  return coord.keys.event(eventId, 'store:busy:max');
}

/** Refusing outranks any wait: a refusal is what keeps refused fans' slots. */
const refusingScore = 2 ** 40;

/**
 * How a signal ranks against another node's: a refusing one first, then the longer wait.
 * The admission leader must see the busiest node, not whichever wrote last.
 */
export function storeSignalScore(signal: StoreSignal): number {
  return Math.round(signal.waitMs) + (signal.refusing ? refusingScore : 0);
}

/**
 * Publishes a store node's signal for an event, to live `ttlMs` (holds/busy.ts). With
 * several busy nodes the key keeps the highest-ranked signal still live (coord `setMax`):
 * a calmer node's write does not hide a busier one's within its TTL, and once the busier
 * one stops writing its report expires and the next write stands.
 */
export async function publishStoreSignal(
  coord: Coordinator, eventId: string, signal: StoreSignal, ttlMs: number,
): Promise<void> {
  await coord.setMax(storeSignalKey(coord, eventId), storeSignalScore(signal),
    JSON.stringify({ w: Math.round(signal.waitMs), r: signal.refusing }), ttlMs);
}

/**
 * The event's store signal, or null when none is live (or it cannot be read: coordination
 * down means healthy, so the line never stalls on it).
 */
export async function readStoreSignal(
  coord: Coordinator, eventId: string,
): Promise<StoreSignal | null> {
  let raw: string | null;
  try {
    raw = await coord.hashGet(storeSignalKey(coord, eventId), 'value');
  } catch {
    return null;
  }
  if (raw === null) return null;
  try {
    const parsed = JSON.parse(raw) as { w?: unknown; r?: unknown };
    const waitMs = Number(parsed.w);
    if (!Number.isFinite(waitMs) || waitMs < 0) return null;
    return { waitMs, refusing: parsed.r === true };
  } catch {
    return null;
  }
}

/** Longest step one tick may take (a paused leader does not jump the factor). */
const maxStepMs = 5_000;
/** Per second over target the factor falls to at most this share (and at least this). */
const fallMin = 0.5;
const fallMax = 0.95;

/**
 * The line's store factor after `dtMs` with `signal` (pure; see the module comment).
 * Healthy (no signal, or a wait at or under target and no refusals): recovers linearly.
 * Busy: falls by the ratio target / wait per second, clamped to [0.5, 0.95]; a refusing
 * store falls by half per second. Always within [minFactor, 1].
 */
export function nextStoreFactor(
  previous: number, signal: StoreSignal | null, dtMs: number, knobs: StorePaceKnobs,
): number {
  if (knobs.targetWaitMs <= 0) return 1;
  const floor = Math.min(1, Math.max(0.01, knobs.minFactor));
  const from = Number.isFinite(previous) ? Math.min(1, Math.max(floor, previous)) : 1;
  const seconds = Math.min(Math.max(0, dtMs), maxStepMs) / 1000;
  const busy = signal !== null && (signal.refusing || signal.waitMs > knobs.targetWaitMs);
  if (!busy) return Math.min(1, from + knobs.recoverPerSecond * seconds);
  const ratio = signal.refusing ? fallMin
    : Math.min(fallMax, Math.max(fallMin, knobs.targetWaitMs / signal.waitMs));
  return Math.max(floor, from * Math.pow(ratio, seconds));
}

/**
 * The live-shopper cap of a paced line (pure): `ceil(maxActive × factor)`, never below
 * `floor` (the admissions of one tick at the organizer's rate, so a drained store always
 * admits) nor 1, never above `maxActive`.
 *
 * Why concurrency and not only the rate: a shopper inside places holds in a closed loop,
 * so the store's wait is about live shoppers / hold throughput − think time (Little's law).
 * Slowing admissions alone leaves the live count where it was, and a store that is
 * saturated by the shoppers inside stays saturated while the line refills every slot they
 * free. Scaling the cap with the same factor makes the live count fall toward what the
 * store serves within its target wait, and rise again as the factor recovers.
 */
export function storeLiveCap(maxActive: number, factor: number, floor: number): number {
  const cap = Math.max(0, Math.floor(maxActive));
  if (cap === 0) return 0;
  const share = Number.isFinite(factor) ? Math.min(1, Math.max(0, factor)) : 1;
  const lowest = Math.min(cap, Math.max(1, Math.ceil(floor)));
  // A factor of 0.3 is 0.30000000000000004 in floats: 9,000 × it must be 2,700, not 2,701.
  return Math.min(cap, Math.max(lowest, Math.ceil(cap * share - 1e-9)));
}
