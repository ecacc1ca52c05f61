/**
 * The waitlist: fans who want tickets that are gone wait here, earliest first, for tickets
 * that come back (offers.ts makes the offers). One entry per customer and event.
 *
 * An entry's recorded status is waiting, offered or left; whether an offer was bought or
 * lapsed is read from its hold (purchased: fulfilled; ended or timed out otherwise: left),
 * never counted down, so an offer that lapses ends the entry the instant its hold expires.
 * An entry still waiting (or offered) when its event is cancelled or starts is closed: no
 * ticket can come to it any more, so the fan is not left waiting on the list.
 */
import { loadEvent, type EventRecord } from '../catalog/events.js';
import { DomainError, invalid } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { limits } from '../config/limits.js';
import { lockCustomerAndCount } from '../holds/claim.js';
import { overLimit } from '../holds/apply.js';
import { releaseHold } from '../holds/holds.js';
import { assertSaleOpen } from '../holds/saleWindow.js';
import { ticketState } from '../inventory/availability.js';
import type { Db, Queryable } from '../storage/index.js';
import type { WaitlistEntry, WaitlistStatus } from './schemas.js';

/** What waitlist commands need. */
export interface WaitlistDeps {
  db: Db;
}

/** A request to join: the customer, the event, a zone (or any) and how many tickets. */
export interface JoinWaitlistInput {
  customerId: string;
  eventId: string;
  zone?: string;
  quantity: number;
}

/** How a join is checked. */
export interface JoinWaitlistOptions {
  /**
   * Refuse (409 tickets_available) while the wanted zone can still sell the quantity: a fan
   * buys those instead, and on a queued event the line decides who does. The customer's
   * own join asks for this; the end-of-sale close-out, which moves fans the line could not
   * serve, does not.
   */
  requireSoldOut?: boolean;
  /**
   * The place to take (the line's block: queue/waitblock.ts), instead of the next in the
   * sequence; an earlier place the customer holds on the waitlist already is kept.
   */
  seq?: number;
}

/** A waitlist entry as read with its offer's hold and its position. */
export interface EntryRow {
  event_id: string; customer_id: string; zone_key: string | null; quantity: number;
  status: 'waiting' | 'offered' | 'left'; offer_hold_id: string | null; created_at: Date;
  hold_state: string | null; hold_live: boolean | null; hold_expires_at: Date | null;
  position: number | null; event_over: boolean;
}

/** An entry row; the position is an SQL expression (with a join for it, if it needs one). */
function entrySelectWith(position: string, join = ''): string {
  return `SELECT w.event_id, w.customer_id, w.zone_key, w.quantity, w.status,
    w.offer_hold_id, w.created_at, h.state AS hold_state,
    (h.claim_expires_at > now()) AS hold_live, h.expires_at AS hold_expires_at,
    CASE WHEN w.status = 'waiting' THEN ${position} END AS position,
    (e.cancelled_at IS NOT NULL OR e.starts_at <= now()) AS event_over
  FROM waitlist_entries w LEFT JOIN holds h ON h.hold_id = w.offer_hold_id ${join}
  JOIN events e ON e.event_id = w.event_id`;
}

/**
 * A waiting entry's position: the waiting entries of the buckets before its own (kept by
 * triggers, migration 037) plus those at most its seq inside its bucket (at most 64 index
 * entries), never a count of everyone ahead.
 */
const positionOf = (alias: string): string => `((SELECT coalesce(sum(c.waiting), 0)
    FROM waitlist_counts c
   WHERE c.event_id = ${alias}.event_id AND c.bucket < waitlist_bucket(${alias}.seq))
  + (SELECT count(*) FROM waitlist_entries o
      WHERE o.event_id = ${alias}.event_id AND o.status = 'waiting'
        AND o.seq >= waitlist_bucket(${alias}.seq) << 6 AND o.seq <= ${alias}.seq))::int`;

const entrySelect = entrySelectWith(positionOf('w'));

