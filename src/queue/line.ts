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
 * That transaction is one call of `queue_join_batch` (migration 034): one round trip per
 * batch, since one batch per line and node is in flight and its round trips set the pace.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { pinnedNowMs, type Clock } from '../core/clock.js';
import { assert } from '../core/errors.js';
import { TokenRevoked } from '../customers/tokenVersions.js';
import type { Db, Queryable } from '../storage/index.js';
import { reserveDraw } from './draw.js';
import { newSeed } from './shuffle.js';
import type { EntryRef } from './types.js';

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
  const { rows } = await db.query<{ number: number | null; left: boolean }>(
    `SELECT number, left_at IS NOT NULL AS left FROM queue_entries
      WHERE event_id = $1 AND customer_id = $2`,
    [eventId, customerId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const number = row.number === null ? null : Number(row.number);
  return row.left ? { customerId, number, left: true } : { customerId, number };
}

interface Waiter {
  customerId: string;
  /** The request's token version, when the batch is to compare it. */
  tokenVersion?: number;
  resolve: (outcome: JoinOutcome) => void;
  reject: (error: unknown) => void;
}

interface PendingLine {
  event: EventRecord;
  waiters: Waiter[];
  running: boolean;
}

/**
 * Group commit for joins: per event, one numbering transaction in flight per node; joins
 * arriving meanwhile wait and go together in the next one (up to `limits.queueJoinBatch`).
 * At low load every join is its own transaction (no added latency); under a burst the
 * batch grows to absorb it, so the numbering row is locked once per batch, not per fan.
 */
export class JoinBatcher {
  private readonly lines = new Map<string, PendingLine>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly seeds: SeedSource = newSeed,
  ) {}

  /**
   * Joins one customer; resolves once their entry is committed. With `tokenVersion`, the
   * batch compares it with the customer's current version: a revoked token rejects with
   * TokenRevoked and joins nothing.
   */
  join(event: EventRecord, customerId: string, tokenVersion?: number): Promise<JoinOutcome> {
    return new Promise((resolve, reject) => {
      let line = this.lines.get(event.eventId);
      if (line === undefined) {
        line = { event, waiters: [], running: false };
        this.lines.set(event.eventId, line);
      }
      line.event = event;
      line.waiters.push({ customerId, resolve, reject,
        ...(tokenVersion === undefined ? {} : { tokenVersion }) });
      if (!line.running) void this.drain(event.eventId, line);
    });
  }

  private async drain(eventId: string, line: PendingLine): Promise<void> {
    line.running = true;
    try {
      while (line.waiters.length > 0) {
        const batch = this.takeBatch(line);
        try {
          const ids = batch.map((w) => w.customerId);
          const tokens = joinTokens(batch);
          const outcomes = await joinLine(
            this.db, line.event, ids, pinnedNowMs(this.clock), this.seeds, tokens,
          );
          for (const waiter of batch) {
            const current = tokens.current.get(waiter.customerId);
            if (waiter.tokenVersion !== undefined && current !== undefined
              && waiter.tokenVersion < current) {
              waiter.reject(new TokenRevoked(current));
            } else {
              settle(waiter, outcomes.get(waiter.customerId));
            }
          }
        } catch (error) {
          for (const waiter of batch) waiter.reject(error);
        }
      }
    } finally {
      line.running = false;
      if (this.lines.get(eventId) === line && line.waiters.length === 0) {
        this.lines.delete(eventId);
      }
    }
  }

  /** Up to the batch limit of distinct customers (a duplicate rides along for free). */
  private takeBatch(line: PendingLine): Waiter[] {
    const seen = new Set<string>();
    let count = 0;
    for (const waiter of line.waiters) {
      if (!seen.has(waiter.customerId)) {
        if (seen.size === limits.queueJoinBatch) break;
        seen.add(waiter.customerId);
      }
      count += 1;
    }
    return line.waiters.splice(0, count);
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

function settle(waiter: Waiter, outcome: JoinOutcome | undefined): void {
  if (outcome === undefined) {
    waiter.reject(new Error(`assertion failed: join of ${waiter.customerId} has an outcome`));
    return;
  }
  // Two requests of one customer in one batch: only the first reports the creation.
  waiter.resolve({ ...outcome });
  outcome.created = false;
}
