/**
 * Booking maintenance duties: the hold-expiry sweeper, payment reconciliation, retention
 * (idempotency records, webhook dedupe records, simulated gateway books) and compaction of
 * the dashboard's kept counts (order_counts, ticket_counts). None of them decides
 * anything a request depends on (expired holds are already free, settled payments ignore
 * repeats), so running them twice is harmless; they still run on one elected node at a time
 * (SPEC §3) to avoid wasted work, and move to another node within the lease time when the
 * leader dies.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.js';
import { limits } from '../config/limits.js';
import { LeaderElector } from '../coord/leader.js';
import { refundCancelledEvents } from './eventRefunds.js';
import { sweepExpiredHolds } from '../holds/sweeper.js';
import { compactOrderCounts, compactTicketCounts } from './counts.js';
import { pruneIdempotencyKeys } from '../idempotency/store.js';
import { paymentsFor } from '../payments/index.js';
import { reconcilePayments } from './reconcile.js';
import { pruneBookingRecords } from './retention.js';
import type { BookingDeps } from './settle.js';
import { isSettleGuard } from './settleBatch.js';

/** The dependencies of order commands, from a context. */
export function bookingDeps(ctx: AppContext): BookingDeps {
  return {
    db: ctx.db,
    provider: paymentsFor(ctx),
    paymentWindowSeconds: ctx.config.paymentWindowSeconds,
    logger: ctx.logger,
    ...(isSettleGuard(ctx.unguarded) || ctx.unguarded === 'checkout-pending'
      ? { unguarded: ctx.unguarded } : {}),
    ...(ctx.seams === undefined ? {} : { seams: ctx.seams }),
  };
}

export interface BookingWorkerOptions {
  /** Sweep period (default from config, 250 ms: expiry shows within about a second). */
  sweepEveryMs?: number;
  /** Reconciliation and pruning period (default 15 s). */
  maintainEveryMs?: number;
}

/**
 * Runs `work` every `periodMs` while this node leads; a slow run is not stacked on (the
 * next one waits for the next period). Returns the stop function.
 */
function leaderLoop(
  ctx: AppContext, elector: LeaderElector, periodMs: number, what: string,
  work: () => Promise<void>,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy || !elector.isLeader()) return;
    busy = true;
    running = work()
      .catch((error: unknown) => ctx.logger.warn({ err: error }, `${what} failed`))
      .finally(() => {
        busy = false;
      });
  }, periodMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

/** Starts the duties on this node (they act only while it leads); call stop() on shutdown. */
export function startBookingWorkers(ctx: AppContext, options: BookingWorkerOptions = {}): {
  stop(): Promise<void>;
} {
  const elector = new LeaderElector(ctx.leases ?? ctx.coord, {
    name: 'booking-maintenance',
    holderId: `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`,
    ttlMs: 10_000,
    logger: ctx.logger,
  });
  // Short period, so a lapsed hold turns `expired` (and its release is published) within
  // about a second; an idle sweep is one indexed probe of holds_sweep_idx.
  const stopSweeps = leaderLoop(ctx, elector, options.sweepEveryMs ?? ctx.config.live.holdSweepMs,
    'hold sweep', async () => {
      // Drain a backlog in bounded batches, but yield after a few so one run stays short.
      for (let round = 0; round < 10; round++) {
        const swept = await sweepExpiredHolds(ctx.db, limits.holdSweepBatch);
        if (swept.holds < limits.holdSweepBatch) break;
      }
    });
  const stopMaintenance = leaderLoop(ctx, elector, options.maintainEveryMs ?? 15_000,
    'booking maintenance', async () => {
      await reconcilePayments(bookingDeps(ctx));
      await refundCancelledEvents(bookingDeps(ctx));
      await pruneIdempotencyKeys(ctx.db);
      await pruneBookingRecords(ctx.db);
    });
  // Its own loop: a step above that throws every run (a payment provider outage) would
  // otherwise skip it every run, and the dashboard's kept rows would grow with the churn.
  const stopCompaction = leaderLoop(ctx, elector, options.maintainEveryMs ?? 15_000,
    'kept counts compaction', async () => {
      // Each on its own: one failing must not skip the other.
      const results = await Promise.allSettled([
        compactOrderCounts(ctx.db), compactTicketCounts(ctx.db),
      ]);
      for (const result of results) {
        if (result.status === 'rejected') throw result.reason;
      }
    });
  void elector.start();
  return {
    async stop() {
      await Promise.all([stopSweeps(), stopMaintenance(), stopCompaction()]);
      await elector.stop();
    },
  };
}
