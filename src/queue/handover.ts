/**
 * From the line to the waitlist in one step: a fan the line cannot serve (sold out, or
 * nothing left for the fans ahead) moves onto the event's waitlist and out of the line,
 * keeping their place order: among fans who moved from the line, the waitlist offers in
 * line-number order, whenever each of them clicked.
 *
 * How the order is kept: the tick that closes the line (or the first hand-over, if one
 * comes before) reserves a block of the waitlist's sequence (`queue_state.waitlist_seq_base`,
 * under the line's lock; waitblock.ts), and a fan
 * who moves takes `base + their number` (or their earlier place, if they were on the
 * waitlist already). Fans who join the waitlist directly later draw from beyond the block,
 * so they come after everyone who moved from the line.
 *
 * The herd: at sold out every waiting fan is offered the move at once. Moves are group
 * committed (MoveBatcher): per event and node, one batch transaction in flight; moves
 * arriving meanwhile go together in the next (up to `limits.queueMoveBatch` fans), in a
 * fixed number of statements whatever its size, so the herd costs a commit per batch, not
 * two per fan. One fan's refusal (over the limit, an unknown zone, left already) is that
 * fan's answer and changes nothing for them; the others move.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { DomainError } from '../core/errors.js';
import { GroupCommit, MemberFailure } from '../core/groupCommit.js';
import { withRetry } from '../storage/db.js';
import type { Db } from '../storage/index.js';
import type { WaitlistEntry } from '../waitlist/schemas.js';
import { joinWaitlistMany, type WaitlistPlace } from '../waitlist/waitlist.js';
import { pinnedNowMs } from '../core/clock.js';
import { alreadyLeft, leaveLineMany, lockEntries } from './leave.js';
import type { WaitingRoom } from './room.js';
import type { EntryRef, QueueView } from './types.js';
import { readWaitlistBase, reserveWaitlistBase } from './waitblock.js';

/** What the fan asks the waitlist for. */
export interface HandOverInput {
  zone?: string;
  quantity: number;
}

/** The fan's line view (now `left`) and their waitlist entry. */
export interface HandOverOutcome {
  queue: QueueView;
  waitlist: WaitlistEntry;
}

/** One move as the batch decided it. */
type Moved = { entry: EntryRef; waitlist: WaitlistEntry } | DomainError;

/**
 * Moves the customer from the line to the waitlist: not_found when not in the line,
 * already_left when they left it before; the waitlist's own refusals (over the limit, an
 * unknown zone) leave them in the line, unchanged.
 */
export async function moveToWaitlist(
  ctx: AppContext, room: WaitingRoom, event: EventRecord, customerId: string,
  input: HandOverInput,
): Promise<HandOverOutcome> {
  if (!event.queue.enabled) throw new DomainError('not_found', 'this event has no queue');
  let batcher = batchers.get(room);
  if (batcher === undefined) {
    batcher = new MoveBatcher(ctx.db, () => pinnedNowMs(ctx.clock));
    batchers.set(room, batcher);
  }
  const moved = await batcher.move(event, customerId, input);
  if (moved instanceof DomainError) throw moved;
  const queue = await room.afterLeaving(event, moved.entry);
  return { queue, waitlist: moved.waitlist };
}

/** One batcher per waiting room (per node). */
const batchers = new WeakMap<WaitingRoom, MoveBatcher>();

/** One customer's move, with the copy of its event it was routed with. */
interface Waiter {
  event: EventRecord;
  customerId: string;
  input: HandOverInput;
}

/**
 * Group commit for moves, per event (core/groupCommit.ts): at low load each move is its own
 * transaction (no added latency); while one runs, the moves arriving wait and go together in
 * the next, up to `limits.queueMoveBatch` distinct customers in arrival order; a second move
 * of a customer already in the batch waits for the next one (and finds them moved).
 */
export class MoveBatcher {
  private readonly batcher: GroupCommit<Waiter, Moved>;

  constructor(private readonly db: Db, private readonly nowMs: () => number | undefined) {
    this.batcher = new GroupCommit<Waiter, Moved>({
      maxBatch: limits.queueMoveBatch,
      inFlight: 1,
      distinct: { by: (waiter) => waiter.customerId, repeat: 'wait' },
      run: (_eventId, batch, latest) => this.moveBatch(batch, latest),
    });
  }

  /** Moves one customer; resolves with the move or the refusal once decided. */
  move(event: EventRecord, customerId: string, input: HandOverInput): Promise<Moved> {
    return this.batcher.submit(event.eventId, { event, customerId, input });
  }

  private async moveBatch(
    batch: readonly Waiter[], latest: () => Waiter,
  ): Promise<(Moved | MemberFailure)[]> {
    // The latest arrival carries the freshest copy of the event (the route's cache).
    const outcomes = await withRetry(() => moveBatch(this.db, latest().event,
      batch.map((w) => ({ customerId: w.customerId, ...w.input })), this.nowMs()), 3);
    return batch.map((waiter) => outcomes.get(waiter.customerId) ?? new MemberFailure(
      new Error(`assertion failed: move of ${waiter.customerId} decided`)));
  }
}

/**
 * Moves distinct customers of one event in one transaction: the block's base, the line
 * entries locked, the waitlist joins (`joinWaitlistMany`), then the movers out of the line.
 * Database clock unless a test pins `nowMs`.
 */
export async function moveBatch(
  db: Db, event: EventRecord, places: readonly WaitlistPlace[], nowMs?: number,
): Promise<Map<string, Moved>> {
  return await db.tx(async (tx) => {
    const outcomes = new Map<string, Moved>();
    const ids = places.map((place) => place.customerId);
    // The block first, so a place from it is always earlier than a fresh waitlist join. The
    // closing tick reserved it, so a herd told "sold out" only reads it.
    const base = await readWaitlistBase(tx, event.eventId) ??
      await reserveWaitlistBase(tx, event.eventId);
    const entries = await lockEntries(tx, event.eventId, ids);
    const candidates: WaitlistPlace[] = [];
    for (const place of places) {
      const entry = entries.get(place.customerId);
      if (entry === undefined) {
        outcomes.set(place.customerId,
          new DomainError('not_found', 'you are not in this event\'s queue'));
      } else if (entry.leftReason !== null) {
        outcomes.set(place.customerId, alreadyLeft(entry.leftReason));
      } else {
        candidates.push({ ...place, ...(entry.number === null ? {} : { seq: base + entry.number }) });
      }
    }
    // The sale window is checked by the database clock, as a direct join checks it.
    const { rows: [clock] } = await tx.query<{ ms: number }>(
      'SELECT extract(epoch FROM now())::float8 * 1000 AS ms',
    );
    const joined = await joinWaitlistMany(tx, event, candidates, clock?.ms ?? 0);
    const movers: string[] = [];
    for (const place of candidates) {
      const outcome = joined.get(place.customerId);
      if (outcome === undefined) throw new Error('assertion failed: waitlist join decided');
      if (outcome instanceof DomainError) {
        outcomes.set(place.customerId, outcome);
        continue;
      }
      movers.push(place.customerId);
      const number = entries.get(place.customerId)?.number ?? null;
      outcomes.set(place.customerId, {
        entry: { customerId: place.customerId, number, left: true }, waitlist: outcome.entry,
      });
    }
    await leaveLineMany(tx, event.eventId, movers, 'waitlist', nowMs);
    return outcomes;
  });
}
