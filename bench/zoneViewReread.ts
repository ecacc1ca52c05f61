/**
 * What a zone view's reads (src/inventory/zoneView.ts) cost PostgreSQL as a zone sells out.
 *
 * 1. One read, by how much is sold: the first read (`readZoneSql`: every seat row of the
 *    zone, grouped) against every later one (`readUnsoldSql`: only the unsold tickets,
 *    through tickets_unsold_idx), on a 20,000-seat zone of an event shaped like the
 *    rehearsal's (two seated zones of 20,000, 10,000 standing), at 0 %, 50 % and 97 % sold
 *    (front rows first, as best available sells them; the next 1 % of the zone held), as
 *    sold (dead row versions left) and after VACUUM. EXPLAIN (ANALYZE, BUFFERS), A and B
 *    alternating, `--pairs` each.
 * 2. The end of the sale on one node's view: one free seat left, fans asking for two,
 *    arriving at `--rate` a second for `--seconds` (open loop: a refusal is read again before
 *    it is answered). Reads, their time on the connection (ms per second of the stream), the
 *    refusal's p50/p99 and CPU per refusal (this process, and the database's sessions from
 *    /proc), in three modes alternating: every read in full with no gap (as before), unsold
 *    reads with no gap, unsold reads `limits.zoneViewReadGapMs` apart (now).
 *
 * `npx tsx bench/zoneViewReread.ts [--pairs=3] [--rate=400] [--seconds=3]`
 */
import { loadavg } from 'node:os';
import { createEvent } from '../src/catalog/events.js';
import { createVenue } from '../src/catalog/venues.js';
import { limits } from '../src/config/limits.js';
import {
  readUnsoldSql, readZoneSql, ZoneView, type ZoneViewSeam,
} from '../src/inventory/zoneView.js';
import type { Db, Queryable } from '../src/storage/index.js';
import { buildTestContext } from '../src/testing/context.js';
import { benchPostgres, fmt, percentile } from './lib.js';
import { processesCpuMs } from './cpuProfile.js';

const args = new Map(process.argv.slice(2).map((arg) => {
  const [key, value] = arg.replace(/^--/, '').split('=');
  return [key ?? '', value ?? ''];
}));
const pairs = Number(args.get('pairs') ?? 3);
const rate = Number(args.get('rate') ?? 400);
const seconds = Number(args.get('seconds') ?? 3);
const zoneSeats = 20_000;

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** A 50,000-ticket event: zones z1 and z2 of 200 rows × 100 seats, and 10,000 standing. */
async function buildRehearsalEvent(db: Db): Promise<string> {
  const ctx = buildTestContext(db);
  const seated = ['Z1', 'Z2'].map((key) => ({
    key, name: key, kind: 'seated' as const,
    rows: Array.from({ length: 200 }, (_, i) => ({ label: String(i + 1), seats: 100 })),
  }));
  const venue = await createVenue(db, {
    name: 'Bench Arena', city: 'Benchville',
    sections: [...seated, { key: 'FLOOR', name: 'Floor', kind: 'standing', capacity: 10_000 }],
  });
  const now = Date.now();
  const event = await createEvent(db, ctx.clock, {
    venueId: venue.venueId, title: 'Bench', startsAt: new Date(now + 86_400_000).toISOString(),
    onSaleAt: new Date(now - 60_000).toISOString(),
    zones: [
      { key: 'z1', name: 'z1', priceCents: 5_000, currency: 'EUR', sections: ['Z1'] },
      { key: 'z2', name: 'z2', priceCents: 5_000, currency: 'EUR', sections: ['Z2'] },
      { key: 'floor', name: 'Floor', priceCents: 3_000, currency: 'EUR', sections: ['FLOOR'] },
    ],
  });
  return event.eventId;
}

/**
 * Sells the first `sold` tickets of each seated zone in layout order (orders need no row:
 * tickets.order_id has no foreign key) and holds the next `held` for ten minutes.
 */
