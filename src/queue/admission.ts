/**
 * Admission: the tick that moves a line, the slot accounting behind it, and the commands
 * the rest of the system calls on a shopper's slot.
 *
 * A tick is two round trips (migration 045): one reads the line and frees slots, the node
 * decides, one admits and writes the line's state under its `queue_state` row lock. The
 * apply refuses a plan if another tick committed since the plan's read (`tick_seq`), so
 * ticks of one event are serial whoever runs them; the fencing token stored on that row
 * refuses a tick from a leader that has been replaced (a node that stalled past its lease
 * and woke up). Admissions are unique per customer and per number, so even a fencing bug
 * could not admit anyone twice. Pass liveness is computed from timestamps at read time
 * (never counted down), so a slot frees the moment a pass expires or times out, with no
 * job involved.
 *
 * Time is the database clock, so the tick (on the leader), the hold gate and the order
 * confirmation (on any node) agree on when a slot lapses however skewed the nodes' clocks
 * are. Statements compare against now(); the tick reads the database clock once, after it
 * has read the line's state, and uses that instant for every row it writes. Tests that pin
 * time with a manual clock pass `nowMs`, which then stands in for the database clock.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { assert } from '../core/errors.js';
import { writeOutbox } from '../outbox/write.js';
import type { Db, Queryable } from '../storage/index.js';
import { keptCountsSql } from './counts.js';
import { sqlNow } from './dbclock.js';
import { advanceDraw, type DrawBudget } from './draw.js';
import { drawIfDue, type SeedSource } from './line.js';
import { nextPace, type Pace } from './pace.js';
import { newSeed } from './shuffle.js';
import { keyedLiveSlot, liveSlot } from './slot.js';
import {
  nextStoreFactor, storeLiveCap, type StorePace, type StorePaceKnobs, type StoreSignal,
} from './storePace.js';
import { reserveWaitlistBase } from './waitblock.js';
import {
  inventoryRoom, isClosed, tickSupply, type ShapeRow, type Supply, type SupplyKnobs,
  type TickFigures,
} from './supply.js';
import type { Admission, EntryRef, LineStatus, ReleaseReason } from './types.js';

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
  /**
   * Whether this tick runs the slot release pass (orders, lapsed carts, idle shoppers);
   * true when unset. The admission duty runs it on a cadence (release.ts): a tick without
   * it frees nothing and counts the unfreed slots as live, so it only ever admits fewer.
   */
  releaseSlots?: boolean;
  /** How long the previous tick's broadcast took to leave the leader, ms (for the ETA). */
  publishLagMs?: number;
  /**
   * The store's signal for this line, read once for this tick (storePace.ts), and the
   * pacing knobs. Unset: the store is taken as healthy (factor recovers toward 1).
   */
  store?: { signal: StoreSignal | null; knobs: StorePaceKnobs };
  /**
   * Test seam: skip the fencing check, so a race test's control can show what a deposed
   * leader does without it. Production never sets it.
   */
  unfenced?: true;
  /**
   * Test seam: apply the tick's plan even if another tick committed since it was read (the
   * tick_seq check), so a race test's control can show what that check prevents.
   */
  unsequenced?: true;
  /**
   * Test seam: free slots locking their rows in reverse customer order, against the order
   * hold_batch claims passes in, so a race test's control can show the deadlock it avoids.
   */
  reverseSlotLocks?: true;
  /**
   * Test seam: admit without first taking the planned fans' entries' share lock, so a race
   * test's control can show the slot a leave committing meanwhile would keep. Production
   * never sets it.
   */
  unlockedLeavers?: true;
  /**
   * Test seam: a refusing store neither stretches claim grace nor suspends the idle release,
   * so a test's control can show the slot a busy store would cost a fan without them.
   */
  unprotectedSlots?: true;
  /** Test seam: runs between the tick's read and its apply (race tests hold it there). */
  beforeApply?: () => Promise<void>;
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

/** What the tick's first round trip returns (`queue_tick_begin`, migration 045). */
interface BeginRow extends TickFigures {
  outcome: 'fenced' | 'draw' | 'ready';
  now: Date | null;
  served_up_to: number;
  admit_credit: number;
  last_tick_at: Date | null;
  first_admitted_at: Date | null;
  tick_seq: number;
  leader_token: number;
  closed_at: Date | null;
  pace: Pace | null;
  run_customers: string[] | null;
  run_numbers: (string | number)[] | null;
  run_left: boolean[] | null;
  shape: ShapeRow[] | null;
}

