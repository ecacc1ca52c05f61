/**
 * Admission: the tick that moves a line, the slot accounting behind it, and the commands
 * the rest of the system calls on a shopper's slot.
 *
 * A tick runs in one transaction holding the line's `queue_state` row lock, so ticks of one
 * event are serial whoever runs them; the fencing token stored on that row refuses a tick
 * from a leader that has been replaced (a node that stalled past its lease and woke up).
 * Admissions are unique per customer and per number, so even a fencing bug could not admit
 * anyone twice. Pass liveness is computed from timestamps at read time (never counted
 * down), so a slot frees the moment a pass expires or times out, with no job involved.
 *
 * Time is the database clock, so the tick (on the leader), the hold gate and the order
 * confirmation (on any node) agree on when a slot lapses however skewed the nodes' clocks
 * are. Statements compare against now(); the tick reads the database clock once, after it
 * has taken the line's lock, and uses that instant for every row it writes. Tests that pin
 * time with a manual clock pass `nowMs`, which then stands in for the database clock.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { assert } from '../core/errors.js';
import { zoneCounts } from '../inventory/availability.js';
import { writeOutbox } from '../outbox/write.js';
import type { Db, Queryable } from '../storage/index.js';
import { databaseNowMs, sqlNow } from './dbclock.js';
import { advanceDraw, type DrawBudget } from './draw.js';
import { drawIfDue, type SeedSource } from './line.js';
import { newSeed } from './shuffle.js';
import type { Admission, EntryRef, LineStatus } from './types.js';

const minuteMs = 60_000;
// Credit for admissions is capped at this much elapsed time, at least (see accrue()).
const minCreditWindowMs = 5_000;

/**
 * SQL predicate: the admission `a` holds a live slot at `$now` — not released, not expired,
 * and claimed or still inside its claim grace.
 */
export function liveSlot(alias: string, nowParam: string): string {
  return `${alias}.released_at IS NULL AND ${alias}.expires_at > ${nowParam}
    AND (${alias}.claimed_at IS NOT NULL OR ${alias}.claim_by > ${nowParam})`;
}

/** What a tick needs besides the event. */
export interface TickOptions {
  /** Pins the tick's time (tests with a manual clock); by default the database clock. */
  nowMs?: number;
  /** The admission leader's fencing token. */
  token: number;
  claimGraceSeconds: number;
  seeds?: SeedSource;
  /** The configured tick period; credit may accrue for up to twice this (see accrue()). */
  tickMs?: number;
  /** Bounds on the pre-queue draw work of this tick (limits.queueDraw* by default). */
  draw?: DrawBudget;
}

/** What a tick did. */
export type TickOutcome =
  | {
    kind: 'ticked'; status: LineStatus; admitted: { customerId: string; number: number }[];
    /** Pre-queue entries this tick's draw work numbered. */
    drawn: EntryRef[];
  }
  /** Nobody has joined this line. */
  | { kind: 'idle' }
  /** A newer leader has ticked this line; this one must stop. */
  | { kind: 'fenced'; newerToken: number };

interface StateRow {
  served_up_to: number;
  admit_credit: number;
  last_tick_at: Date | null;
  first_admitted_at: Date | null;
  tick_seq: number;
  leader_token: number;
}

let ordersTableKnown = false;

/**
 * Belt and braces for slot release: the booking engine calls releaseShopperSlot when an
 * order confirms, but if that call is ever missed, a confirmed order still frees the slot
 * at the next tick. The orders table belongs to another module; look it up by name.
 */
async function reconcileOrders(tx: Queryable, eventId: string, now: Date): Promise<void> {
  if (!ordersTableKnown) {
    const { rows } = await tx.query<{ t: string | null }>(
      "SELECT to_regclass('orders')::text AS t",
    );
    if (rows[0]?.t == null) return;
    ordersTableKnown = true;
  }
  // Only orders confirmed since the admission: an order from before it (bought while the
  // event had no queue, say) says nothing about this shopping trip.
  await tx.query(
    `UPDATE queue_admissions a SET released_at = $2
      WHERE a.event_id = $1 AND ${liveSlot('a', '$2')}
        AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = a.customer_id
                       AND o.event_id = a.event_id AND o.status = 'confirmed'
                       AND o.confirmed_at >= a.admitted_at)`,
    [eventId, now],
  );
}

