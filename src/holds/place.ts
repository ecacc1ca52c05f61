/**
 * Placing a hold, the whole flow behind `POST /events/:id/holds`: the event (from a
 * per-node cache), the on-sale check by this node's clock when the answer cannot be close,
 * the waiting room's pass checked on the node, a store too busy to answer in time refused
 * at once (busy.ts: 503, no round trip), then the decision in the event's next hold
 * batch, which also claims the pass against its admission row, decides the sale window by
 * the database clock, the per-customer limit and, with an Idempotency-Key, writes the
 * key's record with the reply (one round trip, one commit). A retry refused as busy or
 * for its pass gets its key's recorded reply instead (HoldDesk.replayRecorded).
 * The route is an adapter: it passes the request in and sends the answer out.
 */
import { randomUUID } from 'node:crypto';
import { EventCache } from '../catalog/eventCache.js';
import type { EventRecord } from '../catalog/events.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import {
  tokenVersions, TokenRevoked, type TokenCheck, type TokenVersions,
} from '../customers/tokenVersions.js';
import {
  recordedReply, recordFailure, runIdempotent, type IdempotencyScope,
} from '../idempotency/store.js';
import { ZoneViews } from '../inventory/zoneView.js';
import { feedFollower } from '../outbox/feed.js';
import { assertMayHold, checkPass, claimPassAlone, isPassRefusal } from '../queue/gate.js';
import { waitingRoom } from '../queue/room.js';
import { holdBatchShape, holdQueueLoad, type HoldSeams } from './batch.js';
import { isStoreBusy, StoreBusy } from './busy.js';
import { isHoldGuard } from './claim.js';
import { decideHold, keySeen, type PassClaim } from './holds.js';
import { assertSaleMayBeOpen, isSaleOverRefusal } from './saleWindow.js';
import type { Hold, HoldInput } from './schemas.js';

export interface PlaceHold {
  eventId: string;
  customerId: string;
  /** The X-Queue-Pass of an event with a waiting room. */
  pass: string | undefined;
  input: HoldInput;
  /** The request's Idempotency-Key, scoped to the customer and fingerprinted. */
  idempotency?: IdempotencyScope;
  /**
   * The version of the requester's token when authentication left its revocation check
   * to this flow (the node had no fresh copy of the customer's version). It is compared
   * in the hold batch, or before anything else changes; a revoked token is 401.
   */
  tokenVersion?: number;
  /**
   * How long the request has been on this node, ms, read when the hold is about to queue
   * (the store signal counts it, busy.ts); none: unknown.
   */
  elapsedMs?: () => number;
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

  /** Token versions: what a batch learns of them is kept for the next request. */
  private readonly versions: TokenVersions;

  /** This node's views of seated zones' free seats, which best available picks from. */
  private readonly views: ZoneViews;

  /** The bound on each event's hold queue, and the store signal admission paces by. */
  readonly busy: StoreBusy;

  constructor(private readonly ctx: AppContext) {
    this.events = new EventCache(ctx.db, ctx.clock);
    this.versions = tokenVersions(ctx);
    // The views follow each event's live feed on this node's one subscription per event.
    this.views = new ZoneViews(ctx.db, ctx.seams?.zoneViews,
      feedFollower(ctx.coord, ctx.logger));
    const unguarded = isHoldGuard(ctx.unguarded) ? ctx.unguarded : undefined;
    const gate = ctx.seams?.holdBatches;
    this.seams = unguarded === undefined && gate === undefined ? undefined : {
      ...(unguarded === undefined ? {} : { unguarded }),
      ...(gate === undefined ? {} : { gate }),
    };
    const seams = this.seams;
    // A race test's gate holds batches back on purpose: that queue says nothing about the
    // store, and refusing its contenders as busy would undo the race it builds.
    const measured = gate === undefined
      ? (eventId: string) => holdQueueLoad(ctx.db, eventId, seams) : () => undefined;
    this.busy = new StoreBusy(ctx, ctx.seams?.holdQueueLoad ?? measured,
      holdBatchShape(ctx.db));
  }

