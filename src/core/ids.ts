import { randomBytes, randomUUID } from 'node:crypto';

/** A new random UUID (v4) for rows whose id the application chooses before writing. */
export function newId(): string {
  return randomUUID();
}

/** An unguessable token of `bytes` random bytes, base64url (ticket codes, secrets). */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a syntactically valid UUID; lets routes answer 404 without a database trip. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
