/**
 * The hold lifecycle: held → purchased | released | expired, each exactly once.
 *
 * Creating a hold plans outside the database (resolve seat ids from the node's seat index,
 * pick best available from the node's view of the zone's free seats) and is decided in the
 * event's next hold batch
 * (batch.ts, group commit): the sale window by the database clock, the per-customer limit
 * under the customer lock, the claim, the hold with locked prices, the outbox row and the
 * Idempotency-Key record, all in one statement, all or nothing per request.
 *
 * Every later transition is a guarded UPDATE on `state = 'held'` whose row count is
 * checked, and ticket rows are touched only `WHERE hold_id = <this hold>`: the hold id is
 * the fencing token, so a stale hold (expired and re-claimed by someone else) changes
 * nothing that is no longer its own.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import { DomainError, invalid } from '../core/errors.js';
import { isUuid } from '../core/ids.js';
import { seatIndex } from '../inventory/seatIndex.js';
import { ZoneViews, type PlannedPick, type ZoneView } from '../inventory/zoneView.js';
import { seatsPayload, writeOutbox, type ReleaseReason } from '../outbox/write.js';
import { passRowRefused } from '../queue/gate.js';
import { offerReturnedTickets, type UnguardedOffers } from '../waitlist/offers.js';
import { overLimit } from './apply.js';
import {
  submitHold, type BatchClaim, type BatchOutcome, type BatchRequest, type HoldSeams,
  type SaleRefusal,
} from './batch.js';
import { TokenRevoked, type TokenCheck } from '../customers/tokenVersions.js';
import { IdempotencyFenced } from '../idempotency/store.js';
import { newId } from '../core/ids.js';
import type { Db, Queryable } from '../storage/index.js';
import {
  countAvailable, customerUsage, freeUnitsOnSnapshot, takenOnSnapshot, type Guard,
  type TicketRow,
} from './claim.js';
import type { Hold, HoldInput, HoldItem } from './schemas.js';


/** Thrown inside a claim transaction when a concurrent claim won: roll back, plan again. */
class ClaimContended extends Error {
  constructor() {
    super('claim contended');
  }
}

interface HoldRow {
  hold_id: string; event_id: string; state: string; expires_at: Date; extended: boolean;
  adjacent: boolean; total_cents: number; currency: string; created_at: Date; live: boolean;
  offer: boolean; items: HoldItem[];
}

const holdColumns = `h.hold_id, h.event_id, h.state, h.expires_at, h.extended, h.adjacent,
  h.total_cents, h.currency, h.created_at, (h.claim_expires_at > now()) AS live,
  EXISTS (SELECT 1 FROM waitlist_offers w WHERE w.hold_id = h.hold_id) AS offer,
  coalesce((SELECT json_agg(json_build_object(
      'ticketNo', i.ticket_no, 'seatId', t.seat_id, 'section', t.section_key,
      'row', t.row_label, 'number', t.seat_number, 'zone', i.zone_key,
      'priceCents', i.price_cents) ORDER BY i.ticket_no)
    FROM hold_items i JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
   WHERE i.hold_id = h.hold_id), '[]'::json) AS items`;

function toHold(row: HoldRow): Hold {
  const status = row.state === 'held' && !row.live ? 'expired' : row.state;
  return {
    holdId: row.hold_id,
    eventId: row.event_id,
    status: status as Hold['status'],
    expiresAt: row.expires_at.toISOString(),
    extended: row.extended,
    adjacent: row.adjacent,
    items: row.items,
    totalCents: Number(row.total_cents),
    currency: row.currency,
    createdAt: row.created_at.toISOString(),
    offer: row.offer,
  };
}

