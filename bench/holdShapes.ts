/**
 * The holds section's request shapes over HTTP, alone and in any order, with what each
 * costs: `npx tsx bench/holdShapes.ts [cases] [seconds] [connections] [fresh]`, `cases` a
 * comma list of single, idem (single seats with an Idempotency-Key), adjacent, best,
 * standing (default single,adjacent,best,standing); `shape:seconds` gives a case its own
 * cap (`single:30` grows the holds table first, as the holds section's first rows do on a
 * quiet box). Per case: holds/s and latency as the holds section measures them, the hold
 * batches (calls, mean requests per batch, mean time from Node's side), the server
 * thread's CPU and the database backends' CPU per request (from /proc), and the rows read
 * per request from a few tables (pg_stat_user_tables). `fresh` runs each case on a
 * database of its own. With EXPLAIN=1 the 30th batch of each case is explained before it
 * is sent (EXPLAIN ANALYZE with BUFFERS and WAL, rolled back, on a connection of its own,
 * with the function's statements by auto_explain).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createVenue } from '../src/catalog/venues.js';
import type { Db } from '../src/storage/index.js';
import { buildCustomers } from '../src/testing/factories.js';
import { threadCpuMs } from './cpuProfile.js';
import { arena, buildArenaEvent } from './holds.js';
import { benchPostgres, loadHttp, postJson, startBenchServer } from './lib.js';
import { statementTimer } from './statementTimes.js';

type Shape = 'single' | 'idem' | 'adjacent' | 'best' | 'standing';
/** `shape` or `shape:seconds` (a case's own cap, e.g. `single:30` to grow the holds table). */
const cases = (process.argv[2] ?? 'single,adjacent,best,standing').split(',')
  .map((c) => c.split(':') as [Shape, string?]);
const seconds = Number(process.argv[3] ?? 4);
const connections = Number(process.argv[4] ?? 32);
const fresh = process.argv[5] === 'fresh';
const explain = process.env.EXPLAIN === '1';

let measuring = false;
let batchesSeen = 0;
const explainAt = 30;
let database = '';
const { stats, timed } = statementTimer(/hold_batch/, () => measuring);

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

let singles: string[] | undefined;

/** The bodies of a case, as bench/holds.ts builds them. */
function bodies(shape: Shape): object[] {
  const ids: string[] = [];
  const blocks: string[][] = [];
  for (let s = 1; s <= 10; s++) for (let r = 1; r <= 25; r++) {
    for (let n = 1; n <= 50; n++) ids.push(`S${s}-${r}-${n}`);
    for (let n = 1; n + 3 <= 48; n += 4) {
      blocks.push([0, 1, 2, 3].map((k) => `S${s + 10}-${r}-${n + k}`));
    }
  }
  // One shuffle of zone z1 per run: the two single-seat cases take its two halves.
  singles ??= shuffle(ids);
  switch (shape) {
    case 'single': return singles.slice(0, 6_250).map((id) => ({ seats: [id] }));
    case 'idem': return singles.slice(6_250).map((id) => ({ seats: [id] }));
    case 'adjacent': return shuffle(blocks).map((seats) => ({ seats }));
    case 'best': return Array.from({ length: 6_000 }, () => ({ zone: 'z3', quantity: 2 }));
    case 'standing': return Array.from({ length: 20_000 }, () => ({ zone: 'floor', quantity: 2 }));
  }
}

/** CPU (ms) of every PostgreSQL backend connected to `database`, from /proc. */
function backendCpuMs(database: string): number {
  let ms = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.startsWith('postgres: ') || !cmd.includes(` ${database} `)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(f[11]) + Number(f[12])) * 10;
    } catch { /* a process that ended */ }
  }
  return ms;
}

interface Scans { seq: number; seqRows: number; idxRows: number }

/**
 * Sequential scans and rows read by them and by indexes, per table, as pg_stat_user_tables
 * has them (backends report at most once a second: a case's figures are approximate).
 */
async function tableScans(db: Db): Promise<Map<string, Scans>> {
  const { rows } = await db.query<{ t: string; seq: string; seq_rows: string; idx_rows: string }>(
    `SELECT relname AS t, seq_scan AS seq, seq_tup_read AS seq_rows,
            coalesce(idx_tup_fetch, 0) AS idx_rows
       FROM pg_stat_user_tables
      WHERE relname IN ('holds', 'hold_items', 'idempotency_keys', 'outbox_events', 'customers')
      ORDER BY 1`);
  return new Map(rows.map((r) => [r.t, { seq: Number(r.seq), seqRows: Number(r.seq_rows),
    idxRows: Number(r.idx_rows) }]));
}

interface Setup { raw: Db; db: Db; database: string; url: string; path: string;
  tokens: string[]; close(): Promise<void> }

