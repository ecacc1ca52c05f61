/**
 * Placing a hold, the whole flow behind `POST /events/:id/holds`: the event (from a
 * per-node cache), the on-sale check by this node's clock when the answer cannot be close,
 * the waiting room's gate, then the decision in the event's next hold batch, which also
 * decides the sale window by the database clock, the per-customer limit and, with an
 * Idempotency-Key, writes the key's record with the reply (one round trip, one commit).
 * The route is an adapter: it passes the request in and sends the answer out.
 */
import { randomUUID } from 'node:crypto';
import { EventCache } from '../catalog/eventCache.js';
import type { EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { recordFailure, runIdempotent, type IdempotencyScope } from '../idempotency/store.js';
import { assertMayHold } from '../queue/gate.js';
import type { HoldSeams } from './batch.js';
import { isHoldGuard } from './claim.js';
import { createHold, decideHold, keySeen } from './holds.js';
import { assertSaleMayBeOpen } from './saleWindow.js';
import type { Hold, HoldInput } from './schemas.js';

export interface PlaceHold {
  eventId: string;
  customerId: string;
  /** The X-Queue-Pass of an event with a waiting room. */
  pass: string | undefined;
  input: HoldInput;
  /** The request's Idempotency-Key, scoped to the customer and fingerprinted. */
  idempotency?: IdempotencyScope;
}

export interface PlacedHold {
  hold: Hold;
  /** True when this is the stored reply of an earlier request with the same key. */
  replayed: boolean;
}

/** One per app: holds the event cache the gates read. */
export class HoldDesk {
  // Per node, about a second: a cancellation reaches hold creation that late at most (its
  // checkout re-checks in its own transaction). Refusals are decided on a fresh read.
  private readonly events: EventCache;

  /**
   * A race test's seams (AppContext.unguarded, AppContext.seams.holdBatches), if any: one
   * object for the app's life, since the batchers are kept per set of seams.
   */
  private readonly seams: HoldSeams | undefined;

  constructor(private readonly ctx: AppContext) {
    this.events = new EventCache(ctx.db, ctx.clock);
    const unguarded = isHoldGuard(ctx.unguarded) ? ctx.unguarded : undefined;
    const gate = ctx.seams?.holdBatches;
    this.seams = unguarded === undefined && gate === undefined ? undefined : {
      ...(unguarded === undefined ? {} : { unguarded }),
      ...(gate === undefined ? {} : { gate }),
    };
  }

  async place(request: PlaceHold): Promise<PlacedHold> {
    const event = await this.passGates(request);
    const { db } = this.ctx;
    const scope = request.idempotency;
    if (scope === undefined) {
      return { hold: await createHold(db, event, request.customerId, request.input,
        this.seams), replayed: false };
    }
    const owner = randomUUID();
    let decided: Hold | typeof keySeen;
    try {
      decided = await decideHold(db, event, request.customerId, request.input,
        { key: scope.key, fingerprint: scope.fingerprint, owner, owned: false },
        this.seams);
    } catch (error) {
      // Final refusals are stored against the key; 'not_owner': another request has it.
      await recordFailure(db, scope, owner, error);
      decided = keySeen;
    }
    if (decided !== keySeen) return { hold: decided, replayed: false };
    // The key has a record: replay it, wait for it, or take over a stale one (then the
    // hold is decided in a batch that finishes the taken-over record with its reply).
    const result = await runIdempotent(db, scope, async (_finish, takenBy) => ({
      status: 201, stored: true,
      body: await decideHold(db, event, request.customerId, request.input,
        { key: scope.key, fingerprint: scope.fingerprint, owner: takenBy, owned: true },
        this.seams),
    }));
    if (result.body === keySeen) throw new Error('assertion failed: own key seen as foreign');
    return { hold: result.body as Hold, replayed: result.replayed };
  }

  /**
   * Gates first, outside the idempotency record: their refusals are retryable (the sale
   * opens, a pass arrives), so they must not be stored against the key.
   */
  private async passGates(request: PlaceHold): Promise<EventRecord> {
    const found = await this.events.lookup(request.eventId);
    try {
      await this.gates(found.event, request);
      return found.event;
    } catch (error) {
      if (!(error instanceof DomainError) || !found.cached) throw error;
      // Never refuse on a cached record: the sale may have opened, the queue changed.
      const fresh = await this.events.refresh(request.eventId);
      await this.gates(fresh, request);
      return fresh;
    }
  }

  private async gates(event: EventRecord, request: PlaceHold): Promise<void> {
    assertSaleMayBeOpen(event, this.ctx.clock.nowMs());
    await assertMayHold(this.ctx, event, request.customerId, request.pass);
  }
}
