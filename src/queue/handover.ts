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
 * committed (MoveBatcher): per event and node, one batch transaction in flight
 * (`limits.queueMoveBatchesInFlight`); moves arriving meanwhile
 * go together in the next (up to `limits.queueMoveBatch` fans), in a
 * fixed number of statements whatever its size, so the herd costs a commit per batch, not
 * two per fan. One fan's refusal (over the limit, an unknown zone, left already) is that
 * fan's answer and changes nothing for them; the others move.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import type { AppContext } from '../context.js';
import { assert, DomainError } from '../core/errors.js';
import { GroupCommit, MemberFailure } from '../core/groupCommit.js';
import { overLimit } from '../holds/apply.js';
import { withRetry } from '../storage/db.js';
import type { Db } from '../storage/index.js';
import type { WaitlistEntry } from '../waitlist/schemas.js';
import {
  checkJoin, toEntry, type EntryRow, type WaitlistPlace,
} from '../waitlist/waitlist.js';
import { pinnedNowMs } from '../core/clock.js';
import { alreadyLeft } from './leave.js';
import type { WaitingRoom } from './room.js';
import type { EntryRef, QueueView } from './types.js';
import { reserveWaitlistBase } from './waitblock.js';

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
    batcher = new MoveBatcher(ctx.db, () => pinnedNowMs(ctx.clock), room);
    batchers.set(room, batcher);
  }
  const moved = await batcher.move(event, customerId, input);
  if (moved instanceof DomainError) throw moved;
  // The batch forgot the movers' cached places and passes already, all in one write.
  const queue = await room.leftView(event, moved.entry);
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
 * the next, up to `limits.queueMoveBatch` distinct customers in arrival order (with more
 * than one in flight on PostgreSQL, a later batch starts beside a running one once
 * `limits.queueMoveBatchParallelMin` wait); a second move of a customer already in a batch
 * goes in a batch started after that one ended (and finds them moved).
 */
export class MoveBatcher {
  private readonly batcher: GroupCommit<Waiter, Moved>;

