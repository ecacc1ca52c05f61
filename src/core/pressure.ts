/**
 * Is this node overloaded? The signal load shedding reads (http/shed.ts): the event loop's
 * delay, as Node measures it (`perf_hooks.monitorEventLoopDelay`, what Fastify's
 * under-pressure plugin reads too). A node whose loop runs late answers everything late;
 * a hold waits behind every join and poll that got to the loop first. The delay is read
 * over short windows and the latest full window decides, so the signal follows the load
 * within a window and never reads a clock on the request path.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { assert } from './errors.js';

/** Whether the node is overloaded now; read on the request path, so it must be cheap. */
export interface LoadSignal {
  overloaded(): boolean;
}

/** A signal that never says overloaded (shedding off). */
export const neverOverloaded: LoadSignal = { overloaded: () => false };

export interface EventLoopPressureOptions {
  /** Overloaded while the last window's mean event-loop delay is above this. */
  delayMs: number;
  /** Length of a window. */
  windowMs: number;
}

// The histogram's timer granularity; its samples include it, so it is taken off the mean.
const resolutionMs = 10;

/** The event loop's delay over the last window against a bound (see the module comment). */
export class EventLoopPressure implements LoadSignal {
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  private over = false;
  /** The last full window's mean delay, for logs and metrics. */
  lastDelayMs = 0;

  constructor(private readonly options: EventLoopPressureOptions) {
    assert(options.delayMs > 0 && options.windowMs > 0, 'pressure bounds positive');
  }

  overloaded(): boolean {
    return this.over;
  }

  /** Starts measuring (idempotent); the timer never keeps the process alive. */
  start(): void {
    if (this.histogram !== undefined) return;
    const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    histogram.enable();
    this.histogram = histogram;
    this.timer = setInterval(() => {
      const meanMs = Number.isFinite(histogram.mean) ? histogram.mean / 1e6 : 0;
      this.lastDelayMs = Math.max(0, meanMs - resolutionMs);
      this.over = this.lastDelayMs > this.options.delayMs;
      histogram.reset();
    }, this.options.windowMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.histogram?.disable();
    this.histogram = undefined;
    this.timer = undefined;
    this.over = false;
  }
}