/**
 * Where a tick spends its round trips, for a test that counts them: `begin` and `apply`
 * are the two of an ordinary tick; the draw and the closing notice add their own.
 */
const beginSql = `SELECT * FROM queue_tick_begin($1::uuid, $2::bigint, $3::timestamptz,
  $4::boolean, $5::timestamptz, $6::float8, $7::float8, $8::float8, $9::int, $10::int,
  $11::int, $12::int, $13::int, $14::float8, $15::text[], $16::boolean)`;

const applySql = `SELECT outcome, leader_token, tick_seq
  FROM queue_tick_apply($1::uuid, $2::bigint, $3::bigint, $4::uuid[], $5::bigint[],
    $6::timestamptz, $7::timestamptz, $8::timestamptz, $9::bigint, $10::float8,
    $11::timestamptz, $12::float8, $13::boolean, $14::jsonb, $15::jsonb, $16::text[])`;

/** Guards a race test's control may remove (the test seams of TickOptions). */
function unguarded(opts: TickOptions): string[] {
  return [
    ...(opts.unfenced === true ? ['fence'] : []),
    ...(opts.unsequenced === true ? ['sequence'] : []),
    ...(opts.reverseSlotLocks === true ? ['slot_order'] : []),
    ...(opts.unlockedLeavers === true ? ['leave_lock'] : []),
  ];
}

/**
 * Ticks run serially: a tick's plan applies only if no other tick committed since it read
 * the line (queue_tick_apply refuses it otherwise), and a refused plan is made again from
 * the state as it now stands. Only two leaders at once (one deposed) ever race; after this
 * many plans overtaken, the tick waits for the line's lock instead, so it cannot starve.
 */
const tickAttemptsUnlocked = 2;

/** A store node refuses holds as busy: this tick keeps refused fans' slots. */
function protectsSlots(opts: TickOptions): boolean {
  return opts.store?.signal?.refusing === true && opts.unprotectedSlots !== true;
}

/**
 * The idle rule's time for this tick. While a store node refuses holds as busy, a shopper
 * whose holds are being refused would look idle through no fault of their own: no slot is
 * freed as idle then (the pass's own expiry still ends it).
 */
function idleSecondsOf(event: EventRecord, opts: TickOptions): number {
  if (protectsSlots(opts)) {
    return Math.max(event.queue.passSeconds, opts.idleSeconds ?? defaultIdleSeconds);
  }
  return opts.idleSeconds ?? defaultIdleSeconds;
}

/**
 * While a store node refuses holds as busy, an admitted fan may be unable to claim the pass
 * within the claim grace however often they try: every unclaimed live admission's claim
 * deadline is moved to a full grace from now (never past its pass's expiry), so the store's
 * busy time never costs a fan the slot. Only live slots are stretched, never a lapsed one
 * revived, so the live count the tick reads next never grows past the cap it admitted to.
 * Bounded work: a row is rewritten only when its deadline is within the margin below.
 * A deposed leader doing this too is harmless: it only moves deadlines later, within the
 * pass. One statement, on ticks that read a refusing store only.
 */
export async function stretchClaimGrace(
  db: Queryable, event: EventRecord, claimGraceSeconds: number, tickMs: number,
  nowMs?: number,
): Promise<number> {
  const graceSeconds = Math.min(claimGraceSeconds, event.queue.passSeconds);
  // Only deadlines closer than this are moved, so a row is written about once per half
  // grace while the store stays busy, not on every tick; a few ticks' margin keeps every
  // deadline clear of the next tick.
  const marginSeconds = Math.min(graceSeconds,
    Math.max(graceSeconds / 2, (3 * tickMs) / 1000));
  const params: unknown[] = [event.eventId, graceSeconds, marginSeconds];
  const now = sqlNow(params, nowMs);
  const { rowCount } = await db.query(
    `UPDATE queue_admissions a
        SET claim_by = LEAST(a.expires_at, ${now} + $2 * interval '1 second')
      WHERE a.event_id = $1 AND a.claimed_at IS NULL AND ${liveSlot('a', now)}
        AND a.claim_by < LEAST(a.expires_at, ${now} + $3 * interval '1 second')`,
    params,
  );
  return rowCount;
}

