/**
 * The waiting room's gate on hold requests: for an event with the queue enabled, a hold
 * needs a valid pass for this customer and event (X-Queue-Pass). Events without a queue
 * are open to everyone once on sale.
 *
 * The signature, binding and expiry are checked first, without I/O, so forged or foreign
 * passes cost nothing. A genuine pass is then checked against its admission row, by the
 * database clock: it must be the customer's current pass, not released (their order
 * completed), not expired, and claimed in time. The first hold with a pass is what claims
 * it (reading the view never does); a pass whose claim grace has passed is refused here
 * at once, whether or not the admission tick has run since: liveness is computed from the
 * row's timestamps, not counted down.
 */
import type { EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { pinnedNowMs } from '../core/clock.js';
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
  // The signature check above uses this node's clock and is only a cheap first filter; the
  // row decides, by the database clock.
  const room = waitingRoom(ctx);
  const admission = await claimAdmission(
    ctx.db, event.eventId, customerId, pinnedNowMs(ctx.clock),
  );
  // The fan's view shows the claim (or the lapse) at once, on every node.
  if (admission !== undefined) await room.admits.put(event.eventId, [admission], nowMs);
  if (admission === undefined || admission.passId !== check.claims.passId) {
    throw refuse('the queue pass is not this customer\'s current admission');
  }
  if (admission.releasedAtMs !== null) {
    throw refuse('the queue pass has been used up: the order it was for is complete');
  }
  if (admission.claimedAtMs === null) {
    throw refuse('the queue pass lapsed: no hold was placed with it within the claim grace');
  }
  if (!admission.live) throw refuse('the queue pass has expired');
}