async function readHold(db: Queryable, holdId: string, customerId: string): Promise<Hold> {
  if (!isUuid(holdId)) throw new DomainError('not_found', `no hold ${holdId}`);
  // Another customer's hold answers exactly like a missing one: ids are not confirmed.
  const { rows } = await db.query<HoldRow>(
    `SELECT ${holdColumns} FROM holds h WHERE h.hold_id = $1 AND h.customer_id = $2`,
    [holdId, customerId],
  );
  const row = rows[0];
  if (row === undefined) throw new DomainError('not_found', `no hold ${holdId}`);
  return toHold(row);
}

/** The hold, for its owner; another customer's hold is not_found. */
export async function getHold(db: Queryable, customerId: string, holdId: string): Promise<Hold> {
  return await readHold(db, holdId, customerId);
}

/** The customer's live holds, newest first. */
export async function listHolds(db: Queryable, customerId: string): Promise<Hold[]> {
  const { rows } = await db.query<HoldRow>(
    `SELECT ${holdColumns} FROM holds h
      WHERE h.customer_id = $1 AND h.state = 'held' AND h.claim_expires_at > now()
      ORDER BY h.created_at DESC, h.hold_id LIMIT $2`,
    [customerId, limits.pageSizeMax],
  );
  return rows.map(toHold);
}

/**
 * How a hold request is recorded under an Idempotency-Key: the record is written by the
 * batch that decides the request, with its reply (see batch.ts and place.ts).
 */
export interface HoldIdempotency {
  key: string;
  fingerprint: string;
  owner: string;
  /** True when `owner` already holds the key's 'running' record (a takeover). */
  owned: boolean;
}

/** The key was already recorded (a retry, or a duplicate in flight): replay or wait. */
export const keySeen = Symbol('idempotency key seen');

/**
 * Creates a hold from named seats or a zone quantity; all or nothing. The decision is
 * made in the event's next hold batch (group commit, batch.ts), with the per-customer
 * limit, the sale window by the database clock and, with `idempotency`, the key's record.
 */
export async function createHold(
  db: Db, event: EventRecord, customerId: string, input: HoldInput, seams?: HoldSeams,
): Promise<Hold> {
  const hold = await decideHold(db, event, customerId, input, undefined, seams, undefined,
    defaultViews(db));
  if (hold === keySeen) throw new Error('assertion failed: key seen without a key');
  return hold;
}

/**
 * createHold with an optional Idempotency-Key record; keySeen when the key exists.
 * `seams` are the race tests' (batch.ts HoldSeams): production never passes them.
 * `token`: the requester's token version, still to be checked against the customer's
 * current one; the batch refuses a revoked token (TokenRevoked) before it writes anything.
 * `views`: this node's views of zones' free seats (inventory/zoneView.ts), which best
 * available picks from and this node's grants update.
 * `pass`: on an event with a waiting room, the requester's queue pass (checked on the node:
 * queue/gate.ts checkPass); the batch claims it or refuses the request.
 */
export async function decideHold(
  db: Db, event: EventRecord, customerId: string, input: HoldInput,
  idempotency: HoldIdempotency | undefined, seams: HoldSeams | undefined,
  token: TokenCheck | undefined, views: ZoneViews, pass?: PassClaim,
): Promise<Hold | typeof keySeen> {
  const submit = new Submitter(db, event, customerId, idempotency, seams, token, pass);
  try {
    return await decideSubmitted(submit, input, views);
  } catch (error) {
    // Refused before a batch saw the pass (sold out on the view, an unknown seat, the sale
    // window): the pass is claimed, or refused, all the same, and a refusal comes first.
    if (pass !== undefined && !pass.decided && !(error instanceof TokenRevoked)) {
      await pass.claimAlone();
    }
    throw error;
  }
}

/**
 * A hold's queue pass (queue/gate.ts): its id, claimed by the request's batch; `decided`
 * once a batch has claimed or refused it; `claimAlone` claims it in a statement of its own
 * (queue/gate.ts claimPassAlone, after any pending token check) for a request that failed
 * before a batch decided the pass.
 */
export interface PassClaim {
  id: string;
  decided: boolean;
  claimAlone: () => Promise<void>;
}

