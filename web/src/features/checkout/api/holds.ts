/** Holds: create (seats or a quantity in a zone), read, extend, release, and checkout. */
import { limits } from '@server/config/limits';
import { api, ApiProblem, unwrap, type Body, type Reply } from '../../../lib/api/client';

export type Hold = Reply<'/api/v1/holds/{holdId}', 'get'>;
export type HoldRequest = Body<'/api/v1/events/{eventId}/holds', 'post'>;

/** True for the store's "busy, retry after Retry-After" answer to a hold (503). */
export function isStoreBusy(failure: unknown): failure is ApiProblem {
  return failure instanceof ApiProblem && failure.code === 'service_unavailable';
}

/** How `retryWhileBusy` waits and tells the page. */
export interface BusyRetry {
  /** Called before each wait with its length and the retry's number (1, 2, …). */
  onBusy?: (retryAfterSeconds: number, retry: number) => void;
  /** Waits (tests pass one that resolves at once). */
  wait?: (ms: number) => Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt`, and while the store answers busy (503, nothing decided, the fan's place
 * kept) runs it again after the Retry-After the server gave, at most
 * `limits.webHoldBusyRetriesMax` times; any other answer ends it.
 */
export async function retryWhileBusy<T>(
  attempt: () => Promise<T>, options: BusyRetry = {},
): Promise<T> {
  const wait = options.wait ?? sleep;
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (failure) {
      if (!isStoreBusy(failure) || retry > limits.webHoldBusyRetriesMax) throw failure;
      const seconds = Math.min(60, Math.max(1, failure.retryAfterSeconds ?? 2));
      options.onBusy?.(seconds, retry);
      await wait(seconds * 1000);
    }
  }
}

/**
 * Holds seats or a quantity; the queue pass goes along for queued events. A busy store is
 * retried after its Retry-After with the same Idempotency-Key (a busy refusal stores
 * nothing against it), telling the page through `busy.onBusy`.
 */
export async function createHold(
  eventId: string, request: HoldRequest, pass: string | undefined, busy: BusyRetry = {},
): Promise<Hold> {
  const key = crypto.randomUUID();
  return await retryWhileBusy(async () => await unwrap(api.POST(
    '/api/v1/events/{eventId}/holds', {
      params: { path: { eventId } },
      body: request,
      headers: {
        'idempotency-key': key,
        ...(pass === undefined ? {} : { 'x-queue-pass': pass }),
      },
    })), busy);
}

/** The hold (its reply also sets the page's server clock offset, lib/serverClock). */
export async function loadHold(holdId: string): Promise<Hold> {
  return await unwrap(api.GET('/api/v1/holds/{holdId}', { params: { path: { holdId } } }));
}

export async function extendHold(holdId: string): Promise<Hold> {
  return await unwrap(api.POST('/api/v1/holds/{holdId}/extend', {
    params: { path: { holdId } },
  }));
}

export async function releaseHold(holdId: string): Promise<void> {
  await unwrap(api.DELETE('/api/v1/holds/{holdId}', { params: { path: { holdId } } }));
}

/** Pays for the hold; one idempotency key per attempt makes a retried click safe. */
export async function checkout(
  holdId: string, paymentMethod: string, idempotencyKey: string,
): Promise<Reply<'/api/v1/holds/{holdId}/checkout', 'post'>> {
  return await unwrap(api.POST('/api/v1/holds/{holdId}/checkout', {
    params: { path: { holdId }, header: { 'idempotency-key': idempotencyKey } },
    body: { paymentMethod } as Body<'/api/v1/holds/{holdId}/checkout', 'post'>,
  }));
}
