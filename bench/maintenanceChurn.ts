/**
 * What table maintenance costs on a PostgreSQL server with autovacuum off while the outbox
 * churns at a rehearsal's rate: rows written, stamped, published and pruned after their
 * retention by the relay's own statements (src/outbox/relay.ts, every 100 ms as the relay
 * polls), the notification sink's rows written and marked sent, and the maintenance duty
 * passing every 5 s with one policy.
 * `npx tsx bench/maintenanceChurn.ts --policy=old|new [--seconds=150] [--rate=110]
 * [--prune=old|product]`.
 *
 * `old`: analyze whatever passed the threshold on every pass, never vacuum (the duty before
 * the per-table interval); `new`: serverPass (src/storage/maintenance.ts). Needs
 * pg_stat_statements loaded (it resets it: run nothing else on that server meanwhile).
 * Printed: every ANALYZE / VACUUM (count, time, blocks), the relay statements' time and
 * blocks per call over the run and over its last 30 s, the outbox's size at the end, the
 * CPU of the run's PostgreSQL sessions (/proc) and the load average.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pino } from 'pino';
import {
  markPublished, prunePublished, pruneSql, stampOutbox, unpublishedRows,
} from '../src/outbox/relay.js';
import { newId } from '../src/core/ids.js';
import { limits } from '../src/config/limits.js';
import type { Db } from '../src/storage/index.js';
import { serverPass, startTableMaintenance, type PassOptions }
  from '../src/storage/maintenance.js';
import { benchPostgres } from './lib.js';

const argv = process.argv.slice(2);
const option = (name: string): string | undefined =>
  argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
const policyName = option('policy') ?? 'new';
const seconds = Number(option('seconds') ?? 150);
const rowsPerSecond = Number(option('rate') ?? 110);
const policy: PassOptions = policyName === 'old'
  ? { vacuum: 'none', minSeconds: 0 } : serverPass;
// The prune as it was before the policy's interval (`IN (subquery)`, planned from the
// statistics), for the old policy's runs: --prune=old|product (default: as the policy).
const oldPrune = (option('prune') ?? (policyName === 'old' ? 'old' : 'product')) === 'old';
const oldPruneSql = `DELETE FROM outbox_events WHERE outbox_id IN (
       SELECT outbox_id FROM outbox_events
        WHERE published_at IS NOT NULL
          AND published_at <= now() - make_interval(secs => $1)
        LIMIT $2)`;
const pollMs = 100;

interface Statement { query: string; calls: number; ms: number; blocks: number }

/** This database's statements from pg_stat_statements (blocks: hit + read). */
async function statements(db: Db): Promise<Map<string, Statement>> {
  const { rows } = await db.query<Statement>(
    `SELECT query, calls::int AS calls, total_exec_time::float8 AS ms,
            (shared_blks_hit + shared_blks_read)::float8 AS blocks
       FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`);
  return new Map(rows.map((row) => [row.query, row]));
}

function diff(a: Map<string, Statement>, b: Map<string, Statement>): Statement[] {
  return [...b.values()].map((s) => {
    const before = a.get(s.query);
    return { query: s.query, calls: s.calls - (before?.calls ?? 0),
      ms: s.ms - (before?.ms ?? 0), blocks: s.blocks - (before?.blocks ?? 0) };
  }).filter((s) => s.calls > 0);
}

/** CPU seconds (user + system) of a process, from /proc; 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const db = await benchPostgres(4);
await db.exec('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
const eventId = newId();
const payload = JSON.stringify({ changes: Array.from({ length: 4 }, (_, i) => (
  { seatId: `S12-${i + 1}-${17 + i}`, status: 'held', holdId: newId() })) });
const first = new Map<number, number>();
const last = new Map<number, number>();
const sampleCpu = async (): Promise<void> => {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database()');
  for (const { pid } of rows) {
    const cpu = cpuSeconds(pid);
    if (cpu === 0) continue;
    if (!first.has(pid)) first.set(pid, cpu);
    last.set(pid, cpu);
  }
};

await db.query('SELECT pg_stat_statements_reset()');
const load0 = loadavg();
await sampleCpu();
const stopMaintenance = startTableMaintenance(db, pino({ level: 'silent' }), 5_000, policy);
const startedMs = Date.now();
const endMs = startedMs + seconds * 1000;
/**
 * The notification sink's two writes per round: one row per published outbox row (the
 * rehearsal wrote about as many), then marked sent. A table that only grows during a sale,
 * each row updated once.
 */
