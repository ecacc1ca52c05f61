/**
 * What one join costs PostgreSQL inside `queue_join_batch`: batches of new fans of a line
 * already `prefill` entries long, sent one after another from one connection, at each batch
 * size in turn (alternated over `rounds`), with the backend's CPU from /proc per join, the
 * call's time at the client, and the WAL written per join (pg_current_wal_lsn before and
 * after). With `--explain` it then prints the plans of the function's statements for one
 * batch of each size (auto_explain loaded in this session only, nested statements, ANALYZE,
 * BUFFERS, WAL), sent to the client as notices. Every fan is passed with a token version to
 * compare, as the app's joins of new fans are.
 *
 * `npx tsx bench/joinStatement.ts [rounds] [prefill] [--explain]`
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

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const rounds = Number(args[0] ?? 3);
const prefill = Number(args[1] ?? 20_000);
const explain = process.argv.includes('--explain');
const sizes = [1, 8, 16, 64];
const joinsPerSize = 2_048;

/** CPU of one process, ms (utime + stime, 10 ms ticks). */
function pidCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const db = await benchPostgres(2);
const details = await buildEvent(buildTestContext(db), {
  queue: { enabled: true, admitPerMinute: 1_000, maxActiveShoppers: 1_000 },
});
const event = await loadEvent(db, details.eventId);
const { rows: [dbRow] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const client = new pg.Client({ host: '127.0.0.1', port: 5432,
  user: process.env.PGUSER ?? 'postgres', database: (dbRow as { d: string }).d });
await client.connect();
const { rows: [pidRow] } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
const pid = (pidRow as { pid: number }).pid;

const call = `SELECT customer, outcome, entry_number, has_left, current_version
  FROM queue_join_batch($1::uuid, $2::uuid[], $3::int[], $4::timestamptz, NULL, '{}')`;
async function batch(size: number): Promise<void> {
  const ids = Array.from({ length: size }, () => randomUUID());
  await client.query(call, [event.eventId, ids, ids.map(() => 1), new Date(event.onSaleAtMs)]);
}

// The first join reserves the (empty) pre-queue's numbers: the line is numbered from then.
await joinLine(db, event, [randomUUID()], undefined);
for (let done = 0; done < prefill; done += 500) await batch(Math.min(500, prefill - done));
for (const size of sizes) for (let i = 0; i < 20; i += 1) await batch(size);

async function walLsn(): Promise<string> {
  const { rows } = await client.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l');
  return (rows[0] as { l: string }).l;
}
async function walBytes(from: string, to: string): Promise<number> {
  const { rows } = await client.query<{ b: string }>(
    'SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn) AS b', [from, to]);
  return Number((rows[0] as { b: string }).b);
}

const totals = new Map<number, { joins: number; cpuMs: number; wallMs: number; wal: number }>();
console.log(`line of ${prefill} entries, ${joinsPerSize} joins per size and round, ` +
  `load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (let round = 0; round < rounds; round += 1) {
  for (const size of round % 2 === 0 ? sizes : [...sizes].reverse()) {
    const lsn = await walLsn();
    const cpu0 = pidCpuMs(pid);
    const t0 = performance.now();
    for (let joined = 0; joined < joinsPerSize; joined += size) await batch(size);
    const wallMs = performance.now() - t0;
    const cpuMs = pidCpuMs(pid) - cpu0;
    // Other sessions' WAL lands in the same range; on a shared server this is an upper bound.
    const wal = await walBytes(lsn, await walLsn());
    const sum = totals.get(size) ?? { joins: 0, cpuMs: 0, wallMs: 0, wal: 0 };
    totals.set(size, { joins: sum.joins + joinsPerSize, cpuMs: sum.cpuMs + cpuMs,
      wallMs: sum.wallMs + wallMs, wal: sum.wal + wal });
  }
}
for (const size of sizes) {
  const t = totals.get(size);
  if (t === undefined) continue;
  const perJoin = (ms: number): string => `${((ms * 1000) / t.joins).toFixed(0)} µs`;
  console.log(`batch ${String(size).padStart(2)}: backend CPU ${perJoin(t.cpuMs)}/join, ` +
    `call ${((t.wallMs * size) / t.joins).toFixed(2)} ms/batch at the client ` +
    `(${perJoin(t.wallMs)}/join), WAL ≤ ${(t.wal / t.joins).toFixed(0)} B/join`);
}
console.log(`load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

if (explain) {
  await client.query("LOAD 'auto_explain'");
  await client.query(`SET auto_explain.log_min_duration = 0;
    SET auto_explain.log_analyze = on; SET auto_explain.log_buffers = on;
    SET auto_explain.log_wal = on; SET auto_explain.log_nested_statements = on;
    SET auto_explain.log_level = notice; SET client_min_messages = notice`);
  client.on('notice', (msg) => console.log(msg.message));
  for (const size of [16, 64]) {
    console.log(`==== batch of ${size}`);
    await batch(size);
  }
}
await client.end();
await db.close();