/** The status a fan sees: an offer's outcome is its hold's. */
function statusOf(row: EntryRow): WaitlistStatus {
  if (row.status === 'left') return 'left';
  if (row.status === 'offered' && row.hold_state === 'purchased') return 'fulfilled';
  if (row.event_over) return 'closed';
  if (row.status === 'waiting') return 'waiting';
  if (row.hold_state === 'held' && row.hold_live === true) return 'offered';
  return 'left';
}

/** The entry a fan sees, from its row. */
export function toEntry(row: EntryRow): WaitlistEntry {
  const status = statusOf(row);
  const entry: WaitlistEntry = {
    eventId: row.event_id, zone: row.zone_key, quantity: row.quantity,
    position: status === 'waiting' ? row.position : null, status,
    createdAt: row.created_at.toISOString(),
  };
  if (status === 'offered' && row.offer_hold_id !== null && row.hold_expires_at !== null) {
    entry.holdId = row.offer_hold_id;
    entry.offerExpiresAt = row.hold_expires_at.toISOString();
  }
  return entry;
}

async function readEntry(
  db: Queryable, eventId: string, customerId: string, lock = false,
): Promise<EntryRow | undefined> {
  if (lock) {
    // Lock, then read in a later statement (a fresh snapshot), as holds do.
    await db.query(
      'SELECT 1 FROM waitlist_entries WHERE event_id = $1 AND customer_id = $2 FOR UPDATE',
      [eventId, customerId],
    );
  }
  const { rows } = await db.query<EntryRow>(
    `${entrySelect} WHERE w.event_id = $1 AND w.customer_id = $2`, [eventId, customerId],
  );
  return rows[0];
}

function isActive(row: EntryRow | undefined): row is EntryRow {
  if (row === undefined) return false;
  const status = statusOf(row);
  return status === 'waiting' || status === 'offered';
}

/** Refuses a join the event cannot take: unknown zone, over the limit, not on sale. */
export function checkJoin(event: EventRecord, input: JoinWaitlistInput, nowMs: number): void {
  assertSaleOpen(event, nowMs);
  if (input.zone !== undefined && !event.zones.some((zone) => zone.key === input.zone)) {
    throw invalid('/zone', `event has no zone "${input.zone}"`);
  }
  if (input.quantity > event.maxTicketsPerCustomer) throw overLimit(event, 0);
}

/** Refuses while the wanted zone (any zone) still has `quantity` tickets for sale. */
async function assertSoldOut(
  tx: Queryable, event: EventRecord, zone: string | undefined, quantity: number,
): Promise<void> {
  const { rows } = await tx.query<{ zone_key: string; n: number }>(
    `SELECT zone_key, count(*)::int AS n FROM tickets
      WHERE event_id = $1 AND ($2::text IS NULL OR zone_key = $2) AND ${ticketState.available}
      GROUP BY zone_key`,
    [event.eventId, zone ?? null],
  );
  const open = rows.filter((row) => row.n >= quantity);
  if (open.length === 0) return;
  throw new DomainError('tickets_available',
    `zone ${open[0]?.zone_key} still has ${open[0]?.n} tickets for sale: hold them instead`,
    { available: Object.fromEntries(open.map((row) => [row.zone_key, row.n])) });
}

/**
 * Puts a customer on an event's waitlist, behind everyone already waiting. Idempotent: a
 * customer already waiting (or holding an offer) gets their entry back unchanged, with
 * `created: false`; one who left, or whose offer ended, joins again at the back. The
 * per-customer limit counts what they hold and own, under the same lock holds take.
 */