/** Sold out: no ticket is available or held, i.e. every ticket is sold. */
export async function isSoldOut(db: Queryable, event: EventRecord): Promise<boolean> {
  const counts = (await zoneCounts(db, [event.eventId])).get(event.eventId);
  const sold = [...(counts?.values() ?? [])].reduce((sum, zone) => sum + zone.sold, 0);
  const capacity = event.zones.reduce((sum, zone) => sum + zone.capacity, 0);
  return sold >= capacity;
}

async function countSlots(
  tx: Queryable, eventId: string, now: Date,
): Promise<{ live: number; lastMinute: number }> {
  const { rows } = await tx.query<{ live: number; last_minute: number }>(
    `SELECT
       (SELECT count(*) FROM queue_admissions a
         WHERE a.event_id = $1 AND ${liveSlot('a', '$2')})::int AS live,
       (SELECT count(*) FROM queue_admissions
         WHERE event_id = $1 AND admitted_at > $3)::int AS last_minute`,
    [eventId, now, new Date(now.getTime() - minuteMs)],
  );
  return { live: rows[0]?.live ?? 0, lastMinute: rows[0]?.last_minute ?? 0 };
}

/**
 * Admissions earned since the last tick, smoothed: credit accrues at admitPerMinute/60 per
 * second. It is capped at the time actually elapsed since the last tick (at least 5 s'
 * worth), but never more than twice the tick period (at least 10 s): ticks slower than
 * planned still admit at the full rate, while a paused line (a failover, a line nobody
 * was waiting in) does not release a burst.
 */
function accrue(
  credit: number, lastTickAtMs: number | null, admitPerMinute: number, nowMs: number,
  tickMs: number,
): number {
  const perMs = admitPerMinute / minuteMs;
  const sinceMs = lastTickAtMs === null ? tickMs : Math.max(0, nowMs - lastTickAtMs);
  const windowMs = Math.max(
    minCreditWindowMs, Math.min(sinceMs, 2 * Math.max(tickMs, minCreditWindowMs)),
  );
  const capped = Math.max(1, perMs * windowMs);
  return Math.min(capped, credit + sinceMs * perMs);
}

/**
 * Admits the numbers servedUpTo + 1 … servedUpTo + count that exist, stopping at the first
 * one that does not: a pre-queue number reserved but not assigned yet by the draw is
 * waited for, never passed over. (Numbers after on-sale are dense and commit in order, so
 * only the draw can leave such a gap, and only until its chunks catch up.)
 */
async function admitNext(
  tx: Queryable, event: EventRecord, servedUpTo: number, count: number,
  opts: TickOptions, nowMs: number,
): Promise<{ customerId: string; number: number }[]> {
  const now = new Date(nowMs);
  const claimBy = new Date(nowMs + opts.claimGraceSeconds * 1000);
  const expires = new Date(nowMs + event.queue.passSeconds * 1000);
  const { rows } = await tx.query<{ customer_id: string; number: number }>(
    `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                   claim_by, expires_at, leader_token)
     SELECT run.event_id, run.customer_id, run.number, gen_random_uuid(), $4,
            LEAST($5::timestamptz, $6::timestamptz), $6, $7
       FROM (SELECT e.event_id, e.customer_id, e.number,
                    e.number - row_number() OVER (ORDER BY e.number) AS gap
               FROM queue_entries e
              WHERE e.event_id = $1 AND e.number > $2 AND e.number <= $2::bigint + $3
            ) AS run
      WHERE run.gap = $2
     RETURNING customer_id, number`,
    [event.eventId, servedUpTo, count, now, claimBy, expires, opts.token],
  );
  return rows
    .map((row) => ({ customerId: row.customer_id, number: Number(row.number) }))
    .sort((a, b) => a.number - b.number);
}

