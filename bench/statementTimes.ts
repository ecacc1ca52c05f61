/**
 * Per-statement times for the profile scripts: wraps a Queryable so every query run while
 * `measuring()` is true adds its time to a row keyed by a short label of its SQL (the first
 * match of `names`, else its first 60 characters).
 */
import { performance } from 'node:perf_hooks';
import type { Queryable } from '../src/storage/index.js';

/** Calls, total and slowest time of one statement label, ms. */
export interface StatementStat { n: number; ms: number; max: number }

/** A wrapper for queryables and the times it collects. */
export function statementTimer(names: RegExp, measuring: () => boolean): {
  stats: Map<string, StatementStat>;
  timed: <Q extends Queryable>(q: Q) => Q;
} {
  const stats = new Map<string, StatementStat>();
  const label = (sql: string): string => {
    const s = sql.replace(/\s+/g, ' ').trim();
    return names.exec(s)?.[0] ?? s.slice(0, 60);
  };
  const record = (sql: string, ms: number): void => {
    const key = label(sql);
    const s = stats.get(key) ?? { n: 0, ms: 0, max: 0 };
    s.n++; s.ms += ms; s.max = Math.max(s.max, ms);
    stats.set(key, s);
  };
  const timed = <Q extends Queryable>(q: Q): Q => new Proxy(q, {
    get(target, prop, receiver) {
      if (prop === 'query') {
        return async (sql: string, params?: unknown[]) => {
          const t0 = performance.now();
          try {
            return await target.query(sql, params as unknown[]);
          } finally {
            if (measuring()) record(sql, performance.now() - t0);
          }
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { stats, timed };
}