/**
 * The line's first round trip: fencing, the database clock, slots freed (completed orders,
 * idle shoppers; unless `releaseSlots` is false), the state, the figures and the run of
 * fans this tick could admit at most.
 * Runs the pre-queue draw first when it has work (its own round trips, on those ticks only).
 */
async function beginTick(
  db: Db, q: Queryable, event: EventRecord, opts: TickOptions, knobs: SupplyKnobs,
  drawChecked: boolean,
): Promise<{ row: BeginRow | undefined; drawn: EntryRef[] }> {
  let drawn: EntryRef[] = [];
  for (const checkDraw of drawChecked ? [false] : [true, false]) {
    const { rows } = await q.query<BeginRow>(beginSql, [
      event.eventId, opts.token, opts.nowMs === undefined ? null : new Date(opts.nowMs),
      checkDraw, new Date(event.onSaleAtMs), idleSecondsOf(event, opts),
      event.queue.passSeconds, knobs.seekerSeconds,
      Math.min(limits.queueAdmitPerTickMax,
        creditCeiling(event.queue.admitPerMinute, opts.tickMs ?? 1_000)),
      event.queue.admitPerMinute, event.queue.maxActiveShoppers,
      limits.queueLeaversPassedPerTick, limits.queueShapeScanMax, opts.tickMs ?? 1_000,
      unguarded(opts), opts.releaseSlots ?? true,
    ]);
    const row = rows[0];
    if (row?.outcome !== 'draw') return { row, drawn };
    assert(row.now !== null, 'the tick read the clock');
    drawn = await drawStep(db, event, opts, row.now.getTime());
  }
  assert(false, 'a tick asks for the draw once');
}

/**
 * The walk over the run after servedUpTo (pure): admits the next `count` fans in number
 * order, passing over fans who left the line (they keep their number, so nobody moves up
 * out of turn) and stopping at the first number that does not exist: a pre-queue number
 * reserved but not assigned yet by the draw is waited for, never passed over (the run
 * queue_tick_begin returns ends there). At most `limits.queueLeaversPassedPerTick` numbers
 * past the count are looked at. Returns the admitted fans and the new servedUpTo (past any
 * leavers right behind them).
 */
export function pickRun(
  run: readonly { customerId: string; number: number; left: boolean }[],
  servedUpTo: number, count: number,
): {
  admitted: { customerId: string; number: number }[]; servedUpTo: number;
  /** Fewer fans were there to admit than the budget allowed. */
  drained: boolean;
} {
  const chosen: { customerId: string; number: number }[] = [];
  let served = servedUpTo;
  const last = servedUpTo + count + limits.queueLeaversPassedPerTick;
  for (const entry of run) {
    if (entry.number > last) break;
    if (!entry.left) {
      if (chosen.length === count) break;
      chosen.push({ customerId: entry.customerId, number: entry.number });
    }
    served = entry.number;
  }
  return { admitted: chosen, servedUpTo: served, drained: chosen.length < count };
}

function runOf(row: BeginRow): { customerId: string; number: number; left: boolean }[] {
  const customers = row.run_customers ?? [];
  const numbers = row.run_numbers ?? [];
  const left = row.run_left ?? [];
  return customers.map((customerId, i) => ({
    customerId, number: Number(numbers[i]), left: left[i] === true,
  }));
}

/**
 * Advances one line: draws the pre-queue when due, frees slots of completed orders and of
 * idle shoppers, checks for sold out, then admits the next numbers within the rate
 * (admitPerMinute, smoothed and never more than that in any 60 s window), the live-shopper
 * cap (maxActiveShoppers) and the inventory rule (supply.ts).
 *
 * Two round trips on an ordinary tick (migration 045): `queue_tick_begin` reads and frees,
 * this function decides, `queue_tick_apply` admits and writes the state under the line's
 * row lock, refusing a deposed leader and a plan another tick overtook. The draw and the
 * closing notice add their own round trips on the ticks that run them.
 */
