/**
 * Group commit for settling payments: the last step of a checkout, and every webhook,
 * reconciler answer or failed start that brings a payment's outcome, go through one batcher
 * per database (and provider). Webhooks do not name the event, and a webhook must meet its
 * own checkout in the same batcher to become a no-op there, so batches are not split by
 * event (a batch may span events; with PostgreSQL sharded by event it is a multi-shard
 * transaction). Items are collected while the previous batches run (no timer when idle; at most
 * `limits.settleBatchMax` per batch, `limits.settleBatchesInFlight` batches per database, one
 * on PGlite, another beside a running one only once `limits.settleBatchParallelMin` wait)
 * and decided by the database function `settle_batch` (migrations 021, 027) in one
 * statement: one round trip and one commit for the whole batch. Duplicate news about a
 * payment becomes a no-op inside the batch, so a webhook racing its own checkout costs one
 * item, not a pooled connection parked on the checkout's locks. The rare outcomes the
 * function leaves to a transaction of its own ('slow') are settled by `settleAlone`.
 */
import { randomBytes } from 'node:crypto';
import { limits } from '../config/limits.js';
import { withRetry } from '../storage/db.js';
import type { Db } from '../storage/index.js';
import type { ChargeOutcome } from '../payments/types.js';
import type { Order } from './schemas.js';

/** A final outcome of a charge. */
export type FinalOutcome = Exclude<ChargeOutcome, { status: 'pending' }>;

/**
 * Guards of the settle batch a race test's control may remove (AppContext.unguarded):
 * 'settle-hold-live' confirms a captured payment without checking that its hold and
 * tickets are still live. Production never sets one.
 */
export type SettleGuard = 'settle-hold-live';

/** One payment outcome to apply. */
export interface SettleItem {
  paymentId: string;
  outcome: FinalOutcome;
  /** Tickets to issue when known (the checkout knows; a webhook does not). */
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

interface Pending {
  item: SettleItem;
  resolve: (result: SettleResult) => void;
  reject: (error: unknown) => void;
}

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
    codes: ticketCodes(item.quantity ?? limits.seatsPerHold),
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
  const skip = unguarded === 'settle-hold-live' ? ['hold_live'] : [];
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

/** One key's queue of items and its batches in flight. */
class KeyBatcher {
  private queue: Pending[] = [];
  private running = 0;

  constructor(
    private readonly owner: SettleBatchers, private readonly provider: string,
    private readonly unguarded: SettleGuard | undefined, private readonly onIdle: () => void,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  submit(item: SettleItem): Promise<SettleResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  pump(): void {
    const inFlight = this.owner.db.kind === 'pglite' ? 1 : limits.settleBatchesInFlight;
    while (this.queue.length > 0 && this.running < inFlight && !this.owner.paused) {
      // Group commit: a short queue waits for the batch in flight and goes whole in the
      // next; only a long one is worth another batch (and its commit) beside it.
      if (this.running > 0 && this.queue.length < limits.settleBatchParallelMin) break;
      const batch = this.queue.splice(0, limits.settleBatchMax);
      this.running++;
      void this.run(batch).finally(() => {
        this.running--;
        if (this.queue.length > 0) this.pump();
        else if (this.running === 0) this.onIdle();
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    try {
      const results = await runSettleBatch(this.owner.db, this.provider,
        batch.map((p) => p.item), this.unguarded);
      batch.forEach((pending, i) => pending.resolve(results[i] as SettleResult));
    } catch (error) {
      if (batch.length === 1) {
        (batch[0] as Pending).reject(error);
        return;
      }
      // Expected outcomes are results, never exceptions; an unexpected error (a bug, a
      // constraint) must not fail the other items with it: each is settled alone.
      await Promise.all(batch.map(async (pending) => {
        try {
          const [result] = await runSettleBatch(this.owner.db, this.provider, [pending.item],
            this.unguarded);
          pending.resolve(result as SettleResult);
        } catch (alone) {
          pending.reject(alone);
        }
      }));
    }
  }
}

/** The settle batchers of one database. */
export class SettleBatchers {
  /** Test seam: while paused, items queue (see `queued`) until `resume()`. */
  paused = false;
  private readonly byKey = new Map<string, KeyBatcher>();

  constructor(readonly db: Db) {}

  /** Queues an item for its key's next batch and answers its result. */
  submit(provider: string, item: SettleItem, unguarded?: SettleGuard): Promise<SettleResult> {
    const key = `${provider}/${unguarded ?? ''}`;
    let batcher = this.byKey.get(key);
    if (batcher === undefined) {
      const created: KeyBatcher = new KeyBatcher(this, provider, unguarded, () => {
        // Idle batchers are dropped: nothing waits and nothing runs, so no state is lost.
        if (this.byKey.get(key) === created) this.byKey.delete(key);
      });
      batcher = created;
      this.byKey.set(key, batcher);
    }
    return batcher.submit(item);
  }

  /** Items waiting for a batch (tests wait for this while paused). */
  queued(): number {
    let n = 0;
    for (const batcher of this.byKey.values()) n += batcher.queued;
    return n;
  }

  /** Test seam: holds every batch back until `resume()`, so conflicting items share one. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    for (const batcher of this.byKey.values()) batcher.pump();
  }
}

const batchers = new WeakMap<Db, SettleBatchers>();

/** The settle batchers of `db` (one set per database handle). */
export function settleBatchersFor(db: Db): SettleBatchers {
  let found = batchers.get(db);
  if (found === undefined) {
    found = new SettleBatchers(db);
    batchers.set(db, found);
  }
  return found;
}
