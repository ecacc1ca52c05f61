/**
 * Group commit for holds. Requests for one event are collected while the event's batches
 * in flight run, then decided together by the database function `hold_batch` (migration
 * 011, revised in 023, 028, 030, 031, 033 and 035; 052 keeps its plans, and those of the
 * foreign-key checks it fires, off sequential scans; 055 and 070 its per-customer count; 075
 * builds its replies as json text) in one statement: one round trip and one commit for the
 * whole batch. An idle event has no
 * timer: the first request runs at once, alone; requests arriving while batches run form
 * the next batch (at most
 * `limits.holdBatchMax`; at most `limits.holdBatchesInFlight` batches per event and node,
 * one on PGlite). The function decides first come first served in arrival order, all or
 * nothing per request, and a refusal is a result, never an exception, so one request never
 * aborts the others. Locks
 * are taken in a fixed order (customers by lock key, then the named tickets that are free,
 * by number), so batches on several nodes cannot deadlock each other; a ticket already
 * taken is refused without a lock, so batches naming the same taken seats never wait for
 * each other. A deadlock with another kind of transaction aborts the statement and the
 * whole batch runs again. The queueing is core/groupCommit.ts's, keyed by event.
 */
import type { EventRecord } from '../catalog/events.js';
import { limits } from '../config/limits.js';
import {
  GroupCommit, type BatchGate, type BatchTiming, type KeyLoad,
} from '../core/groupCommit.js';
import { withRetry } from '../storage/db.js';
import type { Db } from '../storage/index.js';
import type { PassRowRefusal } from '../queue/gate.js';
import type { Guard } from './claim.js';
import type { Hold } from './schemas.js';

/** Which tickets a request claims. */
export type BatchClaim =
  /** Named seats: a taken one refuses the request (unavailable). */
  | { kind: 'seats'; ticketNos: readonly number[] }
  /** Seats planned by best available: a taken one sends the request back to re-plan. */
  | { kind: 'pick'; ticketNos: readonly number[] }
  /** Any free units of a standing zone, scanning from `start` and wrapping around. */
  | { kind: 'units'; zone: string; start: number };

/** The Idempotency-Key record a request writes with its decision. */
export interface BatchIdempotency {
  key: string;
  fingerprint: string;
  /** Owner token of the record (see idempotency/store.ts). */
  owner: string;
  /** True when this owner already holds the 'running' record (a re-planned request). */
  owned: boolean;
}

export interface BatchRequest {
  holdId: string;
  customerId: string;
  quantity: number;
  claim: BatchClaim;
  idempotency?: BatchIdempotency;
  /**
   * The id of the request's queue pass, on an event with a waiting room (checked on the node
   * for signature, binding and expiry): the batch claims the admission it names, or refuses
   * the request as 'pass' (migration 035).
   */
  pass?: string;
  /**
   * The version of the requester's token when the auth hook left its check to the batch
   * (the node had no fresh copy of the customer's version): the batch refuses the request
   * as 'revoked' when the customer's current version is newer (migration 028).
   */
  tokenVersion?: number;
}

/** Why the sale window refused a batch. */
export type SaleRefusal = 'cancelled' | 'not_started' | 'started';

export type BatchOutcome =
  | { outcome: 'held'; hold: Hold }
  | { outcome: 'not_on_sale'; reason: SaleRefusal }
  /** The admission row refused the queue pass (queue/gate.ts PassRowRefusal). */
  | { outcome: 'pass'; reason: PassRowRefusal }
  | { outcome: 'limit'; used: number }
  | { outcome: 'unavailable'; tickets: number[] }
  /** A pick named taken seats (`tickets`); a unit claim found free units locked. */
  | { outcome: 'contended'; tickets?: number[] }
  | { outcome: 'sold_out'; available: number }
  | { outcome: 'idem_seen' }
  | { outcome: 'fenced' }
  /** The token was revoked; `version` is the customer's current token version. */
  | { outcome: 'revoked'; version: number };

/**
 * Test seam (AppContext.seams.holdBatches): a race test holds an event's batches back until
 * all its contenders have queued, so that they overlap by construction, not by luck. Its key
 * is the event id. Production passes none.
 */
