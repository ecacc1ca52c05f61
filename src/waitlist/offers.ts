/**
 * Offers: when tickets come back (a release, an expiry, a cancellation, a failed payment),
 * the earliest waiting fans they can serve get them as a hold made for them, in the same
 * transaction that returned the tickets. Every return path calls `offerReturnedTickets`
 * right after it has cleared the tickets, while it still holds their row locks, so no
 * other buyer can slip in between the return and the offer.
 *
 * Rules (docs/WAITLIST.md): entries are served earliest first, each in full or not at all
 * (first fit: an entry the returned tickets cannot serve in full keeps its place and a
 * later, smaller one may be served); an offer's tickets come from one zone; a fan whose
 * per-customer limit has no room for the whole quantity keeps their place. What nobody
 * takes goes back to general sale.
 *
 * Nothing is offered twice: offers on one event serialize on a transaction-scoped lock,
 * and an entry moves waiting → offered under a guarded UPDATE whose row count is checked.
 * Lock order is fixed: ticket rows (taken by the return), then the event's waitlist lock,
 * then the customer locks (the same ones every hold and the move batch take) of the first
 * entries the returned tickets could serve, all at once in lock-key order, and only then the
 * entries and their bucket counts (migration 037); events in id order. An entry written
 * before the next fan's customer lock would hold its bucket count while asking for that
 * lock, and a move batch (migration 073) holding that fan's lock and wanting the bucket for
 * a joiner would close the cycle (docs/WAITING_ROOM.md).
 */
import { loadEvent, type EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { applyHold } from '../holds/apply.js';
import { claimTickets, lockCustomerAndCount } from '../holds/claim.js';
import { writeOutbox, type ReleaseReason } from '../outbox/write.js';
import type { Queryable } from '../storage/index.js';

/**
 * The offers' guard a race test's control may remove (AppContext.unguarded): the event's
 * waitlist lock and the entry's status guard. Production never removes it.
 */
export type OfferGuard = 'waitlist-offer';

/**
 * A race test's control of offers: the guard removed, and `lineRead` awaited between
 * reading the line and writing the offers, where the control gathers its rival returns so
 * that they all read the line before any offers. Production passes none.
 */
export interface UnguardedOffers {
  lineRead?: () => Promise<void>;
}

/**
 * Test seams of the offers' lock order (a race test's control only; production passes none):
 * `lockPerOffer` takes each fan's customer lock when their offer is made, after the earlier
 * offers' entries are written, as offers once did; `offerMade` is awaited after each offer.
 */
export interface OfferSeams {
  lockPerOffer?: true;
  offerMade?: (made: OfferMade) => Promise<void>;
}

/** The control a test context asks for, if any (AppContext.unguarded, seams.offerLineRead). */
export function unguardedOffers(ctx: {
  unguarded?: string; seams?: { offerLineRead?: () => Promise<void> };
}): UnguardedOffers | undefined {
  if (ctx.unguarded !== 'waitlist-offer') return undefined;
  const lineRead = ctx.seams?.offerLineRead;
  return lineRead === undefined ? {} : { lineRead };
}

/** A returned ticket, as every return path has it. */
export interface ReturnedTicket {
  ticket_no: number;
  zone_key: string;
}

/** An offer made: the hold created for the fan. */
export interface OfferMade {
  customerId: string;
  holdId: string;
  quantity: number;
  zone: string;
}

/** A waiting entry as the offers read it. */
export interface WaitingRow {
  customer_id: string;
  seq: string;
  zone_key: string | null;
  quantity: number;
}

/**
 * The offers' reads of the line (exported for bench/offerScale.ts and the sweeper): the
 * planner settings for the rest of the transaction (keyed reads only), is anyone waiting
 * for event `$1`, and its first `$2` waiting entries, earliest first (by the number
 * itself: `seq` alone would name the text column of the select list and sort as text).
 */
export const offerSql = {
  keyedOnly: "SELECT set_config('enable_seqscan', 'off', true), "
    + "set_config('enable_bitmapscan', 'off', true)",
  anyWaiting: "SELECT 1 FROM waitlist_entries WHERE event_id = $1 AND status = 'waiting' LIMIT 1",
  waiting:
    `SELECT customer_id, seq::text AS seq, zone_key, quantity FROM waitlist_entries
      WHERE event_id = $1 AND status = 'waiting' ORDER BY waitlist_entries.seq LIMIT $2`,
  /**
   * The customer locks of customers `$1` for event `$2`, in lock-key order, the key and the
   * order of `waitlist_move_batch` (migration 073) and the key of `hold_lock_and_count`.
   */
  lockCustomers:
    `SELECT count(pg_advisory_xact_lock(k))::int AS n
       FROM (SELECT DISTINCT hashtextextended(c::text || $2::uuid::text, 7) AS k
               FROM unnest($1::uuid[]) AS c ORDER BY 1) AS keys`,
};

/** Serializes offers of one event (transaction-scoped; released at commit or rollback). */
async function lockEventWaitlist(tx: Queryable, eventId: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('waitlist:' || $1, 8))",
    [eventId]);
}