async function decideSubmitted(
  submit: Submitter, input: HoldInput, views: ZoneViews,
): Promise<Hold | typeof keySeen> {
  const { db, event } = submit;
  if ('seats' in input) return await holdSeats(submit, input.seats, views);
  const zone = event.zones.find((candidate) => candidate.key === input.zone);
  if (zone === undefined) throw invalid('/zone', `event has no zone "${input.zone}"`);
  const layout = await zoneLayout(db, event.eventId, zone.key);
  // The per-customer limit is decided in the batch only: a separate early count cost every
  // best-available request a round trip to save one for customers already at the limit.
  if (layout.seated) {
    return await holdBestAvailable(submit, await views.view(event.eventId, zone.key),
      input.quantity);
  }
  return await holdUnits(submit, zone.key, input.quantity, layout);
}

/**
 * Zone views of callers that are not a node's hold desk (scripts, benchmarks, tests calling
 * createHold): one set per database. A node's desk keeps its own (place.ts).
 */
const viewsByDb = new WeakMap<Db, ZoneViews>();

function defaultViews(db: Db): ZoneViews {
  let views = viewsByDb.get(db);
  if (views === undefined) {
    views = new ZoneViews(db);
    viewsByDb.set(db, views);
  }
  return views;
}

/** Sends one request's attempts to the batcher; the first attempt writes the key record. */
class Submitter {
  private attempts = 0;

  constructor(
    readonly db: Db, readonly event: EventRecord, readonly customerId: string,
    private readonly idempotency: HoldIdempotency | undefined,
    private readonly seams: HoldSeams | undefined,
    private readonly token: TokenCheck | undefined,
    private readonly pass: PassClaim | undefined,
  ) {}

  /** The guard a race test's control removed, if any. */
  get unguarded(): Guard | undefined {
    return this.seams?.unguarded;
  }

  /**
   * One attempt. Held: the hold. Refusals that do not depend on the claim are thrown here;
   * the claim's own refusals (unavailable, contended, sold out) are answered for the
   * caller to decide.
   */
  async attempt(quantity: number, claim: BatchClaim):
    Promise<Hold | typeof keySeen | Exclude<BatchOutcome, { outcome: 'held' }>> {
    // The first attempt writes the key's record; a re-planned one already owns it.
    const owned = this.attempts > 0;
    this.attempts++;
    const idempotency = this.idempotency;
    if (this.unguarded === 'customer-limit') {
      // The control: the count on committed state, before the batch (which skips its own).
      const used = await customerUsage(this.db, this.customerId, this.event.eventId);
      if (used + quantity > this.event.maxTicketsPerCustomer) throw overLimit(this.event, used);
    }
    // Optional fields set one by one, not spread: this runs for every hold request.
    const request: BatchRequest = { holdId: newId(), customerId: this.customerId, quantity, claim };
    if (idempotency !== undefined) {
      request.idempotency = { ...idempotency, owned: idempotency.owned || owned };
    }
    if (this.token !== undefined && !this.token.checked) request.tokenVersion = this.token.version;
    if (this.pass !== undefined) request.pass = this.pass.id;
    const outcome = await submitHold(this.db, this.event, request, this.seams);
    // The batch claimed or refused the pass unless the sale window refused it whole, or
    // the token was revoked (then it claims nothing, and nothing should).
    if (this.pass !== undefined && outcome.outcome !== 'not_on_sale') this.pass.decided = true;
    // Every outcome but the sale window's comes after the batch compared the version.
    if (this.token !== undefined && outcome.outcome !== 'not_on_sale') this.token.checked = true;
    switch (outcome.outcome) {
      case 'held': return outcome.hold;
      case 'idem_seen': return keySeen;
      case 'fenced': throw new IdempotencyFenced();
      case 'revoked': throw new TokenRevoked(outcome.version);
      case 'limit': throw overLimit(this.event, outcome.used);
      case 'not_on_sale': throw notOnSale(this.event, outcome.reason);
      case 'pass': throw passRowRefused(outcome.reason);
      default: return outcome;
    }
  }
}

