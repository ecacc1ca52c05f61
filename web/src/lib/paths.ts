/**
 * Every client-side URL, built in one place. The route table (app/routes.tsx) matches the
 * same patterns, and links are built with these helpers, never by string concatenation.
 */
const enc = encodeURIComponent;

export const patterns = {
  home: '/',
  event: '/events/:eventId',
  queue: '/events/:eventId/queue',
  checkout: '/holds/:holdId',
  order: '/orders/:orderId',
  myOrders: '/me/orders',
  login: '/login',
  register: '/register',
  /** The live dashboard and the door have their own routes, matched before the nest. */
  organizerDashboard: '/organizer/events/:eventId/dashboard',
  organizerCheckin: '/organizer/events/:eventId/checkin',
  /** Organizer pages nest under this prefix with their own routes. */
  organizer: '/organizer',
} as const;

/** Organizer pages inside the /organizer nest (relative to it). */
export const organizerPatterns = {
  home: '/',
  newVenue: '/venues/new',
  newEvent: '/events/new',
  orders: '/orders',
} as const;

/**
 * Organizer links as router hrefs: the leading `~` makes them absolute even from inside the
 * /organizer nest (wouter resolves nested hrefs against the nest otherwise).
 */
export const organizerPaths = {
  home: () => '~/organizer',
  newVenue: () => '~/organizer/venues/new',
  newEvent: (venueId?: string) =>
    (venueId ? `~/organizer/events/new?venueId=${enc(venueId)}` : '~/organizer/events/new'),
  orders: (eventId?: string, q?: string) => {
    const query = new URLSearchParams();
    if (eventId) query.set('eventId', eventId);
    if (q) query.set('q', q);
    return query.size > 0 ? `~/organizer/orders?${query}` : '~/organizer/orders';
  },
  dashboard: (eventId: string) => `~/organizer/events/${enc(eventId)}/dashboard`,
  checkin: (eventId: string) => `~/organizer/events/${enc(eventId)}/checkin`,
};

export const paths = {
  home: (query?: URLSearchParams) => (query && query.size > 0 ? `/?${query}` : '/'),
  event: (eventId: string) => `/events/${enc(eventId)}`,
  queue: (eventId: string) => `/events/${enc(eventId)}/queue`,
  checkout: (holdId: string) => `/holds/${enc(holdId)}`,
  order: (orderId: string) => `/orders/${enc(orderId)}`,
  myOrders: () => '/me/orders',
  /** Log in, then come back to `next` (a path on this site). */
  login: (next?: string) => (next ? `/login?next=${enc(next)}` : '/login'),
  register: (next?: string) => (next ? `/register?next=${enc(next)}` : '/register'),
  organizer: () => '/organizer',
};

/** A `next` parameter is followed only when it is a path on this site. */
export function safeNext(value: string | null): string {
  return value !== null && value.startsWith('/') && !value.startsWith('//') ? value : '/';
}
