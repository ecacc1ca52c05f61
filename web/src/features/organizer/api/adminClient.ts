/**
 * The organizer's typed client: the same generated paths as the storefront's client, with
 * the admin token attached instead of a fan's. A 401 forgets the token, so the pages ask
 * for it again rather than failing on every call.
 */
import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '../../../lib/api/client';
import { adminSession } from './adminSession';

const adminAuth: Middleware = {
  onRequest({ request }) {
    const token = adminSession.get();
    if (token !== null && !request.headers.has('authorization')) {
      request.headers.set('authorization', `Bearer ${token}`);
    }
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401 && adminSession.get() !== null) adminSession.clear();
    return response;
  },
};

/** Calls organizer routes with the admin token. */
export const adminApi = createClient<paths>({
  baseUrl: typeof window === 'undefined' ? 'http://localhost' : window.location.origin,
});
adminApi.use(adminAuth);