/**
 * Advances one line: draws the pre-queue when due, frees slots of completed orders, checks
 * for sold out, then admits the next numbers within the rate (admitPerMinute, smoothed and
 * never more than that in any 60 s window) and the live-shopper cap (maxActiveShoppers).
 */
export async function tickLine(
  db: Db, event: EventRecord, opts: TickOptions,
): Promise<TickOutcome> {
  assert(Number.isSafeInteger(opts.token) && opts.token > 0, 'fencing token is positive');
  const drawn = await drawStep(db, event, opts);
  return await db.tx(async (tx) => {
    const { rows } = await tx.query<StateRow>(
      `SELECT served_up_to, admit_credit, last_tick_at, first_admitted_at, tick_seq,
              leader_token
         FROM queue_state WHERE event_id = $1 FOR UPDATE`,
      [event.eventId],
    );
    const state = rows[0];
    if (state === undefined) return { kind: 'idle' } as const;
    const newerToken = Number(state.leader_token);
    if (newerToken > opts.token) return { kind: 'fenced', newerToken } as const;
    // Read after the lock, so ticks of a line are in time order as well as serial.
    const nowMs = await databaseNowMs(tx, opts.nowMs);
    const now = new Date(nowMs);
    const onSale = nowMs >= event.onSaleAtMs;
    await reconcileOrders(tx, event.eventId, now);
    const soldOut = onSale && await isSoldOut(tx, event);
    const slots = await countSlots(tx, event.eventId, now);
    const credit = accrue(Number(state.admit_credit), state.last_tick_at?.getTime() ?? null,
      event.queue.admitPerMinute, nowMs, opts.tickMs ?? 1_000);
    const budget = Math.min(
      // Credit is a sum of fractions: 6 × (1/6) must count as 1, not 0.999….
      Math.floor(credit + 1e-9),
      event.queue.admitPerMinute - slots.lastMinute,
      event.queue.maxActiveShoppers - slots.live,
      limits.queueAdmitPerTickMax,
    );
    const servedBefore = Number(state.served_up_to);
    const admitted = onSale && !soldOut && budget > 0
      ? await admitNext(tx, event, servedBefore, budget, opts, nowMs)
      : [];
    // One outbox row per tick (at most the tick's size): the notifier tells each fan.
    if (admitted.length > 0) {
      await writeOutbox(tx, event.eventId, 'queue.admitted',
        { customerIds: admitted.map((entry) => entry.customerId) });
    }
    const servedUpTo = admitted.at(-1)?.number ?? servedBefore;
    const firstAdmittedAt = state.first_admitted_at ?? (admitted.length > 0 ? now : null);
    const ratePerMinute = measuredRate(slots.lastMinute + admitted.length, firstAdmittedAt, now);
    const seq = Number(state.tick_seq) + 1;
    await tx.query(
      `UPDATE queue_state
          SET served_up_to = $2, admit_credit = $3, last_tick_at = $4, first_admitted_at = $5,
              rate_per_minute = $6, sold_out = $7, tick_seq = $8, leader_token = $9
        WHERE event_id = $1`,
      [event.eventId, servedUpTo, Math.max(0, credit - admitted.length), now, firstAdmittedAt,
        ratePerMinute, soldOut, seq, opts.token],
    );
    const status: LineStatus = {
      eventId: event.eventId, seq, servedUpTo, ratePerMinute, soldOut, drawn: onSale,
      atMs: nowMs,
    };
    return { kind: 'ticked', status, admitted, drawn } as const;
  });
}

/**
 * The tick's share of the pre-queue draw, before its admission transaction and each chunk in
 * a transaction of its own: reserve the numbers at on-sale if no join has yet, then assign
 * reserved numbers in bounded chunks. No chunk holds the numbering lock, so joins go on.
 * A deposed leader running a chunk is harmless: chunks are serial and idempotent.
 */
async function drawStep(db: Db, event: EventRecord, opts: TickOptions): Promise<EntryRef[]> {
  const nowMs = await databaseNowMs(db, opts.nowMs);
  if (nowMs < event.onSaleAtMs) return [];
  await db.tx((tx) => drawIfDue(tx, event, nowMs, opts.seeds ?? newSeed));
  return (await advanceDraw(db, event.eventId, opts.draw)).numbered;
}

