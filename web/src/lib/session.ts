/**
 * The signed-in customer (token from register/login), kept in localStorage so a reload or a
 * second tab stays signed in. A tiny external store: React reads it with useSession().
 */
import { useSyncExternalStore } from 'react';
import { createStore } from './store';

/** Who is signed in. */
export interface Session {
  customerId: string;
  token: string;
  email: string;
}

const storageKey = 'stampede.session';

function load(): Session | null {
  try {
    const raw = globalThis.localStorage?.getItem(storageKey);
    if (raw === null || raw === undefined) return null;
    const value = JSON.parse(raw) as Partial<Session>;
    if (typeof value.token !== 'string' || typeof value.customerId !== 'string') return null;
    return { customerId: value.customerId, token: value.token, email: value.email ?? '' };
  } catch {
    return null;
  }
}

const store = createStore<Session | null>(load());

function persist(value: Session | null): void {
  try {
    if (value === null) globalThis.localStorage?.removeItem(storageKey);
    else globalThis.localStorage?.setItem(storageKey, JSON.stringify(value));
  } catch {
    // Private browsing may refuse storage; the session then lasts for this page only.
  }
}

/** Reads and changes the session outside React. */
export const session = {
  get: (): Session | null => store.get(),
  set(value: Session): void {
    persist(value);
    store.set(value);
  },
  clear(): void {
    persist(null);
    store.set(null);
  },
  subscribe: store.subscribe,
};

if (typeof window !== 'undefined') {
  // Another tab signed in or out.
  window.addEventListener('storage', (event) => {
    if (event.key === storageKey) store.set(load());
  });
}

/** The current session, re-rendering when it changes. */
export function useSession(): Session | null {
  return useSyncExternalStore(session.subscribe, session.get, session.get);
}
