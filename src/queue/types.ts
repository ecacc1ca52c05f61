import type { Pace } from './pace.js';
import type { Outlook, Supply } from './supply.js';

/**
 * The waiting room's nouns: a line per event (QueueEntry numbers, servedUpTo), its status
 * as broadcast once per tick, and the view one fan gets of it.
 */

/** What a fan sees: SPEC §4 `queue/me` states. */
export type QueueState =
  | 'pre_queue' | 'waiting' | 'admitted' | 'expired' | 'sold_out' | 'left';

/**
 * A line's progress, as of one tick: the one message that moves every fan. Each node
 * turns it into positions locally (position = number − servedUpTo).
 */
export interface LineStatus {
  eventId: string;
  /** Tick sequence; strictly increasing per event (the SSE event id). */
  seq: number;
  servedUpTo: number;
  /** Measured admissions per minute over the last minute (0 before the first). */
  ratePerMinute: number;
  soldOut: boolean;
  /** True once the pre-queue has been drawn and numbered. */
  drawn: boolean;
  /** When the tick ran (server clock, epoch ms). */
  atMs: number;
  /** The tickets left and who is looking for them, as this tick saw it (supply.ts). */
  supply?: Supply;
  /** How fast the line moves, for the ETA (pace.ts). */
  pace?: Pace;
}

/** One fan's view of the line (`GET …/queue/me`, each SSE message, the join reply). */
export interface QueueView {
  state: QueueState;
  /** The fan's number in the line; null in the pre-queue (drawn at on-sale). */
  number: number | null;
  /** number − servedUpTo while waiting; 0 once admitted; null when unknown. */
  position: number | null;
  /**
   * From the measured admission rate; null when it cannot be estimated yet, or when no time
   * can honestly be promised (everything left is in carts, or too little for the fans
   * ahead: see `outlook`).
   */
  etaSeconds: number | null;
  servedUpTo: number;
  /** The signed pass, while admitted and live. */
  pass?: string;
  passExpiresAt?: string;
  /**
   * While admitted and the pass not yet used: place a first hold with the pass by then, or
   * the slot goes to the next fan. Absent once claimed.
   */
  claimBy?: string;
  /**
   * Tickets left as the last tick saw them: free to hold now, in someone's cart, and (near
   * the end, when the tick looked at the shape) the most one fan can still get together.
   */
  tickets?: { available: number; inCarts: number; together?: number };
  /**
   * The fan's chances: `open` (tickets left for the fans ahead), `in_carts` (everything
   * left is in someone's cart; some may come back), `unlikely` (what is left cannot serve
   * the fans ahead), `sold_out`.
   */
  outlook?: Outlook;
  /** Sold out (or on the way): where to take the waitlist in one step, keeping your turn. */
  waitlistUrl?: string;
  /**
   * Why the fan is out of the line: on every `left` view (`left`, `waitlist`, `purchased`),
   * and `purchased` on an `expired` view whose slot their own completed order freed, so a
   * client can tell a fan who bought from one who gave up or ran out of time.
   */
  leftReason?: LeftReason;
}

/**
 * Why a fan is out of the line (`queue_entries.left_reason`): they left on their own, moved
 * to the waitlist, or their order for the event completed (`purchased`, migration 054).
 */
export type LeftReason = 'left' | 'waitlist' | 'purchased';

/** The reasons a line records, for checking a value read back from a cache. */
export const leftReasons: readonly LeftReason[] = ['left', 'waitlist', 'purchased'];

/** A fan's entry as the line knows it: number null while in the pre-queue. */
export interface EntryRef {
  customerId: string;
  number: number | null;
  /** The fan left the line (or moved to the waitlist): nobody admits them any more. */
  left?: boolean;
  /**
   * Why, once left; absent when the source did not say (a join batch's reply, a cache
   * value written before the reason was kept): the view then reads it once.
   */
  leftReason?: LeftReason;
}

/** Why a slot was freed: the fan's order completed, they left, or they idled. */
export type ReleaseReason = 'order' | 'left' | 'idle';

/** A customer's admission row, with whether its slot was live when it was read. */
export interface Admission {
  customerId: string;
  number: number;
  passId: string;
  admittedAtMs: number;
  claimByMs: number;
  expiresAtMs: number;
  claimedAtMs: number | null;
  releasedAtMs: number | null;
  /** Why the slot was freed (`queue_admissions.release_reason`); null while not freed. */
  releaseReason: ReleaseReason | null;
  /**
   * Live by the database clock when read: not released, not expired, and claimed or still
   * inside its claim grace (liveSlot() in admission.ts).
   */
  live: boolean;
}