async function notify(outboxIds: readonly number[]): Promise<void> {
  if (outboxIds.length === 0) return;
  const { rows } = await db.query<{ notification_id: string }>(
    `INSERT INTO notifications (outbox_id, customer_id, channel, event_id, kind, content)
     SELECT o, gen_random_uuid(), 'stream', $2, 'hold.offered', $3::jsonb
       FROM unnest($1::bigint[]) AS o
     RETURNING notification_id`,
    [outboxIds, eventId, JSON.stringify({ title: 'Seats are waiting', body: 'x'.repeat(80) })]);
  await db.query(
    'UPDATE notifications SET sent_at = now() WHERE notification_id = ANY($1::bigint[])',
    [rows.map((row) => row.notification_id)]);
}
let rounds = 0;
let written = 0;
let late: Map<string, Statement> | undefined;
let stopped = false;
const cpuTimer = setInterval(() => void sampleCpu(), 2_000);
const writer = (async () => {
  while (!stopped) {
    const due = Math.floor(((Date.now() - startedMs) / 1000) * rowsPerSecond) - written;
    if (due > 0) {
      await db.query(
        `INSERT INTO outbox_events (event_id, kind, payload)
         SELECT $1, 'seats', $2::jsonb FROM generate_series(1, $3::int)`,
        [eventId, payload, due]);
      written += due;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
})();
while (Date.now() < endMs) {
  const roundStartMs = Date.now();
  await stampOutbox(db, 1);
  const rows = await unpublishedRows(db);
  await markPublished(db, rows);
  await notify(rows.map((row) => row.outboxId));
  if (++rounds % limits.outboxPruneEveryRounds === 0) {
    if (oldPrune) {
      await db.query(oldPruneSql, [limits.outboxRetentionSeconds, limits.outboxPruneBatch]);
    } else {
      await prunePublished(db);
    }
  }
  if (late === undefined && Date.now() > endMs - 30_000) late = await statements(db);
  const restMs = Math.max(0, pollMs - (Date.now() - roundStartMs));
  await new Promise((resolve) => setTimeout(resolve, restMs));
}
stopped = true;
await writer;
clearInterval(cpuTimer);
await sampleCpu();
await stopMaintenance();
const load1 = loadavg();
const end = await statements(db);
const whole = diff(new Map(), end);
const tail = diff(late ?? new Map(), end);
interface Size { bytes: string; heap: string; live: number; dead: number }
const { rows: size } = await db.query<Size>(
  `SELECT pg_total_relation_size('outbox_events')::text AS bytes,
          pg_relation_size('outbox_events')::text AS heap,
          n_live_tup::int AS live, n_dead_tup::int AS dead
     FROM pg_stat_user_tables WHERE relname = 'outbox_events'`);
let cpu = 0;
for (const [pid, start] of first) cpu += (last.get(pid) ?? start) - start;

const short = (query: string): string => query.replace(/\s+/g, ' ').slice(0, 60);
console.log(`policy ${policyName}: ${seconds} s, ${written} outbox rows (${rowsPerSecond}/s), `
  + `${rounds} relay rounds; loadavg ${load0.map((l) => l.toFixed(2)).join(' ')} -> `
  + `${load1.map((l) => l.toFixed(2)).join(' ')}`);
const blocks = (bytes: string | undefined): string => (Number(bytes) / 8192).toFixed(0);
console.log(`sessions' CPU ${cpu.toFixed(2)} s = ${(cpu * 1000 / rounds).toFixed(2)} ms per relay `
  + `round; outbox at the end: ${blocks(size[0]?.bytes)} blocks with indexes `
  + `(heap ${blocks(size[0]?.heap)}), live ${size[0]?.live} dead ${size[0]?.dead}`);
const maintenance = whole.filter((s) => /^(ANALYZE|VACUUM)/.test(s.query));
let maintenanceMs = 0;
for (const s of maintenance.sort((a, b) => b.ms - a.ms)) {
  maintenanceMs += s.ms;
  console.log(`  ${short(s.query).padEnd(44)} ${String(s.calls).padStart(4)} x `
    + `${(s.ms / s.calls).toFixed(1).padStart(7)} ms `
    + `${(s.blocks / s.calls).toFixed(0).padStart(6)} blocks`);
}
const total = whole.reduce((sum, s) => sum + s.ms, 0);
console.log(`  maintenance ${maintenanceMs.toFixed(0)} ms of ${total.toFixed(0)} ms statement time `
  + `(${(100 * maintenanceMs / total).toFixed(1)} %)`);
const relay = (s: Statement): boolean =>
  /outbox_events|notifications/.test(s.query) && !/^(ANALYZE|VACUUM)/.test(s.query);
const perCall = (s: Statement): string =>
  `${(s.ms / s.calls).toFixed(3)} ms ${(s.blocks / s.calls).toFixed(0)} blocks/call`;
for (const s of whole.filter(relay).sort((a, b) => b.ms - a.ms)) {
  const t = tail.find((x) => x.query === s.query);
  console.log(`  ${short(s.query).padEnd(60)} run ${perCall(s)}; last 30 s `
    + `${t === undefined ? '-' : perCall(t)}`);
}
// Whether the relay's plans depend on fresh statistics: its reads planned on the
// statistics the run left, then right after an ANALYZE of both tables.
const plans = async (): Promise<string[]> => {
  const shapes: string[] = [];
  for (const sql of [
    `SELECT outbox_id, event_id FROM outbox_events WHERE version IS NULL
      ORDER BY outbox_id LIMIT ${limits.outboxRelayBatch}`,
    `SELECT outbox_id, event_id, kind, payload, created_at, version FROM outbox_events
      WHERE published_at IS NULL AND version IS NOT NULL
      ORDER BY event_id, version LIMIT ${limits.outboxRelayBatch}`,
    (oldPrune ? oldPruneSql : pruneSql)
      .replace('$1', String(limits.outboxRetentionSeconds))
      .replace('$2', String(limits.outboxPruneBatch)),
  ]) {
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
    shapes.push(rows.map((row) => row['QUERY PLAN'].trim().replace(/\s*\(cost=.*$/, ''))
      .join(' / '));
  }
  return shapes;
};
const stale = await plans();
await db.query('ANALYZE outbox_events');
const fresh = await plans();
stale.forEach((shape, i) => {
  const same = shape === fresh[i];
  console.log(`  plan ${i + 1}: ${same ? 'same' : 'CHANGED'} after ANALYZE: ${shape}`
    + (same ? '' : ` -> ${fresh[i]}`));
});
await db.close();
