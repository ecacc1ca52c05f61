/**
 * The pre-queue draw's randomness: seeded, replayable, uniform orders.
 *
 * The draw (draw.ts) orders the pre-queue by HMAC-SHA256(seed, customer id), which can be
 * computed chunk by chunk in SQL (keyedOrder() replays it). The shuffle below is the
 * algorithm of draws recorded before that (`sha256-ctr/fisher-yates/v1`, whole order
 * stored), kept so they can still be replayed, and for callers that shuffle in memory.
 *
 * The generator is SHA-256 in counter mode over the seed, so anyone holding the recorded
 * seed can replay a draw bit for bit, and nobody can steer it without the seed (which is
 * drawn from the OS only at on-sale). Integers below n use rejection sampling, so no
 * customer is favoured by modulo bias; Fisher–Yates then makes every order equally likely.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

/** Named in the audit record so a future change of algorithm cannot be mistaken for this. */
export const shuffleAlgorithm = 'sha256-ctr/fisher-yates/v1';

/** A deterministic stream of uniform 32-bit integers from a seed. */
export class SeededRandom {
  private block: Buffer = Buffer.alloc(0);
  private offset = 0;
  private counter = 0;

  constructor(private readonly seed: string) {}

  /** The next uniform integer in [0, 2^32). */
  nextUint32(): number {
    if (this.offset + 4 > this.block.length) {
      this.block = createHash('sha256').update(`${this.seed}:${this.counter}`).digest();
      this.counter += 1;
      this.offset = 0;
    }
    const value = this.block.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  /** A uniform integer in [0, n), for 1 ≤ n ≤ 2^32. */
  below(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 32) {
      throw new Error(`assertion failed: below(${n}) needs 1 ≤ n ≤ 2^32`);
    }
    // Largest multiple of n that fits: values at or above it would bias small results.
    const limit = 2 ** 32 - (2 ** 32 % n);
    for (;;) {
      const value = this.nextUint32();
      if (value < limit) return value % n;
    }
  }
}

/** A new seed for a real draw: 32 bytes from the OS, hex. */
export function newSeed(): string {
  return randomBytes(32).toString('hex');
}

/** A copy of `items` shuffled uniformly by the generator seeded with `seed`. */
export function seededShuffle<T>(items: readonly T[], seed: string): T[] {
  const out = [...items];
  const random = new SeededRandom(seed);
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = random.below(i + 1);
    const swap = out[i] as T;
    out[i] = out[j] as T;
    out[j] = swap;
  }
  return out;
}

/**
 * The draw of a pre-queue: customer ids sorted (so the input does not depend on join order
 * or on how the database returned them), then shuffled with the seed.
 */
export function drawOrder(customerIds: readonly string[], seed: string): string[] {
  const sorted = [...customerIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return seededShuffle(sorted, seed);
}

/**
 * The on-sale draw's algorithm (src/queue/draw.ts): entries in order of
 * HMAC-SHA256(seed as bytes, customer id as lowercase text), ties (never seen with 256 bits)
 * by customer id. Under a secret seed drawn at on-sale that is a uniformly random order that
 * nobody could steer by choosing ids, and it can be computed chunk by chunk in SQL.
 */
export const keyedOrderAlgorithm = 'hmac-sha256-order/v1';

/** The key of one entry in the keyed draw: HMAC-SHA256(seed as bytes, customer id). */
export function drawKey(seed: string, customerId: string): Buffer {
  return createHmac('sha256', seedBytes(seed)).update(customerId, 'utf8').digest();
}

/** The seed as the HMAC key: hex seeds (every real one) as their bytes, others as text. */
export function seedBytes(seed: string): Buffer {
  return /^(?:[0-9a-f]{2})+$/.test(seed) ? Buffer.from(seed, 'hex') : Buffer.from(seed, 'utf8');
}

/**
 * The HMAC key pads for a seed, so PostgreSQL can compute the same key with its built-in
 * sha256(): HMAC(k, m) = sha256(opad ‖ sha256(ipad ‖ m)) (RFC 2104, 64-byte block).
 */
export function hmacPads(seed: string): { inner: Buffer; outer: Buffer } {
  let key = seedBytes(seed);
  if (key.length > 64) key = createHash('sha256').update(key).digest();
  const block = Buffer.alloc(64);
  key.copy(block);
  return {
    inner: Buffer.from(block.map((byte) => byte ^ 0x36)),
    outer: Buffer.from(block.map((byte) => byte ^ 0x5c)),
  };
}

/** Replays a keyed draw: the customer ids in the order the draw numbers them. */
export function keyedOrder(customerIds: readonly string[], seed: string): string[] {
  return customerIds
    .map((id) => ({ id, key: drawKey(seed, id) }))
    .sort((a, b) => Buffer.compare(a.key, b.key) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((entry) => entry.id);
}
