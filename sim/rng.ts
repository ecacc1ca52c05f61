/**
 * Seeded randomness for the simulator: the same seed replays the same crowd (arrival
 * times, choices, payment outcomes), so a bad run can be reproduced.
 */

/** A seeded pseudo-random generator (mulberry32: small, fast, good enough for workloads). */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** An element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /**
   * An index in [0, n) skewed towards 0: index i has weight 1 / (i + 1)^s (Zipf). Used for
   * popular seats: most fans want the front rows.
   */
  zipf(n: number, s = 1.1): number {
    // Inverse-transform on the continuous approximation; exact enough for a workload.
    const u = this.next();
    if (s === 1) return Math.min(n - 1, Math.floor(Math.exp(u * Math.log(n + 1)) - 1));
    const a = 1 - s;
    const max = ((n + 1) ** a - 1) / a;
    const x = (u * max * a + 1) ** (1 / a) - 1;
    return Math.min(n - 1, Math.max(0, Math.floor(x)));
  }

  /** A child generator, so independent streams do not disturb each other's sequences. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4_294_967_296));
  }
}
