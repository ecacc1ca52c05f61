/**
 * Admitted fans' admissions, cached so a poll or a stream can show the pass without a
 * PostgreSQL round trip: one hash per line in the coordination store (`queue:admits`,
 * customer → the admission row as last read from PostgreSQL, with when it was read).
 *
 * Only rows PostgreSQL has committed go in: the admission tick's fans right after the tick
 * (before its broadcast, so the fans it moves find their pass waiting), a row a poll read,
 * and the row the hold gate claimed. Reading the cache decides nothing: the hold gate
 * checks every pass against its row, so a stale entry can at worst show a fan an older
 * truth, and for a bounded time:
 * - a live entry answers for `limits.queueAdmissionCacheMs` after it was read, and only
 *   while its deadlines (expiry, and the claim grace while unclaimed) are more than
 *   `limits.queueAdmissionMarginMs` away by this node's clock; near or past a deadline
 *   PostgreSQL (by its own clock) decides. A slot freed by a confirmed order is forgotten
 *   once the relay hands over its `order.confirmed` row (ordersSink.ts); any slot freed
 *   meanwhile (an order, an idle shopper) is forgotten by the next tick's node
 *   (releasedSince), and is shown as still admitted for at most the cache's bound should
 *   both fail;
 * - an entry that was no longer live is final (a slot never comes back) and kept;
 * - an entry names its event and customer and is used only for exactly those, so a
 *   misfiled entry cannot hand one customer's pass to another.
 * Losing the hash loses nothing: every miss reads PostgreSQL and refills it.
 */
import { limits } from '../config/limits.js';
import type { Coordinator, CoordLogger } from '../coord/index.js';
import type { Queryable } from '../storage/index.js';
import { sqlNow } from './dbclock.js';
import { liveSlot } from './slot.js';
import type { Admission, ReleaseReason } from './types.js';

const releaseReasons: readonly ReleaseReason[] = ['order', 'left', 'idle'];

/** What is stored per fan: the row's fields, and when it was read (node clock, ms). */
interface Stored {
  e: string;
  c: string;
  p: string;
  n: number;
  a: number;
  b: number;
  x: number;
  k: number | null;
  r: number | null;
  /**
   * The release reason (null while not freed). Entries written before it was kept lack it
   * and are read again from PostgreSQL, so a freed slot always says why.
   */
  o: ReleaseReason | null;
  /** Not live when read: final. */
  d: boolean;
  w: number;
}

/** A field value that sends the next reader to PostgreSQL (the coordinator has no HDEL). */
const forgotten = '-';
/** The hash outlives the line's busiest hour; each write renews it. */
const admitsTtlMs = 3600 * 1000;

function isStored(value: unknown): value is Stored {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const num = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
  const numOrNull = (x: unknown): boolean => x === null || num(x);
  return typeof v.e === 'string' && typeof v.c === 'string' && typeof v.p === 'string' &&
    num(v.n) && num(v.a) && num(v.b) && num(v.x) && numOrNull(v.k) && numOrNull(v.r) &&
    (v.o === null || releaseReasons.includes(v.o as ReleaseReason)) &&
    typeof v.d === 'boolean' && num(v.w);
}

function encode(eventId: string, admission: Admission, readAtMs: number): string {
  const stored: Stored = {
    e: eventId, c: admission.customerId, p: admission.passId, n: admission.number,
    a: admission.admittedAtMs, b: admission.claimByMs, x: admission.expiresAtMs,
    k: admission.claimedAtMs, r: admission.releasedAtMs, o: admission.releaseReason,
    d: !admission.live, w: readAtMs,
  };
  return JSON.stringify(stored);
}

/**
 * The cached admission if it may answer for `customerId` of `eventId` at `nowMs`;
 * undefined when PostgreSQL must be asked.
 */
export function usableAdmission(
  text: string, eventId: string, customerId: string, nowMs: number,
): Admission | undefined {
  if (text === forgotten) return undefined;
  let stored: unknown;
  try {
    stored = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isStored(stored) || stored.e !== eventId || stored.c !== customerId) return undefined;
  const admission: Admission = {
    customerId: stored.c, number: stored.n, passId: stored.p, admittedAtMs: stored.a,
    claimByMs: stored.b, expiresAtMs: stored.x, claimedAtMs: stored.k,
    releasedAtMs: stored.r, releaseReason: stored.o, live: !stored.d,
  };
  if (stored.d) return admission;
  const ageMs = nowMs - stored.w;
  if (ageMs < 0 || ageMs > limits.queueAdmissionCacheMs) return undefined;
  const margin = nowMs + limits.queueAdmissionMarginMs;
  if (stored.r !== null || stored.x <= margin) return undefined;
  if (stored.k === null && stored.b <= margin) return undefined;
  return admission;
}

