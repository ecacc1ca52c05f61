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
import { writeOutbox } from '../outbox/write.js';
import type { Db, Queryable } from '../storage/index.js';
import { keptCountsSql } from './counts.js';
import { databaseNowMs, sqlNow } from './dbclock.js';
import { advanceDraw, type DrawBudget } from './draw.js';
import { drawIfDue, type SeedSource } from './line.js';
import { nextPace, type Pace } from './pace.js';
import { newSeed } from './shuffle.js';
import { liveSlot } from './slot.js';
import { reserveWaitlistBase } from './waitblock.js';
import {
  inventoryRoom, isClosed, readTickFigures, type Supply, type SupplyKnobs,
} from './supply.js';
import type { Admission, EntryRef, LineStatus } from './types.js';

export { liveSlot } from './slot.js';

const minuteMs = 60_000;
// Credit for admissions is capped at this much elapsed time, at least (see accrue()).
const minCreditWindowMs = 5_000;

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
  /** The inventory-aware admission rule's knobs (supply.ts); the config's defaults if unset. */
  supply?: SupplyKnobs;
  /** A claimed shopper who has held nothing for this long gives the slot back (30 s). */
  idleSeconds?: number;
  /** How long the previous tick's broadcast took to leave the leader, ms (for the ETA). */
  publishLagMs?: number;
  /**
   * Test seam: skip the fencing check, so a race test's control can show what a deposed
   * leader does without it. Production never sets it.
   */
  unfenced?: true;
}

/**
 * QUEUE_HELD_RETURN_PERCENT, QUEUE_TICKETS_PER_SHOPPER, QUEUE_SEEKER_SECONDS and
 * QUEUE_IDLE_SECONDS defaults.
 */
const defaultKnobs: SupplyKnobs = {
  heldReturnShare: 0.25, defaultTicketsPerShopper: 2, seekerSeconds: 20,
};
const defaultIdleSeconds = 30;

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
  closed_at: Date | null;
  pace: Pace | null;
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
    `UPDATE queue_admissions a SET released_at = $2, release_reason = 'order'
      WHERE a.event_id = $1 AND ${liveSlot('a', '$2')}
        AND EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = a.customer_id
                       AND o.event_id = a.event_id AND o.status = 'confirmed'
                       AND o.confirmed_at >= a.admitted_at)`,
    [eventId, now],
  );
}

/**
 * Ghosts never hold a slot for long. A shopper who has shown up (claimed the pass) but holds
 * nothing and has no payment under way gives the slot back when either
 *  - their cart lapsed: their latest hold ran out its timer unpaid (a fan whose time is up
 *    is sent out of the store, as on every ticketing site; a fan who walked away from a
 *    cart is a ghost from that moment, and counting them as a seeker for `idleSeconds`
 *    more would keep a fan in line out of the last tickets), or
 *  - they have neither tried a hold (the pass's last use, `claimed_at`), placed one nor
 *    ended one for `idleSeconds`.
 * Holds and orders go by the database clock (as every hold does), the slot by the tick's
 * instant. Only a cart that lapsed within the pass's lifetime counts (an older one is from
 * before this shopping trip). Returns how many slots this freed.
 */
