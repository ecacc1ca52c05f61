/**
 * Group commit for settling payments: the last step of a checkout, and every webhook,
 * reconciler answer or failed start that brings a payment's outcome, go through one batcher
 * per database (and provider). Webhooks do not name the event, and a webhook must meet its
 * own checkout in the same batcher to become a no-op there, so batches are not split by
 * event (a batch may span events; with PostgreSQL sharded by event it is a multi-shard
 * transaction). Items are collected while the previous batches run (no timer when idle; at most
 * `limits.settleBatchMax` per batch, `limits.settleBatchesInFlight` batches per database, one
 * on PGlite, another beside a running one only once `limits.settleBatchParallelMin` wait)
 * and decided by the database function `settle_batch` (migrations 021, 027, 064, 072) in one
 * statement: one round trip and one commit for the whole batch, its confirmations written
 * together, a few statements per batch rather than a dozen per item (072). Duplicate news
 * about a payment becomes a no-op inside the batch, so a webhook racing its own checkout
 * costs one item, not a pooled connection parked on the checkout's locks. The rare outcomes the
 * function leaves to a transaction of its own ('slow') are settled by `settleAlone`. The
 * queueing is core/groupCommit.ts's, keyed by provider. The payments a node's batches
 * confirmed are remembered (the newest few thousand), so the provider's later copies of
 * that capture, the usual fate of a sim_ok checkout's two webhooks, skip the batch.
 */
import { randomBytes } from 'node:crypto';
import { limits } from '../config/limits.js';
import { GroupCommit, MemberFailure, type BatchGate } from '../core/groupCommit.js';
import { withRetry } from '../storage/db.js';
import type { Db } from '../storage/index.js';
import type { ChargeOutcome } from '../payments/types.js';
import type { Order } from './schemas.js';

/** A final outcome of a charge. */
export type FinalOutcome = Exclude<ChargeOutcome, { status: 'pending' }>;

/**
 * Guards of the settle batch a race test's control may remove (AppContext.unguarded):
 * 'settle-hold-live' confirms a captured payment without checking that its hold and
 * tickets are still live; 'settle-seen-in-batch' lets a later item of a batch miss an
 * earlier item's confirmation of the same payment (migration 072: confirmations are written
 * after the batch's decisions). Production never sets one.
 */
export type SettleGuard = 'settle-hold-live' | 'settle-seen-in-batch';

/** The settle batch's guards by their name in `settle_batch`'s p_unguarded. */
const skipNames: Record<SettleGuard, string> = {
  'settle-hold-live': 'hold_live',
  'settle-seen-in-batch': 'seen_in_batch',
};

/** True for the guards of the settle batch (narrows a context's `unguarded`). */
export function isSettleGuard(guard: string | undefined): guard is SettleGuard {
  return guard !== undefined && Object.hasOwn(skipNames, guard);
}

/** One payment outcome to apply. */
export interface SettleItem {
  paymentId: string;
  outcome: FinalOutcome;
  /**
   * Tickets to issue when known (the checkout knows; a webhook does not): the item carries
   * that many codes; without it the batch makes the codes it issues.
   */
  quantity?: number;
  /** A verified provider event: recorded with its effect (a repeat is a duplicate). */
  providerEvent?: { id: string; kind: string; amountCents?: number; currency?: string };
  /** The Idempotency-Key record this item finishes, with the order as its reply. */
  idempotency?: { customerId: string; key: string; owner: string };
  /** Answer the order as it stands after the item. */
  reply?: boolean;
}

export type SettleResult =
  | { kind: 'settled'; order?: Order; confirmed: boolean }
  | { kind: 'duplicate' }
  | { kind: 'unknown' }
  | { kind: 'mismatch'; mismatch: string }
  | { kind: 'fenced' }
  | { kind: 'slow' };

interface Row { n: number; outcome: string; detail: Record<string, unknown> }

/** Ticket codes: what the door scans, 128 random bits each, base64url. */
function ticketCodes(count: number): string[] {
  const bytes = randomBytes(16 * count);
  return Array.from({ length: count },
    (_, i) => bytes.subarray(16 * i, 16 * i + 16).toString('base64url'));
}

function encode(item: SettleItem): Record<string, unknown> {
  const { outcome, providerEvent, idempotency } = item;
  return {
    p: item.paymentId, s: outcome.status, r: outcome.providerRef,
    ...(outcome.status === 'declined' ? { why: outcome.reason } : {}),
    // Codes only for a known count: an item that does not know it (a webhook, a reconciler
    // answer) has them made by the batch if it confirms (migration 064); 50 codes per such
    // item were made, sent and parsed for nothing on almost every webhook.
    ...(item.quantity === undefined ? {} : { codes: ticketCodes(item.quantity) }),
    ...(providerEvent === undefined ? {} : {
      ev: { id: providerEvent.id, kind: providerEvent.kind },
      ...(providerEvent.amountCents === undefined ? {} : { am: providerEvent.amountCents }),
      ...(providerEvent.currency === undefined ? {} : { cu: providerEvent.currency }),
    }),
    ...(idempotency === undefined ? {} : {
      c: idempotency.customerId, key: idempotency.key, owner: idempotency.owner,
    }),
    ...(item.reply === true ? { reply: true } : {}),
  };
}

