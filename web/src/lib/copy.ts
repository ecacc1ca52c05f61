/**
 * Every word the web app shows, in one module: page copy by feature and the message for each
 * problem+json `code` the server can answer. Components never hard-code text, so wording is
 * reviewed (and one day translated) in one place.
 */
import type { ErrorCode } from '@server/core/errors';

export const copy = {
  app: {
    name: 'Stampede',
    tagline: 'Tickets for the events you love, sold fairly.',
    skipToContent: 'Skip to content',
    loading: 'Loading…',
    retry: 'Try again',
    notFoundTitle: 'Page not found',
    notFoundBody: 'There is nothing at this address.',
    backHome: 'Back to events',
  },
  nav: {
    label: 'Main',
    events: 'Events',
    myOrders: 'My orders',
    signIn: 'Log in',
    register: 'Register',
    signOut: 'Log out',
    organizer: 'Organizer',
    signedInAs: (email: string) => `Signed in as ${email}`,
  },
  search: {
    title: 'Find events',
    query: 'Search',
    queryPlaceholder: 'Artist, event, venue…',
    city: 'City',
    from: 'From',
    to: 'To',
    submit: 'Search',
    clear: 'Clear filters',
    results: (count: number) => (count === 1 ? '1 event' : `${count} events`),
    none: 'No events match. Try fewer words or another date.',
    more: 'Show more',
    from_price: (price: string) => `from ${price}`,
    available: (count: string) => `${count} left`,
    soldOut: 'Sold out',
  },
  status: {
    scheduled: 'On sale soon',
    on_sale: 'On sale',
    sold_out: 'Sold out',
    ended: 'Ended',
    cancelled: 'Cancelled',
  } as Record<string, string>,
  account: {
    loginTitle: 'Log in',
    registerTitle: 'Create an account',
    email: 'Email',
    name: 'Name',
    password: 'Password',
    passwordHint: (min: number) => `At least ${min} characters.`,
    login: 'Log in',
    register: 'Create account',
    noAccount: 'New here?',
    haveAccount: 'Already have an account?',
    needSignIn: 'Log in or create an account to continue.',
  },
  problems: {
    fallback: 'Something went wrong. Please try again.',
    network: 'We could not reach Stampede. Check your connection and try again.',
    retryIn: (seconds: number) => `Please wait ${seconds} s and try again.`,
  },
} as const;

/**
 * What a fan reads for each problem code. Codes not listed fall back to the server's own
 * detail; the codes a fan can meet are all here (a test checks it).
 */
export const problemMessages: Partial<Record<ErrorCode | 'network_error', string>> = {
  validation_failed: 'Some details are not valid. Check the form and try again.',
  unauthorized: 'Please log in to continue.',
  invalid_credentials: 'That email and password do not match an account.',
  forbidden: 'You are not allowed to do that.',
  not_on_sale: 'Tickets for this event are not on sale right now.',
  queue_pass_required: 'Your place in the waiting room has run out. Join the queue again.',
  proof_of_work_required: 'Your browser needs to finish a quick check before joining.',
  not_found: 'We could not find that. It may have been removed.',
  email_taken: 'An account with that email already exists. Log in instead.',
  seats_unavailable: 'Someone else just took some of those seats. They are marked on the map; '
    + 'pick others.',
  insufficient_inventory: 'There are not enough tickets left for that many. Try fewer.',
  hold_expired: 'Your hold ran out and the tickets went back on sale. Pick them again.',
  idempotency_conflict: 'That payment was already submitted with different details.',
  extension_used: 'You have already used your one extension for this hold.',
  hold_purchased: 'These tickets are already paid for.',
  payment_pending: 'Your payment is still being processed. Please wait a moment.',
  not_cancellable: 'This order can no longer be cancelled: a ticket was scanned or the '
    + 'event has started.',
  limit_exceeded: 'That would go over the ticket limit per customer for this event.',
  payload_too_large: 'That request is too large.',
  rate_limited: 'You are going a little fast. Please wait a moment and try again.',
  internal_error: 'Something went wrong on our side. Please try again.',
  service_unavailable: 'Stampede is very busy right now. Please try again in a moment.',
  network_error: 'We could not reach Stampede. Check your connection and try again.',
};

/** The message for a code, else the server's detail, else a generic one. */
export function problemMessage(code: string, detail?: string): string {
  return (problemMessages as Record<string, string | undefined>)[code]
    ?? detail ?? copy.problems.fallback;
}
