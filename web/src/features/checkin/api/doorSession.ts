/**
 * Door staff sign in with a link the organizer hands out: `…/checkin#token=d1.…`. The token
 * (scoped to one event, revocable) moves from the fragment, which never reaches a server
 * log, into sessionStorage for this tab, and the fragment is wiped from the address bar.
 */
import { useSyncExternalStore } from 'react';
import { createStore } from '../../../lib/store';

const keyFor = (eventId: string) => `stampede.door.${eventId}`;
const store = createStore(0);

function read(eventId: string): string | null {
  try {
    return globalThis.sessionStorage?.getItem(keyFor(eventId)) ?? null;
  } catch {
    return null;
  }
}

/**
 * Keeps the door token of the page's fragment, if there is one; true when it did. Safe
 * during render: it only writes storage (wipeFragment, in an effect, cleans the address).
 */
export function adoptDoorTokenFromUrl(eventId: string): boolean {
  if (typeof window === 'undefined') return false;
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  if (token === null || token === '') return false;
  try {
    globalThis.sessionStorage?.setItem(keyFor(eventId), token);
  } catch {
    // Storage refused: the token lasts until the fragment is wiped; the organizer can resend.
  }
  return true;
}

/** Removes the token from the address bar (and so from history and bookmarks). */
export function wipeFragment(): void {
  window.history.replaceState(null, '', window.location.pathname + window.location.search);
}

/** Forgets the door token (revoked or expired). */
export function clearDoorToken(eventId: string): void {
  try {
    globalThis.sessionStorage?.removeItem(keyFor(eventId));
  } catch {
    // Nothing stored.
  }
  store.update((n) => n + 1);
}

/** The door token for an event, re-rendering when it changes. */
export function useDoorToken(eventId: string): string | null {
  useSyncExternalStore(store.subscribe, store.get, store.get);
  return read(eventId);
}

/** The link that signs door staff in to one event's check-in page. */
export function doorLink(origin: string, eventId: string, token: string): string {
  return `${origin}/organizer/events/${encodeURIComponent(eventId)}/checkin`
    + `#token=${encodeURIComponent(token)}`;
}
