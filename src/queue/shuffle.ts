/**
 * The pre-queue draw's randomness: a seeded, replayable, uniform shuffle.
 *
 * The generator is SHA-256 in counter mode over the seed, so anyone holding the recorded
 * seed can replay a draw bit for bit, and nobody can steer it without the seed (which is
 * drawn from the OS only at on-sale). Integers below n use rejection sampling, so no
 * customer is favoured by modulo bias; Fisher–Yates then makes every order equally likely.
 */
import { createHash, randomBytes } from 'node:crypto';

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