/** The admissions cache of one node (over the shared coordination store). */
export class AdmissionCache {
  constructor(
    private readonly coord: Coordinator,
    private readonly logger: CoordLogger,
  ) {}

  private key(eventId: string): string {
    return this.coord.keys.event(eventId, 'queue:admits');
  }

  /** The fan's admission if the cache may answer; undefined to ask PostgreSQL. */
  async get(eventId: string, customerId: string, nowMs: number): Promise<Admission | undefined> {
    let text: string | null;
    try {
      text = await this.coord.hashGet(this.key(eventId), customerId);
    } catch (error) {
      this.logger.warn({ err: error }, 'admission cache read failed; using the database');
      return undefined;
    }
    return text === null ? undefined : usableAdmission(text, eventId, customerId, nowMs);
  }

  /** Stores admissions just read from (or committed to) PostgreSQL, read at `readAtMs`. */
  async put(eventId: string, admissions: readonly Admission[], readAtMs: number): Promise<void> {
    if (admissions.length === 0) return;
    const fields = Object.fromEntries(admissions.map((admission) =>
      [admission.customerId, encode(eventId, admission, readAtMs)]));
    await this.write(eventId, fields);
  }

  /** Sends the next read of these fans to PostgreSQL (their slot changed here). */
  async forget(eventId: string, customerIds: readonly string[]): Promise<void> {
    if (customerIds.length === 0) return;
    await this.write(eventId, Object.fromEntries(customerIds.map((id) => [id, forgotten])));
  }

  private async write(eventId: string, fields: Record<string, string>): Promise<void> {
    try {
      await this.coord.hashSet(this.key(eventId), fields, admitsTtlMs);
    } catch (error) {
      this.logger.warn({ err: error }, 'admission cache write failed; the database has it');
    }
  }
}

/**
 * The admissions of these customers as committed now, in one round trip, with liveness by
 * the database clock (or `nowMs` when a test pins time).
 */
export async function findAdmissions(
  db: Queryable, eventId: string, customerIds: readonly string[], nowMs?: number,
): Promise<Admission[]> {
  if (customerIds.length === 0) return [];
  const params: unknown[] = [eventId, customerIds];
  const now = sqlNow(params, nowMs);
  const { rows } = await db.query<{
    customer_id: string; number: number; pass_id: string; admitted_at: Date; claim_by: Date;
    expires_at: Date; claimed_at: Date | null; released_at: Date | null;
    release_reason: ReleaseReason | null; live: boolean;
  }>(
    `SELECT customer_id, number, pass_id, admitted_at, claim_by, expires_at, claimed_at,
            released_at, release_reason, (${liveSlot('a', now)}) AS live
       FROM queue_admissions a WHERE a.event_id = $1 AND a.customer_id = ANY($2::uuid[])`,
    params,
  );
  return rows.map((row) => ({
    customerId: row.customer_id, number: Number(row.number), passId: row.pass_id,
    admittedAtMs: row.admitted_at.getTime(), claimByMs: row.claim_by.getTime(),
    expiresAtMs: row.expires_at.getTime(), claimedAtMs: row.claimed_at?.getTime() ?? null,
    releasedAtMs: row.released_at?.getTime() ?? null, releaseReason: row.release_reason,
    live: row.live,
  }));
}

/**
 * Customers whose slot was freed at or after `sinceMs` (database clock): an order completed,
 * the idle rule, a reconcile. The tick's node forgets their cached passes, so a slot freed
 * anywhere shows within about a tick, not only when the cached entry ages out.
 */
export async function releasedSince(
  db: Queryable, eventId: string, sinceMs: number,
): Promise<string[]> {
  const { rows } = await db.query<{ customer_id: string }>(
    `SELECT customer_id FROM queue_admissions
      WHERE event_id = $1 AND released_at >= $2`,
    [eventId, new Date(sinceMs)],
  );
  return rows.map((row) => row.customer_id);
}