/**
 * The zone an entry can be served from in full, if any: its own, or the first of the event's
 * zones (`zoneKeys`, in the event's order) that fits, by `left`, the tickets left per zone.
 */
function zoneFor(
  entry: WaitingRow, left: (zone: string) => number, zoneKeys: readonly string[],
): string | undefined {
  const candidates = entry.zone_key === null ? zoneKeys : [entry.zone_key];
  return candidates.find((zone) => left(zone) >= entry.quantity);
}

/** The tickets left in each zone of a pool of returned ticket numbers. */
const leftIn = (pool: ReadonlyMap<string, number[]>) => (zone: string): number =>
  pool.get(zone)?.length ?? 0;

/**
 * The fans whose customer locks a return takes before its first offer: those the offers
 * reach when nobody is over their limit (first fit on a count of the pool, as the offers
 * take it), and up to `limits.waitlistOfferLocksAhead` fans the count passes over, whom
 * the offers reach only if a fan ahead is refused. Bounded by the tickets, not by the
 * waitlist: at the end of a sale every waiting fan fits, and a lock per candidate would
 * let a dozen concurrent returns fill the server's lock table. A fan reached beyond them
 * is locked at their offer (the order that can meet a move batch in a deadlock).
 */
export function lockAhead(
  candidates: readonly WaitingRow[], pool: ReadonlyMap<string, readonly number[]>,
  zoneKeys: readonly string[],
): WaitingRow[] {
  const left = new Map([...pool].map(([zone, nos]) => [zone, nos.length]));
  const ahead: WaitingRow[] = [];
  let spares = 0;
  for (const entry of candidates) {
    const zone = zoneFor(entry, (key) => left.get(key) ?? 0, zoneKeys);
    if (zone !== undefined) {
      left.set(zone, (left.get(zone) ?? 0) - entry.quantity);
      ahead.push(entry);
    } else if (spares < limits.waitlistOfferLocksAhead) {
      spares += 1;
      ahead.push(entry);
    } else if ([...left.values()].every((n) => n === 0)) {
      break;
    }
  }
  return ahead;
}

/**
 * Offers returned tickets of one event to its waitlist, in the caller's transaction (which
 * must hold the tickets' row locks and have cleared them). Returns the offers made.
 * `unguarded` is a race test's control only.
 */
export async function offerReturnedTickets(
  tx: Queryable, eventId: string, tickets: readonly ReturnedTicket[], reason: ReleaseReason,
  unguarded?: UnguardedOffers, seams: OfferSeams = {},
): Promise<OfferMade[]> {
  if (tickets.length === 0) return [];
  // The common case, nobody waiting, costs one indexed probe.
  const { rows: any } = await tx.query(offerSql.anyWaiting, [eventId]);
  if (any.length === 0) return [];
  const guarded = unguarded === undefined;
  // Every read and write below, and every foreign-key check they fire, is by a key with an
  // index; on tables analyzed while (nearly) empty the planner would price a sequential
  // scan at nothing, and a connection keeps the generic plans it makes (migration 056).
  // For the rest of the caller's transaction, which only makes keyed reads and writes.
  // Bitmap scans off too: the waiting read below then walks waitlist_waiting_idx in its
  // order and stops after `$2` entries; a bitmap scan reads every waiting entry of the
  // event and sorts them (the whole waiting index once per return, bench/offerScale.ts).
  await tx.query(offerSql.keyedOnly);
  if (guarded) await lockEventWaitlist(tx, eventId);
  const { rows: [state] } = await tx.query<{ open: boolean }>(
    `SELECT cancelled_at IS NULL AND on_sale_at <= now() AND starts_at > now() AS open
       FROM events WHERE event_id = $1`,
    [eventId],
  );
  if (state?.open !== true) return [];
  const event = await loadEvent(tx, eventId);
  const { rows: waiting } = await tx.query<WaitingRow>(offerSql.waiting,
    [eventId, limits.waitlistOfferScan]);
  await unguarded?.lineRead?.();
  const pool = new Map<string, number[]>();
  for (const ticket of [...tickets].sort((a, b) => a.ticket_no - b.ticket_no)) {
    pool.set(ticket.zone_key, [...(pool.get(ticket.zone_key) ?? []), ticket.ticket_no]);
  }
  // The fans the returned tickets could serve (the pool only shrinks, so a fan it cannot
  // serve now it cannot serve later); the customer locks of those the offers will reach
  // (lockAhead), all in one statement in lock-key order, before any entry (and its bucket
  // count) is written (see the header). The offers below take them again at no cost.
  const zoneKeys = event.zones.map((z) => z.key);
  const candidates = waiting.filter((entry) =>
    zoneFor(entry, leftIn(pool), zoneKeys) !== undefined);
  if (candidates.length === 0) return [];
  if (seams.lockPerOffer !== true) {
    const ahead = lockAhead(candidates, pool, zoneKeys);
    await tx.query(offerSql.lockCustomers, [ahead.map((c) => c.customer_id), eventId]);
  }
  const offers: OfferMade[] = [];
  for (const entry of candidates) {
    const zone = zoneFor(entry, leftIn(pool), zoneKeys);
    if (zone === undefined) continue;
    const made = await offerTo(tx, event, entry, zone, pool, reason, guarded);
    if (made === undefined) continue;
    offers.push(made);
    await seams.offerMade?.(made);
    if ([...pool.values()].every((left) => left.length === 0)) break;
  }
  return offers;
}

