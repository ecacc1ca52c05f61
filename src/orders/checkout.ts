/**
 * Checkout: hold → order → payment → confirmation, in two commits of ours on the request
 * path (three with a provider that assigns its references), whatever else runs at the same
 * time.
 *
 * 1. One statement (`checkout_begin_batch`, migration 049; the checks of 017 and 032, for the
 *    checkouts arriving together, checkoutBatch.ts) writes the Idempotency-Key record,
 *    checks the hold (the buyer's, live on the buyer's timer, no payment in flight, event
 *    not cancelled), records the order (pending_payment) and the payment (pending), and
 *    stretches the tickets' reservation to the payment window so a payment that succeeds
 *    late still finds them. A refusal is an answer, not an exception. When the provider
 *    names the charge's reference up front (`referenceFor`), it is stored with the payment.
 * 2. Outside any transaction: the charge is run, keyed by the payment id, only once its
 *    reference is stored. A provider that assigns references (Stripe) first registers the
 *    charge without moving money (`prepare`) and its reference is stored (one statement).
 *    A lost answer leaves a pending payment with a known reference.
 * 3. A final answer is settled in the next settle batch (settleBatch.ts), shared with
 *    concurrent checkouts and webhooks: the order confirmed or failed, tickets and codes,
 *    outbox rows, and the key's reply, which is the order built in that same statement.
 *    A pending or lost answer waits for the webhook or the reconciler, which settle only on
 *    the provider's definite answer; the key's reply is then the pending order, stored with
 *    any action the buyer must take (3-D Secure) in `payment.nextAction`.
 */
import { randomUUID } from 'node:crypto';
import { DomainError, invalid, type ErrorCode } from '../core/errors.js';
import { isUuid, newId } from '../core/ids.js';
import {
  IdempotencyFenced, recordFailure, runIdempotent, type IdempotencyScope,
} from '../idempotency/store.js';
import type { ChargeOutcome, ChargeRequest } from '../payments/types.js';
import { submitBegin } from './checkoutBatch.js';
import { recordPaymentAction } from './followup.js';
import type { Order } from './schemas.js';
import { settleOutcome, type BookingDeps } from './settle.js';

/** A checkout request of an authenticated customer. */
export interface CheckoutRequest {
  customerId: string;
  holdId: string;
  paymentMethod: string;
  /** The request's Idempotency-Key, scoped to the customer and fingerprinted. */
  idempotency?: IdempotencyScope;
}

/** What a checkout answers: the order, and whether it is the replay of an earlier reply. */
export interface CheckedOut {
  order: Order;
  replayed: boolean;
}

/** The key's record as one checkout attempt writes it. */
interface KeyRecord {
  scope: IdempotencyScope;
  owner: string;
  /** True when this owner already holds the 'running' record (a takeover). */
  owned: boolean;
}

const keySeen = Symbol('idempotency key seen');

const refusals: Record<string, [ErrorCode, string]> = {
  not_found: ['not_found', 'no such hold'],
  hold_purchased: ['hold_purchased', 'the hold was already paid for'],
  hold_expired: ['hold_expired', 'the hold has ended; make a new one'],
  payment_pending: ['payment_pending', 'a payment for this hold is being processed'],
  not_on_sale: ['not_on_sale', 'the event was cancelled'],
};

interface Started {
  orderId: string;
  paymentId: string;
  /** The provider's reference, stored with the payment; null until `prepare` answers. */
  providerRef: string | null;
  eventId: string;
  amountCents: number;
  currency: string;
  quantity: number;
}

/**
 * Step 1: the key's record, the hold check, the order and the payment, in one statement
 * shared with the checkouts begun at the same time (checkoutBatch.ts).
 */
async function begin(
  deps: BookingDeps, request: CheckoutRequest, key: KeyRecord | undefined,
): Promise<Started | typeof keySeen> {
  const orderId = newId();
  const paymentId = newId();
  const providerRef = deps.provider.referenceFor?.(paymentId) ?? null;
  const row = await submitBegin(deps.db, deps.provider.name, deps.paymentWindowSeconds, {
    holdId: request.holdId, customerId: request.customerId, orderId, paymentId,
    method: request.paymentMethod, providerRef,
    ...(key === undefined ? {} : { idempotency: {
      key: key.scope.key, fingerprint: key.scope.fingerprint, owner: key.owner,
      owned: key.owned,
    } }),
  }, {
    ...(deps.seams?.checkoutBatches === undefined ? {} : { gate: deps.seams.checkoutBatches }),
    ...(deps.unguarded === 'checkout-pending' ? { unguarded: deps.unguarded } : {}),
  });
  if (row.outcome === 'idem_seen') return keySeen;
  if (row.outcome === 'fenced') throw new IdempotencyFenced();
  const refusal = refusals[row.outcome];
  if (refusal !== undefined) {
    throw new DomainError(refusal[0], refusal[0] === 'not_found'
      ? `no hold ${request.holdId}` : refusal[1]);
  }
  if (row.outcome !== 'started') {
    throw new Error(`assertion failed: checkout_begin answered "${row.outcome}"`);
  }
  const d = row.detail;
  return { orderId, paymentId, providerRef, eventId: String(d.eventId),
    amountCents: Number(d.amountCents), currency: String(d.currency),
    quantity: Number(d.quantity) };
}

/**
 * The order as it stands, as the key's reply when there is a key (one statement: the reply
 * is stored and answered from what was written).
 */
