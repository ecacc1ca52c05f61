/**
 * The worker role: the node's share of singleton duties. Each duty competes for its own
 * lease, so with several worker nodes every duty runs on exactly one of them at a time and
 * moves to another within about a lease TTL when its node dies.
 */
import type { AppContext } from '../context.js';
import { startBookingWorkers } from '../orders/workers.js';
import { startNotifications, type Notifications } from '../notifications/index.js';
import { OutboxRelay, type OutboxSink } from '../outbox/relay.js';
import { AdmissionDuty } from '../queue/duty.js';
import { confirmedOrdersSink } from '../queue/ordersSink.js';
import { liveFeedSink } from '../outbox/feed.js';
import { startTableMaintenance } from '../storage/maintenance.js';

/** A started worker; stop it before closing the context. */
export interface Worker {
  stop(): Promise<void>;
}

/**
 * The consumers of committed outbox rows, in the order they run; the relay marks rows
 * published only after every one of them took them. Add a sink here to consume the outbox.
 */
function outboxSinks(ctx: AppContext, notifications: Notifications): OutboxSink[] {
  return [liveFeedSink(ctx.coord), notifications.sink, confirmedOrdersSink(ctx)];
}

/** Starts the worker duties for this node. */
export async function startWorker(ctx: AppContext): Promise<Worker> {
  const admission = new AdmissionDuty(ctx);
  await admission.start();
  const booking = startBookingWorkers(ctx);
  const notifications = startNotifications(ctx);
  const relay = new OutboxRelay(ctx, { sinks: outboxSinks(ctx, notifications) });
  await relay.start();
  // Embedded PGlite has no autovacuum; on PostgreSQL this runs only when autovacuum is off.
  const stopMaintenance = startTableMaintenance(ctx.db, ctx.logger);
  return {
    async stop() {
      await stopMaintenance();
      await relay.stop();
      await notifications.stop();
      await booking.stop();
      await admission.stop();
    },
  };
}
