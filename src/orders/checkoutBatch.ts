/**
 * Group commit for checkout's first statement: the checkouts that arrive while earlier ones
 * are being begun are begun together by the database function `checkout_begin_batch`
 * (migration 049), one round trip and one commit for the batch instead of one each. Each
 * request is decided on its own (all or nothing), a refusal is a result, never an
 * exception, and locks are taken in a fixed order (keys, then holds by id), so batches on
 * several nodes cannot deadlock each other. An idle batcher has no timer: the first request
 * runs at once, alone; requests arriving while batches run wait and form the next batch (at
 * most `limits.checkoutBatchMax`, at most `limits.checkoutBatchesInFlight` batches per
 * database, one on PGlite). Batches are keyed by provider, not by event: a checkout names
 * only its hold (with PostgreSQL sharded by event a batch may be a multi-shard transaction,
 * as settle batches are). The queueing is core/groupCommit.ts's.
 */
import { limits } from '../config/limits.js';
import { GroupCommit, MemberFailure, type BatchGate } from '../core/groupCommit.js';
import { withRetry } from '../storage/db.js';
import type { Db } from '../storage/index.js';

/**
 * Guards of checkout's first statement a race test's control may remove
 * (AppContext.unguarded): 'checkout-pending' lets a hold whose payment is in flight start
 * another payment. Production never sets one.
 */
export type CheckoutGuard = 'checkout-pending';

/** One checkout to begin. */
export interface BeginRequest {
  holdId: string;
  customerId: string;
  orderId: string;
  paymentId: string;
  method: string;
  /** The provider's reference for the charge when it names it up front, else null. */
  providerRef: string | null;
  /** The Idempotency-Key record the request writes (or, when `owned`, must still own). */
  idempotency?: { key: string; fingerprint: string; owner: string; owned: boolean };
}

/** What `checkout_begin_batch` answered for one request (see migration 049). */
export interface BeginRow {
  outcome: string;
  detail: Record<string, unknown>;
}

interface Row extends BeginRow { n: number }

function encode(request: BeginRequest): Record<string, unknown> {
  const idem = request.idempotency;
  return {
    h: request.holdId, c: request.customerId, o: request.orderId, p: request.paymentId,
    m: request.method, ...(request.providerRef === null ? {} : { r: request.providerRef }),
    ...(idem === undefined ? {} : {
      key: idem.key, fp: idem.fingerprint, owner: idem.owner, own: idem.owned,
    }),
  };
}

/**
 * Begins one batch in one statement (autocommit). Exported for tests; `submitBegin` is how
 * requests normally get here.
 */
export async function runBeginBatch(
  db: Db, provider: string, windowSeconds: number, requests: readonly BeginRequest[],
  unguarded?: CheckoutGuard,
): Promise<BeginRow[]> {
  const skip = unguarded === 'checkout-pending' ? ['pending'] : [];
  const encoded = JSON.stringify(requests.map(encode));
  const { rows } = await withRetry(() => db.query<Row>(
    'SELECT n, outcome, detail FROM checkout_begin_batch($1, $2, $3::jsonb, $4::text[])',
    [provider, windowSeconds, encoded, skip],
  ), 5);
  const answers = new Array<BeginRow | undefined>(requests.length);
  for (const row of rows) answers[row.n] = { outcome: row.outcome, detail: row.detail };
  return answers.map((answer, i) => {
    if (answer === undefined) throw new Error(`assertion failed: no answer for checkout ${i}`);
    return answer;
  });
}

/**
 * Begins one batch; an unexpected error (a bug, a constraint) must not fail the other
 * requests with it, so when a batch of several throws, each is begun alone and only the one
 * that fails again is rejected.
 */
async function beginAll(
  db: Db, pending: readonly Pending[],
): Promise<(BeginRow | MemberFailure)[]> {
  const { provider, windowSeconds, unguarded } = pending[0] as Pending;
  const requests = pending.map((p) => p.request);
  try {
    return await runBeginBatch(db, provider, windowSeconds, requests, unguarded);
  } catch (error) {
    if (requests.length === 1) throw error;
    return await Promise.all(requests.map(async (request) => {
      try {
        const [row] = await runBeginBatch(db, provider, windowSeconds, [request], unguarded);
        return row as BeginRow;
      } catch (alone) {
        return new MemberFailure(alone);
      }
    }));
  }
}

interface Pending {
  request: BeginRequest;
  provider: string;
  windowSeconds: number;
  unguarded: CheckoutGuard | undefined;
}

function batcher(db: Db, gate: BatchGate | undefined): GroupCommit<Pending, BeginRow> {
  return new GroupCommit<Pending, BeginRow>({
    inFlight: db.kind === 'pglite' ? 1 : limits.checkoutBatchesInFlight,
    maxBatch: limits.checkoutBatchMax,
    ...(gate === undefined ? {} : { gate }),
    run: async (_key, batch) => await beginAll(db, batch),
  });
}

const batchers = new WeakMap<Db, WeakMap<BatchGate, GroupCommit<Pending, BeginRow>>>();
const noGate: BatchGate = { holds: () => false };

/**
 * Queues a checkout for its provider's next begin batch on `db` and answers its row. `gate`
 * and `unguarded` are race tests' (AppContext.seams.checkoutBatches, AppContext.unguarded);
 * production passes neither.
 */
export async function submitBegin(
  db: Db, provider: string, windowSeconds: number, request: BeginRequest,
  options: { gate?: BatchGate; unguarded?: CheckoutGuard } = {},
): Promise<BeginRow> {
  let byGate = batchers.get(db);
  if (byGate === undefined) {
    byGate = new WeakMap();
    batchers.set(db, byGate);
  }
  const gate = options.gate ?? noGate;
  let found = byGate.get(gate);
  if (found === undefined) {
    found = batcher(db, options.gate);
    byGate.set(gate, found);
  }
  // The window is part of the key: a batch is begun with one window for all its members.
  const key = `${provider}/${windowSeconds}/${options.unguarded ?? ''}`;
  return await found.submit(key, {
    request, provider, windowSeconds, unguarded: options.unguarded,
  });
}
