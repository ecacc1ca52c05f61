/**
 * A hold batch gate for race tests (AppContext.seams.holdBatches, see holds/batch.ts): it
 * holds an event's batches back until the race's contenders have all queued, then lets them
 * go at once, so the contenders overlap by construction. Waits on conditions (arrivals),
 * never on sleeps; the timeout only turns a race that cannot gather into a clear failure.
 */
import type { HoldBatchGate } from '../holds/batch.js';

interface Gathering {
  target: number;
  queued: number;
  wake: () => void;
  waiters: { n: number; resolve: () => void }[];
  released: () => void;
}

export class GatherGate implements HoldBatchGate {
  private readonly gatherings = new Map<string, Gathering>();

  /**
   * Holds `eventId`'s batches until `n` requests have queued; resolves when they are let
   * go, rejects (and lets go what came) if they do not all arrive within `timeoutMs`.
   */
  gather(eventId: string, n: number, timeoutMs = 30_000): Promise<void> {
    if (this.gatherings.has(eventId)) throw new Error(`already gathering ${eventId}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const gathering = this.gatherings.get(eventId);
        this.gatherings.delete(eventId);
        gathering?.wake();
        reject(new Error(`only ${gathering?.queued ?? 0} of ${n} hold requests reached the`
          + ' batcher'));
      }, timeoutMs);
      this.gatherings.set(eventId, {
        target: n, queued: 0, wake: () => undefined, waiters: [],
        released: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Resolves once `n` requests of a gathering event have queued (to order the sends). */
  async queued(eventId: string, n: number): Promise<void> {
    const gathering = this.gatherings.get(eventId);
    if (gathering === undefined) throw new Error(`not gathering ${eventId}`);
    if (gathering.queued >= n) return;
    await new Promise<void>((resolve) => gathering.waiters.push({ n, resolve }));
  }

  holds(eventId: string, queued: number, wake: () => void): boolean {
    const gathering = this.gatherings.get(eventId);
    if (gathering === undefined) return false;
    gathering.queued = queued;
    gathering.wake = wake;
    for (const waiter of gathering.waiters.filter((w) => w.n <= queued)) waiter.resolve();
    gathering.waiters = gathering.waiters.filter((w) => w.n > queued);
    if (queued < gathering.target) return true;
    this.gatherings.delete(eventId);
    for (const waiter of gathering.waiters) waiter.resolve();
    gathering.released();
    return false;
  }
}
