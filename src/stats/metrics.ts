/**
 * Domain metrics for operators, next to the per-route request metrics: how an on-sale is
 * going (holds and conflicts, the line, admissions, shoppers), whether the background
 * machinery keeps up (outbox and relay lag, reconciler backlog, payments by state), and
 * whether the node itself is short of database connections or leads a duty.
 *
 * Gauges are read on scrape, in one database round trip, cached briefly so several
 * scrapers (or a dashboard refreshing) cost one query. The line's figures come from the
 * counts its triggers keep (queue/counts.ts), never from a walk of the line: a scrape costs
 * the same with a million fans in line as with ten. Events are labelled only while
 * their line is ticking, and at most `maxEvents` of them, so label cardinality is bounded.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { AppContext } from '../context.js';
import { electorFor } from '../coord/leader.js';
import { onHoldBatch } from '../holds/batch.js';
import { keptCountsOf } from '../queue/counts.js';
import { liveSlot } from '../queue/slot.js';

/** Duties run under a lease, by lease name. */
export const leasedDuties = ['queue-admission', 'booking-maintenance', 'outbox-relay'] as const;

const maxEvents = 20;
const cacheMs = 2_000;
/** The request latency histogram's buckets (http/plugins/metrics.ts), seconds. */
const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface Snapshot {
  lines: { event_id: string; waiting: number; served_up_to: number; admitted: number;
    active: number; rate: number; store_factor: number | null;
    store_wait_ms: number | null; live_cap: number | null }[];
  payments: { status: string; n: number }[];
  outbox: { unpublished: number; lag_seconds: number };
  backlog: { payments: number; refunds: number };
}

/** The figures the domain gauges read, in one round trip (exported for the plan audit). */
export async function readMetricsSnapshot(ctx: Pick<AppContext, 'db'>): Promise<Snapshot> {
  const { rows } = await ctx.db.query<{ snapshot: Snapshot }>(
    `SELECT json_build_object(
       'lines', coalesce((SELECT json_agg(l) FROM (
          SELECT s.event_id::text AS event_id, s.served_up_to::float8 AS served_up_to,
                 s.rate_per_minute AS rate,
                 (s.pace->'store'->>'factor')::float8 AS store_factor,
                 (s.pace->'store'->>'storeWaitMs')::float8 AS store_wait_ms,
                 coalesce((s.pace->'store'->>'liveCap')::float8,
                   (SELECT (e.queue->>'maxActiveShoppers')::float8 FROM events e
                     WHERE e.event_id = s.event_id)) AS live_cap,
                 c.joined - c.admitted - c.left_unadmitted AS waiting,
                 c.admitted,
                 (SELECT count(*) FROM queue_admissions a WHERE a.event_id = s.event_id
                     AND ${liveSlot('a', 'now()')}) AS active
            FROM queue_state s
            CROSS JOIN LATERAL (${keptCountsOf('s.event_id')}) AS c
           WHERE s.last_tick_at > now() - interval '10 minutes'
           ORDER BY s.last_tick_at DESC LIMIT ${maxEvents}) l), '[]'::json),
       'payments', coalesce((SELECT json_agg(p) FROM (
          SELECT status, count(*) AS n FROM payments
           WHERE created_at > now() - interval '1 day' GROUP BY status) p), '[]'::json),
       'outbox', (SELECT json_build_object('unpublished', count(*),
          'lag_seconds', coalesce(extract(epoch FROM now() - min(created_at)), 0))
          FROM outbox_events WHERE published_at IS NULL),
       'backlog', json_build_object(
          'payments', (SELECT count(*) FROM payments WHERE status = 'pending'
                        AND created_at <= now() - interval '60 seconds'),
          'refunds', (SELECT count(*) FROM refunds WHERE status = 'requested'
                        AND created_at <= now() - interval '30 seconds'))
     ) AS snapshot`,
  );
  return rows[0]?.snapshot as Snapshot;
}

/**
 * Registers the domain metrics on an app's registry; hold outcomes come from the HTTP layer.
 * `close` stops observing the node's hold batches (on the app's close).
 */