export type HoldBatchGate = BatchGate;

/** The race tests' seams of hold creation; production passes none. */
export interface HoldSeams {
  /** The one production guard removed (claim.ts Guard), for a control. */
  unguarded?: Guard;
  gate?: HoldBatchGate;
}

/** The batch function's name for each removable guard (see claim.ts Guard). */
const batchCheck: Record<Guard, string> = {
  tickets: 'claim', 'customer-limit': 'limit', 'idempotency-key': 'idempotency',
  'queue-pass': 'pass',
};

interface Row { n: number; outcome: string; detail: Record<string, unknown> }

/** eventInfo's text per event record: records are replaced, never changed, on refresh. */
const eventInfos = new WeakMap<EventRecord, string>();

/**
 * The event facts the batch function decides with, as its jsonb argument. Built once per
 * copy of the event: every batch of an on-sale sends the same text.
 */
function eventInfo(event: EventRecord): string {
  const known = eventInfos.get(event);
  if (known !== undefined) return known;
  const info = JSON.stringify({
    hold_seconds: event.holdSeconds,
    max_per_customer: event.maxTicketsPerCustomer,
    on_sale_at: new Date(event.onSaleAtMs).toISOString(),
    starts_at: new Date(event.startsAtMs).toISOString(),
    cancelled: event.cancelled,
    currency: event.zones[0]?.currency ?? 'EUR',
    prices: Object.fromEntries(event.zones.map((zone) => [zone.key, zone.priceCents])),
  });
  eventInfos.set(event, info);
  return info;
}

/** One request as the batch function reads it (migration 035's keys). */
interface Encoded {
  i: string; c: string; q: number; k: BatchClaim['kind'];
  z?: string; s?: number; t?: readonly number[];
  key?: string; fp?: string; owner?: string; own?: boolean;
  v?: number; p?: string;
}

function encode(request: BatchRequest): Encoded {
  const { claim, idempotency } = request;
  // Properties set one by one, not spread: a batch encodes up to 64 of these.
  const encoded: Encoded = {
    i: request.holdId, c: request.customerId, q: request.quantity, k: claim.kind,
  };
  if (claim.kind === 'units') {
    encoded.z = claim.zone;
    encoded.s = claim.start;
  } else {
    encoded.t = claim.ticketNos;
  }
  if (idempotency !== undefined) {
    encoded.key = idempotency.key;
    encoded.fp = idempotency.fingerprint;
    encoded.owner = idempotency.owner;
    encoded.own = idempotency.owned;
  }
  if (request.tokenVersion !== undefined) encoded.v = request.tokenVersion;
  if (request.pass !== undefined) encoded.p = request.pass;
  return encoded;
}

function decode(row: Row): BatchOutcome {
  const d = row.detail;
  switch (row.outcome) {
    case 'held': return { outcome: 'held', hold: d as unknown as Hold };
    case 'not_on_sale':
      return { outcome: 'not_on_sale', reason: d.reason as SaleRefusal };
    case 'pass': return { outcome: 'pass', reason: d.reason as PassRowRefusal };
    case 'limit': return { outcome: 'limit', used: Number(d.used) };
    case 'unavailable': return { outcome: 'unavailable', tickets: d.tickets as number[] };
    case 'contended':
      return Array.isArray(d.tickets) ? { outcome: 'contended', tickets: d.tickets as number[] }
        : { outcome: 'contended' };
    case 'sold_out': return { outcome: 'sold_out', available: Number(d.available) };
    case 'idem_seen': return { outcome: 'idem_seen' };
    case 'fenced': return { outcome: 'fenced' };
    case 'revoked': return { outcome: 'revoked', version: Number(d.version) };
    default: throw new Error(`assertion failed: hold batch answered "${row.outcome}"`);
  }
}

/**
 * Decides one batch in one statement (autocommit: one round trip, one commit). Exported
 * for tests and benchmarks; the batchers below are how requests normally get here.
 */