function notOnSale(event: EventRecord, reason: SaleRefusal): DomainError {
  if (reason === 'cancelled') return new DomainError('not_on_sale', 'the event was cancelled');
  if (reason === 'not_started') {
    return new DomainError('not_on_sale', 'the sale has not started',
      { onSaleAt: new Date(event.onSaleAtMs).toISOString() });
  }
  return new DomainError('not_on_sale', 'the event has started');
}

async function holdSeats(
  submit: Submitter, seatIds: readonly string[], views: ZoneViews,
): Promise<Hold | typeof keySeen> {
  // The event's layout, from this node's memory after its first hold: no query.
  const ticketOf = await seatIndex(submit.db, submit.event.eventId);
  // One lookup per seat; the unknown ones are listed only for the refusal.
  const ticketNos = new Array<number>(seatIds.length);
  let known = true;
  for (let i = 0; i < seatIds.length; i++) {
    const ticketNo = ticketOf.get(seatIds[i] as string);
    if (ticketNo === undefined) known = false;
    else ticketNos[i] = ticketNo;
  }
  if (!known) {
    const unknown = seatIds.filter((id) => !ticketOf.has(id));
    throw new DomainError('validation_failed', `no such seats: ${unknown.join(', ')}`, {
      errors: unknown.map((id) => ({ field: `body:/seats/${seatIds.indexOf(id)}`,
        message: `no seat ${id} at this event` })),
    });
  }
  const unavailable = (taken: readonly number[]): DomainError => {
    const ids = seatIds.filter((id) => taken.includes(ticketOf.get(id) as number)).sort();
    return new DomainError('seats_unavailable',
      `${ids.length} of the requested seats are not available`, { unavailable: ids });
  };
  if (submit.unguarded === 'tickets') {
    // The control: availability decided on committed state before the batch, which then
    // claims without its check (see claim.ts Guard).
    const taken = await takenOnSnapshot(submit.db, submit.event.eventId, ticketNos);
    if (taken.length > 0) throw unavailable(taken);
  }
  const outcome = await submit.attempt(ticketNos.length, { kind: 'seats', ticketNos });
  if (outcome === keySeen) return outcome;
  if ('holdId' in outcome) {
    // Best available on this node stops offering these seats at once.
    for (const item of outcome.items) {
      views.granted(submit.event.eventId, item.zone, [item.ticketNo]);
    }
    return outcome;
  }
  if (outcome.outcome !== 'unavailable') {
    throw new Error(`assertion failed: a seat claim answered ${outcome.outcome}`);
  }
  throw unavailable(outcome.tickets);
}

async function sleepJitter(attempt: number): Promise<void> {
  const delayMs = Math.random() * 5 * 2 ** Math.min(attempt, 5);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
}

/** Claims of a zone in flight on this node: how many buyers race for it right now. */
const inFlight = new Map<string, number>();

/**
 * Runs `once` (plan + claim) again while it loses races, for up to the claim budget. Losing
 * a race says nothing about how many tickets are left, so when the budget runs out the
 * answer comes from a fresh count: fewer than `quantity` free is the final
 * insufficient_inventory; otherwise the same code marked retryable (seats are free, they
 * were just being claimed by others at every attempt).
 */
async function withReplan<T>(
  db: Db, eventId: string, zone: string, quantity: number,
  once: (attempt: number, contenders: number) => Promise<T>,
): Promise<T> {
  const key = `${eventId}/${zone}`;
  inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
  // A latency budget, not a time of day: a monotonic timer, no Clock needed.
  const deadline = performance.now() + limits.holdClaimBudgetMs;
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        return await once(attempt, inFlight.get(key) ?? 1);
      } catch (error) {
        if (!(error instanceof ClaimContended)) throw error;
        if (performance.now() >= deadline) break;
        await sleepJitter(attempt);
      }
    }
  } finally {
    const left = (inFlight.get(key) ?? 1) - 1;
    if (left <= 0) inFlight.delete(key);
    else inFlight.set(key, left);
  }
  const left = await countAvailable(db, eventId, zone);
  if (left < quantity) throw soldOut(zone, left);
  throw new DomainError('insufficient_inventory',
    `tickets in zone ${zone} are being claimed right now; try again`,
    { available: left, contended: true }, { retryable: true });
}

