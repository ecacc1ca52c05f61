/**
 * The one API client: openapi-fetch over the types generated from the server's OpenAPI
 * document (schema.ts), with the signed-in customer's token attached. Calls resolve to the
 * reply body or throw an ApiProblem carrying the problem+json `code`, so pages map codes to
 * copy in one place (lib/copy.ts) instead of reading statuses.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import { serverClockMiddleware } from '../serverClock';
import { session } from '../session';
import type { paths } from './schema';

export type { paths };

/** A problem+json reply (RFC 9457) as a thrown value. */
export class ApiProblem extends Error {
  readonly code: string;
  readonly status: number;
  readonly detail: string | undefined;
  /** Extra members such as `unavailable` seat ids or `retryAfterSeconds`. */
  readonly body: Record<string, unknown>;

  constructor(status: number, body: Record<string, unknown>) {
    const code = typeof body.code === 'string' ? body.code : status >= 500 ? 'internal_error'
      : 'unknown';
    const detail = typeof body.detail === 'string' ? body.detail : undefined;
    super(detail ?? code);
    this.name = 'ApiProblem';
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.body = body;
  }

  /** Seat ids the server named as taken (`seats_unavailable`). */
  get unavailableSeats(): string[] {
    const ids = this.body.unavailable;
    return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
  }

  /** Seconds to wait before retrying (`rate_limited`), if the server said. */
  get retryAfterSeconds(): number | undefined {
    const value = this.body.retryAfterSeconds;
    return typeof value === 'number' ? value : undefined;
  }
}

const authMiddleware: Middleware = {
  onRequest({ request }) {
    const token = session.get()?.token;
    if (token !== undefined && !request.headers.has('authorization')) {
      request.headers.set('authorization', `Bearer ${token}`);
    }
    return request;
  },
  onResponse({ response }) {
    // An expired or revoked token: forget it so the next page asks the fan to log in.
    if (response.status === 401 && session.get() !== null) session.clear();
    return response;
  },
};

/** The typed client. Paths and bodies are checked against the server's schemas. */
export const api = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? 'http://localhost' : window.location.origin,
});
api.use(authMiddleware, serverClockMiddleware);

/** Unwraps an openapi-fetch result: the data, or throws the problem. */
export async function unwrap<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  let result: { data?: T; error?: unknown; response: Response };
  try {
    result = await pending;
  } catch {
    throw new ApiProblem(0, { code: 'network_error' });
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  const body = typeof error === 'object' && error !== null
    ? error as Record<string, unknown>
    : {};
  if (response.status === 429 && body.retryAfterSeconds === undefined) {
    const header = Number(response.headers.get('retry-after'));
    if (Number.isFinite(header) && header > 0) body.retryAfterSeconds = header;
  }
  throw new ApiProblem(response.status, body);
}

type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never;
type Responses<O> = O extends { responses: infer R } ? R : never;
type Success<R> = R extends { 200: infer A } ? JsonOf<A>
  : R extends { 201: infer B } ? JsonOf<B> : never;
type Method = 'get' | 'post' | 'put' | 'delete' | 'patch';

/** The success body of an operation, e.g. `Reply<'/api/v1/events/{eventId}', 'get'>`. */
export type Reply<P extends keyof paths, M extends Method & keyof paths[P]> =
  Success<Responses<paths[P][M]>>;

/** The JSON request body of an operation. */
export type Body<P extends keyof paths, M extends Method & keyof paths[P]> =
  paths[P][M] extends { requestBody?: { content: { 'application/json': infer T } } }
    ? T : never;
