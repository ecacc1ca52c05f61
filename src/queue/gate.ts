/**
 * The waiting room's gate on hold requests: for an event with the queue enabled, a hold
 * needs a valid pass for this customer and event (X-Queue-Pass). Events without a queue
 * are open to everyone once on sale.
 */
import type { EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';

/** Throws queue_pass_required (403) unless the customer may place holds on this event. */
export async function assertMayHold(
  _ctx: AppContext, event: EventRecord, _customerId: string, pass: string | undefined,
): Promise<void> {
  if (!event.queue.enabled) return;
  if (pass === undefined) throw new DomainError('queue_pass_required', 'this event has a queue');
  // Pass verification arrives with the waiting room; until then no pass is accepted.
  throw new DomainError('queue_pass_required', 'invalid queue pass');
}