async function sellTo(db: Db, eventId: string, sold: number, held: number): Promise<void> {
  const zoneFirst = `WITH z AS (SELECT zone_key, min(ticket_no) AS first FROM tickets
                                 WHERE event_id = $1 AND seat_id IS NOT NULL GROUP BY zone_key)`;
  await db.query(
    `${zoneFirst}
     UPDATE tickets t SET order_id = gen_random_uuid(), hold_id = NULL, hold_expires_at = NULL
       FROM z WHERE t.event_id = $1 AND t.zone_key = z.zone_key AND t.order_id IS NULL
        AND t.ticket_no < z.first + $2`, [eventId, sold]);
  await db.query(
    `${zoneFirst}
     UPDATE tickets t SET hold_id = gen_random_uuid(),
                          hold_expires_at = now() + interval '10 minutes'
       FROM z WHERE t.event_id = $1 AND t.zone_key = z.zone_key AND t.order_id IS NULL
        AND t.hold_id IS NULL AND t.ticket_no < z.first + $2`, [eventId, sold + held]);
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

interface Explained {
  ms: number;
  buffers: number;
  rows: number;
  scans: string;
}

function scansOf(plan: PlanNode): string[] {
  const own = plan['Index Name'] !== undefined ? [plan['Index Name']]
    : plan['Node Type'] === 'Seq Scan' ? ['seq scan'] : [];
  return [...own, ...(plan.Plans ?? []).flatMap(scansOf)];
}

type ExplainRow = { 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] };

/**
 * One read of zone z1 on the current state, explained: ms, buffers (a function's statement
 * included), and what it scanned: for zone_free_seats, the scans of its statement, planned
 * as the function runs it (off sequential scans).
 */
async function explain(db: Db, sql: string, eventId: string): Promise<Explained> {
  const { rows } = await db.query<ExplainRow>(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, [eventId, 'z1']);
  const top = rows[0]?.['QUERY PLAN'][0];
  if (top === undefined) throw new Error('no plan');
  const result = await db.query(sql, [eventId, 'z1']);
  let scans = scansOf(top.Plan);
  if (sql === readUnsoldSql) {
    const { rows: source } = await db.query<{ body: string }>(
      `SELECT prosrc AS body FROM pg_proc WHERE proname = 'zone_free_seats'`);
    const body = (source[0]?.body ?? '').replaceAll('p_event', '$1').replaceAll('p_zone', '$2');
    scans = await db.tx(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      const inner = await tx.query<ExplainRow>(`EXPLAIN (FORMAT JSON) ${body}`, [eventId, 'z1']);
      const plan = inner.rows[0]?.['QUERY PLAN'][0].Plan;
      return plan === undefined ? [] : scansOf(plan);
    });
  }
  return {
    ms: top['Execution Time'],
    buffers: (top.Plan['Shared Hit Blocks'] ?? 0) + (top.Plan['Shared Read Blocks'] ?? 0),
    rows: result.rows.length,
    scans: [...new Set(scans)].join(', '),
  };
}

/** A and B alternating, `pairs` times each: median ms, buffers, scans. */
async function comparePair(db: Db, eventId: string, label: string): Promise<string[]> {
  const full: Explained[] = [];
  const unsold: Explained[] = [];
  for (let i = 0; i < pairs; i++) {
    full.push(await explain(db, readZoneSql, eventId));
    unsold.push(await explain(db, readUnsoldSql, eventId));
  }
  const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
  const line = (name: string, runs: Explained[]): string =>
    `| ${label} | ${name} | ${runs.map((r) => fmt(r.ms, 2)).join(' / ')} | ${fmt(median(
      runs.map((r) => r.ms)), 2)} | ${runs.map((r) => r.buffers).join(' / ')} `
    + `| ${runs[0]?.scans ?? ''} | ${load()} |`;
  return [line('full (readZoneSql)', full), line('unsold (readUnsoldSql)', unsold)];
}

type Mode = 'full, no gap' | 'unsold, no gap' | 'unsold, gap';

interface StreamFigures {
  mode: Mode;
  refusals: number;
  reads: number;
  readMsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  appCpuMsPerRefusal: number;
  pgCpuMsPerRefusal: number;
  load: string;
}

