/**
 * What a joined fan costs PostgreSQL inside `queue_join_batch`, in load-independent figures:
 * buffers touched and WAL written per fan, per statement of the function, from
 * pg_stat_statements (`track = all`, so the function's inner statements are listed), on a
 * line already `prefill` entries long whose fans are real customers (the token-version
 * lookup finds its row, as in a sale). Batches of `size` new customers are sent back to back
 * from one connection, as a node's batcher sends them.
 *
 * With `--ab <file.sql>`, the functions from that file (restated with CREATE OR REPLACE) and
 * the ones installed (`queue_join_batch`, `queue_counts_add`) are alternated, `rounds` times
 * each (A B A B …), each round on a fresh connection (plans are kept per connection), and
 * the statistics reset between rounds; the installed definitions are put back at the end.
 * `--known N` puts a fan already in line in one batch of N (a re-join whose members-cache
 * field was lost: the only way a known fan reaches a batch); by default every fan is new.
 * `--explain` prints the plans of one batch of each side (auto_explain, ANALYZE, BUFFERS,
 * WAL, nested statements). CPU is the backend's from /proc/<pid>/schedstat (nanoseconds).
 *
 * Needs a PostgreSQL with pg_stat_statements preloaded (TEST_DATABASE_URL):
 * `npx tsx bench/joinBuffers.ts [rounds] [prefill] [size] [--ab file.sql] [--known N]
 *   [--explain]`; `JOIN_BATCHES` sets the batches per round (200).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import pg from 'pg';

import { loadEvent } from '../src/catalog/events.js';
import { joinLine } from '../src/queue/line.js';
import { buildTestContext } from '../src/testing/context.js';
import { buildEvent } from '../src/testing/factories.js';
import { benchPostgres } from './lib.js';

const args = process.argv.slice(2);
const positional: string[] = [];
let abFile: string | undefined;
/** One batch in this many carries a fan already in line (its cache field lost); 0: none. */
let knownEvery = 0;
for (let i = 0; i < args.length; i += 1) {
  const arg = args[i] ?? '';
  if (arg === '--ab') abFile = args[(i += 1)];
  else if (arg === '--known') knownEvery = Number(args[(i += 1)]);
  else if (!arg.startsWith('--')) positional.push(arg);
}
const rounds = Number(positional[0] ?? 3);
const prefill = Number(positional[1] ?? 500_000);
const size = Number(positional[2] ?? 43);
const explain = args.includes('--explain');
const batchesPerRound = Number(process.env.JOIN_BATCHES ?? 200);

/** CPU of one process, ms, from the scheduler's nanosecond account (not 10 ms ticks). */
function pidCpuMs(pid: number): number {
  const [onCpuNs = '0'] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
  return Number(onCpuNs) / 1e6;
}

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(' ');

const db = await benchPostgres(2);
const details = await buildEvent(buildTestContext(db), {
  queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
});
const event = await loadEvent(db, details.eventId);
const { rows: [dbRow] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const database = (dbRow as { d: string }).d;
const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const connect = async (): Promise<pg.Client> => {
  const client = new pg.Client({ host: url.hostname, port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || 'postgres'), database });
  await client.connect();
  return client;
};
const admin = await connect();
await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
// The functions a side may replace, as installed (put back for the installed side's rounds).
const installed = (await admin.query<{ def: string }>(
  `SELECT string_agg(pg_get_functiondef(f::regprocedure), E';\n') AS def
     FROM unnest(ARRAY['queue_join_batch(uuid,uuid[],int[],timestamptz,timestamptz,text[])',
                       'queue_counts_add(queue_counts[])']) AS f`)).rows[0]?.def ?? '';

// The first join reserves the (empty) pre-queue's numbers: the line is numbered from then.
await joinLine(db, event, [randomUUID()], undefined);
const t0 = performance.now();
// The line and its customers, written in bulk (the counts triggers run once per statement).
await admin.query(
  `INSERT INTO customers (customer_id, email, name, password_hash)
   SELECT gen_random_uuid(), 'f' || g || '@line.test', 'fan', 'x'
     FROM generate_series(1, $1::int) g`,
  [prefill + 2 * rounds * (batchesPerRound + 12) * size + 1000]);
await admin.query(
  `WITH fans AS (
     SELECT customer_id, row_number() OVER () AS k FROM customers
      WHERE email LIKE '%@line.test' LIMIT $2)
   INSERT INTO queue_entries (event_id, customer_id, number, pre_queue, joined_at)
   SELECT $1, customer_id, 1 + k, false, now() FROM fans`, [event.eventId, prefill]);
await admin.query(
  `UPDATE queue_numbering SET last_number = (SELECT max(number) FROM queue_entries
     WHERE event_id = $1) WHERE event_id = $1`, [event.eventId]);
const fresh = (await admin.query<{ customer_id: string }>(
  `SELECT c.customer_id FROM customers c WHERE c.email LIKE '%@line.test'
      AND NOT EXISTS (SELECT 1 FROM queue_entries e WHERE e.event_id = $1
                         AND e.customer_id = c.customer_id)`, [event.eventId])).rows
  .map((r) => r.customer_id);
await admin.query('ANALYZE customers; ANALYZE queue_entries; CHECKPOINT');
console.log(`line of ${prefill} entries and customers written in ` +
  `${((performance.now() - t0) / 1000).toFixed(1)} s; batches of ${size}, ` +
  `${batchesPerRound} per round; load ${load()}`);