function decode(row: Row): SettleResult {
  const d = row.detail;
  switch (row.outcome) {
    case 'settled':
      return { kind: 'settled', confirmed: d.confirmed === true,
        ...(d.order === undefined ? {} : { order: d.order as Order }) };
    case 'duplicate': return { kind: 'duplicate' };
    case 'unknown': return { kind: 'unknown' };
    case 'mismatch': return { kind: 'mismatch', mismatch: String(d.mismatch) };
    case 'fenced': return { kind: 'fenced' };
    case 'slow': return { kind: 'slow' };
    default: throw new Error(`assertion failed: settle batch answered "${row.outcome}"`);
  }
}

/**
 * Decides one batch in one statement (autocommit: one round trip, one commit). Exported for
 * tests; the batchers below are how items normally get here.
 */
export async function runSettleBatch(
  db: Db, provider: string, items: readonly SettleItem[], unguarded?: SettleGuard,
): Promise<SettleResult[]> {
  const skip = unguarded === undefined ? [] : [skipNames[unguarded]];
  const encoded = JSON.stringify(items.map(encode));
  const { rows } = await withRetry(() => db.query<Row>(
    'SELECT n, outcome, detail FROM settle_batch($1, $2::jsonb, $3::text[])',
    [provider, encoded, skip],
  ), 5);
  const results = new Array<SettleResult | undefined>(items.length);
  for (const row of rows) results[row.n] = decode(row);
  return results.map((result, i) => {
    if (result === undefined) throw new Error(`assertion failed: no result for item ${i}`);
    return result;
  });
}

/**
 * Decides one batch; an unexpected error (a bug, a constraint) must not fail the other items
 * with it, so when a batch of several throws, each item is settled alone and only the one
 * that fails again is rejected. Expected outcomes are results, never exceptions.
 */
async function settleItems(
  db: Db, provider: string, items: readonly SettleItem[], unguarded?: SettleGuard,
): Promise<(SettleResult | MemberFailure)[]> {
  try {
    return await runSettleBatch(db, provider, items, unguarded);
  } catch (error) {
    if (items.length === 1) throw error;
    return await Promise.all(items.map(async (item) => {
      try {
        const [result] = await runSettleBatch(db, provider, [item], unguarded);
        return result as SettleResult;
      } catch (alone) {
        return new MemberFailure(alone);
      }
    }));
  }
}

/** An item and where it settles. */
interface Pending {
  item: SettleItem;
  provider: string;
  unguarded: SettleGuard | undefined;
}

/** The settle batchers of one database (and test gate), one key per provider and guard. */
export class SettleBatchers {
  private readonly batcher: GroupCommit<Pending, SettleResult>;
  /**
   * Payments this node's batches confirmed (committed), by provider and payment id, with
   * the capture's reference; the newest `limits.settledPaymentsRemembered`, oldest first.
   */
  private readonly confirmed = new Map<string, string>();

  constructor(readonly db: Db, gate?: BatchGate) {
    this.batcher = new GroupCommit<Pending, SettleResult>({
      inFlight: db.kind === 'pglite' ? 1 : limits.settleBatchesInFlight,
      maxBatch: limits.settleBatchMax,
      // Group commit: a short queue waits for the batch in flight and goes whole in the
      // next; only a long one is worth another batch (and its commit) beside it.
      parallelMin: limits.settleBatchParallelMin,
      ...(gate === undefined ? {} : { gate }),
      run: async (_key, batch) => {
        const { provider, unguarded } = batch[0] as Pending;
        return await settleItems(db, provider, batch.map((p) => p.item), unguarded);
      },
    });
  }

  /** Queues an item for its key's next batch and answers its result. */
  async submit(provider: string, item: SettleItem, unguarded?: SettleGuard):
    Promise<SettleResult> {
    const result = await this.batcher.submit(`${provider}/${unguarded ?? ''}`,
      { item, provider, unguarded });
    if (result.kind === 'settled' && result.confirmed && item.outcome.status === 'captured') {
      // Committed: the payment is captured with this reference, and a payment only moves
      // forward, so the same capture reported again can change nothing, ever.
      const key = `${provider}/${item.paymentId}`;
      this.confirmed.delete(key);
      this.confirmed.set(key, item.outcome.providerRef);
      if (this.confirmed.size > limits.settledPaymentsRemembered) {
        const oldest = this.confirmed.keys().next();
        if (oldest.done !== true) this.confirmed.delete(oldest.value);
      }
    }
    return result;
  }

  /**
   * True when a batch of this node confirmed `paymentId` as captured under `providerRef`
   * (and it is still remembered): news of that same capture is a no-op, answered without a
   * settle item. False means only "not known here": the news goes to a batch as before.
   */
  confirmedHere(provider: string, paymentId: string, providerRef: string): boolean {
    return this.confirmed.get(`${provider}/${paymentId}`) === providerRef;
  }
}

const batchers = new WeakMap<Db, WeakMap<BatchGate, SettleBatchers>>();
const noGate: BatchGate = { holds: () => false };

/**
 * The settle batchers of `db` (one set per database handle) and test gate
 * (AppContext.seams.settleBatches, a race test's only; production passes none).
 */
export function settleBatchersFor(db: Db, gate?: BatchGate): SettleBatchers {
  let byGate = batchers.get(db);
  if (byGate === undefined) {
    byGate = new WeakMap();
    batchers.set(db, byGate);
  }
  let found = byGate.get(gate ?? noGate);
  if (found === undefined) {
    found = new SettleBatchers(db, gate);
    byGate.set(gate ?? noGate, found);
  }
  return found;
}
