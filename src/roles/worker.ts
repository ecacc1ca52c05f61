/**
 * The worker role: the node's share of singleton duties. Each duty competes for its own
 * lease, so with several worker nodes every duty runs on exactly one of them at a time and
 * moves to another within about a lease TTL when its node dies.
 */
import type { AppContext } from '../context.js';
import { startBookingWorkers } from '../orders/workers.js';
import { AdmissionDuty } from '../queue/duty.js';

/** A started worker; stop it before closing the context. */
export interface Worker {
  stop(): Promise<void>;
}

/** Starts the worker duties for this node. */
export async function startWorker(ctx: AppContext): Promise<Worker> {
  const admission = new AdmissionDuty(ctx);
  await admission.start();
  const booking = startBookingWorkers(ctx);
  return {
    async stop() {
      await booking.stop();
      await admission.stop();
    },
  };
}
