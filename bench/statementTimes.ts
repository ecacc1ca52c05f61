/**
 * Per-statement times, session sampling and the common report of the profile scripts (holdProfile,
 * bestAvailableProfile). Statement times: wraps a Queryable so every query run while
 * `measuring()` is true adds its time to a row keyed by a short label of its SQL (the first
 * match of `names`, else its first 60 characters).
 */
import { performance, type IntervalHistogram } from 'node:perf_hooks';
import pg from 'pg';
import type { Queryable } from '../src/storage/index.js';
import type { RequestStages } from './requestStages.js';

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

/** What a profile script measured over its window, for `printProfile`. */
export interface ProfileWindow {
  row: object;
  connections: number;
  /** process.cpuUsage over the window, µs. */
  cpu: NodeJS.CpuUsage;
  wallMs: number;
  serverThreadMs: number;
  loop: IntervalHistogram;
  stage: RequestStages;
  stats: Map<string, StatementStat>;
}

/** Prints a profile window: CPU, event-loop delay, server-side stages, statement times. */
export function printProfile(w: ProfileWindow): void {
  const { stage, loop } = w;
  console.log(JSON.stringify({ ...w.row, connections: w.connections }, null, 1));
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  const mean = (total: number): string => (total / stage.n).toFixed(2);
  console.log(`process CPU (server + load thread): ${
    ((w.cpu.user + w.cpu.system) / 1000 / w.wallMs * 100).toFixed(0)} % of one core over ${
    w.wallMs.toFixed(0)} ms`);
  console.log(`server thread CPU: ${(w.serverThreadMs / stage.n * 1000).toFixed(0)} µs per ` +
    `request (${w.serverThreadMs} ms over ${stage.n} requests)`);
  console.log(`event loop delay: p50 ${ms(loop.percentile(50))} ms, p99 ${
    ms(loop.percentile(99))} ms, max ${ms(loop.max)} ms`);
  console.log(`server-side stages (mean over ${stage.n}): parse→handler (auth, rate limit, ` +
    `validation) ${mean(stage.pre)} ms, handler ${mean(stage.handler)} ms, reply ${
      mean(stage.post)} ms, total ${mean(stage.total)} ms`);
  console.log('statements (Node side, pool wait included):');
  for (const [k, s] of [...w.stats].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`  ${String(s.n).padStart(6)} × mean ${(s.ms / s.n).toFixed(2).padStart(7)} ms ` +
      `max ${s.max.toFixed(1).padStart(7)}  ${k}`);
  }
}

/**
 * Samples PostgreSQL's sessions of `database` (pg_stat_activity, by state and wait event)
 * every 20 ms from a connection of its own; `stop` ends it and prints the mean sessions per
 * sample.
 */
export async function sampleSessions(database: string): Promise<{ stop: () => Promise<void> }> {
  const sampler = new pg.Client({ host: '127.0.0.1', port: 5432,
    user: process.env.PGUSER ?? 'postgres', database });
  await sampler.connect();
  const states = new Map<string, number>();
  let samples = 0;
  const sampling = setInterval(() => {
    void sampler.query<{ k: string; n: number }>(
      `SELECT coalesce(state,'') || ' ' || coalesce(wait_event_type,'-') || ':' ||
              coalesce(wait_event,'-') AS k, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
        GROUP BY 1`).then(({ rows }) => {
      samples++;
      for (const row of rows) states.set(row.k, (states.get(row.k) ?? 0) + row.n);
    }).catch(() => undefined); // a sample in flight when the sampler ends
  }, 20);
  return {
    stop: async () => {
      clearInterval(sampling);
      await sampler.end();
      console.log(`pg_stat_activity, mean sessions per sample over ${samples} samples:`);
      for (const [k, n] of [...states].sort((a, b) => b[1] - a[1])) {
        console.log(`  ${(n / samples).toFixed(2).padStart(6)}  ${k}`);
      }
    },
  };
}