function soldOut(zone: string, left: number): DomainError {
  return new DomainError('insufficient_inventory', `only ${left} tickets left in zone ${zone}`,
    { available: left });
}

/** Standing zones: any N free units, skipping units other claims hold locked. */
async function holdUnits(
  submit: Submitter, zone: string, quantity: number, layout: ZoneLayout,
): Promise<Hold | typeof keySeen> {
  return await withReplan(submit.db, submit.event.eventId, zone, quantity, async () => {
    // A random start spreads concurrent buyers over the zone (not a seeded choice: which
    // free units a buyer gets does not matter, only that buyers rarely collide).
    const start = layout.firstTicketNo
      + Math.floor(Math.random() * (layout.lastTicketNo - layout.firstTicketNo + 1));
    let claim: BatchClaim = { kind: 'units', zone, start };
    if (submit.unguarded === 'tickets') {
      // The control: units picked on committed state before the batch (see claim.ts Guard).
      const ticketNos = await freeUnitsOnSnapshot(submit.db, submit.event.eventId, zone,
        quantity, start);
      if (ticketNos.length < quantity) throw soldOut(zone, ticketNos.length);
      claim = { kind: 'pick', ticketNos };
    }
    const outcome = await submit.attempt(quantity, claim);
    if (outcome === keySeen || 'holdId' in outcome) return outcome;
    // Sold out is decided on committed state; contended means free units were locked by
    // claims still in flight: try again once they have settled.
    if (outcome.outcome === 'sold_out') throw soldOut(zone, outcome.available);
    if (outcome.outcome === 'contended') throw new ClaimContended();
    throw new Error(`assertion failed: a unit claim answered ${outcome.outcome}`);
  });
}

/**
 * How many of the best blocks to choose among at random. This node's own buyers never need
 * it: a pick reserves its seats in the view, so the next buyer takes the next best block.
 * Only when other nodes are taking the view's seats (`contested`: a batch refused a pick
 * lately) would every node's buyers pick the same best block and all but one lose; then it
 * is enough blocks that their picks rarely overlap, and each lost race widens it further.
 *
 * Spreading every pick by this node's in-flight count (as it once did) cost 0.4–2 ms of
 * CPU per request on a 12,500-seat zone, and its random blocks split rows into odd runs
 * that ended in stranded seats and split pairs (7 % of pairs not adjacent when the zone
 * sold out); the single best block keeps rows whole.
 */
export function pickSpread(
  contenders: number, quantity: number, attempt: number, contested = true,
): number {
  const base = contenders <= 1 || !contested ? 1 : contenders * quantity * 4;
  return Math.min(base * 4 ** attempt, 100_000);
}

/**
 * Seated zones: pick best available from this node's view of the zone's free seats, claim
 * exactly those seats in the batch. A stale view costs a re-plan, never a double sale: the
 * batch refuses a pick naming a taken seat and says which, and the view drops them. A view
 * that cannot find N seats is read again first: "not enough" only from committed state.
 */
