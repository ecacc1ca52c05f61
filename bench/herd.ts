/**
 * The end-of-sale herd: `fans` customers stand in a closed line (the block of waitlist places
 * reserved, as the closing tick leaves it), and all of them take the waitlist at once over
 * HTTP (`POST …/queue/me/waitlist`) from a closed-loop client of `connections` keep-alive
 * connections in a thread of its own, on PostgreSQL and Redis, as a server node runs.
 * Reports the moves' throughput and latency, the batches formed, every PostgreSQL statement
 * timed at the client (BEGIN and COMMIT included), and checks the result: every fan on the
 * waitlist once, in line order.
 *
 * `npx tsx bench/herd.ts [fans] [connections] [ahead] [--cpu]` (default 20,000 fans, 128
 * connections, nobody ahead; `ahead` puts that many fans on the waitlist before the herd,
 * as the last moves of a large herd find it); `--cpu` writes a CPU profile of the server
 * thread over the herd to /tmp and prints its heaviest functions; HERD_EXPLAIN=1 prints the
 * plans of statements over 150 ms, those inside functions included. As a section: `npm run
 * bench -- herd`.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

import { loadEvent } from '../src/catalog/events.js';
import { limits } from '../src/config/limits.js';
import { createRedisCoordinator } from '../src/coord/index.js';
import { joinLine } from '../src/queue/line.js';
import { analyzeAfterLoad, startTableMaintenance } from '../src/storage/maintenance.js';
import { reserveWaitlistBase } from '../src/queue/waitblock.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildCustomers, buildEvent } from '../src/testing/factories.js';
import { testRedisUrl } from '../src/testing/services.js';
import {
  benchPostgres, fmt, loadHttp, postJson, startBenchServer, type BenchRow, type BenchSection,
} from './lib.js';
import { costMark, followBackends, herdCost } from './herdCost.js';
import { timedCall, type Stat } from './pgTrace.js';

/** HERD_EXPLAIN=1: plans of the statements over 150 ms, nested ones included (auto_explain). */
const explainSlow = process.env.HERD_EXPLAIN === '1';
const explaining = new WeakSet<pg.Client>();
/** The bench's own reading of the backends (herdCost.ts), left out of what the app sent. */
const ownReading = 'SELECT pid FROM pg_stat_activity';

/** What the app sent while timed: statements by key, batch sizes, transactions committed. */
interface Timed { stats: Map<string, Stat>; batches: number[]; transactions: number }

/**
 * Times every statement the app sends while `on()` says so, keyed by its first words, and
 * counts transactions: each COMMIT, and each statement outside BEGIN … COMMIT (autocommit).
 */
function timeStatements(on: () => boolean): Timed {
  const stats = new Map<string, Stat>();
  const timed: Timed = { stats, batches: [], transactions: 0 };
  const batches = timed.batches;
  const inTransaction = new WeakSet<pg.Client>();
  type ClientQuery = (this: pg.Client, ...rest: unknown[]) => unknown;
  const proto = pg.Client.prototype as unknown as { query: ClientQuery };
  const original = proto.query;
  proto.query = function timedQuery(this: pg.Client, ...rest: unknown[]): unknown {
    const [first, params] = rest;
    const sql = typeof first === 'string' ? first : (first as { text?: string } | null)?.text;
    if (!on() || sql === undefined || sql.startsWith(ownReading)) {
      return original.apply(this, rest);
    }
    if (explainSlow && !explaining.has(this)) {
      explaining.add(this);
      this.on('notice', (notice) => process.stdout.write(`${notice.message}\n`));
      void original.call(this, "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 150; " +
        'SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on; ' +
        "SET auto_explain.log_level = 'notice'");
    }
    const key = sql.replace(/\s+/g, ' ').trim().slice(0, 90);
    const verb = key.slice(0, 8).toUpperCase();
    if (verb.startsWith('BEGIN')) inTransaction.add(this);
    else if (verb.startsWith('COMMIT') || verb.startsWith('ROLLBACK')) {
      inTransaction.delete(this);
      if (verb.startsWith('COMMIT')) timed.transactions += 1;
    } else if (!inTransaction.has(this)) timed.transactions += 1;
    if (/waitlist_move_batch|FROM queue_entries WHERE event_id = \$1 AND customer_id = ANY/
      .test(key) && Array.isArray(params) && Array.isArray(params[1])) {
      batches.push(params[1].length);
    }
    return timedCall(original, this, rest, stats, key);
  };
  return timed;
}