/** Fans asking zone z2 (one seat left) for two, at `rate` a second, on a fresh view. */
async function refusalStream(db: Db, eventId: string, mode: Mode): Promise<StreamFigures> {
  let reads = 0;
  let readMs = 0;
  // The read's time on its connection, as the node sees it (round trip included).
  const timed: Queryable = {
    query: async <T>(sql: string, params?: unknown[]) => {
      const startedMs = performance.now();
      try {
        return await db.query<T>(sql, params);
      } finally {
        readMs += performance.now() - startedMs;
      }
    },
    exec: async (sql: string) => await db.exec(sql),
  };
  const seam: ZoneViewSeam = {
    refreshMs: Infinity,
    read: () => {
      reads += 1;
    },
    ...(mode === 'unsold, gap' ? {} : { readGapMs: 0 }),
    ...(mode === 'full, no gap' ? { rereadInFull: true } : {}),
  };
  const view = new ZoneView(timed, eventId, 'z2', seam);
  await view.ensureFresh();
  reads = 0;
  readMs = 0;
  const { rows: pidRows } = await db.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`);
  const pids = pidRows.map((row) => row.pid);
  const pgBefore = processesCpuMs(pids);
  const cpuBefore = process.cpuUsage();
  const latencies: number[] = [];
  const asks: Promise<void>[] = [];
  const ask = async (): Promise<void> => {
    const startedMs = performance.now();
    const seen = view.readsStarted;
    const pick = view.plan(2, 1);
    if (pick !== undefined) view.settle(pick, { granted: false });
    const free = await view.fresh(seen);
    if (free >= 2) throw new Error(`the zone has ${free} free seats`);
    latencies.push(performance.now() - startedMs);
  };
  const total = Math.round(rate * seconds);
  const startedMs = performance.now();
  for (let sent = 0; sent < total;) {
    const due = Math.min(total, Math.floor(((performance.now() - startedMs) / 1000) * rate));
    for (; sent < due; sent++) asks.push(ask());
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(asks);
  const elapsedS = (performance.now() - startedMs) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    mode, refusals: latencies.length, reads, readMsPerSecond: readMs / elapsedS,
    p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99),
    appCpuMsPerRefusal: (cpu.user + cpu.system) / 1000 / latencies.length,
    pgCpuMsPerRefusal: (processesCpuMs(pids) - pgBefore) / latencies.length,
    load: load(),
  };
}

async function main(): Promise<void> {
  // Two connections: the view's reads, and the bench's own statements beside them.
  const db = await benchPostgres(2);
  try {
    const eventId = await buildRehearsalEvent(db);
    console.log(`| state | read | ms (runs) | ms median | buffers (runs) | scans | load |`);
    console.log('|---|---|---|---|---|---|---|');
    for (const percent of [0, 50, 97]) {
      await sellTo(db, eventId, Math.floor((zoneSeats * percent) / 100), zoneSeats / 100);
      for (const line of await comparePair(db, eventId, `${percent} % sold, as sold`)) {
        console.log(line);
      }
      await db.query('VACUUM (ANALYZE) tickets');
      for (const line of await comparePair(db, eventId, `${percent} % sold, vacuumed`)) {
        console.log(line);
      }
    }
    // The end of the sale in zone z2: every seat sold but its last.
    await sellTo(db, eventId, zoneSeats - 1, 0);
    await db.query('VACUUM (ANALYZE) tickets');
    const results: StreamFigures[] = [];
    for (let pair = 0; pair < pairs; pair++) {
      for (const mode of ['full, no gap', 'unsold, no gap', 'unsold, gap'] as const) {
        results.push(await refusalStream(db, eventId, mode));
      }
    }
    console.log(`\nRefusal stream: ${rate}/s for ${seconds} s, zoneViewReadGapMs `
      + `${limits.zoneViewReadGapMs}`);
    console.log('| mode | refusals | reads | read ms/s | p50 ms | p99 ms | app CPU ms/refusal '
      + '| PG CPU ms/refusal | load |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const r of results) {
      console.log(`| ${r.mode} | ${r.refusals} | ${r.reads} | ${fmt(r.readMsPerSecond)} `
        + `| ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.appCpuMsPerRefusal, 3)} `
        + `| ${fmt(r.pgCpuMsPerRefusal, 3)} | ${r.load} |`);
    }
  } finally {
    await db.close();
  }
}

await main();