let nextFan = 0;
const call = `SELECT customer, outcome, entry_number, has_left, current_version
  FROM queue_join_batch($1::uuid, $2::uuid[], $3::int[], $4::timestamptz, NULL, '{}')`;
async function batch(client: pg.Client): Promise<void> {
  const ids = fresh.slice(nextFan, nextFan + size);
  nextFan += size;
  if (ids.length < size) throw new Error('the bench ran out of new customers');
  // A fan already in line (a re-join whose cache field was lost) rides in some batches.
  if (knownEvery > 0 && nextFan % (knownEvery * size) === 0) ids[0] = fresh[0] as string;
  await client.query(call, [event.eventId, ids, ids.map(() => 0), new Date(event.onSaleAtMs)]);
}

interface Row { query: string; calls: string; blks: string; wal: string; recs: string;
  fpi: string; ms: number; toplevel: boolean }
async function statements(): Promise<Row[]> {
  return (await admin.query<Row>(
    `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls,
            shared_blks_hit + shared_blks_read + local_blks_hit + local_blks_read AS blks,
            wal_bytes AS wal, wal_records AS recs, wal_fpi AS fpi, total_exec_time AS ms, toplevel
       FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY toplevel DESC, blks DESC`)).rows;
}

const sides: { name: string; def: string }[] = [{ name: 'installed', def: installed }];
if (abFile !== undefined) {
  sides.unshift({ name: abFile.replace(/.*\//, ''), def: readFileSync(abFile, 'utf8') });
}
const totals = new Map<string, { fans: number; cpuMs: number; wallMs: number; blks: number;
  wal: number; recs: number; fpi: number }>();

async function round(side: { name: string; def: string }, print: boolean): Promise<void> {
  await admin.query(side.def);
  const client = await connect();
  const { rows: [pidRow] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = (pidRow as { pid: number }).pid;
  // Plans are made on the first calls of a connection: warm them outside the window.
  for (let i = 0; i < 10; i += 1) await batch(client);
  await admin.query('CHECKPOINT');
  await admin.query('SELECT pg_stat_statements_reset()');
  const cpu0 = pidCpuMs(pid);
  const w0 = performance.now();
  for (let i = 0; i < batchesPerRound; i += 1) await batch(client);
  const wallMs = performance.now() - w0;
  const cpuMs = pidCpuMs(pid) - cpu0;
  const rows = await statements();
  const top = rows.find((r) => r.toplevel && r.query.includes('queue_join_batch'));
  const fans = batchesPerRound * size;
  const sum = totals.get(side.name) ?? { fans: 0, cpuMs: 0, wallMs: 0, blks: 0, wal: 0,
    recs: 0, fpi: 0 };
  totals.set(side.name, { fans: sum.fans + fans, cpuMs: sum.cpuMs + cpuMs,
    wallMs: sum.wallMs + wallMs, blks: sum.blks + Number(top?.blks ?? 0),
    wal: sum.wal + Number(top?.wal ?? 0), recs: sum.recs + Number(top?.recs ?? 0),
    fpi: sum.fpi + Number(top?.fpi ?? 0) });
  console.log(`${side.name}: ${fans} fans, ` +
    `backend CPU ${(cpuMs * 1000 / fans).toFixed(1)} µs/fan, ` +
    `buffers ${(Number(top?.blks ?? 0) / fans).toFixed(2)}/fan, WAL ` +
    `${(Number(top?.wal ?? 0) / fans).toFixed(0)} B/fan (${Number(top?.fpi ?? 0)} page images), ` +
    `call ${(wallMs / batchesPerRound).toFixed(2)} ms; load ${load()}`);
  if (print) {
    for (const r of rows.filter((x) => Number(x.calls) > 0)) {
      const per = (v: string | number): string => (Number(v) / fans).toFixed(2);
      console.log(`   calls/fan ${per(r.calls).padStart(6)} ` +
        `buffers/fan ${per(r.blks).padStart(6)} ` +
        `WAL B/fan ${per(r.wal).padStart(8)} µs/call ${(r.ms * 1000 / Number(r.calls)).toFixed(0)
          .padStart(5)}  ${r.query.slice(0, 110)}`);
    }
  }
  if (explain && print) {
    await client.query("LOAD 'auto_explain'");
    await client.query(`SET auto_explain.log_min_duration = 0;
      SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;
      SET auto_explain.log_wal = on; SET auto_explain.log_nested_statements = on;
      SET auto_explain.log_level = notice; SET client_min_messages = notice`);
    client.on('notice', (msg) => console.log(msg.message));
    console.log(`==== ${side.name}: one batch of ${size}`);
    await batch(client);
  }
  await client.end();
}

for (let r = 0; r < rounds; r += 1) {
  for (const side of sides) await round(side, r === 0);
}
console.log('---- totals');
for (const [name, t] of totals) {
  console.log(`${name}: backend CPU ${(t.cpuMs * 1000 / t.fans).toFixed(1)} µs/fan, buffers ` +
    `${(t.blks / t.fans).toFixed(2)}/fan, WAL ${(t.wal / t.fans).toFixed(0)} B/fan ` +
    `(${(t.recs / t.fans).toFixed(2)} records/fan, ${t.fpi} page images), call ` +
    `${(t.wallMs / (t.fans / size)).toFixed(2)} ms/batch`);
}
await admin.query(installed);
await admin.end();
await db.close();
