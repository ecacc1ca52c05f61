/**
 * The holds section's rows at 64 connections alone (ours and the naive FOR UPDATE design over
 * HTTP, single random seats and the hot block), with `/healthz` measured beside them in each
 * round, so changes to the hold path can be compared by their ratios in one run window on a
 * shared machine without running the whole section. Prints the rows; writes nothing.
 * `npx tsx bench/holdsAgainstNaive.ts [--rounds=2]`.
 */
import { loadavg } from 'node:os';
import { buildCustomers } from '../src/testing/factories.js';
import { againstNaiveCases } from './holds.js';
import { benchPostgres, fmt, loadHttp, startBenchServer } from './lib.js';

const rounds = Number(process.argv.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2);
const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');
const db = await benchPostgres(20);
const server = await startBenchServer(db, { connections: 64 });
try {
  const fans = await buildCustomers(server.ctx, 40_000);
  for (let round = 1; round <= rounds; round++) {
    {
      const health = await loadHttp('/healthz', server.url,
        Array.from({ length: 100_000 }, () => ({ method: 'GET' as const, path: '/healthz' })),
        { concurrency: 64, maxMs: 4_000, warmup: 200 });
      console.log(`round ${round}: /healthz ${fmt(health.opsPerSec)}/s (load ${load()})`);
      const rows = await againstNaiveCases(db, server.url, fans);
      for (const row of rows) {
        console.log(`  ${row.name}: ${fmt(row.opsPerSec)}/s = ${
          (row.opsPerSec / health.opsPerSec * 100).toFixed(1)} % of /healthz, p50 ${
          fmt(row.p50Ms)} ms, p99 ${fmt(row.p99Ms)} ms, ${row.errors} errors`);
      }
      const [ours, naive, oursHot, naiveHot] = rows.map((row) => row.opsPerSec);
      console.log(`  ours / naive: single ${fmt((ours ?? 0) / (naive ?? 1), 2)}×, hot block ${
        fmt((oursHot ?? 0) / (naiveHot ?? 1), 2)}× (load ${load()})`);
    }
  }
} finally {
  await server.close();
  await db.close();
}
