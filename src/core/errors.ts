/**
 * The one catalogue of domain errors. Every expected failure a client can see has a code
 * here; the HTTP error handler turns a DomainError into RFC 9457 problem+json, and
 * docs/ERRORS.md must list every code (a test checks it).
 */

/** Machine-readable error codes with their HTTP status and whether a retry may succeed. */
export const errorCatalogue = {
  validation_failed: { status: 400, title: 'Request validation failed', retryable: false },
  unauthorized: { status: 401, title: 'Authentication required', retryable: false },
  invalid_credentials: { status: 401, title: 'Invalid email or password', retryable: false },
  forbidden: { status: 403, title: 'Forbidden', retryable: false },
  not_on_sale: { status: 403, title: 'Event is not on sale', retryable: true },
  queue_pass_required: { status: 403, title: 'A valid queue pass is required', retryable: false },
  proof_of_work_required: {
    status: 403, title: 'A solved proof-of-work challenge is required', retryable: true,
  },
  not_found: { status: 404, title: 'Not found', retryable: false },
  email_taken: { status: 409, title: 'Email already registered', retryable: false },
  seats_unavailable: { status: 409, title: 'Seats unavailable', retryable: false },
  insufficient_inventory: { status: 409, title: 'Not enough tickets left', retryable: false },
  hold_expired: { status: 409, title: 'Hold expired', retryable: false },
  idempotency_conflict: { status: 409, title: 'Idempotency key reused', retryable: false },
  extension_used: { status: 409, title: 'Hold already extended', retryable: false },
  already_checked_in: { status: 409, title: 'Ticket already checked in', retryable: false },
  already_left: { status: 409, title: 'Already left the queue', retryable: false },
  not_cancellable: { status: 409, title: 'Order can no longer be cancelled', retryable: false },
  hold_purchased: { status: 409, title: 'Hold already purchased', retryable: false },
  payment_pending: { status: 409, title: 'A payment is already pending', retryable: true },
  tickets_available: {
    status: 409, title: 'Tickets are still on sale: no need to wait', retryable: false,
  },
  invalid_signature: { status: 400, title: 'Webhook signature invalid', retryable: false },
  limit_exceeded: { status: 422, title: 'Per-customer limit exceeded', retryable: false },
  payload_too_large: { status: 413, title: 'Payload too large', retryable: false },
  upgrade_required: { status: 426, title: 'WebSocket upgrade required', retryable: false },
  unsupported_media_type: { status: 415, title: 'Unsupported media type', retryable: false },
  rate_limited: { status: 429, title: 'Too many requests', retryable: true },
  live_too_many_streams: {
    status: 429, title: 'Too many live streams from this address', retryable: true,
  },
  internal_error: { status: 500, title: 'Internal server error', retryable: true },
  service_unavailable: { status: 503, title: 'Service unavailable', retryable: true },
  live_node_full: { status: 503, title: 'No room for another live stream', retryable: true },
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

/** An expected domain outcome (seats taken, hold expired) that the caller handles. */
export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  /** Extra problem members, e.g. `unavailable` seat ids or the offending `field`. */
  readonly extra: Record<string, unknown>;

  /**
   * `options.retryable` overrides the catalogue for one instance: insufficient_inventory is
   * final when the zone is short, but retryable when it only lost races (seats still free).
   */
  constructor(
    code: ErrorCode, detail?: string, extra: Record<string, unknown> = {},
    options: { retryable?: boolean } = {},
  ) {
    const entry = errorCatalogue[code];
    // An expected outcome, answered as a problem document and never logged with a stack, so
    // none is captured: it was ~3 % of the server thread's busy time when most hold requests
    // were refused (the hot-block profile). The code and message say what happened.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(detail ?? entry.title);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = 'DomainError';
    this.code = code;
    this.status = entry.status;
    this.retryable = options.retryable ?? entry.retryable;
    this.extra = extra;
  }
}

/** Shorthand for a validation failure naming the offending field (a JSON pointer). */
export function invalid(
  field: string, detail: string, part: 'body' | 'querystring' | 'params' = 'body',
): DomainError {
  return new DomainError('validation_failed', `${part} ${field}: ${detail}`, {
    errors: [{ in: part, field, message: detail }],
  });
}

/** Programmer-error guard: crashes loudly instead of continuing in a corrupt state. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
