/**
 * Where a best-available hold request's time goes under load: `{zone, quantity: 2}` over HTTP
 * on PostgreSQL against a 12,500-seat zone (as the holds section's "best available ×2"),
 * timing every statement from Node's side (pool wait included), sampling the event loop's
 * delay and PostgreSQL's sessions, stamping each request at the route's stages, and counting
 * the seats hold batches refused to a stale pick (each one a re-plan). Run with
 * `npx tsx bench/bestAvailableProfile.ts [connections] [seconds] [quantity] [best|seats]
 * [fill]`; add `--cpu-prof` to node (NODE_OPTIONS) for a CPU profile of the server thread.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createVenue } from '../src/catalog/venues.js';
import type { Db } from '../src/storage/index.js';
import { buildCustomers } from '../src/testing/factories.js';
import { threadCpuMs } from './cpuProfile.js';
import { watchRequestStages } from './requestStages.js';
import { printProfile, sampleSessions, statementTimer } from './statementTimes.js';
import { arena, buildArenaEvent } from './holds.js';
import { benchPostgres, loadHttp, postJson, startBenchServer } from './lib.js';

const connections = Number(process.argv[2] ?? 32);
const seconds = Number(process.argv[3] ?? 4);
const quantity = Number(process.argv[4] ?? 2);
/**
 * `best` (default): `{zone: 'z3', quantity}`; `seats`: `quantity` adjacent seats of z3 named
 * by id (disjoint blocks in seat order), the same claim without the picker, to tell the
 * picker's cost from the cost of claiming several tickets.
 */
const mode = process.argv[5] === 'seats' ? 'seats' : 'best';
/**
 * Requests sent at the same concurrency before measuring (default none): 3000 × 2 sells
 * about half the zone first, by the same picker, to measure a sale half-way through.
 */
const fill = Number(process.argv[6] ?? 0);

let measuring = false;
const { stats, timed } = statementTimer(
  /hold_batch|array_agg\(seat_number|admission|idempotency/i, () => measuring);

const raw = await benchPostgres(20);
const db = timed(raw) as Db;
let refusedSeats = 0;
let refusals = 0;
const server = await startBenchServer(db, { connections, seams: { zoneViews: {
  refused: (_event, _zone, ticketNos) => {
    if (!measuring) return;
    refusals++;
    refusedSeats += ticketNos.length;
  },
} } });
// The holds section's arena: four seated zones of 12,500 and 60,000 standing (the zone read
// and the claims see an event of 110,000 tickets, as there).
const venue = await createVenue(db, arena());
const event = await buildArenaEvent(db, venue.venueId);
const fans = await buildCustomers(server.ctx, 12_500);
await db.query('VACUUM ANALYZE');
const path = `/api/v1/events/${event.eventId}/holds`;
/** Disjoint blocks of `quantity` adjacent seats, row by row through z3 (S21-S30). */
const perRow = Math.floor(50 / quantity);
const block = (i: number): string[] => {
  const row = Math.floor(i / perRow);
  const first = (i % perRow) * quantity + 1;
  return Array.from({ length: quantity },
    (_, k) => `S${21 + Math.floor(row / 25)}-${(row % 25) + 1}-${first + k}`);
};
const specs = Array.from({ length: 250 * perRow }, (_, i) => postJson(path,
  mode === 'best' ? { zone: 'z3', quantity } : { seats: block(i) },
  { authorization: `Bearer ${(fans[i % fans.length] as { token: string }).token}` }));

// pg_stat_activity sampled from its own connection.
const { rows: [dbRow] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const sessions = await sampleSessions((dbRow as { d: string }).d);

const stage = watchRequestStages(() => measuring);

if (fill > 0) {
  const filled = await loadHttp('fill', server.url, specs.splice(0, fill),
    { concurrency: connections, maxMs: 300_000, ok: [201] });
  console.log(`filled first: ${JSON.stringify(filled.statuses)} in ${
    (filled.ops / filled.opsPerSec).toFixed(1)} s (${filled.opsPerSec.toFixed(0)}/s)`);
}

const loop = monitorEventLoopDelay({ resolution: 5 });
measuring = true;
loop.enable();
const cpu0 = process.cpuUsage();
const thread0 = threadCpuMs();
const t0 = performance.now();
const row = await loadHttp(`profile: ${mode} ×${quantity}`, server.url, specs,
  { concurrency: connections, maxMs: seconds * 1000, warmup: 20, ok: [201] });
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const threadMs = threadCpuMs() - thread0;
loop.disable();
measuring = false;
printProfile({
  row, connections, cpu, wallMs: wall, serverThreadMs: threadMs, loop, stage, stats,
});
console.log(`refused picks (re-plans): ${refusals}, seats refused: ${refusedSeats}`);
await sessions.stop();
await server.close();
await raw.close();