async function releaseIdleSlots(
  tx: Queryable, event: EventRecord, now: Date, idleSeconds: number,
): Promise<number> {
  const { rowCount } = await tx.query(
    `UPDATE queue_admissions a SET released_at = $2, release_reason = 'idle'
      WHERE a.event_id = $1 AND ${liveSlot('a', '$2')} AND a.claimed_at IS NOT NULL
        AND NOT EXISTS (
          SELECT 1 FROM holds h WHERE h.event_id = a.event_id AND h.customer_id = a.customer_id
             AND h.state = 'held' AND h.expires_at > now())
        AND NOT EXISTS (
          SELECT 1 FROM orders o WHERE o.event_id = a.event_id
             AND o.customer_id = a.customer_id AND o.status = 'pending_payment')
        AND (
          (SELECT h.state IN ('held', 'expired')
                  AND h.expires_at > now() - $5 * interval '1 second'
             FROM holds h WHERE h.event_id = a.event_id AND h.customer_id = a.customer_id
            ORDER BY h.created_at DESC LIMIT 1)
          OR (a.claimed_at <= $3 AND NOT EXISTS (
            SELECT 1 FROM holds h WHERE h.event_id = a.event_id
               AND h.customer_id = a.customer_id
               AND (h.created_at > now() - $4 * interval '1 second'
                    OR h.ended_at > now() - $4 * interval '1 second'
                    OR (h.state = 'held' AND h.expires_at > now() - $4 * interval '1 second'))))
        )`,
    [event.eventId, now, new Date(now.getTime() - idleSeconds * 1000), idleSeconds,
      event.queue.passSeconds],
  );
  return rowCount;
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
 * Admits the next `count` fans after servedUpTo, in number order, passing over fans who
 * left the line (they keep their number, so nobody moves up out of turn) and stopping at
 * the first number that does not exist: a pre-queue number reserved but not assigned yet
 * by the draw is waited for, never passed over. (Numbers after on-sale are dense and commit
 * in order, so only the draw can leave such a gap, and only until its chunks catch up.)
 * Returns the admitted fans and the new servedUpTo (past any leavers right behind them).
 */
async function admitNext(
  tx: Queryable, event: EventRecord, servedUpTo: number, count: number,
  opts: TickOptions, nowMs: number,
): Promise<{
  admitted: { customerId: string; number: number }[]; servedUpTo: number;
  /** Fewer fans were there to admit than the budget allowed. */
  drained: boolean;
}> {
  const { rows } = await tx.query<{ customer_id: string; number: number; left: boolean }>(
    `SELECT run.customer_id, run.number, run.left
       FROM (SELECT e.customer_id, e.number, e.left_at IS NOT NULL AS left,
                    e.number - row_number() OVER (ORDER BY e.number) AS gap
               FROM queue_entries e
              WHERE e.event_id = $1 AND e.number > $2 AND e.number <= $2::bigint + $3
            ) AS run
      WHERE run.gap = $2
      ORDER BY run.number`,
    [event.eventId, servedUpTo, count + limits.queueLeaversPassedPerTick],
  );
  const chosen: { customerId: string; number: number }[] = [];
  let served = servedUpTo;
  for (const row of rows) {
    if (!row.left) {
      if (chosen.length === count) break;
      chosen.push({ customerId: row.customer_id, number: Number(row.number) });
    }
    served = Number(row.number);
  }
  const drained = chosen.length < count;
  if (chosen.length === 0) return { admitted: [], servedUpTo: served, drained };
  const claimBy = new Date(nowMs + opts.claimGraceSeconds * 1000);
  const expires = new Date(nowMs + event.queue.passSeconds * 1000);
  const inserted = await tx.query<{ customer_id: string; number: number }>(
    `INSERT INTO queue_admissions (event_id, customer_id, number, pass_id, admitted_at,
                                   claim_by, expires_at, leader_token)
     SELECT $1, c, n, gen_random_uuid(), $4, LEAST($5::timestamptz, $6::timestamptz), $6, $7
       FROM unnest($2::uuid[], $3::bigint[]) AS x(c, n)
     RETURNING customer_id, number`,
    [event.eventId, chosen.map((c) => c.customerId), chosen.map((c) => c.number),
      new Date(nowMs), claimBy, expires, opts.token],
  );
  assert(inserted.rowCount === chosen.length, 'every chosen fan is admitted once');
  return { admitted: chosen, servedUpTo: served, drained };
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
              leader_token, closed_at, pace
         FROM queue_state WHERE event_id = $1 FOR UPDATE`,
      [event.eventId],
    );
    const state = rows[0];
    if (state === undefined) return { kind: 'idle' } as const;
    const newerToken = Number(state.leader_token);
    if (newerToken > opts.token && opts.unfenced !== true) {
      return { kind: 'fenced', newerToken } as const;
    }
    // Read after the lock, so ticks of a line are in time order as well as serial.
    const nowMs = await databaseNowMs(tx, opts.nowMs);
    const now = new Date(nowMs);
    const onSale = nowMs >= event.onSaleAtMs;
    await reconcileOrders(tx, event.eventId, now);
    await releaseIdleSlots(tx, event, now, opts.idleSeconds ?? defaultIdleSeconds);
    const knobs = opts.supply ?? defaultKnobs;
    // Tickets, holds and slots in one round trip (the tick's largest read).
    const { supply, slots } = await readTickFigures(tx, event, now, knobs);
    const soldOut = onSale && isClosed(supply, state.closed_at !== null);
    const credit = accrue(Number(state.admit_credit), state.last_tick_at?.getTime() ?? null,
      event.queue.admitPerMinute, nowMs, opts.tickMs ?? 1_000);
    const byRate = Math.min(
      // Credit is a sum of fractions: 6 × (1/6) must count as 1, not 0.999….
      Math.floor(credit + 1e-9),
      event.queue.admitPerMinute - slots.lastMinute,
      limits.queueAdmitPerTickMax,
    );
    const bySlots = event.queue.maxActiveShoppers - slots.live;
    const byInventory = inventoryRoom(supply, knobs);
    const budget = Math.min(byRate, bySlots, byInventory);
    const servedBefore = Number(state.served_up_to);
    // With no budget the step still passes leavers at the head of the line.
    const step = onSale && !soldOut
      ? await admitNext(tx, event, servedBefore, Math.max(0, budget), opts, nowMs)
      : { admitted: [], servedUpTo: servedBefore, drained: true };
    const { admitted, servedUpTo } = step;
    const shown: Supply = { ...supply, seekers: supply.seekers + admitted.length };
    // One outbox row per tick (at most the tick's size): the notifier tells each fan.
    if (admitted.length > 0) {
      await writeOutbox(tx, event.eventId, 'queue.admitted',
        { customerIds: admitted.map((entry) => entry.customerId) });
    }
    if (soldOut && state.closed_at === null) {
      await noticeClosed(tx, event.eventId, servedUpTo);
      // The waitlist block now, under the lock this tick holds: the fans told "sold out"
      // move to the waitlist in a herd, and each then only reads it.
      await reserveWaitlistBase(tx, event.eventId);
    }
    const firstAdmittedAt = state.first_admitted_at ?? (admitted.length > 0 ? now : null);
    const ratePerMinute = measuredRate(slots.lastMinute + admitted.length, firstAdmittedAt, now);
    const pace = nextPace(state.pace ?? undefined, {
      atMs: nowMs, tickMs: opts.tickMs ?? 1_000, admitPerMinute: event.queue.admitPerMinute,
      maxActive: event.queue.maxActiveShoppers, passSeconds: event.queue.passSeconds,
      liveBefore: slots.live, admitted: admitted.length,
      byRate: Math.max(0, byRate), bySlots: Math.max(0, bySlots),
      byInventory: Math.max(0, byInventory), drained: step.drained && admitted.length < budget,
      ...(opts.publishLagMs === undefined ? {} : { lagMs: opts.publishLagMs }),
    });
    const seq = Number(state.tick_seq) + 1;
    await tx.query(
      `UPDATE queue_state
          SET served_up_to = $2, admit_credit = $3, last_tick_at = $4, first_admitted_at = $5,
              rate_per_minute = $6, sold_out = $7, tick_seq = $8, leader_token = $9,
              supply = $10::jsonb, pace = $11::jsonb,
              closed_at = CASE WHEN $7 THEN coalesce(closed_at, $4) END
        WHERE event_id = $1`,
      [event.eventId, servedUpTo, Math.max(0, credit - admitted.length), now, firstAdmittedAt,
        ratePerMinute, soldOut, seq, opts.token, JSON.stringify(shown), JSON.stringify(pace)],
    );
    const status: LineStatus = {
      eventId: event.eventId, seq, servedUpTo, ratePerMinute, soldOut, drawn: onSale,
      atMs: nowMs, supply: shown, pace,
    };
    return { kind: 'ticked', status, admitted, drawn } as const;
  });
}

/**
 * The line has just closed: an outbox row (or a few: `limits.queueClosedNoticeBatch` fans
 * each) names the fans still waiting, in line order, so the notifier tells each of them
 * wherever they are, not only those with the queue page open. At most
 * `limits.notifyAudienceMax` fans are named.
 */
async function noticeClosed(tx: Queryable, eventId: string, servedUpTo: number): Promise<void> {
  const { rows } = await tx.query<{ customer_id: string }>(
    `SELECT customer_id FROM queue_entries
      WHERE event_id = $1 AND left_at IS NULL AND (number IS NULL OR number > $2)
      ORDER BY number NULLS LAST LIMIT $3`,
    [eventId, servedUpTo, limits.notifyAudienceMax],
  );
  const ids = rows.map((row) => row.customer_id);
  for (let start = 0; start < ids.length; start += limits.queueClosedNoticeBatch) {
    await writeOutbox(tx, eventId, 'queue.closed',
      { customerIds: ids.slice(start, start + limits.queueClosedNoticeBatch) });
  }
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
    last_tick_at: Date | null; drawn_at: Date | null; supply: Supply | null; pace: Pace | null;
  }>(
    `SELECT s.served_up_to, s.rate_per_minute, s.sold_out, s.tick_seq, s.last_tick_at,
            n.drawn_at, s.supply, s.pace
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
    ...(row.supply === null ? {} : { supply: row.supply }),
    ...(row.pace === null ? {} : { pace: row.pace }),
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
 * Marks an admission claimed (or, once claimed, freshly used) if its slot is live: the
 * shopper has shown up by placing a hold with the pass (the hold gate calls this on every
 * hold; reading the view never claims). `claimed_at` is the latest such use, so a shopper
 * who keeps trying is never taken for idle (releaseIdleSlots counts from it). Returns the
 * admission as it stands afterwards. Database clock unless a test pins time with `nowMs`.
 */
export async function claimAdmission(
  db: Queryable, eventId: string, customerId: string, nowMs?: number,
): Promise<Admission | undefined> {
  const params: unknown[] = [eventId, customerId];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<AdmissionRow>(
    `UPDATE queue_admissions a SET claimed_at = ${now}
      WHERE a.event_id = $1 AND a.customer_id = $2 AND ${liveSlot('a', now)}
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
    `UPDATE queue_admissions a SET released_at = ${now}, release_reason = 'order'
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
  /** In line: not admitted and not left. */
  waiting: number;
  servedUpTo: number;
  admitted: number;
  activeShoppers: number;
  ratePerMinute: number;
  soldOut: boolean;
  /** When the line closed (nothing left to sell), or null while open. */
  closedAt: string | null;
  /** Fans who left the line on their own, and who moved to the waitlist. */
  left: number;
  movedToWaitlist: number;
  /**
   * Slots freed before their pass ran out, by why (order complete, given back, idle), and
   * slots that lapsed by time (no hold within the claim grace, or the pass expired).
   */
  freed: { order: number; left: number; idle: number; lapsed: number };
}

/**
 * The queue's figures for one event, in one round trip (database clock unless pinned). The
 * counts come from `queue_counts` (a few rows, kept by triggers: queue/counts.ts); only the
 * live slots are counted from rows, the unreleased unexpired admissions through
 * queue_admissions_open_idx, never the whole line or every admission.
 */
export async function queueStats(
  db: Queryable, eventId: string, nowMs?: number,
): Promise<QueueStats> {
  const params: unknown[] = [eventId];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<{
    joined: number; pre_queue: number; left_line: number; waitlist: number;
    left_unadmitted: number; admitted: number; released: number; freed_order: number;
    freed_left: number; freed_idle: number; active: number; served_up_to: number | null;
    rate_per_minute: number | null; sold_out: boolean | null; closed_at: Date | null;
  }>(
    `SELECT c.*, s.served_up_to, s.rate_per_minute, s.sold_out, s.closed_at,
       (SELECT count(*) FROM queue_admissions q
         WHERE q.event_id = $1 AND ${liveSlot('q', now)})::int AS active
       FROM (${keptCountsSql}) AS c
       LEFT JOIN queue_state s ON s.event_id = $1`,
    params,
  );
  const row = rows[0];
  const joined = Number(row?.joined ?? 0);
  const admitted = Number(row?.admitted ?? 0);
  const active = Number(row?.active ?? 0);
  return {
    joined, preQueue: Number(row?.pre_queue ?? 0),
    waiting: joined - admitted - Number(row?.left_unadmitted ?? 0),
    servedUpTo: Number(row?.served_up_to ?? 0), admitted, activeShoppers: active,
    ratePerMinute: Number(row?.rate_per_minute ?? 0), soldOut: row?.sold_out ?? false,
    closedAt: row?.closed_at?.toISOString() ?? null,
    left: Number(row?.left_line ?? 0), movedToWaitlist: Number(row?.waitlist ?? 0),
    freed: {
      order: Number(row?.freed_order ?? 0), left: Number(row?.freed_left ?? 0),
      idle: Number(row?.freed_idle ?? 0),
      // Unreleased and not live: lapsed by time (claim grace or pass expiry).
      lapsed: admitted - Number(row?.released ?? 0) - active,
    },
  };
}