async function holdBestAvailable(
  submit: Submitter, view: ZoneView, quantity: number,
): Promise<Hold | typeof keySeen> {
  const { db, event } = submit;
  // The control (claim.ts Guard 'tickets'): picks do not reserve their seats in the view,
  // so this node's racers pick as independently as racers on different nodes do, and the
  // batch claims without its check.
  const reserve = submit.unguarded !== 'tickets';
  return await withReplan(db, event.eventId, view.zone, quantity, async (attempt, contenders) => {
    const spread = pickSpread(contenders, quantity, attempt, view.contested);
    const seen = view.readsStarted;
    let pick = view.plan(quantity, spread, reserve);
    // Short, or only a split: the view may be missing seats freed since it was read (a
    // release, an expired hold), so committed state decides before the buyer hears "not
    // enough" or gets seats apart.
    if (pick === undefined || !pick.adjacent) {
      if (pick !== undefined) view.settle(pick, { granted: false });
      const free = await view.fresh(seen);
      if (free < quantity) throw soldOut(view.zone, free);
      pick = view.plan(quantity, spread, reserve);
      // Enough seats on committed state, but this node's claims in flight hold them.
      if (pick === undefined) throw new ClaimContended();
    }
    return await claimPick(submit, view, pick);
  });
}

/** Submits a planned pick and tells the view the batch's answer. */
async function claimPick(
  submit: Submitter, view: ZoneView, pick: PlannedPick,
): Promise<Hold | typeof keySeen> {
  let outcome: Awaited<ReturnType<Submitter['attempt']>>;
  try {
    outcome = await submit.attempt(pick.ticketNos.length,
      { kind: 'pick', ticketNos: pick.ticketNos });
  } catch (error) {
    view.settle(pick, { granted: false });
    throw error;
  }
  if (outcome === keySeen) {
    view.settle(pick, { granted: false });
    return outcome;
  }
  if ('holdId' in outcome) {
    view.settle(pick, { granted: true });
    return outcome;
  }
  if (outcome.outcome === 'contended') {
    // Without the list (never from hold_batch 031), every seat of the pick counts as taken
    // until the view's next read.
    view.settle(pick, { granted: false, taken: outcome.tickets ?? pick.ticketNos });
    throw new ClaimContended();
  }
  view.settle(pick, { granted: false });
  throw new Error(`assertion failed: a best-available claim answered ${outcome.outcome}`);
}

/** What a zone's tickets look like; fixed when the event is created. */
interface ZoneLayout {
  seated: boolean;
  firstTicketNo: number;
  lastTicketNo: number;
}

const zoneLayouts = new Map<string, ZoneLayout>();
/** Layout reads in flight, by the same key: requests for an uncached zone share one. */
const zoneLayoutReads = new Map<string, Promise<ZoneLayout>>();

/**
 * Whether a zone sells numbered seats, and its ticket range (layouts never change: cached).
 * At an on-sale every first request of a zone misses the cache at once; they share one read
 * of the zone's tickets, which would otherwise run once per request (and on PGlite, one after
 * another on its only connection, ahead of the hold batches).
 */
async function zoneLayout(db: Queryable, eventId: string, zone: string): Promise<ZoneLayout> {
  const key = `${eventId}/${zone}`;
  const known = zoneLayouts.get(key);
  if (known !== undefined) return known;
  let reading = zoneLayoutReads.get(key);
  if (reading === undefined) {
    reading = readZoneLayout(db, eventId, zone).finally(() => zoneLayoutReads.delete(key));
    zoneLayoutReads.set(key, reading);
  }
  const layout = await reading;
  if (zoneLayouts.size >= 10_000) zoneLayouts.clear();
  zoneLayouts.set(key, layout);
  return layout;
}

async function readZoneLayout(db: Queryable, eventId: string, zone: string):
Promise<ZoneLayout> {
  const { rows } = await db.query<{ seated: boolean; first: number; last: number }>(
    `SELECT bool_and(seat_id IS NOT NULL) AS seated, min(ticket_no)::int AS first,
            max(ticket_no)::int AS last
       FROM tickets WHERE event_id = $1 AND zone_key = $2`,
    [eventId, zone],
  );
  const row = rows[0];
  return {
    seated: row?.seated === true, firstTicketNo: row?.first ?? 0, lastTicketNo: row?.last ?? 0,
  };
}