async function setup(): Promise<Setup> {
  const raw = await benchPostgres(20);
  const base = timed(raw);
  const db = new Proxy(base, { get(target, prop, receiver) {
    if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
    return async (sql: string, params?: unknown[]) => {
      if (measuring && sql.includes('hold_batch(') && ++batchesSeen === explainAt && explain) {
        // Explained before it is sent (rolled back), so its tickets are still free; twice,
        // the first warms the connection's plans.
        await explainBatch(database, params as unknown[]);
      }
      return await target.query(sql, params as unknown[]);
    };
  } }) as Db;
  const server = await startBenchServer(db, { connections: 8 });
  const venue = await createVenue(db, arena());
  const event = await buildArenaEvent(db, venue.venueId);
  const fans = await buildCustomers(server.ctx, 20_000);
  await db.query('VACUUM ANALYZE');
  const { rows: [row] } = await db.query<{ d: string }>('SELECT current_database() AS d');
  return { raw, db, database: (row as { d: string }).d, url: server.url,
    path: `/api/v1/events/${event.eventId}/holds`, tokens: fans.map((f) => f.token),
    async close() { await server.close(); await raw.close(); } };
}

async function explainBatch(db: string, params: unknown[]): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port: 5432,
    user: process.env.PGUSER ?? 'postgres', database: db });
  await client.connect();
  let notices: string[] = [];
  client.on('notice', (msg) => notices.push(msg.message ?? ''));
  try {
    let plan = '';
    for (let round = 0; round < 2; round++) {
      notices = [];
      await client.query('BEGIN');
      await client.query("LOAD 'auto_explain'");
      await client.query(`SET LOCAL auto_explain.log_min_duration = 0;
        SET LOCAL auto_explain.log_analyze = on; SET LOCAL auto_explain.log_buffers = on;
        SET LOCAL auto_explain.log_wal = on; SET LOCAL auto_explain.log_triggers = on;
        SET LOCAL auto_explain.log_nested_statements = on;
        SET LOCAL auto_explain.log_level = 'notice'; SET LOCAL client_min_messages = 'notice'`);
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        'EXPLAIN (ANALYZE, BUFFERS, WAL) SELECT n, outcome, detail FROM hold_batch($1::uuid, ' +
        '$2::jsonb, $3::jsonb, $4::text[])', params);
      await client.query('ROLLBACK');
      plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    }
    console.log(`--- explained batch of ${(JSON.parse(String(params[2])) as unknown[]).length} ` +
      'requests (second run on the connection, rolled back)');
    console.log(notices.filter((n) => !n.includes('EXPLAIN (ANALYZE')).join('\n'));
    console.log(plan);
  } finally {
    await client.end();
  }
}

let shared: Setup | undefined;
let fan = 0;
for (const [shape, own] of cases) {
  const s = fresh || shared === undefined ? await setup() : shared;
  if (!fresh) shared = s;
  const specs = bodies(shape).map((b) => postJson(s.path, b, {
    authorization: `Bearer ${s.tokens[fan++ % s.tokens.length] as string}`,
    ...(shape === 'idem' ? { 'idempotency-key': `shapes-${fan}` } : {}) }));
  stats.clear();
  batchesSeen = 0;
  database = s.database;
  const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const scans0 = await tableScans(s.raw);
  const pg0 = backendCpuMs(s.database);
  const node0 = threadCpuMs();
  measuring = true;
  const t0 = performance.now();
  const row = await loadHttp(shape, s.url, specs,
    { concurrency: connections, maxMs: Number(own ?? seconds) * 1000, warmup: 20, ok: [201] });
  const wall = performance.now() - t0;
  measuring = false;
  const nodeMs = threadCpuMs() - node0;
  const pgMs = backendCpuMs(s.database) - pg0;
  const batch = stats.get('hold_batch') ?? { n: 0, ms: 0, max: 0 };
  const done = row.ops + 20;
  console.log(`${shape}: ${row.opsPerSec.toFixed(0)}/s p50 ${row.p50Ms.toFixed(1)} ms p99 ${
    row.p99Ms.toFixed(1)} ms ops ${row.ops} errors ${row.errors} ${JSON.stringify(row.statuses)}` +
    ` | batches ${batch.n}, ${(done / batch.n).toFixed(1)} req/batch, ${
      (batch.ms / batch.n).toFixed(2)} ms mean, max ${batch.max.toFixed(1)} ms` +
    ` | server thread ${(nodeMs / done * 1000).toFixed(0)} µs/req, pg backends ${
      (pgMs / done * 1000).toFixed(0)} µs/req | wall ${wall.toFixed(0)} ms | load ${load0}`);
  const scans1 = await tableScans(s.raw);
  console.log(`  table reads per request (${shape}): ${[...scans1].map(([t, v]) => {
    const b = scans0.get(t) ?? { seq: 0, seqRows: 0, idxRows: 0 };
    return `${t} seq scans ${((v.seq - b.seq) / done).toFixed(2)} rows by seq scan ${
      ((v.seqRows - b.seqRows) / done).toFixed(0)} by index ${
      ((v.idxRows - b.idxRows) / done).toFixed(1)}`;
  }).join('; ')}`);
  if (fresh) await s.close();
}
if (shared !== undefined) await shared.close();
