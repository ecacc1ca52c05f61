/**
 * Joining a line, and reserving the pre-queue's numbers at on-sale (draw.ts assigns them):
 * the numbering half of the waiting room.
 *
 * Numbers come from one row per event (`queue_numbering`), locked by every transaction that
 * hands numbers out. That makes numbering dense, transactional (a rolled-back join leaves
 * no hole) and commit-ordered: number n+1 can never be visible before n, so the admission
 * tick, which admits "the next k numbers", can never skip anyone who was still committing.
 * A counter in Redis (INCR) would be faster per call but gives none of that: a number taken
 * and never written leaves a hole, a late commit lands behind servedUpTo, and a flush hands
 * out numbers twice. The lock's cost is paid once per batch, not per fan: a node groups the
 * joins that arrive while its previous batch is committing into one transaction (group
 * commit, see JoinBatcher), so throughput grows with load instead of queueing on the row.
 * That transaction is one call of `queue_join_batch` (migrations 034, 062): one round trip
 * per batch, reading only the batch's own customers' rows. A node sends a second batch beside the first (PostgreSQL only): it waits for the
 * numbering lock inside the database, so the line's pace is the lock's, not the round trip's.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { pinnedNowMs, type Clock } from '../core/clock.js';
import { assert } from '../core/errors.js';
import { GroupCommit, MemberFailure } from '../core/groupCommit.js';
import { TokenRevoked } from '../customers/tokenVersions.js';
import type { Db, Queryable } from '../storage/index.js';
import { reserveDraw } from './draw.js';
import { newSeed } from './shuffle.js';
import type { EntryRef, LeftReason } from './types.js';

/** The outcome of one customer's join. */
export interface JoinOutcome extends EntryRef {
  /** False when the customer was already in the line (joining is idempotent). */
  created: boolean;
}

/** Where seeds come from; tests pass a fixed one so a draw can be asserted exactly. */
export type SeedSource = () => string;

interface NumberingRow {
  last_number: number;
  drawn_at: Date | null;
  /** The database clock once the lock is held. */
  now: Date;
}

/** Locks the line's numbering row (the line exists: its first join created it). */
async function lockNumbering(tx: Queryable, eventId: string): Promise<NumberingRow> {
  const { rows } = await tx.query<NumberingRow>(
    `SELECT last_number, drawn_at, clock_timestamp() AS now
       FROM queue_numbering WHERE event_id = $1 FOR UPDATE`,
    [eventId],
  );
  const row = rows[0];
  assert(row !== undefined, `numbering row of ${eventId} exists`);
  return { last_number: Number(row.last_number), drawn_at: row.drawn_at, now: row.now };
}

/**
 * Reserves the pre-queue's numbers if the event is on sale and that has not happened yet
 * (see draw.ts); idempotent. Called by the tick at on-sale, and by the first join after
 * it, so later joiners never wait for a background job. Returns true when this call drew.
 */
export async function drawIfDue(
  tx: Queryable, event: EventRecord, nowMs: number, seeds: SeedSource = newSeed,
): Promise<boolean> {
  if (nowMs < event.onSaleAtMs) return false;
  const peek = await tx.query<{ drawn_at: Date | null }>(
    'SELECT drawn_at FROM queue_numbering WHERE event_id = $1', [event.eventId],
  );
  const row = peek.rows[0];
  if (row === undefined || row.drawn_at !== null) return false;
  const locked = await lockNumbering(tx, event.eventId);
  if (locked.drawn_at !== null) return false;
  await reserveDraw(tx, event.eventId, locked.last_number, nowMs, seeds());
  return true;
}

/**
 * Puts customers in the line; those already in it keep their entry, and get it back as it
 * stands (left or not), so a join is also the lookup of a known customer. Before on-sale
 * newcomers enter the pre-queue (no number); from on-sale on, the pre-queue's numbers are
 * reserved first (if nobody has yet; the tick assigns them later), then newcomers get the
 * next numbers in the order of `customerIds`. Duplicates in `customerIds` are joined once.
 * The on-sale boundary is judged by the database clock, read under the numbering lock,
 * unless a test pins time with `pinnedMs`.
 *
 * One round trip (`queue_join_batch`, migration 034) decides and writes the whole batch;
 * only the batch that finds the pre-queue's numbers due takes the transaction that
 * reserves them (once per line). `unguarded` is a race test's control only.
 */
export async function joinLine(
  db: Db, event: EventRecord, customerIds: readonly string[], pinnedMs: number | undefined,
  seeds: SeedSource = newSeed, tokens?: JoinTokens, unguarded?: JoinGuard,
): Promise<Map<string, JoinOutcome>> {
  const unique = [...new Set(customerIds)];
  assert(unique.length <= limits.queueJoinBatch, 'join batch within limits');
  return await decideJoins(db, event, unique, pinnedMs, seeds, tokens, unguarded, false);
}