export async function tickLine(
  db: Db, event: EventRecord, opts: TickOptions,
): Promise<TickOutcome> {
  assert(Number.isSafeInteger(opts.token) && opts.token > 0, 'fencing token is positive');
  const knobs = opts.supply ?? defaultKnobs;
  if (protectsSlots(opts)) {
    await stretchClaimGrace(db, event, opts.claimGraceSeconds, opts.tickMs ?? 1_000,
      opts.nowMs);
  }
  let drawn: EntryRef[] = [];
  for (let attempt = 1; attempt <= tickAttemptsUnlocked; attempt++) {
    const done = await attemptTick(db, db, event, opts, knobs, attempt > 1, false);
    drawn = [...drawn, ...done.drawn];
    if (done.outcome !== 'raced') return withDrawn(done.outcome, drawn);
  }
  // Overtaken again and again (ticks of two leaders at once): wait for the line's lock and
  // tick under it, as every tick once did. The draw had its turn in the attempts before.
  const locked = await db.tx(async (tx) => {
    await tx.query('SELECT 1 FROM queue_state WHERE event_id = $1 FOR UPDATE',
      [event.eventId]);
    return await attemptTick(db, tx, event, opts, knobs, true, true);
  });
  assert(locked.outcome !== 'raced', 'a tick under the line\'s lock is not overtaken');
  return withDrawn(locked.outcome, [...drawn, ...locked.drawn]);
}

function withDrawn(outcome: TickOutcome, drawn: EntryRef[]): TickOutcome {
  return outcome.kind === 'ticked' ? { ...outcome, drawn } : outcome;
}

/** One read, plan and apply of a tick; 'raced' when another tick applied in between. */
async function attemptTick(
  db: Db, q: Queryable, event: EventRecord, opts: TickOptions, knobs: SupplyKnobs,
  drawChecked: boolean, inTx: boolean,
): Promise<{ outcome: TickOutcome | 'raced'; drawn: EntryRef[] }> {
  const begun = await beginTick(db, q, event, opts, knobs, drawChecked);
  const { drawn } = begun;
  const state = begun.row;
  if (state === undefined) return { outcome: { kind: 'idle' }, drawn };
  if (state.outcome === 'fenced') {
    return { outcome: { kind: 'fenced', newerToken: Number(state.leader_token) }, drawn };
  }
  const planned = planTick(state, event, opts, knobs);
  await opts.beforeApply?.();
  const applied = await applyTick(db, q, inTx, event, opts, planned);
  if (applied.outcome === 'fenced') {
    return { outcome: { kind: 'fenced', newerToken: Number(applied.leader_token) }, drawn };
  }
  if (applied.outcome === 'raced') return { outcome: 'raced', drawn };
  const status: LineStatus = { ...planned.status, seq: Number(applied.tick_seq) };
  return { outcome: { kind: 'ticked', status, admitted: planned.admitted, drawn }, drawn };
}

/** What a tick will write, decided from what its first round trip read (pure). */
interface TickPlan {
  seq: number;
  admitted: { customerId: string; number: number }[];
  credit: number;
  firstAdmittedAt: Date | null;
  /** The line closes at this tick: tell the fans still waiting, reserve the waitlist block. */
  closing: boolean;
  status: LineStatus;
}

