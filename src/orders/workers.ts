/**
 * Booking maintenance duties: the hold-expiry sweeper, payment reconciliation and
 * idempotency-record pruning. None of them decides anything a request depends on (expired
 * holds are already free, settled payments ignore repeats), so running them twice is
 * harmless; they still run on one elected node at a time (SPEC §3) to avoid wasted work,
 * and move to another node within the lease time when the leader dies.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.js';
import { limits } from '../config/limits.js';
import { LeaderElector } from '../coord/leader.js';
import { sweepExpiredHolds } from '../holds/sweeper.js';
import { pruneIdempotencyKeys } from '../idempotency/store.js';
import { paymentsFor } from '../payments/index.js';
import { reconcilePayments } from './reconcile.js';
import type { BookingDeps } from './settle.js';

/** The dependencies of order commands, from a context. */
export function bookingDeps(ctx: AppContext): BookingDeps {
  return {
    db: ctx.db,
    provider: paymentsFor(ctx),
    paymentWindowSeconds: ctx.config.paymentWindowSeconds,
    logger: ctx.logger,
  };
}

export interface BookingWorkerOptions {
  /** Sweep period (default 1 s). */
  sweepEveryMs?: number;
  /** Reconcile and prune every this many sweeps (default 15). */
  reconcileEvery?: number;
}

/** Starts the duties on this node (they act only while it leads); call stop() on shutdown. */
export function startBookingWorkers(ctx: AppContext, options: BookingWorkerOptions = {}): {
  stop(): Promise<void>;
} {
  const elector = new LeaderElector(ctx.coord, {
    name: 'booking-maintenance',
    holderId: `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`,
    ttlMs: 10_000,
    logger: ctx.logger,
  });
  const reconcileEvery = options.reconcileEvery ?? 15;
  let ticks = 0;
  let running: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    if (!elector.isLeader()) return;
    // Drain a backlog in bounded batches, but yield after a few so one tick stays short.
    for (let round = 0; round < 10; round++) {
      const swept = await sweepExpiredHolds(ctx.db, limits.holdSweepBatch);
      if (swept.holds < limits.holdSweepBatch) break;
    }
    if (++ticks % reconcileEvery === 0) {
      await reconcilePayments(bookingDeps(ctx));
      await pruneIdempotencyKeys(ctx.db);
    }
  };
  let busy = false;
  const timer = setInterval(() => {
    // A slow tick is not stacked on: the next one simply waits for the next period.
    if (busy) return;
    busy = true;
    running = tick()
      .catch((error: unknown) => ctx.logger.warn({ err: error }, 'booking maintenance failed'))
      .finally(() => {
        busy = false;
      });
  }, options.sweepEveryMs ?? 1_000);
  timer.unref();
  void elector.start();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await elector.stop();
    },
  };
}
