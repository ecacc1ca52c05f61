/**
 * The waiting room's gate on hold requests: for an event with the queue enabled, a hold
 * needs a valid pass for this customer and event (X-Queue-Pass). Events without a queue
 * are open to everyone once on sale.
 *
 * The signature, binding and expiry are checked first, without I/O, so forged or foreign
 * passes cost nothing (`checkPass`). A genuine pass is then checked against its admission
 * row, by the database clock: it must be the customer's current pass, not released (their
 * order completed), not expired, and claimed in time. Using the pass is what claims it
 * (reading the view never does); a pass whose claim grace has passed is refused at once,
 * whether or not the admission tick has run since: liveness is computed from the row's
 * timestamps, not counted down.
 *
 * A hold claims its pass in its own hold batch (migration 035), in the statement and the
 * commit that decide the hold, so a pass released or expired before that decision is never
 * used. `assertMayHold` claims in a statement of its own: the queue's tests use it, and the
 * hold race tests' control, which shows what that gap between claim and hold lets through.
 */
import type { EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { pinnedNowMs } from '../core/clock.js';
import { DomainError } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { claimAdmission } from './admission.js';
import { passProblemDetail } from './pass.js';
import { waitingRoom } from './room.js';
import type { Admission } from './types.js';

/** Why an admission row refused a genuine pass (the hold batch answers the same). */
export type PassRowRefusal = 'not_current' | 'used_up' | 'lapsed' | 'expired';

const rowRefusalDetail: Record<PassRowRefusal, string> = {
  not_current: 'the queue pass is not this customer\'s current admission',
  used_up: 'the queue pass has been used up: the order it was for is complete',
  lapsed: 'the queue pass lapsed: no hold was placed with it within the claim grace',
  expired: 'the queue pass has expired',
};

function refuse(detail: string): DomainError {
  return new DomainError('queue_pass_required', detail);
}

/**
 * The queue_pass_required refusal for an admission row's answer. It is not stored against
 * an Idempotency-Key (marked retryable: a gate's refusal, like a sale not yet open).
 */
export function passRowRefused(reason: PassRowRefusal): DomainError {
  return new DomainError('queue_pass_required', rowRefusalDetail[reason], {},
    { retryable: true });
}

/** True for the gate's refusal of a hold request's pass, on the node or by its row. */
export function isPassRefusal(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'queue_pass_required';
}

/**
 * The node's checks of a pass, without I/O: present, signed by us, for this event and
 * customer, not expired by this node's clock. Returns the pass id its admission row must
 * carry, or undefined for an event without a queue. Throws queue_pass_required (403).
 */
export function checkPass(
  ctx: AppContext, event: EventRecord, customerId: string, pass: string | undefined,
): string | undefined {
  if (!event.queue.enabled) return undefined;
  if (pass === undefined || pass === '') {
    throw refuse('this event has a queue: join it and send your pass in X-Queue-Pass');
  }
  const check = waitingRoom(ctx).passes.verify(pass, {
    eventId: event.eventId, customerId, nowMs: ctx.clock.nowMs(),
  });
  if (!check.ok) throw refuse(passProblemDetail[check.problem]);
  // Only our own passes get here; a pass id that is not a uuid would fail its whole batch.
  if (!isUuid(check.claims.passId)) throw refuse(passProblemDetail.malformed);
  return check.claims.passId;
}

/** Why `admission` refuses pass `passId` now, or undefined when it may be used. */
export function admissionRefusal(
  admission: Admission | undefined, passId: string,
): PassRowRefusal | undefined {
  if (admission === undefined || admission.passId !== passId) return 'not_current';
  if (admission.releasedAtMs !== null) return 'used_up';
  if (admission.claimedAtMs === null) return 'lapsed';
  if (!admission.live) return 'expired';
  return undefined;
}

/**
 * Claims pass `passId` (already checked by `checkPass`) in a statement of its own; throws
 * queue_pass_required (403, not stored against a key) when its admission row refuses it.
 * For a hold that never reached a batch (it failed first), so the pass is used, or refused,
 * exactly as if it had.
 */
export async function claimPassAlone(
  ctx: AppContext, event: EventRecord, customerId: string, passId: string,
): Promise<void> {
  // The signature check uses this node's clock and is only a cheap first filter; the row
  // decides, by the database clock.
  const admission = await claimAdmission(
    ctx.db, event.eventId, customerId, pinnedNowMs(ctx.clock),
  );
  // The fan's view shows the claim (or the lapse) at once, on every node.
  if (admission !== undefined) {
    await waitingRoom(ctx).admits.put(event.eventId, [admission], ctx.clock.nowMs());
  }
  const refusal = admissionRefusal(admission, passId);
  if (refusal !== undefined) throw passRowRefused(refusal);
}

/**
 * Throws queue_pass_required (403) unless the customer may place holds on this event, and
 * claims the pass in a statement of its own (see the module comment for who uses this).
 */
export async function assertMayHold(
  ctx: AppContext, event: EventRecord, customerId: string, pass: string | undefined,
): Promise<void> {
  const passId = checkPass(ctx, event, customerId, pass);
  if (passId !== undefined) await claimPassAlone(ctx, event, customerId, passId);
}
