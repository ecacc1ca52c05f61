/**
 * What the line can still sell: the tickets left, who is already in the store looking for
 * them, and how many more fans that can serve. The admission tick admits nobody into an
 * empty store, and every fan's view is told the truth about the tickets left, from the
 * same figures (one read per tick, broadcast with the tick).
 *
 * The rule (docs/WAITING_ROOM.md, "Inventory-aware admission"):
 *   supply  = available + ⌊heldReturnShare × held that may come back⌋
 *   room    = max(⌈available / ticketsPerShopper⌉ − seekers,
 *                 ⌈supply / ticketsPerShopper⌉ − seekers − left lately)
 * where seekers are live shoppers who hold nothing and have shown a sign of life lately
 * (admitted, tried a hold or ended one within `seekerSeconds`: they are looking now),
 * "held that may come back" excludes tickets whose payment is already under way, and
 * ticketsPerShopper is the event's measured demand (mean tickets per hold), clamped to
 * 1 … maxTicketsPerCustomer. "Left lately" are shoppers who gave their pass back within
 * `seekerSeconds`: admitted on the bet that carts come back, they found nothing and left;
 * until that window passes, letting the next fans in on the same bet only turns them away
 * too (the share of carts is a level, not a flow). They never hold back the room that the
 * tickets available now make. The line is closed when nothing is available and nothing
 * held may come back: every ticket is sold or being paid for.
 */
import type { EventRecord } from '../catalog/events.js';
import type { QueueConfig } from '../config/index.js';
import type { Queryable } from '../storage/index.js';

/** What the last tick knew about the tickets left (broadcast with it). */
export interface Supply {
  /** Tickets anyone may hold now. */
  available: number;
  /** Tickets in someone's cart (live holds). */
  held: number;
  /**
   * Of `held`, those that may come back to the line: no payment under way, and not a
   * waitlist offer (if an offer lapses, the next fan on the waitlist gets it).
   */
  mayReturn: number;
  /** Fans waiting on the event's waitlist: returned tickets go to them first. */
  waitlistWaiting?: number;
  /**
   * Live shoppers who hold nothing and have shown a sign of life within the knob's
   * `seekerSeconds`: they are looking for tickets now.
   */
  seekers: number;
  /** Shoppers who gave their pass back within `seekerSeconds` (0 when not read). */
  leftLately?: number;
  /** Tickets one shopper takes, as measured on this event (the knob's default before). */
  ticketsPerShopper: number;
  /**
   * The shape of what is left (readShape): absent when the tick did not look (more than
   * `limits.queueShapeScanMax` tickets available, where counts are what matters).
   */
  shape?: Shape;
}

/**
 * What is left, as groups: a fan who wants three seats together is not served by three
 * single seats in three rows. Sizes are capped at the event's per-customer limit (`cap`):
 * a larger group can serve any fan, so its tickets go to `pool`.
 */
export interface Shape {
  cap: number;
  /** runs[k − 1]: groups of exactly k free adjacent seats in one row, for k < cap. */
  runs: number[];
  /** Tickets any group up to `cap` can take: free standing units, seats in runs ≥ cap. */
  pool: number;
  /** carts[k − 1]: live holds of k tickets (k ≥ cap counted at cap); each may come back. */
  carts: number[];
  /** demand[k − 1]: the event's holds of k tickets so far: how many fans take together. */
  demand: number[];
  /** The most tickets one fan can get together now (seats side by side, or standing). */
  together: number;
}

/** The knobs of the rule (QueueConfig). */
export interface SupplyKnobs {
  /** Share of returnable held tickets counted as coming back, 0 … 1. */
  heldReturnShare: number;
  /** Tickets per shopper before the event has enough holds to measure it. */
  defaultTicketsPerShopper: number;
  /**
   * A shopper holding nothing is a seeker while they have shown a sign of life within this
   * many seconds: admitted (and not yet shown up), tried a hold, or ended one.
   */
  seekerSeconds: number;
}

/** The rule's knobs from the configuration. */
export function supplyKnobs(config: QueueConfig): SupplyKnobs {
  return {
    heldReturnShare: config.heldReturnPercent / 100,
    defaultTicketsPerShopper: config.ticketsPerShopper,
    seekerSeconds: config.seekerSeconds,
  };
}

/** Holds needed before the measured tickets-per-hold replaces the default. */
export const demandSampleMin = 20;

/**
 * How many more shoppers may be admitted without outnumbering the tickets they could buy:
 * ⌈supply / ticketsPerShopper⌉ − seekers, less those who left lately on the carts' bet,
 * never below what the available tickets alone make room for, never negative. Pure, so
 * the property test can check every tick against it.
 */
export function inventoryRoom(supply: Supply, knobs: SupplyKnobs): number {
  const share = Math.min(1, Math.max(0, knobs.heldReturnShare));
  const perShopper = Math.max(1, supply.ticketsPerShopper);
  const now = Math.ceil(supply.available / perShopper) - supply.seekers;
  const tickets = supply.available + Math.floor(share * supply.mayReturn);
  const bet = Math.ceil(tickets / perShopper) - supply.seekers - (supply.leftLately ?? 0);
  return Math.max(0, now, bet);
}