/** Makes one offer if the fan's limit has room for all of it; takes its tickets from `pool`. */
async function offerTo(
  tx: Queryable, event: EventRecord, entry: WaitingRow, zone: string,
  pool: Map<string, number[]>, reason: ReleaseReason, guarded: boolean,
): Promise<OfferMade | undefined> {
  const usage = await lockCustomerAndCount(tx, entry.customer_id, event.eventId,
    event.holdSeconds);
  if (usage.used + entry.quantity > event.maxTicketsPerCustomer) return undefined;
  const available = pool.get(zone) ?? [];
  const picked = available.slice(0, entry.quantity);
  const hold = await applyHold(tx, event, entry.customer_id, entry.quantity,
    (inner, holdId, expiresAt) => claimTickets(inner, event.eventId, holdId, picked, expiresAt),
    async (inner, made) => {
      await inner.query(
        `INSERT INTO waitlist_offers (hold_id, event_id, customer_id, entry_seq, reason)
         VALUES ($1, $2, $3, $4, $5)`,
        [made.holdId, event.eventId, entry.customer_id, entry.seq, reason],
      );
      // Still waiting, said as "neither offered nor left" (the only other states): a
      // condition `status = 'waiting'` would let the planner walk the event's waiting
      // entries (waitlist_waiting_idx) for this one key, as it did on stale statistics:
      // every waiting entry read per offer (bench/offerScale.ts, migration 056).
      const moved = await inner.query(
        `UPDATE waitlist_entries SET status = 'offered', offer_hold_id = $3, updated_at = now()
          WHERE event_id = $1 AND customer_id = $2
                ${guarded ? "AND status <> 'offered' AND status <> 'left'" : ''}`,
        [event.eventId, entry.customer_id, made.holdId],
      );
      if (moved.rowCount !== 1) throw new Error('assertion failed: locked entry changed state');
      await writeOutbox(inner, event.eventId, 'waitlist.offered', {
        customerId: entry.customer_id, holdId: made.holdId, quantity: entry.quantity,
        zones: [zone], expiresAt: made.expiresAt, reason,
      });
    }, true);
  pool.set(zone, available.slice(entry.quantity));
  return { customerId: entry.customer_id, holdId: hold.holdId, quantity: entry.quantity, zone };
}

/** A returned ticket with its event, as multi-event return paths (the sweeper) have them. */
export interface EventReturnedTicket extends ReturnedTicket {
  event_id: string;
}

/** Offers tickets returned across events, one event at a time in id order (lock order). */
export async function offerReturnedAcrossEvents(
  tx: Queryable, tickets: readonly EventReturnedTicket[], reason: ReleaseReason,
): Promise<OfferMade[]> {
  const byEvent = new Map<string, EventReturnedTicket[]>();
  for (const ticket of tickets) {
    byEvent.set(ticket.event_id, [...(byEvent.get(ticket.event_id) ?? []), ticket]);
  }
  const offers: OfferMade[] = [];
  for (const eventId of [...byEvent.keys()].sort()) {
    offers.push(...await offerReturnedTickets(tx, eventId, byEvent.get(eventId) ?? [], reason));
  }
  return offers;
}