/**
 * The ceiling of the same run: a bare Fastify POST (no plugins, no auth, no database) with
 * the same client, connections and body, for a few seconds just before the herd.
 */
async function barePost(connections: number): Promise<BenchRow> {
  const app = Fastify({ logger: false });
  app.post('/echo', async (request, reply) => reply.status(201).send(request.body));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    const specs = Array.from({ length: 200_000 }, () => postJson('/echo', { quantity: 2 }));
    const row = await loadHttp('bare Fastify POST, same client and connections', address,
      specs, { concurrency: connections, maxMs: 5_000, warmup: 200 });
    return { ...row, notes: 'no plugins, no auth, no database: the ceiling of this run' };
  } finally {
    await app.close();
  }
}

/** Runs the herd once; prints the detail when `verbose`; with `ceiling`, the bare POST too. */
export async function herd(
  fans: number, connections: number, ahead = 0,
  options: { verbose?: boolean; cpu?: boolean; ceiling?: boolean } = {},
): Promise<BenchRow[]> {
  let measuring = false;
  const timed = timeStatements(() => measuring);
  const prefix = `bench:herd:${randomUUID().slice(0, 8)}:`;
  const coord = createRedisCoordinator({ url: testRedisUrl, prefix, name: 'herd' });
  const db = await benchPostgres(40);
  const server = await startBenchServer(db, {
    connections, coord, env: { REDIS_URL: testRedisUrl },
  });
  let stopMaintenance: (() => Promise<void>) | undefined;
  try {
    const ctx = buildTestContext(db);
    const details = await buildEvent(ctx, {
      queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
    });
    const eventId = details.eventId;
    const customers = await buildCustomers(server.ctx, fans);
    // The line: everyone joined (numbers 1..fans in this order), through the join batch.
    const event = await loadEvent(db, eventId);
    for (let i = 0; i < customers.length; i += limits.queueJoinBatch) {
      await joinLine(db, event, customers.slice(i, i + limits.queueJoinBatch)
        .map((c) => c.customerId), undefined);
    }
    // What the closing tick leaves: the block of waitlist places reserved.
    await db.tx((tx) => reserveWaitlistBase(tx, eventId));
    // A long waitlist ahead of the herd (as late in a large herd): fans placed before the block.
    if (ahead > 0) {
      const early = await buildCustomers(server.ctx, ahead);
      await db.query(
        `INSERT INTO waitlist_entries (event_id, customer_id, quantity, status, seq)
         SELECT $1, c, 1, 'waiting', i FROM unnest($2::uuid[]) WITH ORDINALITY AS x(c, i)`,
        [eventId, early.map((c) => c.customerId)],
      );
    }
    // Tables kept analyzed as a server's worker does when PostgreSQL's autovacuum is off
    // (as on the rehearsal's box); with autovacuum on, PostgreSQL does it.
    await analyzeAfterLoad(db, ['queue_entries', 'customers']);
    stopMaintenance = startTableMaintenance(db, server.ctx.logger);
    // A scrambled click order, as a herd clicks.
    const order = customers.map((c, i) => ({ c, k: (i * 7_919) % fans }))
      .sort((a, b) => a.k - b.k).map(({ c }) => c);
    const path = `/api/v1/events/${eventId}/queue/me/waitlist`;
    const specs = order.map((c) => postJson(path, { quantity: 2 }, {
      authorization: `Bearer ${c.token}`,
    }));
    const ceiling = options.ceiling === true ? [await barePost(connections)] : [];
    let session: Session | undefined;
    if (options.cpu === true) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    measuring = true;
    const followed = followBackends(db, () => measuring);
    const start = await costMark(db, new Map(followed.latest));
    const t0 = performance.now();
    const row = await loadHttp(`herd: ${fans} fans told sold out take the waitlist at once` +
      (ahead > 0 ? `, ${ahead} waiting ahead` : ''),
      server.url, specs, { concurrency: connections, maxMs: 100_000 });
    const wallMs = performance.now() - t0;
    const end = await costMark(db, followed.latest);
    measuring = false;
    await followed.done;
    const moved = row.statuses['201'] ?? 0;
    const cost = herdCost(start, end, moved);
    if (session !== undefined) await printProfile(session);
    const { rows: [check] } = await db.query<{ n: number; ordered: boolean; distinct: number }>(
      `SELECT count(*)::int AS n, count(DISTINCT w.customer_id)::int AS distinct,
              bool_and(prev IS NULL OR prev < q.number) AS ordered
         FROM (SELECT customer_id, seq,
                      lag(q2.number) OVER (ORDER BY w2.seq) AS prev
                 FROM waitlist_entries w2 JOIN queue_entries q2 USING (event_id, customer_id)
                WHERE w2.event_id = $1) w
         JOIN queue_entries q ON q.event_id = $1 AND q.customer_id = w.customer_id`,
      [eventId],
    );
    const batches = timed.batches;
    const notes = `${fmt(wallMs / 1000, 1)} s wall, ${batches.length} batches ` +
      `(mean ${fmt(batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length), 1)}), ` +
      `${check?.n} on the waitlist, ${check?.distinct} distinct, line order kept: ` +
      `${check?.ordered}; ${connections} connections; statuses ${JSON.stringify(row.statuses)}; ` +
      `per move: ${fmt(cost.serverThreadMsPerMove, 2)} ms server thread CPU, ` +
      `${fmt(cost.processMsPerMove, 2)} ms process CPU (load client included), ` +
      `${fmt(cost.backendMsPerMove, 2)} ms PostgreSQL backend CPU, ` +
      `${fmt(timed.transactions / Math.max(1, moved), 3)} transactions ` +
      `(${timed.transactions} for ${moved} moves)`;
    if (options.verbose === true) {
      for (const c of ceiling) {
        process.stdout.write(`${c.name}: ${fmt(c.opsPerSec)}/s, p50 ${fmt(c.p50Ms, 1)} ms, ` +
          `p99 ${fmt(c.p99Ms, 1)} ms\n`);
      }
      process.stdout.write(`${row.name}: ${fmt(row.opsPerSec)} moves/s, p50 ` +
        `${fmt(row.p50Ms, 1)} ms, p99 ${fmt(row.p99Ms, 1)} ms\n  ${notes}\n` +
        'statements (count, mean ms, max ms, total s):\n');
      const sorted = [...timed.stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
      for (const [key, s] of sorted.slice(0, 20)) {
        process.stdout.write(`  ${String(s.n).padStart(6)} ${fmt(s.ms / s.n, 2).padStart(8)} ` +
          `${fmt(s.max, 1).padStart(8)} ${fmt(s.ms / 1000, 2).padStart(7)}  ${key}\n`);
      }
    }
    return [...ceiling, { ...row, notes }];
  } finally {
    await stopMaintenance?.();
    await server.close();
    await coord.close?.();
    const redis = new Redis(testRedisUrl);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await db.close();
  }
}

async function printProfile(session: Session): Promise<void> {
  const { profile } = await session.post('Profiler.stop');
  const file = `/tmp/herd-${Date.now()}.cpuprofile`;
  await writeFile(file, JSON.stringify(profile));
  const self = new Map<string, number>();
  const nodes = profile.nodes;
  const dt = profile.timeDeltas ?? [];
  const byId = new Map(nodes.map((n) => [n.id, n]));
  (profile.samples ?? []).forEach((id, i) => {
    const n = byId.get(id);
    if (n === undefined) return;
    const f = n.callFrame;
    const where = f.url.split('/').slice(-2).join('/');
    const key = `${f.functionName || '(anon)'} ${where}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  process.stdout.write(`cpu profile ${file}: ${fmt(total, 0)} ms sampled; heaviest self time:\n`);
  for (const [key, ms] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    process.stdout.write(`  ${fmt(ms, 0).padStart(7)} ms  ${key}\n`);
  }
}

/** The section for `npm run bench -- herd`. */
export async function run(): Promise<BenchSection> {
  return {
    title: 'End of the sale: the herd told "sold out" takes the waitlist',
    description: 'Fans in a closed line (block of waitlist places reserved) all move to the ' +
      'waitlist at once over HTTP, PostgreSQL + Redis, closed loop. `bench/herd.ts`.',
    rows: [...await herd(20_000, 128, 0, { ceiling: true }), ...await herd(10_000, 128, 150_000)],
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  await herd(Number(args[0] ?? 20_000), Number(args[1] ?? 128), Number(args[2] ?? 0),
    { verbose: true, cpu: process.argv.includes('--cpu'), ceiling: true });
  process.exit(0);
}