/**
 * Closed: nothing is available and nothing held may come back (sold, being paid for, or
 * offered to the waitlist). A closed line stays closed while anyone waits on the
 * waitlist: tickets that come back go to them first. Otherwise it reopens when tickets
 * come back (a payment that failed, a cancellation) for the fans still in line.
 */
export function isClosed(supply: Supply, wasClosed: boolean): boolean {
  if (supply.available === 0 && supply.mayReturn === 0) return true;
  return wasClosed && (supply.waitlistWaiting ?? 0) > 0;
}

/** Shoppers' slots as the tick counts them: live now, and admitted in the last minute. */
export interface SlotCounts {
  live: number;
  lastMinute: number;
}

/**
 * The tick's figures as read in its first round trip (`queue_tick_figures_kept`, migration
 * 047): ticket states by the database clock (as every ticket query), shoppers' slots by the
 * tick's instant. Nothing is walked per tick that grows with the event: unsold tickets and
 * holds by size are kept by triggers where the rows are written, held and kept are the
 * live holds' quantities, and seekers are the live admissions against the customers
 * holding now. `queue_tick_figures` (045) recounts the same columns from the tickets: the
 * reference the tests hold these to.
 */
export interface TickFigures {
  held: number; available: number; kept: number; holds: number; tickets: number | null;
  waitlist: number; seekers: number; left_lately: number; live: number; last_minute: number;
}

/** One row of `queue_shape` (migration 045): a kind of group, its size and count. */
export type ShapeRow = [kind: string, size: number, n: number];

/**
 * The supply and slots from the tick's figures (and the shape rows, read while few tickets
 * are available: `limits.queueShapeScanMax`).
 */
export function tickSupply(
  figures: TickFigures, event: EventRecord, knobs: SupplyKnobs,
  shapeRows: readonly ShapeRow[] | null,
): { supply: Supply; slots: SlotCounts } {
  const held = figures.held;
  const measured = figures.holds >= demandSampleMin && figures.tickets != null
    ? Number(figures.tickets) : knobs.defaultTicketsPerShopper;
  const supply: Supply = {
    available: figures.available,
    held,
    mayReturn: Math.max(0, held - figures.kept),
    waitlistWaiting: figures.waitlist,
    seekers: figures.seekers,
    leftLately: figures.left_lately,
    ticketsPerShopper: Math.min(event.maxTicketsPerCustomer, Math.max(1, measured)),
    ...(shapeRows === null ? {} : { shape: toShape(shapeRows, event) }),
  };
  return { supply, slots: { live: figures.live, lastMinute: figures.last_minute } };
}

/**
 * The shape of what is left, in one round trip over the unsold tickets only (a partial
 * index, `016`): runs of adjacent free seats per row (gaps and islands over seat numbers),
 * free standing units, live holds by size, and the event's holds by size (`queue_shape`,
 * migrations 045 and 047: the holds by size are the kept ones). The tick reads it only while few tickets are available
 * (`limits.queueShapeScanMax`), which is when the shape decides who can still be served;
 * before that the counts do.
 */
export async function readShape(db: Queryable, event: EventRecord): Promise<Shape> {
  const { rows } = await db.query<{ kind: string; size: number; n: number }>(
    'SELECT kind, size, n FROM queue_shape($1)', [event.eventId],
  );
  return toShape(rows.map((row) => [row.kind, row.size, row.n]), event);
}

function toShape(rows: readonly ShapeRow[], event: EventRecord): Shape {
  const cap = Math.max(1, event.maxTicketsPerCustomer);
  const runs = new Array<number>(cap - 1).fill(0);
  const carts = new Array<number>(cap).fill(0);
  const demand = new Array<number>(cap).fill(0);
  let pool = 0;
  let standing = 0;
  let longest = 0;
  for (const [kind, rawSize, rawN] of rows) {
    const size = Number(rawSize);
    const n = Number(rawN);
    if (n === 0) continue;
    const at = Math.min(cap, Math.max(1, size)) - 1;
    if (kind === 'standing') {
      standing = n;
      pool += n;
    } else if (kind === 'run') {
      longest = Math.max(longest, size);
      if (size >= cap) pool += size * n;
      else runs[at] = (runs[at] ?? 0) + n;
    } else if (kind === 'cart') {
      carts[at] = (carts[at] ?? 0) + n;
    } else {
      demand[at] = (demand[at] ?? 0) + n;
    }
  }
  return { cap, runs, pool, carts, demand, together: Math.min(cap, Math.max(longest, standing)) };
}

/** How a waiting fan's chances look, from the tickets left and the fans ahead. */
export type Outlook = 'open' | 'in_carts' | 'unlikely' | 'sold_out';

/**
 * The truth for a fan `position` places from the front: sold out; what is left for this fan
 * is in carts (nothing is available, or what is available goes to the shoppers still
 * looking and the position − 1 fans before this one, so this fan's chance rests on carts
 * coming back: no time can be promised); what is left cannot serve the fans ahead even if
 * every cart came back (unlikely); or open. With the shape of what is left, "serve" means
 * groups: fans take their tickets together, so scattered single seats serve only the fans
 * who want one (servableAhead). Without it (plenty left), it means counts at the measured
 * tickets per shopper.
 */