/** Admissions per minute over the last minute, or since the first one if that is sooner. */
function measuredRate(lastMinute: number, firstAdmittedAt: Date | null, now: Date): number {
  if (firstAdmittedAt === null || lastMinute === 0) return 0;
  const spanMs = Math.min(minuteMs, Math.max(1_000, now.getTime() - firstAdmittedAt.getTime()));
  return (lastMinute * minuteMs) / spanMs;
}

/** The line's status as last committed by a tick (before any tick: the starting values). */
export async function readLineStatus(
  db: Queryable, event: EventRecord, nowMs: number,
): Promise<LineStatus> {
  const { rows } = await db.query<{
    served_up_to: number; rate_per_minute: number; sold_out: boolean; tick_seq: number;
    last_tick_at: Date | null; drawn_at: Date | null;
  }>(
    `SELECT s.served_up_to, s.rate_per_minute, s.sold_out, s.tick_seq, s.last_tick_at,
            n.drawn_at
       FROM queue_state s LEFT JOIN queue_numbering n USING (event_id)
      WHERE s.event_id = $1`,
    [event.eventId],
  );
  const row = rows[0];
  if (row === undefined) {
    return {
      eventId: event.eventId, seq: 0, servedUpTo: 0, ratePerMinute: 0, soldOut: false,
      drawn: false, atMs: nowMs,
    };
  }
  return {
    eventId: event.eventId, seq: Number(row.tick_seq), servedUpTo: Number(row.served_up_to),
    ratePerMinute: Number(row.rate_per_minute), soldOut: row.sold_out,
    drawn: row.drawn_at !== null, atMs: row.last_tick_at?.getTime() ?? nowMs,
  };
}

interface AdmissionRow {
  customer_id: string; number: number; pass_id: string; admitted_at: Date; claim_by: Date;
  expires_at: Date; claimed_at: Date | null; released_at: Date | null; live: boolean;
}

const admissionColumns = `customer_id, number, pass_id, admitted_at, claim_by, expires_at,
  claimed_at, released_at`;

function toAdmission(row: AdmissionRow): Admission {
  return {
    customerId: row.customer_id, number: Number(row.number), passId: row.pass_id,
    admittedAtMs: row.admitted_at.getTime(), claimByMs: row.claim_by.getTime(),
    expiresAtMs: row.expires_at.getTime(), claimedAtMs: row.claimed_at?.getTime() ?? null,
    releasedAtMs: row.released_at?.getTime() ?? null, live: row.live,
  };
}

/**
 * A customer's admission for an event, if they have been admitted, with its liveness by
 * the database clock (or `nowMs` when a test pins time). Reading changes nothing.
 */
export async function findAdmission(
  db: Queryable, eventId: string, customerId: string, nowMs?: number,
): Promise<Admission | undefined> {
  const params: unknown[] = [eventId, customerId];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<AdmissionRow>(
    `SELECT ${admissionColumns}, (${liveSlot('a', now)}) AS live
       FROM queue_admissions a WHERE a.event_id = $1 AND a.customer_id = $2`,
    params,
  );
  return rows[0] === undefined ? undefined : toAdmission(rows[0]);
}

/**
 * Marks an admission claimed if it is still within its claim grace and not expired or
 * released: the shopper has shown up by placing a hold with the pass (the hold gate calls
 * this; reading the view never claims). Returns the admission as it stands afterwards.
 * Uses the database clock unless a test pins time with `nowMs`.
 */
export async function claimAdmission(
  db: Queryable, eventId: string, customerId: string, nowMs?: number,
): Promise<Admission | undefined> {
  const params: unknown[] = [eventId, customerId];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<AdmissionRow>(
    `UPDATE queue_admissions SET claimed_at = ${now}
      WHERE event_id = $1 AND customer_id = $2 AND claimed_at IS NULL
        AND released_at IS NULL AND claim_by > ${now} AND expires_at > ${now}
      RETURNING ${admissionColumns}, true AS live`,
    params,
  );
  if (rows[0] !== undefined) return toAdmission(rows[0]);
  return await findAdmission(db, eventId, customerId, nowMs);
}

