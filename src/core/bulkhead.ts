/**
 * A bulkhead: at most `concurrency` tasks run at once, at most `queueMax` wait, and the
 * rest are refused at once (503, retryable) instead of piling up. Password hashing runs on
 * libuv's small thread pool; without a bound, one address sending logins could occupy it
 * and stall every other file, DNS and crypto call of the process.
 */
import { DomainError } from './errors.js';

/** Bounds concurrent and queued runs of some expensive work. */
export class Bulkhead {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly concurrency: number, readonly queueMax: number) {
    if (concurrency < 1 || queueMax < 0) throw new Error('assertion failed: bulkhead bounds');
  }

  /** Tasks running now. */
  get inFlight(): number {
    return this.active;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `work` when a slot is free; service_unavailable when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.concurrency) {
      this.active += 1;
    } else {
      if (this.waiting.length >= this.queueMax) {
        throw new DomainError('service_unavailable', 'the server is busy; retry shortly',
          { retryAfterSeconds: 1 });
      }
      // The slot is handed over by the finishing task: `active` stays as it is.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.active -= 1;
      else next();
    }
  }
}