/**
 * The tickets of hold `$2` at event `$1` that still carry its id (the fencing token) and
 * match `where`, locked in ticket order; selects `ticket_no`. Found through hold_items (its
 * key starts with the hold id): tickets.hold_id is not indexed, so claims, releases and
 * expiries are HOT updates (migration 024).
 */
export function holdTicketsLocked(where: string): string {
  return `SELECT t.ticket_no FROM hold_items i
            JOIN tickets t ON t.event_id = i.event_id AND t.ticket_no = i.ticket_no
           WHERE i.hold_id = $2 AND t.event_id = $1 AND t.hold_id = $2 AND ${where}
           ORDER BY t.ticket_no FOR UPDATE OF t`;
}

/**
 * Takes a hold's tickets back to the pool (only those still carrying its id and unsold),
 * writes the outbox row and offers them to the waitlist. Returns the tickets released.
 * `unguardedOffers` is a race test's control only (waitlist/offers.ts).
 */
export async function clearHoldTickets(
  tx: Queryable, eventId: string, holdId: string, customerId: string, reason: ReleaseReason,
  unguardedOffers?: UnguardedOffers,
): Promise<TicketRow[]> {
  const { rows } = await tx.query<TicketRow>(
    `WITH target AS (${holdTicketsLocked('t.order_id IS NULL')})
     UPDATE tickets t SET hold_id = NULL, hold_expires_at = NULL
       FROM target
      WHERE t.event_id = $1 AND t.ticket_no = target.ticket_no AND t.hold_id = $2
        AND t.order_id IS NULL
     RETURNING t.ticket_no, t.zone_key, t.seat_id, t.section_key, t.row_label, t.seat_number`,
    [eventId, holdId],
  );
  if (rows.length > 0) {
    await writeOutbox(tx, eventId, 'seats.released', seatsPayload(
      rows.map((t) => ({ ticketNo: t.ticket_no, seatId: t.seat_id, zone: t.zone_key })),
      { holdId, customerId, reason },
    ));
    // Returned tickets go to the waitlist first, in this same transaction.
    await offerReturnedTickets(tx, eventId, rows, reason, unguardedOffers);
  }
  return rows;
}

interface LockedHold {
  event_id: string; state: string; live: boolean; extended: boolean; quantity: number;
  pending: boolean; extension_seconds: number;
}

/** Locks the customer's hold row; not_found when it is not theirs. */
async function lockHold(tx: Queryable, customerId: string, holdId: string): Promise<LockedHold> {
  if (!isUuid(holdId)) throw new DomainError('not_found', `no hold ${holdId}`);
  // Lock, then read in a later statement (a fresh snapshot): a locking SELECT's subqueries
  // would not see an order committed by the transaction it waited for.
  await tx.query('SELECT 1 FROM holds WHERE hold_id = $1 AND customer_id = $2 FOR UPDATE',
    [holdId, customerId]);
  const { rows } = await tx.query<LockedHold>(
    `SELECT h.event_id, h.state, h.claim_expires_at > now() AS live, h.extended, h.quantity,
            EXISTS (SELECT 1 FROM orders o
                     WHERE o.hold_id = h.hold_id AND o.status = 'pending_payment') AS pending,
            (SELECT e.hold_extension_seconds FROM events e
              WHERE e.event_id = h.event_id) AS extension_seconds
       FROM holds h WHERE h.hold_id = $1 AND h.customer_id = $2`,
    [holdId, customerId],
  );
  const row = rows[0];
  if (row === undefined) throw new DomainError('not_found', `no hold ${holdId}`);
  return row;
}

/**
 * Releases a hold now. Idempotent: releasing a released or expired hold succeeds and
 * changes nothing. A purchased hold, or one with a payment in flight, is refused.
 * `unguardedOffers` is a race test's control only (waitlist/offers.ts).
 */
