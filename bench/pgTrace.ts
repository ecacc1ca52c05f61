/**
 * Timing of PostgreSQL statements at the client, for benches that wrap `pg.Client#query`
 * (bench/herd.ts, bench/joinProfile.ts): each decides what to time and under which key;
 * this adds the call's duration to the key's figures once it answered, whether the caller
 * passed a callback (the pool's own queries) or awaits the promise (transactions).
 */
import { performance } from 'node:perf_hooks';

/** Calls, total and longest time of the statements under one key. */
export interface Stat { n: number; ms: number; max: number }

type Query = (...args: unknown[]) => unknown;

/** Runs `original.apply(self, args)` and records its duration under `key` in `stats`. */
export function timedCall(
  original: Query, self: unknown, args: unknown[], stats: Map<string, Stat>, key: string,
): unknown {
  const t0 = performance.now();
  const done = (): void => {
    const ms = performance.now() - t0;
    const stat = stats.get(key) ?? { n: 0, ms: 0, max: 0 };
    stat.n += 1; stat.ms += ms; stat.max = Math.max(stat.max, ms);
    stats.set(key, stat);
  };
  const callback = args[args.length - 1];
  if (typeof callback === 'function') {
    args[args.length - 1] = (...results: unknown[]): unknown => {
      done();
      return (callback as (...r: unknown[]) => unknown)(...results);
    };
    return original.apply(self, args);
  }
  const result = original.apply(self, args);
  if (result instanceof Promise) result.then(done, done);
  return result;
}
