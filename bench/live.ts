/**
 * The live seat map under load: N SSE clients (in separate processes) watch one
 * 50,000-seat event while holds commit at a steady rate; each client notes when each held
 * seat reached it, against the moment the hold's transaction committed. Also the cost of
 * an open connection and the snapshot of a 50,000-seat event (size, gzip, build time).
 *
 * Size from the command line: `npm run bench -- live --live-clients=10000
 * --live-rate=1000 --live-seconds=30 --live-procs=4` (defaults 2,000 clients, 300 holds/s,
 * 20 s, one client process: a modest run for a shared machine).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { loadEvent } from '../src/catalog/events.js';
import type { SectionInput } from '../src/catalog/schemas.js';
import { createHold } from '../src/holds/holds.js';
import { readSeatStates } from '../src/inventory/seatmap.js';
import { OutboxRelay } from '../src/outbox/relay.js';
import { liveFeedSink } from '../src/outbox/feed.js';
import { liveHub } from '../src/realtime/hub.js';
import { encodeFrame } from '../src/realtime/messages.js';
import { LiveEventState } from '../src/realtime/state.js';
import type { Db } from '../src/storage/index.js';
import { buildCustomers, buildEvent, buildVenue } from '../src/testing/factories.js';
import { benchPostgres, startBenchServer, type BenchRow, type BenchSection } from './lib.js';

interface Options {
  clients: number;
  rate: number;
  seconds: number;
  procs: number;
}

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--live-${name}=`));
  const value = arg === undefined ? fallback : Number(arg.split('=')[1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`bad --live-${name}`);
  return value;
}

function options(): Options {
  return { clients: option('clients', 2_000), rate: option('rate', 300),
    seconds: option('seconds', 20), procs: option('procs', 1) };
}

/** 20 sections x 50 rows x 50 seats. */
function bigLayout(): SectionInput[] {
  return Array.from({ length: 20 }, (_, s) => ({
    key: `S${s + 1}`, name: `Section ${s + 1}`, kind: 'seated' as const,
    rows: Array.from({ length: 50 }, (_, r) => ({ label: String(r + 1), seats: 50 })),
  }));
}

interface ChildMessage {
  type: string; count?: number; failed?: number; ms?: number; hist?: number[];
  samples?: number; closed?: number; snapshotBytes?: number;
}

/** One client process and a way to await its next message. */
function child(): { proc: ChildProcess; receive(): Promise<ChildMessage> } {
  const script = fileURLToPath(new URL('./live-clients.mjs', import.meta.url));
  const proc = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: ChildMessage[] = [];
  const waiters: ((m: ChildMessage) => void)[] = [];
  proc.on('message', (m: ChildMessage) => {
    const waiter = waiters.shift();
    if (waiter) waiter(m);
    else inbox.push(m);
  });
  return {
    proc,
    receive: () => new Promise((resolve, reject) => {
      const queued = inbox.shift();
      if (queued) return resolve(queued);
      const timer = setTimeout(() => reject(new Error('live client process timed out')), 300_000);
      waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    }),
  };
}

function histPercentile(hist: readonly number[], total: number, p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let ms = 0; ms < hist.length; ms++) {
    seen += hist[ms] ?? 0;
    if (seen >= rank) return ms;
  }
  return Number.NaN;
}

/** Size and build time of the snapshot of a 50,000-seat event with a third taken. */
async function snapshotRow(db: Db, eventId: string): Promise<BenchRow> {
  const readMs: number[] = [];
  const buildMs: number[] = [];
  let raw = 0;
  let gzipped = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const states = await readSeatStates(db, eventId);
    const t1 = performance.now();
    const frame = encodeFrame('snapshot', new LiveEventState(states).snapshot());
    const t2 = performance.now();
    readMs.push(t1 - t0);
    buildMs.push(t2 - t1);
    raw = frame.ws.length;
    gzipped = gzipSync(frame.ws).length;
  }
  readMs.sort((a, b) => a - b);
  buildMs.sort((a, b) => a - b);
  return {
    name: 'snapshot of a 50,000-seat event (build from memory)', opsPerSec: 1000 / (buildMs[3] ?? 1),
    p50Ms: buildMs[3] ?? Number.NaN, p99Ms: buildMs[6] ?? Number.NaN, ops: 7, errors: 0,
    notes: `${(raw / 1024).toFixed(1)} KiB JSON, ${(gzipped / 1024).toFixed(1)} KiB gzipped; ` +
      `built once per version per node; reading the seat states from PostgreSQL ` +
      `${(readMs[3] ?? 0).toFixed(1)} ms (once per node and event, and on a gap)`,
  };
}

/**
 * Marks about a third of the second half of the seats held, at random, so the snapshot
 * looks like a map mid-sale rather than a run of `a` that compresses to nothing.
 */
async function scatter(db: Db, eventId: string): Promise<void> {
  await db.query(
    `UPDATE tickets SET hold_id = gen_random_uuid(), hold_expires_at = now() + interval '1 day'
      WHERE event_id = $1 AND ticket_no > 25000 AND random() < 0.33`, [eventId]);
}

