/** Password hashing with scrypt from node:crypto; the parameters are stored with the hash. */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { limits } from '../config/limits.js';
import { Bulkhead } from '../core/bulkhead.js';

const keyLength = 32;
const defaults = { N: 16_384, r: 8, p: 1 };

/**
 * Every scrypt run of this process goes through one bulkhead, leaving most of libuv's
 * thread pool (4 threads) to file, DNS and other crypto work whatever the login traffic.
 */
const hashing = new Bulkhead(limits.passwordHashConcurrency, limits.passwordHashQueue);

/** Password hashes running now (a gauge for /metrics, and for tests). */
export function passwordHashesInFlight(): number {
  return hashing.inFlight;
}

function derive(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return hashing.run(() => new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { ...options, maxmem: 64 * 1024 * 1024 }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    });
  }));
}

/** Hashes a password as `scrypt$N$r$p$salt$key` (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, defaults);
  const { N, r, p } = defaults;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks a password against a stored hash in constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), {
    N: Number(n), r: Number(r), p: Number(p),
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * A hash of a random password, checked when the email is unknown so that a login for a
 * missing account takes as long as one with a wrong password (no account enumeration).
 */
let decoy: Promise<string> | undefined;

/** The decoy hash, computed on first use rather than at start-up. */
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}