export async function joinWaitlist(
  deps: WaitlistDeps, input: JoinWaitlistInput, options: JoinWaitlistOptions = {},
): Promise<{ entry: WaitlistEntry; created: boolean }> {
  if (!isUuid(input.eventId)) throw new DomainError('not_found', `no event ${input.eventId}`);
  const event = await loadEvent(deps.db, input.eventId);
  return await deps.db.tx(async (tx) => {
    const { rows: [clock] } = await tx.query<{ ms: number }>(
      'SELECT extract(epoch FROM now())::float8 * 1000 AS ms',
    );
    checkJoin(event, input, clock?.ms ?? 0);
    const usage = await lockCustomerAndCount(tx, input.customerId, event.eventId,
      event.holdSeconds);
    const existing = await readEntry(tx, event.eventId, input.customerId, true);
    if (isActive(existing)) {
      if (options.seq === undefined || existing.status !== 'waiting') {
        return { entry: toEntry(existing), created: false };
      }
      await tx.query(
        `UPDATE waitlist_entries SET seq = LEAST(seq, $3::bigint)
          WHERE event_id = $1 AND customer_id = $2 AND status = 'waiting'`,
        [event.eventId, input.customerId, options.seq],
      );
      const kept = await readEntry(tx, event.eventId, input.customerId);
      if (kept === undefined) throw new Error('assertion failed: kept entry not found');
      return { entry: toEntry(kept), created: false };
    }
    if (usage.used + input.quantity > event.maxTicketsPerCustomer) {
      throw overLimit(event, usage.used);
    }
    if (options.requireSoldOut === true) {
      await assertSoldOut(tx, event, input.zone, input.quantity);
    }
    await tx.query(
      `INSERT INTO waitlist_entries (event_id, customer_id, zone_key, quantity, status, seq)
       VALUES ($1, $2, $3, $4, 'waiting', coalesce($5::bigint, nextval('waitlist_seq')))
       ON CONFLICT (event_id, customer_id) DO UPDATE
         SET seq = coalesce($5::bigint, nextval('waitlist_seq')), zone_key = $3,
             quantity = $4, status = 'waiting', offer_hold_id = NULL, created_at = now(),
             updated_at = now()`,
      [event.eventId, input.customerId, input.zone ?? null, input.quantity,
        options.seq ?? null],
    );
    const row = await readEntry(tx, event.eventId, input.customerId);
    if (row === undefined) throw new Error('assertion failed: joined entry not found');
    return { entry: toEntry(row), created: true };
  });
}

/** What one fan of a batch of moves from the line asks for (queue/handover.ts). */
export interface WaitlistPlace {
  customerId: string;
  zone?: string;
  quantity: number;
}

/**
 * Leaves an event's waitlist. A live offer is released first (its tickets go to the next
 * in line). Leaving when not on the list (never joined, left already, offer over) is
 * not_found and changes nothing.
 */
export async function leaveWaitlist(
  deps: WaitlistDeps, customerId: string, eventId: string,
): Promise<void> {
  if (!isUuid(eventId)) throw new DomainError('not_found', `no event ${eventId}`);
  const notOnList = (): DomainError =>
    new DomainError('not_found', 'you are not on the waitlist of this event');
  const seen = await readEntry(deps.db, eventId, customerId);
  if (!isActive(seen)) throw notOnList();
  // An offer's hold is released in its own transaction (which offers it onwards); the
  // entry then reads as left whether or not the update below commits.
  if (statusOf(seen) === 'offered' && seen.offer_hold_id !== null) {
    await releaseHold(deps.db, customerId, seen.offer_hold_id);
  }
  await deps.db.tx(async (tx) => {
    const row = await readEntry(tx, eventId, customerId, true);
    if (row === undefined || row.status === 'left') throw notOnList();
    if (row.status === 'offered' && row.offer_hold_id !== seen.offer_hold_id) throw notOnList();
    const left = await tx.query(
      `UPDATE waitlist_entries SET status = 'left', offer_hold_id = NULL, updated_at = now()
        WHERE event_id = $1 AND customer_id = $2 AND status = $3`,
      [eventId, customerId, row.status],
    );
    if (left.rowCount !== 1) throw new Error('assertion failed: locked entry changed state');
  });
}

/** The customer's waitlist entries, newest first. */
export async function listWaitlist(db: Queryable, customerId: string): Promise<WaitlistEntry[]> {
  const { rows } = await db.query<EntryRow>(
    `${entrySelect} WHERE w.customer_id = $1 ORDER BY w.created_at DESC, w.event_id LIMIT $2`,
    [customerId, limits.pageSizeMax],
  );
  return rows.map(toEntry);
}
