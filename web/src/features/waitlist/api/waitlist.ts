/** The waitlist: join (optionally for one zone), list my entries, leave. */
import { api, unwrap, type Reply } from '../../../lib/api/client';

export type WaitlistEntry = Reply<'/api/v1/me/waitlist', 'get'>['data'][number];
export type HoldSummary = Reply<'/api/v1/me/holds', 'get'>['data'][number];

export async function joinWaitlist(
  eventId: string, zone: string | undefined, quantity: number,
): Promise<WaitlistEntry> {
  return await unwrap(api.POST('/api/v1/events/{eventId}/waitlist', {
    params: { path: { eventId } },
    body: zone === undefined ? { quantity } : { zone, quantity },
  }));
}

export async function myWaitlist(): Promise<WaitlistEntry[]> {
  return (await unwrap(api.GET('/api/v1/me/waitlist', {}))).data;
}

export async function leaveWaitlist(eventId: string): Promise<void> {
  await unwrap(api.DELETE('/api/v1/events/{eventId}/waitlist', {
    params: { path: { eventId } },
  }));
}

/** Live holds that are waitlist offers. */
export async function myOffers(): Promise<HoldSummary[]> {
  return (await unwrap(api.GET('/api/v1/me/holds', {}))).data.filter((hold) => hold.offer);
}
