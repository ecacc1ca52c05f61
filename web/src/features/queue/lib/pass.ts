/**
 * The fan's queue pass per event, kept for this tab (sessionStorage) between the waiting
 * room and the seat map; holds on a queued event send it as X-Queue-Pass.
 */
import { serverNowMs } from '../../../lib/serverClock';

interface StoredPass {
  pass: string;
  expiresAt: string | undefined;
}

const key = (eventId: string) => `stampede.pass.${eventId}`;

export function setQueuePass(eventId: string, pass: string, expiresAt?: string): void {
  try {
    sessionStorage.setItem(key(eventId), JSON.stringify({ pass, expiresAt }));
  } catch {
    // Storage refused: the fan will be sent back through the queue page, which re-reads it.
  }
}

/** The pass if one is stored and not past its expiry (the server decides in the end). */
export function getQueuePass(eventId: string): string | undefined {
  try {
    const raw = sessionStorage.getItem(key(eventId));
    if (raw === null) return undefined;
    const stored = JSON.parse(raw) as StoredPass;
    if (stored.expiresAt !== undefined && Date.parse(stored.expiresAt) < serverNowMs()) {
      return undefined;
    }
    return stored.pass;
  } catch {
    return undefined;
  }
}

export function clearQueuePass(eventId: string): void {
  try {
    sessionStorage.removeItem(key(eventId));
  } catch {
    // Nothing stored.
  }
}