export async function releaseHold(
  db: Db, customerId: string, holdId: string, unguardedOffers?: UnguardedOffers,
): Promise<void> {
  await db.tx(async (tx) => {
    const hold = await lockHold(tx, customerId, holdId);
    if (hold.state === 'purchased') {
      throw new DomainError('hold_purchased', 'this hold was purchased; cancel the order instead');
    }
    if (hold.state !== 'held') return;
    if (hold.pending) {
      throw new DomainError('payment_pending', 'a payment for this hold is being processed');
    }
    // A hold past its time is recorded as expired even when its owner releases it.
    const ended = hold.live ? 'released' : 'expired';
    const updated = await tx.query(
      `UPDATE holds SET state = $2, ended_at = now() WHERE hold_id = $1 AND state = 'held'`,
      [holdId, ended],
    );
    if (updated.rowCount !== 1) throw new Error('assertion failed: locked hold changed state');
    await clearHoldTickets(tx, hold.event_id, holdId, customerId, ended, unguardedOffers);
  });
}

/** Extends a live hold once by the event's extension allowance. */
export async function extendHold(db: Db, customerId: string, holdId: string): Promise<Hold> {
  return await db.tx(async (tx) => {
    const hold = await lockHold(tx, customerId, holdId);
    if (hold.state === 'purchased') throw new DomainError('hold_purchased');
    if (hold.state !== 'held' || !hold.live) {
      throw new DomainError('hold_expired', 'the hold has ended');
    }
    if (hold.extended) throw new DomainError('extension_used', 'a hold is extended only once');
    // The payment window already keeps the tickets while a payment is pending; extending
    // then would reopen the buyer's timer on a hold that is being paid for.
    if (hold.pending) {
      throw new DomainError('payment_pending', 'a payment for this hold is being processed');
    }
    const seconds = hold.extension_seconds;
    if (seconds === 0) throw new DomainError('extension_used', 'this event allows no extensions');
    const { rows } = await tx.query<{ claim: string }>(
      `UPDATE holds
          SET expires_at = expires_at + make_interval(secs => $2),
              claim_expires_at = greatest(claim_expires_at,
                                          expires_at + make_interval(secs => $2)),
              extended = true
        WHERE hold_id = $1 AND state = 'held' AND NOT extended
       RETURNING claim_expires_at::text AS claim`,
      [holdId, seconds],
    );
    const claim = rows[0]?.claim;
    if (claim === undefined) throw new Error('assertion failed: locked hold changed state');
    await retimeHoldTickets(tx, hold.event_id, holdId, hold.quantity, claim);
    return await readHold(tx, holdId, customerId);
  });
}

/**
 * Moves the reservation of a hold's unsold tickets to `claimExpiresAt` (fenced by the hold
 * id, rows locked in ticket order); returns how many tickets it moved.
 */
export async function retimeTickets(
  tx: Queryable, eventId: string, holdId: string, claimExpiresAt: string,
): Promise<number> {
  const { rowCount } = await tx.query(
    `WITH target AS (${holdTicketsLocked('t.order_id IS NULL')})
     UPDATE tickets t SET hold_expires_at = $3::timestamptz
       FROM target
      WHERE t.event_id = $1 AND t.ticket_no = target.ticket_no AND t.hold_id = $2
        AND t.order_id IS NULL`,
    [eventId, holdId, claimExpiresAt],
  );
  return rowCount;
}

/**
 * Moves the expiry of a live hold's tickets to `claimExpiresAt`. Every ticket must still
 * be the hold's; if one is not (it lapsed and was re-claimed between our check and our
 * lock), the hold is over: hold_expired, and the caller's transaction rolls back.
 */
export async function retimeHoldTickets(
  tx: Queryable, eventId: string, holdId: string, quantity: number, claimExpiresAt: string,
): Promise<void> {
  const moved = await retimeTickets(tx, eventId, holdId, claimExpiresAt);
  if (moved !== quantity) throw new DomainError('hold_expired', 'the hold lost its tickets');
}
