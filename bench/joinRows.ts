/**
 * The waiting-room section's join rows alone (`npm run bench -- queue` runs them with the
 * rest): a bare Fastify POST, the app's join of new fans, the join floor (a bare route doing
 * only the group-committed numbering) and the re-join, same shapes, connections, durations
 * and warm-up as bench/queue.ts, repeated `rounds` times in that order. Writes no report
 * file: for A/B runs of two builds interleaved (run it from each worktree in turn).
 *
 * Beside each row: CPU per request of the server thread (from /proc for its own task), of
 * the load thread (the process's CPU less the server thread's) and of the PostgreSQL
 * backends of the bench database (from /proc for their pids), so a row's cost reads
 * against the bare POST's where the box's speed moves both.
 *
 * `npx tsx bench/joinRows.ts [rounds]`
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';

import Fastify from 'fastify';

import { loadEvent, type EventRecord } from '../src/catalog/events.js';
import type { AppContext } from '../src/context.js';
import { JoinBatcher } from '../src/queue/line.js';
import type { Db } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildEvent } from '../src/testing/factories.js';
import { threadCpuMs, processesCpuMs } from './cpuProfile.js';
import {
  benchPostgres, loadHttp, postJson, startBenchServer, type BenchRow,
} from './lib.js';

const rounds = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 1);

/** The PostgreSQL backends serving the bench database now. */
async function backendPids(db: Db): Promise<number[]> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()',
  );
  return rows.map((row) => row.pid);
}

interface Measured extends BenchRow { serverUs: number; loadUs: number; pgUs: number }

/** Runs a load and reads the three CPUs around it. */
async function measured(db: Db, run: () => Promise<BenchRow>): Promise<Measured> {
  const pids = await backendPids(db);
  const server0 = threadCpuMs();
  const process0 = process.cpuUsage();
  const pg0 = processesCpuMs(pids);
  const row = await run();
  const pg = processesCpuMs(pids) - pg0;
  const processMs = (() => {
    const used = process.cpuUsage(process0);
    return (used.user + used.system) / 1000;
  })();
  const server = threadCpuMs() - server0;
  const per = (ms: number): number => (ms * 1000) / Math.max(1, row.ops);
  return { ...row, serverUs: per(server), loadUs: per(processMs - server), pgUs: per(pg) };
}

async function queuedEvent(ctx: AppContext): Promise<EventRecord> {
  const details = await buildEvent(ctx, {
    queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
  });
  return await loadEvent(ctx.db, details.eventId);
}

async function bare(db: Db): Promise<Measured> {
  const app = Fastify({ logger: false });
  app.post('/join', async () => ({ state: 'waiting', number: 1, position: 1 }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const specs = Array.from({ length: 60_000 }, () => postJson('/join', {}));
    return await measured(db, () => loadHttp('bare POST', address, specs,
      { concurrency: 64, maxMs: 6_000, warmup: 200 }));
  } finally {
    await app.close();
  }
}

async function joins(db: Db): Promise<Measured[]> {
  const server = await startBenchServer(db, {
    env: {
      RATE_LIMIT_JOINS_PER_IP: '10000000', QUEUE_SSE_MAX_CONNECTIONS: '20000',
      RATE_LIMIT_QUEUE_POLLS_PER_CUSTOMER: '1000000',
    },
  });
  try {
    const event = await queuedEvent(server.ctx);
    const path = `/api/v1/events/${event.eventId}/queue`;
    const specs = Array.from({ length: 30_000 }, () => postJson(path, {}, {
      authorization: `Bearer ${server.ctx.tokens.issue(randomUUID())}`,
    }));
    const join = await measured(db, () => loadHttp('join', server.url, specs,
      { concurrency: 64, maxMs: 10_000, warmup: 100 }));
    const { rows } = await db.query<{ n: number; dense: boolean }>(
      `SELECT count(*)::int AS n, max(number) = count(*) AS dense FROM queue_entries
        WHERE event_id = $1`, [event.eventId],
    );
    const again = specs.slice(0, Math.min(20_000, join.ops));
    const rejoin = await measured(db, () => loadHttp('re-join', server.url, again,
      { concurrency: 64, maxMs: 6_000, warmup: 100, ok: [200] }));
    return [{ ...join, notes: `${rows[0]?.n} entries, dense: ${rows[0]?.dense}` }, rejoin];
  } finally {
    await server.close();
  }
}

async function floor(db: Db): Promise<Measured> {
  const ctx = buildTestContext(db);
  const event = await queuedEvent(ctx);
  const batcher = new JoinBatcher(db, ctx.clock);
  const app = Fastify({ logger: false });
  app.post('/join', async (_request, reply) => {
    const outcome = await batcher.join(event, randomUUID(), 0);
    return reply.status(outcome.created ? 201 : 200)
      .send({ state: 'waiting', number: outcome.number });
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const specs = Array.from({ length: 30_000 }, () => postJson('/join', {}));
    return await measured(db, () => loadHttp('join floor', address, specs,
      { concurrency: 64, maxMs: 10_000, warmup: 100 }));
  } finally {
    await app.close();
  }
}

const fmt = (n: number, digits = 0): string => n.toFixed(digits);
const load = (): string => loadavg().map((n) => n.toFixed(2)).join(' ');

for (let round = 1; round <= rounds; round += 1) {
  const startLoad = load();
  const db = await benchPostgres(20);
  const rows: Measured[] = [];
  try {
    rows.push(await bare(db));
    const [join, rejoin] = await joins(db);
    rows.push(join as Measured, await floor(db), rejoin as Measured);
  } finally {
    await db.close();
  }
  const base = rows[0]?.opsPerSec ?? Number.NaN;
  console.log(`round ${round} (${new Date().toISOString()}, load ${startLoad} → ${load()})`);
  for (const row of rows) {
    console.log(`  ${row.name.padEnd(10)} ${fmt(row.opsPerSec).padStart(6)}/s ` +
      `${fmt((row.opsPerSec / base) * 100, 1).padStart(5)} % of bare  p50 ${
        fmt(row.p50Ms, 2)} p99 ${fmt(row.p99Ms, 2)} ms  CPU µs/request: server ${
        fmt(row.serverUs)}, load ${fmt(row.loadUs)}, pg ${fmt(row.pgUs)}  errors ${
        row.errors}${row.notes === undefined ? '' : `  ${row.notes}`}`);
  }
}
process.exit(0);