  constructor(
    private readonly db: Db, private readonly nowMs: () => number | undefined,
    private readonly room?: Pick<WaitingRoom, 'forgetLeavers'>,
  ) {
    this.batcher = new GroupCommit<Waiter, Moved>({
      maxBatch: limits.queueMoveBatch,
      // PGlite has one connection: a second batch would only queue behind the first.
      inFlight: db.kind === 'pglite' ? 1 : limits.queueMoveBatchesInFlight,
      parallelMin: limits.queueMoveBatchParallelMin,
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
    const event = latest().event;
    const outcomes = await withRetry(() => moveBatch(this.db, event,
      batch.map((w) => ({ customerId: w.customerId, ...w.input })), this.nowMs()), 3);
    const movers = [...outcomes.values()].flatMap((moved) =>
      moved instanceof DomainError ? [] : [moved.entry]);
    await this.room?.forgetLeavers(event, movers);
    return batch.map((waiter) => outcomes.get(waiter.customerId) ?? new MemberFailure(
      new Error(`assertion failed: move of ${waiter.customerId} decided`)));
  }
}

/** Guards a race test's control may remove. */
export interface MoveSeams {
  /**
   * Test seam: give the movers' passes back locking them in reverse customer order, against
   * the order the tick frees slots in, so a race test's control can show the deadlock the
   * customer order avoids.
   */
  reverseAdmissionLocks?: true;
  /**
   * Test seam: write the bucket counts without locking them in bucket order first
   * (migration 073), so a race test's control can show the deadlock of two batches whose
   * inserts and updates take buckets out of step.
   */
  unorderedBucketLocks?: true;
}

/** One fan's row of `waitlist_move_batch` (migrations 038, 051, 073, 078). */
interface MoveRow extends Omit<EntryRow, 'event_id' | 'customer_id' | 'position'> {
  customer: string | null;
  outcome: 'joined' | 'known' | 'not_found' | 'already_left' | 'refused' | 'over_limit' |
    'base_due' | 'no_line';
  entry_number: string | number | null;
  left_reason: string | null;
  used: number | null;
  now_ms: number;
  entry_position: number | null;
}

/**
 * Moves distinct customers of one event in one round trip (`waitlist_move_batch`, migrations
 * 038, 051 and 073): the line entries locked, the bucket counts the batch will change locked
 * in bucket order, the waitlist joins at their block places, the movers
 * out of the line and their passes given back (locked in customer order), their entries and
 * positions read back. Only the batch that finds the line's block not reserved yet takes a
 * transaction of its own to reserve it (once per line).
 * Database clock unless a test pins `nowMs` (the time the movers leave the line).
 */
export async function moveBatch(
  db: Db, event: EventRecord, places: readonly WaitlistPlace[], nowMs?: number,
  seams: MoveSeams = {},
): Promise<Map<string, Moved>> {
  // The caller's own checks, by a clock that cannot matter for them (zone and quantity);
  // the sale window is the database's, inside the function.
  const valid = places.map((place) => {
    try {
      checkJoin(event, { ...place, eventId: event.eventId }, event.onSaleAtMs);
      return true;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      return false;
    }
  });
  const call = async (): Promise<MoveRow[]> => (await db.query<MoveRow>(
    `SELECT * FROM waitlist_move_batch($1::uuid, $2::uuid[], $3::text[], $4::int[],
                                       $5::boolean[], $6::int, $7::timestamptz, $8::text[])`,
    [event.eventId, places.map((p) => p.customerId), places.map((p) => p.zone ?? null),
      places.map((p) => p.quantity), valid, event.maxTicketsPerCustomer,
      nowMs === undefined ? null : new Date(nowMs),
      unguarded(seams)],
  )).rows;
  let rows = await call();
  if (rows[0]?.outcome === 'no_line') throw new DomainError('not_found', 'this event has no line');
  if (rows[0]?.outcome === 'base_due') {
    await db.tx((tx) => reserveWaitlistBase(tx, event.eventId));
    rows = await call();
    assert(rows[0]?.outcome !== 'base_due', 'the waitlist block is reserved');
  }
  const outcomes = new Map<string, Moved>();
  for (const row of rows) {
    assert(row.customer !== null, 'a move row names its customer');
    outcomes.set(row.customer, decided(event, row, places));
  }
  return outcomes;
}

/** The guards a race test's control removes, as `waitlist_move_batch` names them. */
function unguarded(seams: MoveSeams): string[] {
  return [
    ...(seams.reverseAdmissionLocks === true ? ['admission_order'] : []),
    ...(seams.unorderedBucketLocks === true ? ['bucket_order'] : []),
  ];
}

/** One fan's answer from their row. */
function decided(event: EventRecord, row: MoveRow, places: readonly WaitlistPlace[]): Moved {
  const customerId = row.customer as string;
  switch (row.outcome) {
    case 'not_found':
      return new DomainError('not_found', 'you are not in this event\'s queue');
    case 'already_left':
      return alreadyLeft(row.left_reason ?? 'left');
    case 'over_limit':
      return overLimit(event, row.used ?? 0);
    case 'refused': {
      const place = places.find((p) => p.customerId === customerId);
      assert(place !== undefined, 'a refused move was asked for');
      try {
        checkJoin(event, { ...place, eventId: event.eventId }, row.now_ms);
      } catch (error) {
        if (error instanceof DomainError) return error;
        throw error;
      }
      // This node's copy of the event is older than the database's: the sale has closed.
      return new DomainError('not_on_sale', 'the sale of this event is over');
    }
    case 'joined':
    case 'known': {
      const number = row.entry_number === null ? null : Number(row.entry_number);
      const waitlist = toEntry({
        ...row, event_id: event.eventId, customer_id: customerId,
        position: row.entry_position,
      });
      return { entry: { customerId, number, left: true, leftReason: 'waitlist' }, waitlist };
    }
    default:
      throw new Error(`assertion failed: move outcome ${row.outcome}`);
  }
}