/**
 * Frees a shopper's slot now: call it in the transaction that confirms the customer's
 * order for the event (the booking engine does). Idempotent; a customer who was never
 * admitted (an event without a queue) is a no-op. Returns true when a live slot was freed.
 * The pass stops working for holds at the same time. Without `nowMs` the database clock
 * is used, for callers that have no Clock at hand.
 */
export async function releaseShopperSlot(
  db: Queryable, eventId: string, customerId: string, nowMs?: number,
): Promise<boolean> {
  const params: unknown[] = [eventId, customerId];
  const now = sqlNow(params, nowMs);
  const { rowCount } = await db.query(
    `UPDATE queue_admissions a SET released_at = ${now}
      WHERE a.event_id = $1 AND a.customer_id = $2 AND ${liveSlot('a', now)}`,
    params,
  );
  return rowCount > 0;
}

/**
 * Events whose lines the admission tick should look at now: queued, on sale, not over,
 * and with something to do: a pre-queue to draw, someone numbered and not yet admitted,
 * or a live pass (which may need freeing). An idle line is skipped; a new joiner makes it
 * active again at the next round. Database clock unless a test pins time with `nowMs`.
 */
export async function activeLines(db: Queryable, nowMs?: number): Promise<string[]> {
  const params: unknown[] = [limits.queueEventsPerTick];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<{ event_id: string }>(
    `SELECT s.event_id FROM queue_state s JOIN events e USING (event_id)
       LEFT JOIN queue_numbering n USING (event_id)
      WHERE e.on_sale_at <= ${now} AND e.starts_at > ${now} AND e.cancelled_at IS NULL
        AND (e.queue->>'enabled')::boolean
        AND (n.drawn_at IS NULL OR n.last_number > s.served_up_to
             OR EXISTS (SELECT 1 FROM queue_admissions a
                         WHERE a.event_id = s.event_id AND ${liveSlot('a', now)}))
      ORDER BY s.last_tick_at NULLS FIRST
      LIMIT $1`,
    params,
  );
  return rows.map((row) => row.event_id);
}

/** Live queue figures for the organizer dashboard (`/admin/events/:id/stats`). */
export interface QueueStats {
  joined: number;
  preQueue: number;
  waiting: number;
  servedUpTo: number;
  admitted: number;
  activeShoppers: number;
  ratePerMinute: number;
  soldOut: boolean;
}

/** The queue's figures for one event, in one round trip (database clock unless pinned). */
export async function queueStats(
  db: Queryable, eventId: string, nowMs?: number,
): Promise<QueueStats> {
  const params: unknown[] = [eventId];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<{
    joined: number; pre_queue: number; served_up_to: number | null; admitted: number;
    active: number; rate_per_minute: number | null; sold_out: boolean | null;
  }>(
    `SELECT
       (SELECT count(*) FROM queue_entries WHERE event_id = $1)::int AS joined,
       (SELECT count(*) FROM queue_entries WHERE event_id = $1 AND number IS NULL)::int
         AS pre_queue,
       (SELECT count(*) FROM queue_admissions WHERE event_id = $1)::int AS admitted,
       (SELECT count(*) FROM queue_admissions a
         WHERE a.event_id = $1 AND ${liveSlot('a', now)})::int AS active,
       s.served_up_to, s.rate_per_minute, s.sold_out
       FROM (SELECT 1) AS one LEFT JOIN queue_state s ON s.event_id = $1`,
    params,
  );
  const row = rows[0];
  const joined = row?.joined ?? 0;
  const admitted = row?.admitted ?? 0;
  return {
    joined, preQueue: row?.pre_queue ?? 0, waiting: joined - admitted,
    servedUpTo: Number(row?.served_up_to ?? 0), admitted, activeShoppers: row?.active ?? 0,
    ratePerMinute: Number(row?.rate_per_minute ?? 0), soldOut: row?.sold_out ?? false,
  };
}