export function outlookFor(supply: Supply, position: number, closed: boolean): Outlook {
  if (closed) return 'sold_out';
  if (supply.available === 0) return 'in_carts';
  const ahead = supply.seekers + Math.max(0, position - 1);
  if (supply.shape !== undefined) {
    const size = supply.ticketsPerShopper;
    if (ahead >= servableAhead(supply.shape, size)) return 'unlikely';
    return ahead < servableAhead(withoutCarts(supply.shape), size) ? 'open' : 'in_carts';
  }
  const need = ahead * supply.ticketsPerShopper;
  if (need >= supply.available + supply.held) return 'unlikely';
  return need < supply.available ? 'open' : 'in_carts';
}

const cartless = new WeakMap<Shape, Shape>();

/** The same shape with no carts coming back (cached, so its servableAhead is too). */
function withoutCarts(shape: Shape): Shape {
  let bare = cartless.get(shape);
  if (bare === undefined) {
    bare = { ...shape, carts: shape.carts.map(() => 0) };
    cartless.set(shape, bare);
  }
  return bare;
}

/** The demand mix: shares of fans taking 1 … cap tickets (the default size before 20 holds). */
export function demandMix(shape: Shape, defaultSize: number): number[] {
  const total = shape.demand.reduce((sum, n) => sum + n, 0);
  if (total < demandSampleMin) {
    const size = Math.min(shape.cap, Math.max(1, Math.round(defaultSize)));
    return shape.demand.map((_, i) => (i + 1 === size ? 1 : 0));
  }
  return shape.demand.map((n) => n / total);
}

/**
 * What is left after `fans` fans (of the demand mix) have taken their groups, fans being a
 * fluid: groups of each size, largest first, take the smallest run that fits (best fit; the
 * remainder of a run stays free), then the pool. Fans for whom nothing fits take nothing.
 * Returns the runs left (index k − 1, k ≤ cap; pool at cap) and the pool.
 */
export function afterFans(
  shape: Shape, mix: readonly number[], fans: number,
): { runs: number[]; pool: number } {
  const cap = shape.cap;
  // Runs of every size below cap, carts coming back as groups of their size.
  const runs = new Array<number>(cap).fill(0);
  for (let k = 1; k < cap; k++) runs[k - 1] = (shape.runs[k - 1] ?? 0) + (shape.carts[k - 1] ?? 0);
  let pool = shape.pool + cap * (shape.carts[cap - 1] ?? 0);
  for (let size = cap; size >= 1; size--) {
    let wanting = fans * (mix[size - 1] ?? 0);
    for (let len = size; len < cap && wanting > 1e-9; len++) {
      const per = Math.floor(len / size);
      const have = runs[len - 1] ?? 0;
      const used = Math.min(have, wanting / per);
      if (used <= 0) continue;
      runs[len - 1] = have - used;
      const rest = len - per * size;
      if (rest > 0) runs[rest - 1] = (runs[rest - 1] ?? 0) + used;
      wanting -= used * per;
    }
    if (wanting > 1e-9 && pool > 0) {
      const served = Math.min(wanting, pool / size);
      pool -= served * size;
    }
  }
  return { runs, pool };
}

/** The chance that a fan of the mix finds a group that fits in what is left. */
function fitChance(left: { runs: number[]; pool: number }, mix: readonly number[]): number {
  let chance = 0;
  for (let size = 1; size <= mix.length; size++) {
    let groups = left.pool / size;
    for (let len = size; len <= left.runs.length; len++) {
      groups += (left.runs[len - 1] ?? 0) * Math.floor(len / size);
    }
    if (groups >= 1 - 1e-9) chance += mix[size - 1] ?? 0;
  }
  return chance;
}

const servable = new WeakMap<Shape, number>();

/**
 * How many fans (seekers included) may be ahead of a fan who can still expect a group that
 * fits: the smallest number of fans ahead after whom a fan of the mix more likely than not
 * finds nothing. Computed once per shape (a binary search over a fluid fill of at most
 * cap² steps), so every fan's view on every tick costs a lookup.
 */
export function servableAhead(shape: Shape, defaultSize = 2): number {
  const known = servable.get(shape);
  if (known !== undefined) return known;
  const mix = demandMix(shape, defaultSize);
  const tickets = shape.pool + shape.runs.reduce((sum, n, i) => sum + n * (i + 1), 0) +
    shape.carts.reduce((sum, n, i) => sum + n * (i + 1), 0);
  const open = (ahead: number): boolean => fitChance(afterFans(shape, mix, ahead), mix) >= 0.5;
  let result = 0;
  if (open(0)) {
    // The largest number of fans ahead that still leaves a fit, in [0, high].
    let low = 0;
    let high = 4 * (tickets + 1);
    if (open(high)) low = high;
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (open(mid)) low = mid;
      else high = mid - 1;
    }
    result = low + 1;
  }
  servable.set(shape, result);
  return result;
}
