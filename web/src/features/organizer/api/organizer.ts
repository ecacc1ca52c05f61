/** Organizer calls: venues, events, orders. Types come from the generated API schema. */
import { unwrap, type Body, type Reply } from '../../../lib/api/client';
import { adminApi } from './adminClient';

export type VenueBody = Body<'/api/v1/venues', 'post'>;
export type Venue = Reply<'/api/v1/venues', 'post'>;
export type VenueSummary = Reply<'/api/v1/admin/venues', 'get'>['data'][number];
export type EventBody = Body<'/api/v1/events', 'post'>;
export type EventDetails = Reply<'/api/v1/events/{eventId}', 'get'>;
export type AdminOrder = Reply<'/api/v1/admin/orders', 'get'>['data'][number];
export type EventSummary = Reply<'/api/v1/events', 'get'>['data'][number];

/** Checks a token by reading an admin-only list; throws the problem when it is refused. */
export async function checkAdminToken(token: string): Promise<void> {
  await unwrap(adminApi.GET('/api/v1/admin/venues', {
    headers: { authorization: `Bearer ${token}` },
  }));
}

export async function createVenue(body: VenueBody): Promise<Venue> {
  return await unwrap(adminApi.POST('/api/v1/venues', { body }));
}

export async function listVenues(): Promise<VenueSummary[]> {
  return (await unwrap(adminApi.GET('/api/v1/admin/venues'))).data;
}

export async function getVenue(venueId: string): Promise<Venue> {
  return await unwrap(adminApi.GET('/api/v1/venues/{venueId}', {
    params: { path: { venueId } },
  }));
}

export async function createEvent(body: EventBody): Promise<EventDetails> {
  return await unwrap(adminApi.POST('/api/v1/events', { body }));
}

export async function getEvent(eventId: string): Promise<EventDetails> {
  return await unwrap(adminApi.GET('/api/v1/events/{eventId}', {
    params: { path: { eventId } },
  }));
}

/** Upcoming and current events, newest-starting first as the search returns them. */
export async function listEvents(): Promise<EventSummary[]> {
  return (await unwrap(adminApi.GET('/api/v1/events', { params: { query: { limit: 100 } } })))
    .data;
}

export async function findOrders(q: string, eventId?: string): Promise<AdminOrder[]> {
  return (await unwrap(adminApi.GET('/api/v1/admin/orders', {
    params: { query: { ...(q.trim() ? { q: q.trim() } : {}),
      ...(eventId ? { eventId } : {}), limit: 20 } },
  }))).data;
}

/** Cancels and refunds an order as the organizer (scanned seats stay sold). */
export async function refundOrder(orderId: string): Promise<void> {
  await unwrap(adminApi.POST('/api/v1/orders/{orderId}/cancel', {
    params: { path: { orderId } },
  }));
}
