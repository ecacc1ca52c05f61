/** Register and log in; both answer a customer token that the session keeps. */
import { api, unwrap } from '../../../lib/api/client';
import { session } from '../../../lib/session';

export async function register(email: string, name: string, password: string): Promise<void> {
  const reply = await unwrap(api.POST('/api/v1/customers', { body: { email, name, password } }));
  session.set({ customerId: reply.customerId, token: reply.token, email });
}

export async function logIn(email: string, password: string): Promise<void> {
  const reply = await unwrap(api.POST('/api/v1/sessions', { body: { email, password } }));
  session.set({ customerId: reply.customerId, token: reply.token, email });
}
