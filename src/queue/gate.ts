/**
 * The waiting room's gate on hold requests: for an event with the queue enabled, a hold
 * needs a valid pass for this customer and event (X-Queue-Pass). Events without a queue
 * are open to everyone once on sale.
 *
 * The signature, binding and expiry are checked first, without I/O, so forged or foreign
 * passes cost nothing. A genuine pass is then checked against its admission row: it must
 * be the customer's current pass, not released (their order completed) and claimed in
 * time. Using it counts as showing up, so an unclaimed pass is claimed here.
 */
import type { EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { claimAdmission } from './admission.js';
import { passProblemDetail } from './pass.js';
import { waitingRoom } from './room.js';

function refuse(detail: string): DomainError {
  return new DomainError('queue_pass_required', detail);
}

/** Throws queue_pass_required (403) unless the customer may place holds on this event. */
export async function assertMayHold(
  ctx: AppContext, event: EventRecord, customerId: string, pass: string | undefined,
): Promise<void> {
  if (!event.queue.enabled) return;
  if (pass === undefined || pass === '') {
    throw refuse('this event has a queue: join it and send your pass in X-Queue-Pass');
  }
  const nowMs = ctx.clock.nowMs();
  const check = waitingRoom(ctx).passes.verify(pass, {
    eventId: event.eventId, customerId, nowMs,
  });
  if (!check.ok) throw refuse(passProblemDetail[check.problem]);
  const admission = await claimAdmission(ctx.db, event.eventId, customerId, nowMs);
  if (admission === undefined || admission.passId !== check.claims.passId) {
    throw refuse('the queue pass is not this customer\'s current admission');
  }
  if (admission.releasedAtMs !== null) {
    throw refuse('the queue pass has been used up: the order it was for is complete');
  }
  if (admission.claimedAtMs === null) {
    throw refuse('the queue pass lapsed: it was not claimed within the grace period');
  }
}