function planTick(
  state: BeginRow, event: EventRecord, opts: TickOptions, knobs: SupplyKnobs,
): TickPlan {
  assert(state.now !== null, 'the tick read the clock');
  const now = state.now;
  const nowMs = now.getTime();
  const onSale = nowMs >= event.onSaleAtMs;
  const { supply, slots } = tickSupply(state, event, knobs, state.shape);
  const soldOut = onSale && isClosed(supply, state.closed_at !== null);
  const tickMs = opts.tickMs ?? 1_000;
  const paced = storePaceOf(state.pace, opts, nowMs);
  // Credit accrues at the store-paced rate; the 60 s window below still caps at the full one.
  const pacedPerMinute = event.queue.admitPerMinute * paced.factor;
  const credit = accrue(Number(state.admit_credit), state.last_tick_at?.getTime() ?? null,
    pacedPerMinute, nowMs, tickMs);
  const { byRate, bySlots, liveCap, budget: rateAndSlots } = planBudget({
    credit, admitPerMinute: event.queue.admitPerMinute, lastMinute: slots.lastMinute,
    maxActive: event.queue.maxActiveShoppers, live: slots.live, factor: paced.factor, tickMs,
  });
  const store: StorePace = { ...paced, liveCap };
  const byInventory = inventoryRoom(supply, knobs);
  const budget = Math.min(rateAndSlots, byInventory);
  const servedBefore = Number(state.served_up_to);
  // With no budget the step still passes leavers at the head of the line.
  const step = onSale && !soldOut
    ? pickRun(runOf(state), servedBefore, Math.max(0, budget))
    : { admitted: [], servedUpTo: servedBefore, drained: true };
  const { admitted, servedUpTo } = step;
  const shown: Supply = { ...supply, seekers: supply.seekers + admitted.length };
  const firstAdmittedAt = state.first_admitted_at ?? (admitted.length > 0 ? now : null);
  const ratePerMinute = measuredRate(slots.lastMinute + admitted.length, firstAdmittedAt, now);
  const linePace = nextPace(state.pace ?? undefined, {
    atMs: nowMs, tickMs, admitPerMinute: pacedPerMinute,
    maxActive: liveCap, passSeconds: event.queue.passSeconds,
    liveBefore: slots.live, admitted: admitted.length,
    byRate: Math.max(0, byRate), bySlots: Math.max(0, bySlots),
    byInventory: Math.max(0, byInventory), drained: step.drained && admitted.length < budget,
    ...(opts.publishLagMs === undefined ? {} : { lagMs: opts.publishLagMs }),
  });
  const pace = { ...linePace, store };
  const seq = Number(state.tick_seq);
  return {
    seq, admitted, credit: Math.max(0, credit - admitted.length), firstAdmittedAt,
    closing: soldOut && state.closed_at === null,
    status: {
      eventId: event.eventId, seq: seq + 1, servedUpTo, ratePerMinute, soldOut, drawn: onSale,
      atMs: nowMs, supply: shown, pace,
    },
  };
}

/** The terms of a tick's budget that pacing moves (see `planBudget`). */
export interface BudgetInput {
  /** Admission credit earned, at the store-paced rate (accrue()). */
  credit: number;
  admitPerMinute: number;
  /** Admissions in the last 60 s. */
  lastMinute: number;
  maxActive: number;
  /** Live slots now. */
  live: number;
  /** The line's store factor after this tick (storePace.ts). */
  factor: number;
  tickMs: number;
}

/**
 * The rate and slot terms of a tick's budget (pure; the inventory term is supply.ts's).
 * Rate: the credit, the 60 s window at the full rate, the per-tick cap. Slots: the live cap
 * less the live slots, where the live cap follows the store factor (`storeLiveCap`), never
 * below one tick's admissions at the organizer's rate: an empty store always admits.
 */
export function planBudget(input: BudgetInput): {
  byRate: number; bySlots: number; liveCap: number; budget: number;
} {
  const byRate = Math.min(
    // Credit is a sum of fractions: 6 × (1/6) must count as 1, not 0.999….
    Math.floor(input.credit + 1e-9),
    input.admitPerMinute - input.lastMinute,
    limits.queueAdmitPerTickMax,
  );
  const oneTick = Math.min(limits.queueAdmitPerTickMax,
    Math.ceil((input.admitPerMinute * input.tickMs) / minuteMs));
  const liveCap = storeLiveCap(input.maxActive, input.factor, oneTick);
  const bySlots = liveCap - input.live;
  return { byRate, bySlots, liveCap, budget: Math.min(byRate, bySlots) };
}

/** The line's store pacing after this tick, from the last tick's (storePace.ts). */
function storePaceOf(previous: Pace | null, opts: TickOptions, nowMs: number): StorePace {
  const signal = opts.store?.signal ?? null;
  const before = previous?.store?.factor ?? 1;
  const dtMs = previous === null ? (opts.tickMs ?? 1_000) : nowMs - previous.atMs;
  const factor = opts.store === undefined ? 1
    : nextStoreFactor(before, signal, dtMs, opts.store.knobs);
  return { factor, storeWaitMs: signal?.waitMs ?? null, refusing: signal?.refusing ?? false };
}

/**
 * The tick's last round trip: admissions, outbox row and state in one statement under the
 * line's row lock. A closing tick also names the fans still waiting and reserves the
 * waitlist block, in the same transaction (its own round trips, once per sale).
 */