async function decideJoins(
  db: Db, event: EventRecord, unique: readonly string[], pinnedMs: number | undefined,
  seeds: SeedSource, tokens: JoinTokens | undefined, unguarded: JoinGuard | undefined,
  afterDraw: boolean,
): Promise<Map<string, JoinOutcome>> {
  const { rows } = await db.query<JoinRow>(
    `SELECT customer, outcome, entry_number, has_left, current_version
       FROM queue_join_batch($1::uuid, $2::uuid[], $3::int[], $4::timestamptz,
                             $5::timestamptz, $6::text[])`,
    [event.eventId, unique, unique.map((id) => comparedVersion(tokens, id)),
      new Date(event.onSaleAtMs), pinnedMs === undefined ? null : new Date(pinnedMs),
      unguarded === undefined ? [] : [unguarded]],
  );
  if (rows[0]?.outcome === 'draw_due') {
    // Once per line: the reservation commits, then the batch is decided as any other.
    assert(!afterDraw, 'a join batch finds the draw reserved after reserving it');
    await reserveDue(db, event, pinnedMs, seeds);
    return await decideJoins(db, event, unique, pinnedMs, seeds, tokens, unguarded, true);
  }
  const outcomes = new Map<string, JoinOutcome>();
  for (const row of rows) {
    if (row.current_version !== null) tokens?.current.set(row.customer, row.current_version);
    if (row.outcome === 'revoked') continue;
    assert(row.outcome === 'joined' || row.outcome === 'known',
      `join of ${row.customer} decided (${row.outcome})`);
    const number = row.entry_number === null ? null : Number(row.entry_number);
    const created = row.outcome === 'joined';
    const entry = { customerId: row.customer, number, created };
    outcomes.set(row.customer, row.has_left ? { ...entry, left: true } : entry);
  }
  return outcomes;
}

/** A guard a race test's control may remove: the numbering row's lock. */
export type JoinGuard = 'numbering';

/** One customer's row of `queue_join_batch`. */
interface JoinRow {
  customer: string;
  outcome: 'joined' | 'known' | 'revoked' | 'missing' | 'draw_due';
  entry_number: string | number | null;
  has_left: boolean;
  current_version: number | null;
}

/** The token version the batch compares for a customer: null for none (see JoinTokens). */
function comparedVersion(tokens: JoinTokens | undefined, customerId: string): number | null {
  const version = tokens?.versions.get(customerId);
  if (version === undefined) return null;
  // A checked token counts as current: compare with the largest version there is.
  return Math.min(version, maxTokenVersion);
}

const maxTokenVersion = 2_147_483_647;

/**
 * Reserves the pre-queue's numbers for a batch that found them due (see drawIfDue; this
 * one judges on-sale by the database clock under the lock, as the batch did).
 */
async function reserveDue(
  db: Db, event: EventRecord, pinnedMs: number | undefined, seeds: SeedSource,
): Promise<void> {
  await db.tx(async (tx) => {
    const locked = await lockNumbering(tx, event.eventId);
    const nowMs = pinnedMs ?? locked.now.getTime();
    if (locked.drawn_at !== null || nowMs < event.onSaleAtMs) return;
    await reserveDraw(tx, event.eventId, locked.last_number, nowMs, seeds());
  });
}

/**
 * Token versions a join batch compares (the auth hook left them unchecked): `versions`
 * holds, per customer, the newest token version among their waiting requests; a customer
 * whose current version is newer than that is not joined. `current` receives the current
 * version of each customer named, so every request compares its own token.
 */
export interface JoinTokens {
  versions: ReadonlyMap<string, number>;
  current: Map<string, number>;
}

