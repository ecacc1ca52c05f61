/**
 * What the rehearsal's store node and PostgreSQL were doing (SIM_STAGES=<file> with
 * `npm run bench -- simulation`): the store node runs with bench/serverStages.mjs (per-route
 * stage sums: before the handler, pool wait, statements, Redis, batch wait and run), and
 * PostgreSQL's sessions of the run's database are sampled every 100 ms from
 * pg_stat_activity (state, wait event, statement), with the lock a waiting session waits
 * for and what holds it (pg_locks, pg_blocking_pids) whenever one waits on a lock. The
 * summary goes to stderr, everything to the file as JSON.
 */
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

/** A short name for a statement, as bench/serverStages.mjs labels them. */
const labelSql = `CASE
  WHEN query ~ 'hold_batch' THEN 'hold_batch'
  WHEN query ~ 'queue_join_batch' THEN 'queue_join_batch'
  WHEN query ~ 'settle_batch' THEN 'settle_batch'
  WHEN query ~ 'checkout_begin' THEN 'checkout_begin'
  ELSE left(regexp_replace(query, '\\s+', ' ', 'g'), 60) END`;

/** Samples pg_stat_activity (and pg_locks while a session waits on a lock) until stopped. */
export function sampleActivity(databaseUrl: string, everyMs = 100): {
  stop(): Promise<Record<string, unknown>>;
} {
  const client = new pg.Client({ connectionString: databaseUrl });
  const states = new Map<string, number>();
  const locks = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    await client.connect();
    while (running) {
      const { rows } = await client.query<{ k: string; n: number; lock: boolean }>(
        `SELECT coalesce(state, '') || ' | ' || coalesce(wait_event_type, 'CPU') || ':' ||
                coalesce(wait_event, '-') || ' | ' || ${labelSql} AS k, count(*)::int AS n,
                bool_or(wait_event_type = 'Lock') AS lock
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND state IS DISTINCT FROM 'idle'
          GROUP BY 1`);
      samples += 1;
      for (const row of rows) states.set(row.k, (states.get(row.k) ?? 0) + row.n);
      if (rows.some((row) => row.lock)) {
        const blocked = await client.query<{ k: string; n: number }>(
          `SELECT (SELECT ${labelSql} FROM pg_stat_activity WHERE pid = w.pid) || ' waits ' ||
                  l.locktype || ' ' || coalesce(l.relation::regclass::text, '') || ' ' ||
                  l.mode || ' held by ' ||
                  coalesce((SELECT string_agg(DISTINCT (SELECT ${labelSql}
                     FROM pg_stat_activity b WHERE b.pid = bp), ', ')
                     FROM unnest(pg_blocking_pids(w.pid)) bp), '?') AS k,
                  count(*)::int AS n
             FROM pg_stat_activity w JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted
            WHERE w.datname = current_database() AND w.wait_event_type = 'Lock'
            GROUP BY 1`);
        for (const row of blocked.rows) locks.set(row.k, (locks.get(row.k) ?? 0) + row.n);
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop.catch(() => undefined);
      await client.end().catch(() => undefined);
      const perSample = (m: Map<string, number>): [string, number][] =>
        [...m].map(([k, n]): [string, number] => [k, n / Math.max(1, samples)])
          .sort((a, b) => b[1] - a[1]);
      return { samples, states: perSample(states), locks: perSample(locks) };
    },
  };
}

interface RouteStats {
  n: number; total: number; pre: number; handler: number; post: number; p50: number | null;
  p99: number | null; spans: Record<string, { n: number; ms: number }>;
}

/** Writes the figures to `file` and a summary to stderr. */
export function reportStages(
  file: string, stages: Record<string, unknown> | undefined, activity: Record<string, unknown>,
  loadavg: { start: string; end: string },
): void {
  writeFileSync(file, JSON.stringify({ loadavg, stages, activity }, null, 2));
  const f1 = (n: number): string => n.toFixed(1);
  const out: string[] = [`\n== stages (load ${loadavg.start} → ${loadavg.end}) ==`];
  if (stages !== undefined) {
    const pool = stages.pool as { n: number; waiting: number; busy: number; waitingMax: number };
    out.push(`store node: ${f1(Number(stages.cpuMs) / 1000)} s CPU, event loop ` +
      `${f1(Number(stages.elu) * 100)} % busy, lag mean ${f1(Number(stages.lagMeanMs))} ms, ` +
      `p99 ${f1(Number(stages.lagP99Ms))} ms; pool busy ${f1(pool.busy / Math.max(1, pool.n))}, ` +
      `waiting ${f1(pool.waiting / Math.max(1, pool.n))} on average, ${pool.waitingMax} at most`);
    const routes = Object.entries(stages.routes as Record<string, RouteStats>)
      .filter(([, r]) => r.n >= 20).sort((a, b) => b[1].n - a[1].n);
    for (const [key, r] of routes) {
      out.push(`  ${key}: n ${r.n}, mean ${f1(r.total / r.n)} (p50 ${f1(r.p50 ?? 0)}, p99 ` +
        `${f1(r.p99 ?? 0)}), before handler ${f1(r.pre / r.n)}, handler ` +
        `${f1(r.handler / r.n)}, after ${f1(r.post / r.n)}`);
      for (const [span, v] of Object.entries(r.spans).sort((a, b) => b[1].ms - a[1].ms)) {
        if (v.ms / r.n < 0.05) continue;
        out.push(`      ${span.padEnd(64)} ${f1(v.ms / r.n).padStart(8)} ms ×${(v.n / r.n)
          .toFixed(2)}`);
      }
    }
    for (const [name, b] of Object.entries(stages.batchers as Record<string, {
      batches: number; members: number; ms: number; spans: Record<string, number>;
    }>)) {
      out.push(`  batcher ${name}: ${b.batches} batches, ${f1(b.members / b.batches)} members, ` +
        `run ${f1(b.ms / b.batches)} ms`);
    }
  }
  const { samples, states, locks } = activity as {
    samples: number; states: [string, number][]; locks: [string, number][];
  };
  out.push(`PostgreSQL sessions not idle, mean over ${samples} samples (state | wait | query):`);
  for (const [k, n] of states.slice(0, 30)) out.push(`  ${n.toFixed(2).padStart(6)}  ${k}`);
  if (locks.length > 0) out.push('lock waits, mean over the samples:');
  for (const [k, n] of locks.slice(0, 20)) out.push(`  ${n.toFixed(3).padStart(7)}  ${k}`);
  process.stderr.write(`${out.join('\n')}\n`);
}
