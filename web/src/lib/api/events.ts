/** Event details (zones, prices, live counts, queue settings). */
import { api, unwrap, type Reply } from './client';

export type EventDetails = Reply<'/api/v1/events/{eventId}', 'get'>;
export type Zone = EventDetails['zones'][number];

export async function loadEvent(eventId: string): Promise<EventDetails> {
  return await unwrap(api.GET('/api/v1/events/{eventId}', { params: { path: { eventId } } }));
}
