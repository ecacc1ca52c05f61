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

/** The hold and the server's clock offset (server minus this device, in ms). */
export async function loadHold(holdId: string): Promise<{ hold: Hold; skewMs: number }> {
  const sentAt = Date.now();
  const result = api.GET('/api/v1/holds/{holdId}', { params: { path: { holdId } } });
  const { response } = await result;
  const hold = await unwrap(result);
  const serverDate = Date.parse(response.headers.get('date') ?? '');
  const midpoint = (sentAt + Date.now()) / 2;
  // The Date header has one-second resolution; only a larger skew is worth correcting.
  const skew = Number.isFinite(serverDate) ? serverDate - midpoint : 0;
  return { hold, skewMs: Math.abs(skew) > 1_500 ? skew : 0 };
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
