/**
 * The organizer's admin token, kept in sessionStorage: it grants every organizer power, so
 * it lasts for this tab only and is gone when the tab closes (unlike a fan's session).
 */
import { useSyncExternalStore } from 'react';
import { createStore } from '../../../lib/store';

const storageKey = 'stampede.admin';

function load(): string | null {
  try {
    return globalThis.sessionStorage?.getItem(storageKey) ?? null;
  } catch {
    return null;
  }
}

const store = createStore<string | null>(load());

/** Reads and changes the admin token outside React. */
export const adminSession = {
  get: (): string | null => store.get(),
  set(token: string): void {
    try {
      globalThis.sessionStorage?.setItem(storageKey, token);
    } catch {
      // Storage refused (private mode): the token lasts for this page only.
    }
    store.set(token);
  },
  clear(): void {
    try {
      globalThis.sessionStorage?.removeItem(storageKey);
    } catch {
      // Nothing stored.
    }
    store.set(null);
  },
  subscribe: store.subscribe,
};

/** The admin token, re-rendering when it changes. */
export function useAdminToken(): string | null {
  return useSyncExternalStore(adminSession.subscribe, adminSession.get, adminSession.get);
}
