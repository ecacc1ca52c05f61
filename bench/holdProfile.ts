/**
 * Where a hold request's time goes under load: runs single random seats over HTTP on
 * PostgreSQL (as the holds section does) while timing every statement from Node's side
 * (pool wait included), sampling the event loop's delay and PostgreSQL's sessions
 * (pg_stat_activity), and stamping each request at the route's stages. Run with
 * `npx tsx bench/holdProfile.ts [connections] [seconds] [hot]` (`hot`: 4 seats per request of
 * a block of 100, as the holds section's hot-block rows, mostly refused); add `--cpu-prof` to node
 * (NODE_OPTIONS) for a CPU profile of the server thread.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createEvent, loadEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { systemClock } from '../src/core/clock.js';
import type { Db } from '../src/storage/index.js';
import { buildCustomers } from '../src/testing/factories.js';
import { threadCpuMs } from './cpuProfile.js';
import { watchRequestStages } from './requestStages.js';
import { printProfile, sampleSessions, statementTimer } from './statementTimes.js';
import { benchPostgres, loadHttp, postJson, startBenchServer } from './lib.js';

const connections = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 6);
/** `hot`: 4 random seats per request of a block of 100 (rows 1-2 of S1), mostly refused. */
const hot = process.argv[4] === 'hot';

let measuring = false;
const { stats, timed } = statementTimer(
  /hold_batch|FROM customers WHERE customer_id = ANY|admission|idempotency/i, () => measuring);

const dayMs = 24 * 3600 * 1000;
const raw = await benchPostgres(20);
const db = timed(raw) as Db;
const server = await startBenchServer(db, { connections });
const venue = await createVenue(db, {
  name: 'Profile Arena', city: 'Benchtown',
  sections: Array.from({ length: 10 }, (_, s) => ({
    key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
    rows: Array.from({ length: 25 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
  })),
});
const created = await createEvent(db, systemClock, {
  venueId: venue.venueId, title: 'Profile On-Sale',
  startsAt: new Date(Date.now() + 30 * dayMs).toISOString(),
  onSaleAt: new Date(Date.now() - 1000).toISOString(), maxTicketsPerCustomer: 50,
  holdSeconds: 3600,
  zones: [{ key: 'z1', name: 'Z1', priceCents: 9000, currency: 'EUR',
    sections: Array.from({ length: 10 }, (_, i) => `S${i + 1}`) }],
});
const event = await loadEvent(db, created.eventId);
const fans = await buildCustomers(server.ctx, 12_500);
await db.query('VACUUM ANALYZE');
const seats: string[] = [];
for (let s = 1; s <= 10; s++) for (let r = 1; r <= 25; r++) for (let n = 1; n <= 50; n++) {
  seats.push(`S${s}-${r}-${n}`);
}
seats.sort(() => Math.random() - 0.5);
const path = `/api/v1/events/${event.eventId}/holds`;
const hotPick = (): string[] => {
  const picked = new Set<number>();
  while (picked.size < 4) picked.add(Math.floor(Math.random() * 100));
  return [...picked].map((i) => `S1-${Math.floor(i / 50) + 1}-${(i % 50) + 1}`);
};
const specs = seats.map((id, i) => postJson(path, { seats: hot ? hotPick() : [id] },
  { authorization: `Bearer ${(fans[i % fans.length] as { token: string }).token}` }));

// pg_stat_activity sampled from its own connection.
const { rows: [dbRow] } = await db.query<{ d: string }>('SELECT current_database() AS d');
const sessions = await sampleSessions((dbRow as { d: string }).d);

const stage = watchRequestStages(() => measuring);

const loop = monitorEventLoopDelay({ resolution: 5 });
measuring = true;
loop.enable();
const cpu0 = process.cpuUsage();
const thread0 = threadCpuMs();
const t0 = performance.now();
const row = await loadHttp('profile: single seats', server.url, specs,
  { concurrency: connections, maxMs: seconds * 1000, warmup: 20, ok: hot ? [201, 409] : [201] });
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const threadMs = threadCpuMs() - thread0;
loop.disable();
measuring = false;
printProfile({
  row, connections, cpu, wallMs: wall, serverThreadMs: threadMs, loop, stage, stats,
});
await sessions.stop();
await server.close();
await raw.close();