export function registerDomainMetrics(registry: Registry, ctx: AppContext): {
  holdOutcome(status: number): void;
  close(): void;
} {
  let cached: { atMs: number; value: Promise<Snapshot> } | undefined;
  const snapshot = (): Promise<Snapshot> => {
    const nowMs = performance.now();
    if (cached === undefined || nowMs - cached.atMs > cacheMs) {
      const value = readMetricsSnapshot(ctx);
      // A failed read is not cached: the next scrape tries again.
      value.catch(() => {
        cached = undefined;
      });
      cached = { atMs: nowMs, value };
    }
    return cached.value;
  };
  const registers = [registry];
  const holds = new Counter({
    name: 'stampede_holds_total', registers, labelNames: ['outcome'] as const,
    help: 'Hold requests by outcome: placed, conflict (tickets taken), refused (4xx), ' +
      'busy (503: the store\'s hold queue was full), error',
  });
  type Line = Snapshot['lines'][number];
  const lineGauge = (name: string, help: string, pick: (l: Line) => number): void => {
    new Gauge({
      name, help, registers, labelNames: ['event_id'] as const,
      async collect() {
        this.reset();
        for (const line of (await snapshot()).lines) {
          this.set({ event_id: line.event_id }, Number(pick(line)));
        }
      },
    });
  };
  lineGauge('stampede_queue_waiting',
    'Fans in the line not yet admitted, those who left not counted (ticking events)',
    (l) => l.waiting);
  lineGauge('stampede_queue_served_up_to', 'Queue numbers admitted so far', (l) => l.served_up_to);
  lineGauge('stampede_queue_admitted', 'Admissions so far', (l) => l.admitted);
  lineGauge('stampede_queue_active_shoppers', 'Admitted fans with a live pass', (l) => l.active);
  lineGauge('stampede_queue_admissions_per_minute', 'Measured admission rate', (l) => l.rate);
  lineGauge('stampede_queue_store_pace_factor',
    'Share of admitPerMinute the tick admits at while the store is busy (1: not slowed)',
    (l) => l.store_factor ?? 1);
  lineGauge('stampede_queue_store_wait_ms',
    'Hold queue wait a store node reported for the event, ms (0: none reported, healthy)',
    (l) => l.store_wait_ms ?? 0);
  lineGauge('stampede_queue_live_cap',
    'Live shoppers the tick admits up to: maxActiveShoppers, scaled by the store pace factor',
    (l) => l.live_cap ?? 0);
  new Gauge({
    name: 'stampede_payments', registers, labelNames: ['status'] as const,
    help: 'Payments created in the last day, by status',
    async collect() {
      this.reset();
      for (const row of (await snapshot()).payments) {
        this.set({ status: row.status }, Number(row.n));
      }
    },
  });
  new Gauge({
    name: 'stampede_outbox_unpublished', registers,
    help: 'Outbox rows the relay has not published yet',
    async collect() {
      this.set(Number((await snapshot()).outbox.unpublished));
    },
  });
  new Gauge({
    name: 'stampede_outbox_lag_seconds', registers,
    help: 'Age of the oldest unpublished outbox row (relay lag)',
    async collect() {
      this.set(Number((await snapshot()).outbox.lag_seconds));
    },
  });
  new Gauge({
    name: 'stampede_reconciler_backlog', registers, labelNames: ['kind'] as const,
    help: 'Payments pending past the grace period and refunds awaiting confirmation',
    async collect() {
      const { backlog } = await snapshot();
      this.set({ kind: 'payments' }, Number(backlog.payments));
      this.set({ kind: 'refunds' }, Number(backlog.refunds));
    },
  });
  new Gauge({
    name: 'stampede_db_pool_connections', registers, labelNames: ['state'] as const,
    help: 'This node\'s PostgreSQL pool: total, idle, and requests waiting for a connection',
    collect() {
      const stats = ctx.db.poolStats?.();
      if (stats === undefined) return;
      this.set({ state: 'total' }, stats.total);
      this.set({ state: 'idle' }, stats.idle);
      this.set({ state: 'waiting' }, stats.waiting);
    },
  });
  new Gauge({
    name: 'stampede_duty_leader', registers, labelNames: ['duty'] as const,
    help: '1 when this node holds the duty\'s lease (the sum over nodes is 1 per duty)',
    collect() {
      for (const duty of leasedDuties) {
        this.set({ duty }, electorFor(ctx.leases ?? ctx.coord, duty)?.isLeader() === true ? 1 : 0);
      }
    },
  });
  // Where a hold's time goes on this node: waiting for its event's batch to start (behind
  // the batches running), then the batch's round trip and commit (holds/batch.ts).
  const batchWait = new Histogram({
    name: 'stampede_hold_batch_wait_seconds', registers, buckets: secondsBuckets,
    help: 'Time a hold request waited on this node for its event\'s hold batch to start',
  });
  const batchRun = new Histogram({
    name: 'stampede_hold_batch_run_seconds', registers, buckets: secondsBuckets,
    help: 'Time one hold batch took: its one round trip and commit, PostgreSQL\'s share of ' +
      'the hold',
  });
  const batchSize = new Histogram({
    name: 'stampede_hold_batch_size', registers, buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    help: 'Hold requests decided per hold batch',
  });
  const stopObserving = onHoldBatch(ctx.db, ({ waitsMs, runMs }) => {
    for (const waitMs of waitsMs) batchWait.observe(waitMs / 1000);
    batchRun.observe(runMs / 1000);
    batchSize.observe(waitsMs.length);
  });
  return {
    close: stopObserving,
    holdOutcome(status) {
      const outcome = status === 201
        ? 'placed'
        : status === 409 ? 'conflict' : status === 503 ? 'busy'
          : status >= 500 ? 'error' : 'refused';
      holds.inc({ outcome });
    },
  };
}