export async function runHoldBatch(
  db: Db, event: EventRecord, requests: readonly BatchRequest[], unguarded?: Guard,
): Promise<BatchOutcome[]> {
  const skip = unguarded === undefined ? [] : [batchCheck[unguarded]];
  const { rows } = await withRetry(() => db.query<Row>(
    'SELECT n, outcome, detail FROM hold_batch($1::uuid, $2::jsonb, $3::jsonb, $4::text[])',
    [event.eventId, eventInfo(event), JSON.stringify(requests.map(encode)), skip],
  ), 5);
  const outcomes = new Array<BatchOutcome | undefined>(requests.length);
  for (const row of rows) outcomes[row.n] = decode(row);
  return outcomes.map((outcome, i) => {
    if (outcome === undefined) throw new Error(`assertion failed: no outcome for request ${i}`);
    return outcome;
  });
}

/** A request and the copy of its event it was routed with. */
interface Pending {
  request: BatchRequest;
  event: EventRecord;
}

/** Listeners of the hold batches run on a database (onHoldBatch), by database. */
const timingListeners = new WeakMap<Db, Set<(timing: BatchTiming) => void>>();

/**
 * Tells `listener` what every hold batch on `db` took (each member's wait for its batch to
 * start, and the batch's run), on this node; for metrics. Returns the unsubscribe.
 */
export function onHoldBatch(db: Db, listener: (timing: BatchTiming) => void): () => void {
  let listeners = timingListeners.get(db);
  if (listeners === undefined) {
    listeners = new Set();
    timingListeners.set(db, listeners);
  }
  const set = listeners;
  set.add(listener);
  return () => {
    set.delete(listener);
  };
}

/** The batcher of one database and set of seams: one key per event. */
function eventBatcher(db: Db, seams: HoldSeams): GroupCommit<Pending, BatchOutcome> {
  return new GroupCommit<Pending, BatchOutcome>({
    ...holdBatchShape(db),
    observe: (timing) => {
      for (const listener of timingListeners.get(db) ?? []) listener(timing);
    },
    parallelMin: limits.holdBatchParallelMin,
    // The next batch is sent while this one's replies are written (see the option).
    nextFirst: true,
    ...(seams.gate === undefined ? {} : { gate: seams.gate }),
    run: async (_eventId, batch) => {
      // The latest arrival carries the freshest copy of the event (the route's cache).
      const newest = (batch[batch.length - 1] as Pending).event;
      return await runHoldBatch(db, newest, batch.map((p) => p.request), seams.unguarded);
    },
  });
}

/**
 * Batchers per database and per set of seams (a race test's apps share a database; a set of
 * seams names its removed guard, if any). Production has one set of seams: none.
 */
const batchers = new WeakMap<Db, WeakMap<HoldSeams, GroupCommit<Pending, BatchOutcome>>>();
const noSeams: HoldSeams = {};

function batcherFor(db: Db, seams: HoldSeams): GroupCommit<Pending, BatchOutcome> {
  let bySeams = batchers.get(db);
  if (bySeams === undefined) {
    bySeams = new WeakMap();
    batchers.set(db, bySeams);
  }
  let batcher = bySeams.get(seams);
  if (batcher === undefined) {
    batcher = eventBatcher(db, seams);
    bySeams.set(seams, batcher);
  }
  return batcher;
}

/** How an event's hold batches are shaped on `db`: members per batch, batches at once. */
export function holdBatchShape(db: Db): { maxBatch: number; inFlight: number } {
  // One on embedded PGlite (one connection); on PostgreSQL see limits.holdBatchesInFlight.
  return {
    inFlight: db.kind === 'pglite' ? 1 : limits.holdBatchesInFlight,
    maxBatch: limits.holdBatchMax,
  };
}

/**
 * How loaded an event's hold batch queue is on this node (holds/busy.ts bounds it);
 * undefined when the event has nothing queued or running.
 */
export function holdQueueLoad(
  db: Db, eventId: string, seams: HoldSeams = noSeams,
): KeyLoad | undefined {
  return batcherFor(db, seams).load(eventId);
}

/**
 * Queues a hold request for its event's next batch and answers its outcome. `seams` are
 * the race tests' (HoldSeams); production passes none.
 */
export async function submitHold(
  db: Db, event: EventRecord, request: BatchRequest, seams: HoldSeams = noSeams,
): Promise<BatchOutcome> {
  return await batcherFor(db, seams).submit(event.eventId, { request, event });
}
