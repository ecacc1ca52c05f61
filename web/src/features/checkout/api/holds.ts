/** Holds: create (seats or a quantity in a zone), read, extend, release, and checkout. */
import { api, unwrap, type Body, type Reply } from '../../../lib/api/client';

export type Hold = Reply<'/api/v1/holds/{holdId}', 'get'>;
export type HoldRequest = Body<'/api/v1/events/{eventId}/holds', 'post'>;

/** Holds seats or a quantity; the queue pass goes along for queued events. */
export async function createHold(
  eventId: string, request: HoldRequest, pass: string | undefined,
): Promise<Hold> {
  return await unwrap(api.POST('/api/v1/events/{eventId}/holds', {
    params: { path: { eventId } },
    body: request,
    headers: {
      'idempotency-key': crypto.randomUUID(),
      ...(pass === undefined ? {} : { 'x-queue-pass': pass }),
    },
  }));
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