async function finishPending(
  deps: BookingDeps, request: CheckoutRequest, orderId: string, key: KeyRecord | undefined,
): Promise<Order> {
  if (key === undefined) {
    const { rows } = await deps.db.query<{ order: Order }>(
      'SELECT order_json($1) AS order', [orderId]);
    if (rows[0] === undefined) throw new Error('assertion failed: new order lost its row');
    return rows[0].order;
  }
  const { rows } = await deps.db.query<{ order: Order }>(
    `UPDATE idempotency_keys
        SET state = 'done', response_status = 201,
            response_body = jsonb_build_object('kind', 'reply', 'body', order_json($4))
      WHERE customer_id = $1 AND idem_key = $2 AND owner = $3 AND state = 'running'
     RETURNING response_body->'body' AS order`,
    [request.customerId, key.scope.key, key.owner, orderId],
  );
  if (rows[0] === undefined) throw new IdempotencyFenced();
  return rows[0].order;
}

/**
 * For a provider that assigns references: registers the charge (no money moves) and stores
 * its reference before the charge can be in flight, so whatever happens next (a lost
 * answer, a crash) the reconciler can ask the provider about this exact charge. Undefined
 * when the provider could not register it. If the write fails, the charge is never started
 * and the reconciler cancels it.
 */
async function prepareCharge(
  deps: BookingDeps, charge: ChargeRequest,
): Promise<string | undefined> {
  let providerRef: string;
  try {
    providerRef = await deps.provider.prepare(charge);
  } catch (error) {
    deps.logger.warn({ err: error, paymentId: charge.paymentId }, 'charge could not start');
    return undefined;
  }
  const stored = await deps.db.query(
    `UPDATE payments SET provider_ref = $2
      WHERE payment_id = $1 AND (provider_ref IS NULL OR provider_ref = $2)`,
    [charge.paymentId, providerRef],
  );
  if (stored.rowCount !== 1) throw new Error('assertion failed: new payment lost its row');
  return providerRef;
}

/** One checkout attempt under `key` (or without one). */
async function attempt(
  deps: BookingDeps, request: CheckoutRequest, key: KeyRecord | undefined,
): Promise<Order | typeof keySeen> {
  const started = await begin(deps, request, key);
  if (started === keySeen) return keySeen;
  const settle = async (outcome: Exclude<ChargeOutcome, { status: 'pending' }>):
    Promise<Order> => await settleOutcome(deps, {
    paymentId: started.paymentId, outcome, quantity: started.quantity, reply: true,
    ...(key === undefined ? {} : {
      idempotency: { customerId: request.customerId, key: key.scope.key, owner: key.owner },
    }),
  }, { orderId: started.orderId, customerId: request.customerId });
  const charge = {
    paymentId: started.paymentId, amountCents: started.amountCents, currency: started.currency,
    method: request.paymentMethod, description: `Stampede order ${started.orderId}`,
  };
  const providerRef = started.providerRef ?? await prepareCharge(deps, charge);
  if (providerRef === undefined) {
    // prepare never moves money, and only a stored reference is ever charged: nothing can
    // be in flight, so this is a definite "not charged" and the buyer may try again.
    return await settle({ status: 'declined', providerRef: null, reason: 'provider_unavailable' });
  }
  deps.seams?.beforeCharge?.();
  let outcome: ChargeOutcome | undefined;
  try {
    outcome = await deps.provider.charge({ ...charge, providerRef });
    deps.seams?.afterCharge?.();
  } catch (error) {
    // The charge's fate is unknown: the order stays pending and the webhook or the
    // reconciler settles it from the provider's own answer (never by guessing).
    deps.logger.warn({ err: error, paymentId: started.paymentId }, 'charge failed to answer');
    outcome = undefined;
  }
  if (outcome !== undefined && outcome.status !== 'pending') return await settle(outcome);
  if (outcome?.action !== undefined) {
    // 3-D Secure: the buyer finishes in their browser; the reply carries what it needs.
    await recordPaymentAction(deps.db, started.paymentId, outcome.action);
  }
  return await finishPending(deps, request, started.orderId, key);
}

function validate(deps: BookingDeps, request: CheckoutRequest): void {
  if (!deps.provider.acceptsMethod(request.paymentMethod)) {
    throw invalid('/paymentMethod',
      `payment method "${request.paymentMethod}" is not accepted by ${deps.provider.name}`);
  }
  if (!isUuid(request.holdId)) throw new DomainError('not_found', `no hold ${request.holdId}`);
}

/**
 * Checks out a hold; answers the order as it stands after the provider's first answer. With
 * an Idempotency-Key, a retry answers the first reply (or its refusal); the same key with
 * another request is idempotency_conflict.
 */
export async function checkout(deps: BookingDeps, request: CheckoutRequest):
  Promise<CheckedOut> {
  validate(deps, request);
  const scope = request.idempotency;
  if (scope === undefined) {
    const order = await attempt(deps, request, undefined);
    if (order === keySeen) throw new Error('assertion failed: no key, yet seen');
    return { order, replayed: false };
  }
  const owner = randomUUID();
  let decided: Order | typeof keySeen;
  try {
    decided = await attempt(deps, request, { scope, owner, owned: false });
  } catch (error) {
    // Final refusals are stored against the key; 'not_owner': another request has it.
    await recordFailure(deps.db, scope, owner, error);
    decided = keySeen;
  }
  if (decided !== keySeen) return { order: decided, replayed: false };
  // The key has a record: replay it, wait for it, or take over a stale one.
  const result = await runIdempotent(deps.db, scope, async (_finish, takenBy) => {
    const order = await attempt(deps, request, { scope, owner: takenBy, owned: true });
    if (order === keySeen) throw new Error('assertion failed: own key seen as foreign');
    return { status: 201, stored: true, body: order };
  });
  return { order: result.body as Order, replayed: result.replayed };
}