async function liveLoad(db: Db, opts: Options): Promise<BenchRow[]> {
  const server = await startBenchServer(db, { env: {
    LIVE_MAX_CONNECTIONS: String(opts.clients + 100), LIVE_MAX_PER_ADDRESS: String(opts.clients + 100),
    LIVE_HEARTBEAT_MS: '30000', OUTBOX_RELAY_POLL_MS: '50', LIVE_MAX_BUFFERED_BYTES: '4194304',
  } });
  const { ctx } = server;
  const relay = new OutboxRelay(ctx, { sinks: [liveFeedSink(ctx.coord)], holderId: 'bench' });
  await relay.start();
  const children = Array.from({ length: opts.procs }, () => child());
  try {
    await Promise.all(children.map((c) => c.receive()));
    const venue = await buildVenue(ctx, { sections: bigLayout() });
    const details = await buildEvent(ctx, { venue, holdSeconds: 3_600 });
    const event = await loadEvent(db, details.eventId);
    await scatter(db, event.eventId);
    const snapshot = await snapshotRow(db, event.eventId);

    global.gc?.();
    const memoryBefore = process.memoryUsage();
    const path = `/api/v1/events/${event.eventId}/live`;
    const share = Math.ceil(opts.clients / opts.procs);
    children.forEach((c, i) => c.proc.send({ type: 'open', url: server.url, path,
      count: Math.min(share, opts.clients - i * share), concurrency: 100 }));
    const opened = await Promise.all(children.map((c) => c.receive()));
    const clients = opened.reduce((sum, m) => sum + (m.count ?? 0), 0);
    const openFailed = opened.reduce((sum, m) => sum + (m.failed ?? 0), 0);
    const openMs = Math.max(...opened.map((m) => m.ms ?? 0));
    global.gc?.();
    const memoryAfter = process.memoryUsage();
    // Heap plus buffers outside it (socket state, pending writes): RSS alone moves in pages
    // the allocator already holds, which hides small per-connection costs.
    const bytesPerClient = (memoryAfter.heapUsed + memoryAfter.external
      - memoryBefore.heapUsed - memoryBefore.external) / Math.max(1, clients);

    // Holds on seats nobody holds (the first half of the venue), one seat each.
    const total = opts.rate * opts.seconds;
    const fans = await buildCustomers(ctx, Math.ceil(total / 8));
    const seats: string[] = [];
    for (const section of bigLayout()) {
      if (section.kind !== 'seated') continue;
      for (const row of section.rows) {
        for (let n = 1; n <= row.seats; n++) seats.push(`${section.key}-${row.label}-${n}`);
      }
    }
    let issued = 0;
    let done = 0;
    let failed = 0;
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const inFlight = new Set<Promise<void>>();
    while (issued < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * opts.rate));
      while (issued < due && inFlight.size < 64) {
        const i = issued++;
        const seatId = seats[i] as string;
        const fan = fans[Math.floor(i / 8)] as { customerId: string };
        const work = createHold(db, event, fan.customerId, { seats: [seatId] })
          .then(() => {
            const at = performance.timeOrigin + performance.now();
            for (const c of children) c.proc.send({ type: 'commit', seats: [seatId], at });
            done += 1;
          }, () => {
            failed += 1;
          })
          .finally(() => inFlight.delete(work));
        inFlight.add(work);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await Promise.all(inFlight);
    const holdMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuShare = (cpu.user + cpu.system) / 1000 / holdMs;

    // Wait until every client has every held seat (or give up after 30 s).
    const expected = done * clients;
    let reports: ChildMessage[] = [];
    const deadline = performance.now() + 30_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
      children.forEach((c) => c.proc.send({ type: 'report' }));
      reports = await Promise.all(children.map((c) => c.receive()));
    } while (reports.reduce((s, r) => s + (r.samples ?? 0), 0) < expected
      && performance.now() < deadline);
    const hist = new Array<number>(30_001).fill(0);
    for (const report of reports) report.hist?.forEach((n, ms) => { hist[ms] = (hist[ms] ?? 0) + n; });
    const samples = reports.reduce((s, r) => s + (r.samples ?? 0), 0);
    const dropped = reports.reduce((s, r) => s + (r.closed ?? 0), 0);
    const hubClients = liveHub(ctx).stats().clients;
    for (const c of children) c.proc.send({ type: 'close' });
    return [
      { name: `open ${clients.toLocaleString('en-US')} live SSE streams on one node`,
        opsPerSec: (clients / openMs) * 1000, p50Ms: Number.NaN, p99Ms: Number.NaN,
        ops: clients, errors: openFailed,
        notes: `each gets the ${((opened[0]?.snapshotBytes ?? 0) / 1024).toFixed(0)} KiB ` +
          `snapshot first; about ${(bytesPerClient / 1024).toFixed(1)} KiB of server heap ` +
          'and buffers per connection' },
      { name: `holds → ${clients.toLocaleString('en-US')} clients, commit to client`,
        opsPerSec: (done / holdMs) * 1000, p50Ms: histPercentile(hist, samples, 50),
        p99Ms: histPercentile(hist, samples, 99), ops: samples,
        errors: failed + (expected - samples) + dropped,
        notes: `${done} holds at a target of ${opts.rate}/s for ${opts.seconds} s; ` +
          `latency from the hold's commit to each client holding the frame; server process ` +
          `CPU ${(cpuShare * 100).toFixed(0)}% of one core (includes the hold generator and ` +
          `the relay); ${dropped} connections dropped, ${hubClients} still followed` },
      snapshot,
    ];
  } finally {
    for (const c of children) c.proc.kill();
    await relay.stop();
    await server.close();
  }
}

/** Runs the live seat-map benchmark. */
export async function run(): Promise<BenchSection> {
  const opts = options();
  const db = await benchPostgres(20);
  try {
    return {
      title: 'Live seat map',
      description: `${opts.clients.toLocaleString('en-US')} SSE clients (in ${opts.procs} ` +
        `separate process${opts.procs > 1 ? 'es' : ''}) watch one 50,000-seat event while ` +
        `holds commit at ${opts.rate}/s; commit-to-client latency over every (hold, client) ` +
        'pair, the cost of a connection, and the 50,000-seat snapshot. Size with ' +
        '`--live-clients=10000 --live-rate=1000 --live-seconds=30 --live-procs=4`.',
      rows: await liveLoad(db, opts),
    };
  } finally {
    await db.close();
  }
}
