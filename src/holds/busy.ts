/**
 * A store that says "busy" honestly. A hold waits for its event's next hold batch on this
 * node (batch.ts); when that queue is deeper than the batches can clear within
 * `HOLD_QUEUE_WAIT_MAX_MS`, a new hold would be answered after its fan's client has given
 * up, and every request ahead of it makes the wait longer. So such a hold is refused at
 * once with 503 `service_unavailable` and Retry-After (`HOLD_BUSY_RETRY_AFTER_SECONDS`),
 * before it costs anything but its checks on the node: no database round trip.
 *
 * The wait is estimated from the queue (GroupCommit.load): the batches needed to clear
 * the requests ahead, at the measured (smoothed) batch time, spread over the batches that
 * may run at once; or the oldest waiter's age, whichever is longer (a batch stuck behind a
 * slow commit shows in the age before it shows in the measured time).
 *
 * The same estimate feeds admission (queue/storePace.ts): while it is above the target
 * wait, or while holds are being refused, the node publishes the event's store signal. The
 * signal adds the time holds spend on the node before they queue (their lead: from the
 * route's start through authentication, rate limits and the pass check, smoothed over
 * recent holds). On a node whose event loop gets too little CPU that lead is most of the
 * wait fans see while the queue itself stays short (docs/benchmarks-journal.md,
 * 2026-11-27, "Where a hold's time goes inside the crowd"), so pacing has to see it. The
 * refusal keeps to the queue's estimate: a refused hold saves its batch, not its lead. A
 * refused fan's slot is kept: the admission tick, reading a refusing store, suspends the
 * idle release and stretches unclaimed admissions' claim grace (queue/admission.ts), so
 * the store's own busy time never costs a fan their place.
 */
import type { AppContext } from '../context.js';
import { limits } from '../config/limits.js';
import { DomainError } from '../core/errors.js';
import type { KeyLoad } from '../core/groupCommit.js';
import { publishStoreSignal } from '../queue/storePace.js';

/** Reads an event's hold queue load on this node (batch.ts holdQueueLoad). */
export type HoldQueueLoad = (eventId: string) => KeyLoad | undefined;

/**
 * The wait a hold arriving now would have, ms (pure): the batches ahead of it at the
 * measured batch time, `inFlight` at a time, or the oldest waiter's age if longer.
 */
export function estimatedWaitMs(
  load: KeyLoad | undefined, maxBatch: number, inFlight: number,
): number {
  if (load === undefined) return 0;
  // Nothing waits and a batch may start: the hold goes at once.
  if (load.waiting === 0 && load.running < inFlight) return 0;
  const batchesAhead = Math.ceil((load.waiting + 1) / maxBatch);
  const rounds = Math.ceil(batchesAhead / inFlight);
  return Math.max(load.oldestWaitMs, rounds * load.batchMs);
}

/** True for the busy refusal `StoreBusy.admit` throws. */
export function isStoreBusy(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'service_unavailable'
    && error.extra.reason === 'store_busy';
}

/** Weight of the newest hold in the smoothed lead (as GroupCommit smooths batch times). */
const leadWeight = 0.2;

/** Per event, when this node last published, what it said, and whether it refused since. */
interface Published {
  atMs: number;
  sentRefusing: boolean;
  refusedSince: boolean;
}

/** One per app (HoldDesk): the bound on the hold queue and the store signal's publisher. */
export class StoreBusy {
  private readonly published = new Map<string, Published>();
  /** Holds refused as busy by this node, for /metrics. */
  refusedTotal = 0;
  /** Time holds spent on this node before they queue, smoothed over recent holds, ms. */
  leadMs = 0;

  constructor(
    private readonly ctx: AppContext,
    private readonly loadOf: HoldQueueLoad,
    private readonly shape: { maxBatch: number; inFlight: number },
  ) {}

  /**
   * Lets a hold for `eventId` queue, or refuses it as busy (service_unavailable). `leadMs`
   * is how long this hold has been on the node so far (0 when unknown). Publishes the
   * event's store signal, at most every `limits.storeSignalPublishMs`, while the wait with
   * the smoothed lead is over the target or holds are refused.
   */
  admit(eventId: string, leadMs = 0): void {
    const { queue } = this.ctx.config;
    this.leadMs += leadWeight * (Math.max(0, leadMs) - this.leadMs);
    const waitMs = estimatedWaitMs(this.loadOf(eventId), this.shape.maxBatch,
      this.shape.inFlight);
    const refuse = queue.holdQueueWaitMaxMs > 0 && waitMs > queue.holdQueueWaitMaxMs;
    const seenMs = waitMs + Math.round(this.leadMs);
    const over = queue.storeTargetWaitMs > 0 && seenMs > queue.storeTargetWaitMs;
    if (refuse || over) this.signal(eventId, seenMs, refuse);
    if (!refuse) return;
    this.refusedTotal += 1;
    const retryAfterSeconds = queue.holdBusyRetryAfterSeconds;
    throw new DomainError('service_unavailable',
      `the store is busy with other holds; your place is kept: retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds, reason: 'store_busy' });
  }

  private signal(eventId: string, waitMs: number, refused: boolean): void {
    const nowMs = this.ctx.clock.nowMs();
    const last = this.published.get(eventId);
    // A first refusal goes out at once: it is what keeps refused fans' slots.
    const due = last === undefined || nowMs - last.atMs >= limits.storeSignalPublishMs ||
      (refused && !last.sentRefusing);
    if (!due) {
      if (refused) last.refusedSince = true;
      return;
    }
    const refusing = refused || last?.refusedSince === true;
    this.published.delete(eventId);
    this.published.set(eventId, { atMs: nowMs, sentRefusing: refusing, refusedSince: false });
    if (this.published.size > limits.queueEventsPerTick) {
      const oldest = this.published.keys().next().value;
      if (oldest !== undefined) this.published.delete(oldest);
    }
    // Not awaited: the hold's answer does not depend on it, and a lost signal only means
    // admission goes at the organizer's rate for a while.
    publishStoreSignal(this.ctx.coord, eventId, { waitMs, refusing }, limits.storeSignalTtlMs)
      .catch((error: unknown) => {
        this.ctx.logger.debug({ err: error, eventId }, 'store signal not published');
      });
  }
}