/** A customer's entry, or undefined when they have not joined. */
export async function findEntry(
  db: Queryable, eventId: string, customerId: string,
): Promise<EntryRef | undefined> {
  const { rows } = await db.query<{ number: number | null; left_reason: LeftReason | null }>(
    `SELECT number, left_reason FROM queue_entries
      WHERE event_id = $1 AND customer_id = $2`,
    [eventId, customerId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const number = row.number === null ? null : Number(row.number);
  // left_at and left_reason are set together (leave.ts, 038/051, 054).
  const reason = row.left_reason;
  return reason === null ? { customerId, number }
    : { customerId, number, left: true, leftReason: reason };
}

/**
 * The entries of these customers that are out of the line, in one round trip (the relay's
 * sink reads its buyers' entries with it: migration 054 marks some of them `purchased`).
 */
export async function findLeftEntries(
  db: Queryable, eventId: string, customerIds: readonly string[],
): Promise<EntryRef[]> {
  if (customerIds.length === 0) return [];
  const { rows } = await db.query<{
    customer_id: string; number: number | null; left_reason: LeftReason;
  }>(
    `SELECT customer_id, number, left_reason FROM queue_entries
      WHERE event_id = $1 AND customer_id = ANY($2::uuid[]) AND left_reason IS NOT NULL`,
    [eventId, customerIds],
  );
  return rows.map((row) => ({
    customerId: row.customer_id, number: row.number === null ? null : Number(row.number),
    left: true, leftReason: row.left_reason,
  }));
}

/** One customer's join, with the copy of its event it was routed with. */
interface Waiter {
  event: EventRecord;
  customerId: string;
  /** The request's token version, when the batch is to compare it. */
  tokenVersion?: number;
}

/** How a node paces its join batches of one event (see `limits.queueJoinBatchesInFlight`). */
export interface JoinPacing {
  /** Batches in flight at once. */
  inFlight: number;
  /** With one running, another starts only once this many joins wait. */
  parallelMin: number;
  /** Start the next batch before answering the finished one's fans. */
  nextFirst: boolean;
}

/** The production pacing for `db` (PGlite, one connection, runs one batch at a time). */
export function joinPacing(db: Db): JoinPacing {
  return {
    inFlight: db.kind === 'pglite' ? 1 : limits.queueJoinBatchesInFlight,
    parallelMin: limits.queueJoinBatchParallelMin, nextFirst: true,
  };
}

/**
 * Group commit for joins (core/groupCommit.ts): per event, a numbering transaction in
 * flight per node (and a second beside it on PostgreSQL once enough wait: `joinPacing`);
 * joins arriving meanwhile wait and go together in the next one (up to
 * `limits.queueJoinBatch` distinct customers; a customer's second join rides along, since
 * one entry answers both). At low load every join is its own transaction (no added
 * latency); under a burst the batch grows to absorb it, so the numbering row is locked once
 * per batch, not per fan.
 */
export class JoinBatcher {
  private readonly batcher: GroupCommit<Waiter, JoinOutcome>;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly seeds: SeedSource = newSeed,
    pacing: JoinPacing = joinPacing(db),
  ) {
    this.batcher = new GroupCommit<Waiter, JoinOutcome>({
      maxBatch: limits.queueJoinBatch,
      ...pacing,
      distinct: { by: (waiter) => waiter.customerId, repeat: 'ride' },
      run: (_eventId, batch, latest) => this.joinBatch(batch, latest),
    });
  }

  /**
   * Joins one customer; resolves once their entry is committed. With `tokenVersion`, the
   * batch compares it with the customer's current version: a revoked token rejects with
   * TokenRevoked and joins nothing.
   */
  join(event: EventRecord, customerId: string, tokenVersion?: number): Promise<JoinOutcome> {
    return this.batcher.submit(event.eventId, { event, customerId,
      ...(tokenVersion === undefined ? {} : { tokenVersion }) });
  }

  private async joinBatch(
    batch: readonly Waiter[], latest: () => Waiter,
  ): Promise<(JoinOutcome | MemberFailure)[]> {
    // The latest arrival carries the freshest copy of the event (the route's cache).
    const { event } = latest();
    const ids = batch.map((w) => w.customerId);
    const tokens = joinTokens(batch);
    const outcomes = await joinLine(
      this.db, event, ids, pinnedNowMs(this.clock), this.seeds, tokens,
    );
    return batch.map((waiter) => {
      const current = tokens.current.get(waiter.customerId);
      if (waiter.tokenVersion !== undefined && current !== undefined
        && waiter.tokenVersion < current) {
        return new MemberFailure(new TokenRevoked(current));
      }
      return answer(waiter, outcomes.get(waiter.customerId));
    });
  }
}

/**
 * The newest token version to compare per customer of a batch (see JoinTokens). A request
 * whose token the auth hook already checked counts as current (Infinity): its customer is
 * joined, and only the requests carrying an older version are refused.
 */
function joinTokens(batch: readonly Waiter[]): JoinTokens {
  const versions = new Map<string, number>();
  for (const { customerId, tokenVersion } of batch) {
    if (tokenVersion !== undefined) versions.set(customerId, -1);
  }
  for (const { customerId, tokenVersion } of batch) {
    const newest = versions.get(customerId);
    if (newest === undefined) continue;
    versions.set(customerId, Math.max(newest, tokenVersion ?? Number.POSITIVE_INFINITY));
  }
  return { versions, current: new Map() };
}

/** A waiter's answer from its batch's outcomes. */
function answer(waiter: Waiter, outcome: JoinOutcome | undefined): JoinOutcome | MemberFailure {
  if (outcome === undefined) {
    return new MemberFailure(
      new Error(`assertion failed: join of ${waiter.customerId} has an outcome`));
  }
  // Two requests of one customer in one batch: only the first reports the creation.
  const reply = { ...outcome };
  outcome.created = false;
  return reply;
}