async function applyTick(
  db: Db, q: Queryable, inTx: boolean, event: EventRecord, opts: TickOptions, plan: TickPlan,
): Promise<{ outcome: 'ticked' | 'fenced' | 'raced'; leader_token: number; tick_seq: number }> {
  const nowMs = plan.status.atMs;
  const params = [
    event.eventId, opts.token, plan.seq, plan.admitted.map((fan) => fan.customerId),
    plan.admitted.map((fan) => fan.number), new Date(nowMs),
    new Date(nowMs + Math.min(opts.claimGraceSeconds, event.queue.passSeconds) * 1000),
    new Date(nowMs + event.queue.passSeconds * 1000), plan.status.servedUpTo, plan.credit,
    plan.firstAdmittedAt, plan.status.ratePerMinute, plan.status.soldOut,
    JSON.stringify(plan.status.supply), JSON.stringify(plan.status.pace), unguarded(opts),
  ];
  type Applied = { outcome: 'ticked' | 'fenced' | 'raced'; leader_token: number;
    tick_seq: number };
  if (!plan.closing) {
    const { rows } = await q.query<Applied>(applySql, params);
    assert(rows[0] !== undefined, 'queue_tick_apply answers');
    return rows[0];
  }
  const closeLine = async (tx: Queryable) => {
    const { rows } = await tx.query<Applied>(applySql, params);
    const applied = rows[0];
    assert(applied !== undefined, 'queue_tick_apply answers');
    if (applied.outcome !== 'ticked') return applied;
    await noticeClosed(tx, event.eventId, plan.status.servedUpTo);
    // The waitlist block now, under the lock this tick holds: the fans told "sold out"
    // move to the waitlist in a herd, and each then only reads it.
    await reserveWaitlistBase(tx, event.eventId);
    return applied;
  };
  return inTx ? await closeLine(q) : await db.tx(closeLine);
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

/** The most credit accrue() can return, whatever the line's state: a bound on the budget. */
function creditCeiling(admitPerMinute: number, tickMs: number): number {
  const perMs = admitPerMinute / minuteMs;
  return Math.ceil(Math.max(1, perMs * 2 * Math.max(tickMs, minCreditWindowMs)));
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
 * The tick's share of the pre-queue draw, on the ticks whose first round trip found it has
 * work, each chunk in a transaction of its own: reserve the numbers at on-sale if no join
 * has yet, then assign reserved numbers in bounded chunks. No chunk holds the numbering
 * lock, so joins go on. A deposed leader running a chunk is harmless: chunks are serial
 * and idempotent.
 */
async function drawStep(
  db: Db, event: EventRecord, opts: TickOptions, nowMs: number,
): Promise<EntryRef[]> {
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
  expires_at: Date; claimed_at: Date | null; released_at: Date | null;
  release_reason: ReleaseReason | null; live: boolean;
}

const admissionColumns = `customer_id, number, pass_id, admitted_at, claim_by, expires_at,
  claimed_at, released_at, release_reason`;

function toAdmission(row: AdmissionRow): Admission {
  return {
    customerId: row.customer_id, number: Number(row.number), passId: row.pass_id,
    admittedAtMs: row.admitted_at.getTime(), claimByMs: row.claim_by.getTime(),
    expiresAtMs: row.expires_at.getTime(), claimedAtMs: row.claimed_at?.getTime() ?? null,
    releasedAtMs: row.released_at?.getTime() ?? null, releaseReason: row.release_reason,
    live: row.live,
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
 * who keeps trying is never taken for idle (the tick's idle release counts from it). Returns the
 * admission as it stands afterwards. Database clock unless a test pins time with `nowMs`.
 */
export async function claimAdmission(
  db: Queryable, eventId: string, customerId: string, nowMs?: number,
): Promise<Admission | undefined> {
  const params: unknown[] = [eventId, customerId];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<AdmissionRow>(
    `UPDATE queue_admissions a SET claimed_at = ${now}
      WHERE a.event_id = $1 AND a.customer_id = $2 AND ${keyedLiveSlot('a', now)}
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
      WHERE a.event_id = $1 AND a.customer_id = $2 AND ${keyedLiveSlot('a', now)}`,
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
  /** Store pacing as of the last tick (storePace.ts); null before any tick paced. */
  storePace: StorePace | null;
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
    store: StorePace | null;
  }>(
    `SELECT c.*, s.served_up_to, s.rate_per_minute, s.sold_out, s.closed_at,
       s.pace->'store' AS store,
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
    storePace: row?.store ?? null,
  };
}