  /** Stops following live feeds (the app closes). */
  async close(): Promise<void> {
    await this.views.close();
  }

  async place(request: PlaceHold): Promise<PlacedHold> {
    const token: TokenCheck | undefined = request.tokenVersion === undefined ? undefined
      : { version: request.tokenVersion, checked: false };
    const startedAtMs = this.ctx.clock.nowMs();
    try {
      const placed = await this.decide(request, token);
      // The batch found the token current: its version is the customer's version.
      if (token !== undefined) this.versions.learn(request.customerId, token.version, startedAtMs);
      return placed;
    } catch (error) {
      if (error instanceof TokenRevoked) {
        if (error.currentVersion !== undefined) {
          this.versions.learn(request.customerId, error.currentVersion, startedAtMs);
        }
        throw error;
      }
      // A busy store decided nothing and reads nothing: a revoked token hears so on a retry.
      if (isStoreBusy(error)) throw error;
      // Refused before a batch compared the version (bad input, the sale window): a
      // revoked token hears that it is revoked, not why the hold would have been refused.
      await this.checkToken(request.customerId, token);
      throw error;
    }
  }

  /** Compares a still unchecked token version now (cache first, else one read). */
  private async checkToken(customerId: string, token: TokenCheck | undefined): Promise<void> {
    await this.versions.checkPending(customerId, token);
  }

  private async decide(request: PlaceHold, token: TokenCheck | undefined):
    Promise<PlacedHold> {
    let gated: { event: EventRecord; passId: string | undefined };
    try {
      gated = await this.passGates(request, token);
      // A store too busy to answer in time says so now (busy.ts), after the checks that need
      // no database and before the queue; the fan's slot is kept by admission meanwhile.
      this.busy.admit(gated.event.eventId, request.elapsedMs?.() ?? 0);
    } catch (error) {
      return await this.replayRecorded(request, token, error);
    }
    const { event, passId } = gated;
    try {
      return await this.decideGated(request, token, event, passId);
    } catch (error) {
      // A pass the batch refused (used up, expired): this may be a retry of an answered hold.
      return await this.replayRecorded(request, token, error);
    } finally {
      // The batch claimed the pass (or found it refused): the fan's next view reads the
      // row. Not awaited: the reply does not depend on it, and the write never throws.
      if (passId !== undefined) {
        void waitingRoom(this.ctx).admits.forget(event.eventId, [request.customerId]);
      }
    }
  }

  /**
   * A retry whose first request was answered gets that answer (SPEC §6), even where a new
   * request would be refused without a decision:
   * - while the store is busy (the web app retries a busy hold with the same key): refusing
   *   it would keep a fan who already holds seats waiting on a store with nothing to do;
   * - once the queue pass is refused (used up by the order the hold led to, expired, lapsed):
   *   a fan whose connection dropped after the hold was made gets the hold back, not 403;
   * - once the sale is over (the event started or was cancelled since): the same fan gets
   *   the hold they were answered, not `not_on_sale` for a request already decided. A sale
   *   not yet open replays nothing (no hold can have been answered), so the crowd pressing
   *   early costs no read.
   * Only refused requests with a key pay the read of its record, so the hot path stays
   * without a round trip. Nothing recorded yet (or still running) keeps the refusal; so does
   * the same key with another body after a pass or sale-window refusal (the gate's answer
   * comes first for anything that is not a retry; a busy store answers
   * idempotency_conflict, a final answer).
   * The record is the customer's own: another customer's key is never read. Throws `error`
   * when there is nothing to replay.
   */
  private async replayRecorded(
    request: PlaceHold, token: TokenCheck | undefined, error: unknown,
  ): Promise<PlacedHold> {
    const scope = request.idempotency;
    const busy = isStoreBusy(error);
    if (scope === undefined || !(busy || isPassRefusal(error) || isSaleOverRefusal(error))) {
      throw error;
    }
    let recorded: Awaited<ReturnType<typeof recordedReply>>;
    try {
      recorded = await recordedReply(this.ctx.db, scope);
    } catch (replayError) {
      if (!busy && replayError instanceof DomainError
        && replayError.code === 'idempotency_conflict') throw error;
      // A stored refusal is replayed: the caller's catch compares the token before it goes out.
      throw replayError;
    }
    if (recorded === null) throw error;
    // Nothing is replayed to a revoked token.
    await this.checkToken(request.customerId, token);
    return { hold: recorded.body as Hold, replayed: true };
  }

  private async decideGated(
    request: PlaceHold, token: TokenCheck | undefined, event: EventRecord,
    passId: string | undefined,
  ): Promise<PlacedHold> {
    const { db } = this.ctx;
    const scope = request.idempotency;
    const pass: PassClaim | undefined = passId === undefined ? undefined : {
      id: passId, decided: false,
      claimAlone: async () => {
        // A revoked token must not claim: compare a still unchecked version first.
        await this.checkToken(request.customerId, token);
        await claimPassAlone(this.ctx, event, request.customerId, passId);
      },
    };
    const decideWith = async (idempotency: Parameters<typeof decideHold>[4]) =>
      await decideHold(db, event, request.customerId, request.input, idempotency,
        this.seams, token, this.views, pass);
    if (scope === undefined) {
      const hold = await decideWith(undefined);
      if (hold === keySeen) throw new Error('assertion failed: key seen without a key');
      return { hold, replayed: false };
    }
    const owner = randomUUID();
    let decided: Hold | typeof keySeen;
    try {
      decided = await decideWith(
        { key: scope.key, fingerprint: scope.fingerprint, owner, owned: false });
    } catch (error) {
      // A revoked token stores nothing against the key.
      if (error instanceof TokenRevoked) throw error;
      await this.checkToken(request.customerId, token);
      // Final refusals are stored against the key; 'not_owner': another request has it.
      await recordFailure(db, scope, owner, error);
      decided = keySeen;
    }
    if (decided !== keySeen) return { hold: decided, replayed: false };
    // Nothing is replayed to a revoked token.
    await this.checkToken(request.customerId, token);
    // The key has a record: replay it, wait for it, or take over a stale one (then the
    // hold is decided in a batch that finishes the taken-over record with its reply).
    const result = await runIdempotent(db, scope, async (_finish, takenBy) => ({
      status: 201, stored: true,
      body: await decideWith(
        { key: scope.key, fingerprint: scope.fingerprint, owner: takenBy, owned: true }),
    }));
    if (result.body === keySeen) throw new Error('assertion failed: own key seen as foreign');
    return { hold: result.body as Hold, replayed: result.replayed };
  }

  /**
   * Gates first, outside the idempotency record: their refusals are retryable (the sale
   * opens, a pass arrives), so they must not be stored against the key. Returns the event
   * and, on an event with a queue, the id of the pass the batch is to claim.
   */
  private async passGates(request: PlaceHold, token: TokenCheck | undefined):
    Promise<{ event: EventRecord; passId: string | undefined }> {
    const found = await this.events.lookup(request.eventId);
    try {
      return { event: found.event, passId: await this.gates(found.event, request, token) };
    } catch (error) {
      if (!(error instanceof DomainError) || !found.cached) throw error;
      // Never refuse on a cached record: the sale may have opened, the queue changed.
      const fresh = await this.events.refresh(request.eventId);
      return { event: fresh, passId: await this.gates(fresh, request, token) };
    }
  }

  private async gates(
    event: EventRecord, request: PlaceHold, token: TokenCheck | undefined,
  ): Promise<string | undefined> {
    assertSaleMayBeOpen(event, this.ctx.clock.nowMs());
    if (this.seams?.unguarded === 'queue-pass') {
      // The control (holds/claim.ts Guard): the pass claimed in a statement of its own
      // before the batch, which then skips its check. A revoked token must not get that far.
      if (event.queue.enabled) await this.checkToken(request.customerId, token);
      await assertMayHold(this.ctx, event, request.customerId, request.pass);
      return undefined;
    }
    // The row is claimed by the batch, after it has compared a still unchecked token.
    return checkPass(this.ctx, event, request.customerId, request.pass);
  }
}
